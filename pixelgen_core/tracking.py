"""MLflow tracking: the one module that talks to MLflow, imported only by commands that need it.

By default runs go to a local store in the working directory (sqlite:///mlflow.db with
artifacts under ./mlartifacts); $MLFLOW_TRACKING_URI or `tracking.uri` points elsewhere,
e.g. a shared `mlflow server`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pixelgen_core import runs
from pixelgen_core.errors import NoRun, PixelgenError, first_line
from pixelgen_core.files import make_dir, user_cache
from pixelgen_core.settings import core_config
from pixelgen_core.store import prepare as prepare_store
from pixelgen_core.store import quiet_mlflow, sqlite_path, with_busy_timeout

LOCAL_DB = "mlflow.db"
LOCAL_ARTIFACTS = "mlartifacts"
CHECKPOINT_ARTIFACT = "checkpoint/checkpoint.pt"
# Shown by `mlflow ui` as a model-training experiment (runs table, charts), not a GenAI one.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# pixelgen's defaults for MLflow's HTTP client (a user's own settings win): a server that is
# down is reported in seconds, not after MLflow's four minutes of retries.
HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
PROBE_TIMEOUT_S = 5


def tracking_uri(config: dict | None = None) -> str:
    configured = (config or {}).get("tracking", {}).get("uri")
    if configured:
        return str(configured)
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return "sqlite:///" + str(Path.cwd() / LOCAL_DB)


def experiment_name(strategy: str, config: dict | None = None) -> str:
    configured = (config or {}).get("tracking", {}).get("experiment")
    return str(configured) if configured else f"pixelgen-{strategy}"


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def check_reachable(uri: str) -> None:
    """Fail within seconds, in one line, when a tracking server does not answer at all."""
    if not is_remote(uri):
        return
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return  # it answered: reachable, whatever it thinks of /health
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PixelgenError(f"MLflow tracking server {uri} is not reachable: {reason}") from None


def _mlflow(uri: str):
    """Import MLflow quietly and point it at `uri`: a local store is created or repaired
    first (safely, under a lock), a server is checked to answer."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for key, value in HTTP_SETTINGS.items():
        os.environ.setdefault(key, value)
    check_reachable(uri)
    db = sqlite_path(uri)
    if db is not None:
        prepare_store(db, (db.absolute().parent / LOCAL_ARTIFACTS).as_uri())
        uri = with_busy_timeout(uri)
    quiet_mlflow()
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow


class Tracker:
    """Does nothing: used when tracking is off and on every rank but 0."""

    run_id: str | None = None
    uri: str | None = None

    def start(self, strategy: str, run_name: str, tags: dict, resume_run_id: str | None) -> None:
        pass

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def set_tags(self, tags: dict[str, str]) -> None:
        """Tags, unlike params, may change when a resumed run sets them again."""

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def log_image(self, rgba, key: str, step: int) -> None:
        """An RGBA uint8 image (H, W, 4) as a step of the image series `key`."""

    def finish(self, status: str = "FINISHED") -> None:
        pass


