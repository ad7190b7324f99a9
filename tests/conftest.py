"""Readers that pixelgen did not write, for the tests of its exported files.

scripts/readers.sh installs them where it can; a test that needs a missing one is
skipped with the reason, never passed."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASEPRITE_PYTHON = ROOT / ".readers" / "aseprite" / "bin" / "python"


@pytest.fixture
def read_aseprite():
    """Read an .aseprite file with the `aseprite` library from PyPI: its size, colour
    mode, transparent index, palette, tags, layers and each frame as RGBA (N, H, W, 4)."""
    if not ASEPRITE_PYTHON.exists():
        pytest.skip("the aseprite reader is not installed (scripts/readers.sh needs Python 3.12+)")

    def read(path: Path) -> dict:
        dumped = subprocess.run(
            [str(ASEPRITE_PYTHON), str(ROOT / "tests" / "readers" / "aseprite_dump.py"), path],
            capture_output=True,
            text=True,
            check=True,
        )
        info = json.loads(dumped.stdout)
        w, h = info["size"]
        frames = [np.frombuffer(base64.b64decode(f), np.uint8) for f in info.pop("frames")]
        info["frames"] = np.stack(frames).reshape(-1, h, w, 4)
        return info

    return read


@pytest.fixture
def tmxrasterizer():
    """Render a .tmx map with Tiled's own renderer; returns the RGBA image."""
    found = shutil.which("tmxrasterizer")
    if found is None:
        pytest.skip("tmxrasterizer (Debian package tiled) is not installed and could not be")

    def render(tmx: Path) -> np.ndarray:
        from PIL import Image

        out = Path(tmx).with_suffix(".rendered.png")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        subprocess.run([found, str(tmx), str(out)], check=True, env=env, capture_output=True)
        return np.asarray(Image.open(out).convert("RGBA"))

    return render
