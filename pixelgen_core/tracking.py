"""MLflow tracking: the one module that talks to MLflow, imported only by commands that need it.

By default runs go to a local store in the working directory (sqlite:///mlflow.db with
artifacts under ./mlartifacts); $MLFLOW_TRACKING_URI or `tracking.uri` points elsewhere,
e.g. a shared `mlflow server`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from pixelgen_core.errors import PixelgenError, first_line

LOCAL_DB = "mlflow.db"
LOCAL_ARTIFACTS = "mlartifacts"
CHECKPOINT_ARTIFACT = "checkpoint/checkpoint.pt"


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


def _mlflow(uri: str):
    """Import MLflow quietly and point it at `uri`."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    return mlflow


class Tracker:
    """Does nothing: used when tracking is off and on every rank but 0."""

    run_id: str | None = None

    def start(self, strategy: str, run_name: str, tags: dict, resume_run_id: str | None) -> None:
        pass

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

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
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:
                location = None
                if self.uri.startswith("sqlite:"):
                    location = (Path.cwd() / LOCAL_ARTIFACTS / name).as_uri()
                experiment_id = mlflow.create_experiment(name, artifact_location=location)
            else:
                experiment_id = experiment.experiment_id
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

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        if self.run_id is not None:
            self.mlflow.end_run(status=status)


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def _missing_local_store(uri: str) -> Path | None:
    """The database file of a local sqlite store that does not exist yet, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri[len("sqlite:///") :])
    return None if path.exists() else path


def make_tracker(config: dict, rank: int = 0) -> Tracker:
    if rank != 0 or not config["tracking"]["enabled"]:
        return Tracker()
    return MLflowTracker(config)


def find_checkpoint(strategy: str, run_id: str | None = None, config: dict | None = None) -> Path:
    """The checkpoint of `run_id`, or of the latest finished run of `strategy`."""
    uri = tracking_uri(config)
    missing = _missing_local_store(uri)
    if run_id is None and missing is not None:
        raise PixelgenError(
            f"no runs found: {missing} does not exist; "
            f"train first (pixelgen train {strategy}) or pass --checkpoint"
        )
    mlflow = _mlflow(uri)
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        if run_id is None:
            experiment = client.get_experiment_by_name(experiment_name(strategy, config))
            runs = []
            if experiment is not None:
                runs = client.search_runs(
                    [experiment.experiment_id],
                    filter_string="attributes.status = 'FINISHED'",
                    order_by=["attributes.start_time DESC"],
                    max_results=1,
                )
            if not runs:
                raise PixelgenError(
                    f"no finished {strategy} run in {uri}; train first (pixelgen train {strategy})"
                )
            run_id = runs[0].info.run_id
        else:
            client.get_run(run_id)
    except PixelgenError:
        raise
    except Exception as exc:
        raise PixelgenError(f"cannot find run {run_id} in {uri}: {first_line(exc)}") from None
    target = Path(tempfile.mkdtemp(prefix="pixelgen-"))
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=CHECKPOINT_ARTIFACT, dst_path=str(target)
        )
    except Exception:
        raise PixelgenError(f"run {run_id} has no checkpoint (did it finish?)") from None
    return Path(path)


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