class MLflowTracker(Tracker):
    def __init__(self, config: dict) -> None:
        self.config = config
        self.uri = tracking_uri(config)
        self.mlflow = _mlflow(self.uri)

    def start(self, strategy: str, run_name: str, tags: dict, resume_run_id: str | None) -> None:
        mlflow = self.mlflow
        name = experiment_name(strategy, self.config)
        try:
            experiment_id = _experiment(mlflow, name, self.uri)
            if resume_run_id:
                run = mlflow.start_run(run_id=resume_run_id)
            else:
                run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
        except Exception as exc:
            raise PixelgenError(
                f"cannot start MLflow run at {self.uri}: {first_line(exc)}"
            ) from None
        self.run_id = run.info.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        self.mlflow.log_params({k: _param(v) for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.mlflow.log_metrics(metrics, step=step)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.mlflow.set_tags(tags)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_image(self, rgba, key: str, step: int) -> None:
        self.mlflow.log_image(rgba, key=key, step=step)

    def finish(self, status: str = "FINISHED") -> None:
        if self.run_id is not None:
            self.mlflow.end_run(status=status)


def _experiment(mlflow, name: str, uri: str) -> str:
    """The id of experiment `name`, created as a model-training experiment if missing (an
    older one gains the tag, so `mlflow ui` stops showing it as a GenAI experiment)."""
    from mlflow.exceptions import MlflowException

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        location = None
        db = sqlite_path(uri)
        if db is not None:
            location = (db.absolute().parent / LOCAL_ARTIFACTS / name).as_uri()
        try:
            return mlflow.create_experiment(
                name, artifact_location=location, tags=dict([EXPERIMENT_KIND])
            )
        except MlflowException:  # another process created it in the meantime
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
        mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, *EXPERIMENT_KIND)
    return experiment.experiment_id


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def _missing_local_store(uri: str) -> Path | None:
    """The database file of a local sqlite store that does not exist yet, else None."""
    path = sqlite_path(uri)
    return None if path is None or path.exists() else path


def make_tracker(config: dict, rank: int = 0) -> Tracker:
    if rank != 0 or not core_config(config).tracking.enabled:
        return Tracker()
    return MLflowTracker(config)


def find_checkpoint(strategy: str, run_id: str | None = None, config: dict | None = None) -> Path:
    """The checkpoint of `run_id` (a run folder name or an MLflow run id), or of the latest
    run of `strategy` that finished with a checkpoint.

    Runs in the local index (./runs) are found without MLflow and read in place; a remote
    tracking server is asked first for the latest run, since teammates' runs live there.
    """
    uri = tracking_uri(config)
    if run_id is not None:
        record = runs.find(run_id, strategy)
        if record is not None:
            if not record.usable:
                raise PixelgenError(
                    f"run {run_id} is {record.state} with no finished checkpoint; "
                    f"see pixelgen runs {strategy}"
                )
            return record.checkpoint_path
    elif not is_remote(uri):
        record = runs.latest_usable(strategy)
        if record is not None:
            return record.checkpoint_path
    missing = _missing_local_store(uri)
    if missing is not None:
        what = f"run {run_id}" if run_id else f"finished {strategy} run"
        raise NoRun(
            f"no {what} in {runs.output_root()} and no MLflow store ({missing}); "
            f"train first (pixelgen train {strategy}) or pass --checkpoint"
        )
    return _mlflow_checkpoint(strategy, run_id, uri, config)


def tracked_runs(strategy: str | None = None, config: dict | None = None) -> list[runs.RunRecord]:
    """The runs a shared tracking server holds (of `strategy`, or of every pixelgen
    experiment), newest first, as remote `RunRecord`s: teammates' runs, and yours whose
    folder is gone. A local store adds nothing: its runs are all in the local index."""
    uri = tracking_uri(config)
    if not is_remote(uri):
        return []
    mlflow = _mlflow(uri)
    client = mlflow.MlflowClient()
    try:
        if strategy is not None:
            experiments = [client.get_experiment_by_name(experiment_name(strategy, config))]
        else:
            experiments = client.search_experiments(filter_string="name LIKE 'pixelgen-%'")
        ids = [e.experiment_id for e in experiments if e is not None]
        found = client.search_runs(ids, order_by=["attributes.start_time DESC"]) if ids else []
    except Exception as exc:
        raise PixelgenError(f"cannot list the runs in {uri}: {first_line(exc)}") from None
    return [_remote_record(run, uri) for run in found]


def _remote_record(run: Any, uri: str) -> runs.RunRecord:
    import datetime

    info, tags = run.info, run.data.tags
    started = datetime.datetime.fromtimestamp(info.start_time / 1000).isoformat(timespec="seconds")
    return runs.RunRecord(
        id=info.run_id,
        strategy=tags.get("pixelgen.strategy", ""),
        status=info.status,
        steps=int(tags.get("pixelgen.steps", 0)),
        started=started,
        mlflow_run_id=info.run_id,
        tracking_uri=uri,
        remote=True,
    )


def _mlflow_checkpoint(strategy: str, run_id: str | None, uri: str, config: dict | None) -> Path:
    """A checkpoint found through MLflow: read in place from a local artifact store,
    else downloaded once into the cache ($PIXELGEN_CACHE_DIR/checkpoints/RUN_ID)."""
    mlflow = _mlflow(uri)
    client = mlflow.MlflowClient()
    try:
        if run_id is None:
            experiment = client.get_experiment_by_name(experiment_name(strategy, config))
            candidates = []
            if experiment is not None:
                candidates = client.search_runs(
                    [experiment.experiment_id],
                    filter_string="attributes.status = 'FINISHED'",
                    order_by=["attributes.start_time DESC"],
                    max_results=20,
                )
            candidates = [r for r in candidates if _has_checkpoint(client, r.info.run_id)]
            if not candidates:
                raise NoRun(
                    f"no finished {strategy} run with a checkpoint in {uri}; "
                    f"train first (pixelgen train {strategy})"
                )
            run = candidates[0]
        else:
            run = client.get_run(run_id)
    except PixelgenError:
        raise
    except Exception as exc:
        raise PixelgenError(f"cannot find run {run_id} in {uri}: {first_line(exc)}") from None
    local = _local_artifact(run.info.artifact_uri)
    if local is not None:
        if not local.is_file():
            raise PixelgenError(f"run {run.info.run_id} has no checkpoint (did it finish?)")
        return local
    return _cached_download(mlflow, run.info.run_id)


def _has_checkpoint(client, run_id: str) -> bool:
    try:
        return any(
            f.path == CHECKPOINT_ARTIFACT for f in client.list_artifacts(run_id, "checkpoint")
        )
    except Exception:
        return False


def _local_artifact(artifact_uri: str | None) -> Path | None:
    """The checkpoint's path when the run's artifacts are plain local files."""
    if not artifact_uri:
        return None
    if artifact_uri.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(artifact_uri).path)) / CHECKPOINT_ARTIFACT
    if "://" not in artifact_uri and ":" not in artifact_uri.split("/", 1)[0]:
        return Path(artifact_uri) / CHECKPOINT_ARTIFACT
    return None


