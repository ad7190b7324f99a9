"""Checkpoints: written atomically, read with weights_only=True so a file cannot run code."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelgen_core.errors import PixelgenError, first_line
from pixelgen_core.files import write_atomic

FORMAT = 1


@dataclass(frozen=True)
class Checkpoint:
    """A training checkpoint as a typed object (format `FORMAT`).

    `config` is the run's config as saved (plain data); `data` the `DataInfo` dict;
    `modules` and `extra` the strategy's module state dicts and `extra_state()`;
    `position` where training stood (stage, epoch, batch, step); `finished` whether the
    run ended normally. `to_payload()` is what `save` writes."""

    strategy: str
    config: dict
    data: dict
    state: dict
    position: dict = field(default_factory=dict)
    finished: bool = False
    mlflow_run_id: str | None = None
    plugin: dict = field(default_factory=dict)
    pixelgen_version: str = ""
    path: Path | None = None

    @property
    def modules(self) -> dict[str, dict]:
        return self.state["modules"]

    @property
    def extra(self) -> dict[str, Any]:
        return self.state.get("extra", {})

    @property
    def steps(self) -> int:
        return int(self.position.get("step", 0))

    def to_payload(self) -> dict:
        return {
            "strategy": self.strategy,
            "plugin": self.plugin,
            "pixelgen_version": self.pixelgen_version,
            "config": self.config,
            "data": self.data,
            "state": self.state,
            "position": self.position,
            "finished": self.finished,
            "mlflow_run_id": self.mlflow_run_id,
        }

    @classmethod
    def from_payload(cls, payload: dict) -> Checkpoint:
        return cls(
            strategy=payload["strategy"],
            config=payload["config"],
            data=payload["data"],
            state=payload["state"],
            position=dict(payload.get("position", {})),
            finished=bool(payload.get("finished", False)),
            mlflow_run_id=payload.get("mlflow_run_id"),
            plugin=dict(payload.get("plugin", {})),
            pixelgen_version=str(payload.get("pixelgen_version", "")),
            path=Path(payload["path"]) if payload.get("path") else None,
        )


def open_run(path: Path | str, strategy: str | None = None) -> Checkpoint:
    """A checked training checkpoint (a file or run folder) of `strategy`, or of the
    strategy it names when None, as saved: what resuming and opening a run read."""
    return Checkpoint.from_payload(load_run(Path(path), strategy))


def as_checkpoint(value: Checkpoint | dict) -> Checkpoint:
    """A Checkpoint, from one or from the payload dict `load` returns."""
    return value if isinstance(value, Checkpoint) else Checkpoint.from_payload(value)


def read(path: Path | str, strategy: str) -> Checkpoint:
    """A checked training checkpoint of `strategy` (a run folder or file), its config
    resolved against the installed strategy's defaults (settings added since it was
    saved take them), so a plugin can compare it with its own. For strategies that
    build on another run's weights at training time (a VQ-VAE prior on a trained
    autoencoder): they copy what they need, so opening their run never reads this one."""
    from pixelgen_core.config import resolve
    from pixelgen_core.plugins import registry

    payload = load_run(Path(path), strategy)
    config = resolve(registry().get(strategy).spec, base=payload["config"])
    return Checkpoint.from_payload({**payload, "config": config})


def save(payload: dict, path: Path) -> Path:
    """Write to a temporary file in the same folder, then rename over `path`: a kill or a
    full disk mid-write leaves the previous checkpoint as it was.

    The payload is serialised in memory first: torch's zip writer turns a failed write
    (ENOSPC) into a RuntimeError without its errno, while a plain write keeps the OSError
    that becomes "no space left on the device"."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    return write_atomic(path, lambda handle: handle.write(buffer.getbuffer()))


def load(path: Path, strategy: str | None = None) -> dict:
    """Read a pixelgen checkpoint (a training checkpoint of `strategy`, checked, if given);
    anything else is a user error."""
    payload = _read(path)
    if strategy is not None:
        _check_run(payload, strategy)
    return payload


def load_run(path: Path, strategy: str | None = None) -> dict:
    """Read and check a training checkpoint: of `strategy`, or of whichever strategy it
    names when `strategy` is None."""
    payload = _read(path)
    _check_run(payload, strategy)
    return payload


def _read(path: Path) -> dict:
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise PixelgenError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise PixelgenError(f"{path} is not a pixelgen checkpoint (not a torch file)")
    try:
        # mmap: tensors are read when used, so sampling skips the optimizer state it never
        # touches; writes always replace the file by rename, so the mapping stays valid.
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise PixelgenError(f"cannot read checkpoint {path}: {first_line(exc)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise PixelgenError(f"{path} is not a pixelgen checkpoint")
    payload["path"] = str(path)
    return payload


def _check_run(payload: dict, strategy: str | None) -> None:
    path, named = payload["path"], payload.get("strategy")
    if strategy is not None and named != strategy:
        raise PixelgenError(f"{path} is a {named!r} checkpoint, not {strategy!r}")
    if not isinstance(named, str):
        raise PixelgenError(f"{path} does not say which strategy made it")
    problem = run_payload_problem(payload)
    if problem:
        raise PixelgenError(f"{path} is damaged: {problem}")


MAX_IMAGE_SIZE = 1024
MAX_PALETTE = 256
POSITION_KEYS = {"stage", "epoch", "batch", "step"}


def run_payload_problem(payload: dict) -> str | None:
    """What is wrong with a training checkpoint's layout, or None. Checked before any
    model is built from it, so a damaged or hand-edited file is one line, not a traceback
    or an attempt to allocate a model of absurd size."""
    config, data, state = payload.get("config"), payload.get("data"), payload.get("state")
    if not isinstance(config, dict) or not config:
        return "its config is missing"
    if not isinstance(data, dict):
        return "its data description is missing"
    for key in ("image_size", "image_width"):
        size = data.get(key, 1)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_IMAGE_SIZE:
            return f"{key} {size!r} is not a sprite size in 1..{MAX_IMAGE_SIZE}"
    palette = data.get("palette")
    if not isinstance(palette, list) or not 1 <= len(palette) <= MAX_PALETTE:
        return f"its palette must list 1..{MAX_PALETTE} colours"
    for colour in palette:
        if not (isinstance(colour, list) and len(colour) == 4):
            return f"palette colour {colour!r} is not RGBA"
        if not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in colour):
            return f"palette colour {colour!r} is not in [0, 1]"
    classes = data.get("num_classes")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 0:
        return f"num_classes {classes!r} is not a count"
    if not isinstance(state, dict) or not isinstance(state.get("modules"), dict):
        return "its model state is missing"
    position = payload.get("position", {})
    if not isinstance(position, dict) or not set(position) <= POSITION_KEYS:
        return "its training position is not stage/epoch/batch/step"
    if not all(isinstance(v, int) and v >= 0 for v in position.values()):
        return "its training position holds negative or non-integer counts"
    return None
