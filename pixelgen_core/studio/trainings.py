"""Trainings started from the page: each one a `pixelgen train` process of its own, so
closing the page does not stop it, and it writes its run folder exactly as the CLI does
(the run store's guarantees hold for the page as for the command line)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pixelgen_core import runs
from pixelgen_core.files import make_dir


@dataclass
class Training:
    process: subprocess.Popen
    log: Path
    strategy: str
    run_id: str | None = None

    def state(self) -> dict:
        """What the page shows while it waits: the run once its folder exists, or why the
        command stopped before making one (its last line)."""
        code = self.process.poll()
        if self.run_id is None:
            record = next(
                (r for r in runs.all_runs(strategy=self.strategy) if r.pid == self.process.pid),
                None,
            )
            self.run_id = record.id if record else None
        error = None
        if code not in (None, 0) and self.run_id is None:
            lines = self.log.read_text(errors="replace").strip().splitlines()
            error = lines[-1] if lines else f"pixelgen train stopped with code {code}"
        return {"job": self.process.pid, "run": self.run_id, "exit_code": code, "error": error}


@dataclass
class Trainings:
    folder: Path  # where the studio works: runs/, the MLflow store, logs
    started: dict[int, Training] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, strategy: str, settings: dict[str, object]) -> Training:
        """`pixelgen train STRATEGY KEY=VALUE...` in the studio's folder, its output in
        .studio/train-PID.log there."""
        logs = make_dir(self.folder / ".studio")
        log = logs / f"train-{os.getpid()}-{len(self.started)}.log"
        command = [sys.executable, "-m", "pixelgen_core", "train", strategy, "-q"]
        command += [f"{key}={value}" for key, value in settings.items()]
        with self.lock, open(log, "w") as out:
            process = subprocess.Popen(
                command,
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C on the studio does not reach it
            )
            training = Training(process, log, strategy)
            self.started[process.pid] = training
        return training

    def get(self, job: int) -> Training | None:
        return self.started.get(job)

    def stop(self, job: int) -> bool:
        """Ctrl-C for the training: it saves a checkpoint and ends KILLED (resumable)."""
        training = self.started.get(job)
        if training is None or training.process.poll() is not None:
            return False
        training.process.send_signal(signal.SIGINT)
        return True