def _cached_download(mlflow, run_id: str) -> Path:
    """Download a remote run's checkpoint once; later calls read the cached copy."""
    import shutil
    import tempfile

    folder = make_dir(user_cache() / "checkpoints" / run_id)
    cached = folder / "checkpoint.pt"
    if cached.is_file():
        return cached
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=CHECKPOINT_ARTIFACT, dst_path=str(staging)
        )
        os.replace(path, cached)  # atomic: a killed download leaves no partial checkpoint
    except PixelgenError:
        raise
    except Exception:
        raise PixelgenError(f"run {run_id} has no checkpoint (did it finish?)") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached


def log_to_run(
    run_id: str,
    metrics: dict[str, float],
    files: list[tuple[Path, str]],
    config: dict | None = None,
) -> bool:
    """Add metrics and artifacts to an existing run (e.g. evaluation results after training).

    Returns False, writing nothing, when the run is not in the tracking store.
    """
    uri = tracking_uri(config)
    if _missing_local_store(uri) is not None:
        return False
    _mlflow(uri)
    import time

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        client.get_run(run_id)
    except Exception:
        return False
    stamp = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()])
    for path, artifact_path in files:
        client.log_artifact(run_id, str(path), artifact_path)
    return True


def delete_run(run_id: str, uri: str) -> None:
    """Mark an MLflow run deleted (`mlflow gc` purges it); a store that is gone is fine."""
    if _missing_local_store(uri) is not None:
        return
    _mlflow(uri)
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient().delete_run(run_id)
    except Exception as exc:
        raise PixelgenError(f"cannot delete MLflow run {run_id}: {first_line(exc)}") from None
