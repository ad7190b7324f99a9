"""The local index of training runs: one `run.json` per run folder, written atomically.

Each training owns its folder (created exclusively, so side-by-side runs never share one)
and is the only writer of its record, so the index needs no lock. MLflow stays the record
that `mlflow ui` shows; this index lets `pixelgen sample NAME` and `pixelgen runs` find runs
without importing MLflow, including runs trained with tracking off.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

from pixelgen_core.config import BASE_CONFIG, load_yaml
from pixelgen_core.errors import ConfigError
from pixelgen_core.files import pid_alive, this_host, write_text

RUN_FILE = "run.json"
PROGRESS_FILE = "progress.jsonl"  # one JSON line per metrics log while training
CHECKPOINT = "checkpoint.pt"  # the Trainer's checkpoint inside a run folder
# Statuses as MLflow names them; DIED is shown for a RUNNING record whose process is gone.
RUNNING, FINISHED, FAILED, KILLED, DIED = "RUNNING", "FINISHED", "FAILED", "KILLED", "DIED"


@dataclass
class RunRecord:
    """What `run.json` holds. Paths are relative to the run folder, so a project folder can
    be moved or copied; `run_dir` is where the record was read from, not stored."""

    id: str
    strategy: str
    status: str = RUNNING
    steps: int = 0
    started: str = ""
    ended: str | None = None
    checkpoint: str | None = None  # file name inside the run folder, once one is saved
    checkpoint_stamp: list[int] | None = None  # its size and mtime (ns) as the Trainer left it
    mlflow_run_id: str | None = None
    tracking_uri: str | None = None
    pid: int = 0
    host: str = ""
    sampling: dict | None = None  # the `auto` sampler chosen at the end of training
    remote: bool = False  # known only to a tracking server: no folder here
    run_dir: Path = field(default=Path("."), compare=False)

    @property
    def state(self) -> str:
        """The status, with DIED for a run whose process ended without saying how."""
        if self.status == RUNNING and self.host == this_host() and not pid_alive(self.pid):
            return DIED
        return self.status

    @property
    def checkpoint_path(self) -> Path | None:
        """The run's checkpoint file, if there is one on disk. A process killed between
        writing its checkpoint and its record leaves the record a step behind, so the
        Trainer's file name counts too. A remote run's checkpoint is on its server."""
        if self.remote:
            return None
        path = self.run_dir / (self.checkpoint or CHECKPOINT)
        return path if path.is_file() else None

    @property
    def usable(self) -> bool:
        """Finished, with its checkpoint still on disk (or on its server): what `sample`
        picks by default."""
        return self.status == FINISHED and (self.remote or self.checkpoint_path is not None)

    def save(self) -> None:
        data = {k: v for k, v in asdict(self).items() if k != "run_dir"}
        write_text(self.run_dir / RUN_FILE, json.dumps(data, indent=2) + "\n")

    def to_dict(self) -> dict:
        """For `pixelgen runs --json`: the status as shown, and full paths."""
        path = self.checkpoint_path
        return {
            **{k: v for k, v in asdict(self).items() if k != "run_dir"},
            "status": self.state,
            "run_dir": None if self.remote else str(self.run_dir),
            "checkpoint": str(path) if path else None,
        }


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def start(run_dir: Path, strategy: str) -> RunRecord:
    """A RUNNING record for this process, written now; a resumed run keeps its id."""
    old = read(run_dir)
    record = RunRecord(
        id=run_dir.name,
        strategy=strategy,
        run_dir=run_dir.absolute(),
        started=now(),
        pid=os.getpid(),
        host=this_host(),
    )
    if old is not None:
        record.steps, record.checkpoint = old.steps, old.checkpoint
        record.checkpoint_stamp = old.checkpoint_stamp
        record.mlflow_run_id, record.started = old.mlflow_run_id, old.started
    record.save()
    return record


def read(run_dir: Path) -> RunRecord | None:
    """The record in `run_dir`, or None if there is none or it is unreadable."""
    try:
        data = json.loads((Path(run_dir) / RUN_FILE).read_text())
        known = {f.name for f in fields(RunRecord)} - {"run_dir"}
        record = RunRecord(**{k: v for k, v in data.items() if k in known})
        record.run_dir = Path(run_dir).absolute()
        return record
    except (OSError, ValueError, TypeError):
        return None


def log_progress(run_dir: Path, entry: dict) -> None:
    """Append one line to the run's progress log. A line is written in one call, so a
    reader sees whole lines, or at worst a cut last one (which `read_progress` skips).
    A log that cannot be written (a full disk) does not stop training: the checkpoint
    that follows reports it."""
    try:
        with open(Path(run_dir) / PROGRESS_FILE, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
    except OSError:
        pass


def read_progress(run_dir: Path, after: int = -1) -> list[dict]:
    """The run's progress log entries with a step above `after` (none if it has no log)."""
    try:
        lines = (Path(run_dir) / PROGRESS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line being written
        if isinstance(entry, dict) and entry.get("step", -1) > after:
            entries.append(entry)
    return entries


def stamp(path: Path) -> list[int]:
    info = Path(path).stat()
    return [info.st_size, info.st_mtime_ns]


def written_by_trainer(checkpoint: Path) -> bool:
    """Whether `checkpoint` is untouched since the Trainer wrote it (its run record holds
    its size and mtime): its config and weights were made together, so they fit."""
    checkpoint = Path(checkpoint)
    record = read(checkpoint.parent)
    try:
        return (
            record is not None
            and record.checkpoint == checkpoint.name
            and record.checkpoint_stamp == stamp(checkpoint)
        )
    except OSError:
        return False


def output_root() -> Path:
    """Where runs go: `training.output_dir` of ./configs/base.yaml, else ./runs.

    Read without resolving a strategy's config, so finding a run stays cheap."""
    if BASE_CONFIG.is_file():
        try:
            configured = load_yaml(BASE_CONFIG).get("training", {}).get("output_dir")
        except (ConfigError, AttributeError):  # reported by the commands that resolve it
            configured = None
        if configured:
            return Path(str(configured))
    return Path("runs")


def all_runs(root: Path | None = None, strategy: str | None = None) -> list[RunRecord]:
    """Every recorded run under `root` (of `strategy`), newest first."""
    root = Path(root) if root is not None else output_root()
    pattern = f"{strategy}/*/{RUN_FILE}" if strategy else f"*/*/{RUN_FILE}"
    records = [r for p in root.glob(pattern) if (r := read(p.parent)) is not None]
    return sorted(records, key=lambda r: (r.started, r.id), reverse=True)


def latest_usable(strategy: str, root: Path | None = None) -> RunRecord | None:
    """The newest run of `strategy` that finished with a checkpoint."""
    return next((r for r in all_runs(root, strategy) if r.usable), None)


def find(run_id: str, strategy: str | None = None, root: Path | None = None) -> RunRecord | None:
    """A run by its folder name or its MLflow run id."""
    for record in all_runs(root, strategy):
        if run_id in (record.id, record.mlflow_run_id):
            return record
    return None
