"""Checkpoints: written atomically, read with weights_only=True so a file cannot run code."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from pixelgen_core.errors import PixelgenError, first_line

FORMAT = 1


def save(payload: dict, path: Path) -> Path:
    """Write to a temporary file in the same folder, then rename over `path`."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format": FORMAT, **payload}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: Path, strategy: str | None = None) -> dict:
    """Read a pixelgen checkpoint (of `strategy`, if given); anything else is a user error."""
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise PixelgenError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise PixelgenError(f"{path} is not a pixelgen checkpoint (not a torch file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PixelgenError(f"cannot read checkpoint {path}: {first_line(exc)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise PixelgenError(f"{path} is not a pixelgen checkpoint")
    if strategy is not None and payload.get("strategy") != strategy:
        raise PixelgenError(f"{path} is a {payload.get('strategy')!r} checkpoint, not {strategy!r}")
    payload["path"] = str(path)
    return payload
