"""Aseprite files (`.aseprite`) and Aseprite's `json-array` sheet atlas.

The file is written from Aseprite's published specification (docs/ase-file-specs.md in
the aseprite repository): a 128-byte header, then one frame per sprite, each a list of
chunks. The first frame carries the colour profile, the palette, the one layer and the
tags; every frame carries one zlib-compressed cel of palette indices. Indexed colour mode
with index 0 as the transparent entry is exactly pixelgen's palette layout, so no pixel
is converted. All numbers are little-endian.

The only Python library that writes the format needs Python 3.12 (pixelgen supports
3.10), so the writer is here; the tests read its files back with that library.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelgen_core.errors import PixelgenError

FILE_MAGIC = 0xA5E0
FRAME_MAGIC = 0xF1FA
INDEXED = 8  # colour depth: bits per pixel
LAYER_OPACITY_VALID = 1  # header flag
CHUNK_LAYER = 0x2004
CHUNK_CEL = 0x2005
CHUNK_COLOR_PROFILE = 0x2007
CHUNK_TAGS = 0x2018
CHUNK_PALETTE = 0x2019
CEL_COMPRESSED = 2
LAYER_VISIBLE_EDITABLE = 1 | 2
MAX_FRAMES = 0xFFFF
BLACK = "#000000ff"  # a tag's colour on Aseprite's timeline
FRAME_MS = 100  # how long each frame shows when the file is played as an animation


@dataclass(frozen=True)
class Tag:
    """Frames `first`..`last` (inclusive) under one name, as Aseprite's timeline shows."""

    name: str
    first: int
    last: int


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<H", len(data)) + data


def _chunk(kind: int, data: bytes) -> bytes:
    return struct.pack("<IH", len(data) + 6, kind) + data


def _frame(chunks: list[bytes], duration_ms: int) -> bytes:
    body = b"".join(chunks)
    n = len(chunks)
    header = struct.pack("<IHHH2xI", 16 + len(body), FRAME_MAGIC, min(n, 0xFFFF), duration_ms, n)
    return header + body


def _header(file_size: int, frames: int, width: int, height: int, colours: int) -> bytes:
    grid = struct.pack("<BBhhHH", 1, 1, 0, 0, width, height)  # pixel ratio 1:1, grid = sprite
    head = struct.pack(
        "<IHHHHHIH8xB3xH",
        file_size,
        FILE_MAGIC,
        frames,
        width,
        height,
        INDEXED,
        LAYER_OPACITY_VALID,
        FRAME_MS,  # deprecated speed field, kept equal to the frames' duration
        0,  # the transparent palette index
        colours,
    )
    head += grid
    return head + bytes(128 - len(head))


def _palette_chunk(rgba: np.ndarray) -> bytes:
    entries = b"".join(struct.pack("<H4B", 0, *map(int, colour)) for colour in rgba)
    return _chunk(CHUNK_PALETTE, struct.pack("<III8x", len(rgba), 0, len(rgba) - 1) + entries)


def _layer_chunk(name: str) -> bytes:
    # flags, type normal, child level 0, default w/h (ignored), blend normal, opacity 255
    data = struct.pack("<HHHHHHB3x", LAYER_VISIBLE_EDITABLE, 0, 0, 0, 0, 0, 255)
    return _chunk(CHUNK_LAYER, data + _string(name))


def _cel_chunk(indices: np.ndarray) -> bytes:
    height, width = indices.shape
    # layer 0 at (0, 0), opaque, compressed image, z-index 0
    head = struct.pack("<HhhBHh5xHH", 0, 0, 0, 255, CEL_COMPRESSED, 0, width, height)
    return _chunk(CHUNK_CEL, head + zlib.compress(indices.astype(np.uint8).tobytes(), 9))


def _tags_chunk(tags: Sequence[Tag]) -> bytes:
    data = struct.pack("<H8x", len(tags))
    for tag in tags:
        # loop forward, repeat 0 (forever), black (deprecated colour field), then the name
        data += struct.pack("<HHBH6x3Bx", tag.first, tag.last, 0, 0, 0, 0, 0) + _string(tag.name)
    return _chunk(CHUNK_TAGS, data)


def _colour_profile_chunk() -> bytes:
    return _chunk(CHUNK_COLOR_PROFILE, struct.pack("<HHI8x", 1, 0, 0))  # sRGB


def aseprite_bytes(
    indices: np.ndarray, palette_rgba: np.ndarray, tags: Sequence[Tag] = (), layer: str = "sprite"
) -> bytes:
    """An indexed-colour `.aseprite` file: one frame per sprite of `indices` (N, H, W)
    into `palette_rgba` (K, 4) uint8, whose entry 0 is the transparent one."""
    indices = np.asarray(indices)
    palette_rgba = np.asarray(palette_rgba, dtype=np.uint8)
    if indices.ndim != 3 or len(indices) == 0:
        raise PixelgenError(f"an Aseprite file needs sprites (N, H, W), got {indices.shape}")
    n, height, width = indices.shape
    if not 1 <= len(palette_rgba) <= 256:
        raise PixelgenError(
            f"an indexed Aseprite file holds up to 256 colours; these sprites use "
            f"{len(palette_rgba)}"
        )
    if indices.max() >= len(palette_rgba) or indices.min() < 0:
        raise PixelgenError("a pixel's palette index is outside the palette")
    if n > MAX_FRAMES or max(height, width) > 0xFFFF:
        raise PixelgenError(f"an Aseprite file holds up to {MAX_FRAMES} frames of 65535 pixels")
    for tag in tags:
        if not 0 <= tag.first <= tag.last < n:
            raise PixelgenError(f"tag {tag.name!r} covers frames outside 0..{n - 1}")
    frames = []
    for i, sprite in enumerate(indices):
        chunks = []
        if i == 0:
            chunks += [_colour_profile_chunk(), _palette_chunk(palette_rgba), _layer_chunk(layer)]
            if tags:
                chunks.append(_tags_chunk(tags))
        chunks.append(_cel_chunk(sprite))
        frames.append(_frame(chunks, FRAME_MS))
    body = b"".join(frames)
    return _header(128 + len(body), n, width, height, len(palette_rgba)) + body


def write_aseprite(
    path: Path, indices: np.ndarray, palette_rgba: np.ndarray, tags: Sequence[Tag] = ()
) -> Path:
    """Write `aseprite_bytes` to `path` atomically."""
    from pixelgen_core.files import write_atomic

    data = aseprite_bytes(indices, palette_rgba, tags)
    return write_atomic(Path(path), lambda f: f.write(data))


def group_tags(labels: Sequence[int | None] | None, prompts: Sequence[str | None] | None) -> list:
    """One tag per run of neighbouring sprites drawn with the same prompt or class: the
    prompt's words, or "class N"; sprites drawn with neither get none."""
    n = max(len(labels or ()), len(prompts or ()))
    names = []
    for i in range(n):
        prompt = prompts[i] if prompts else None
        label = labels[i] if labels else None
        names.append(prompt if prompt is not None else None if label is None else f"class {label}")
    tags: list[Tag] = []
    start = 0
    for i in range(1, n + 1):
        if i == n or names[i] != names[start]:
            if names[start] is not None:
                tags.append(Tag(names[start], start, i - 1))
            start = i
    return tags


def json_array(hash_atlas: dict, tags: Sequence[Tag]) -> dict:
    """A TexturePacker JSON (Hash) atlas, as Aseprite's CLI writes it with
    ``--format json-array --list-tags``: `frames` a list in sprite order, each with its
    `filename` and `duration`, and ``meta.frameTags``."""
    frames = [
        {"filename": name, **frame, "duration": FRAME_MS}
        for name, frame in hash_atlas["frames"].items()
    ]
    meta = dict(hash_atlas["meta"])
    meta["frameTags"] = [
        {"name": t.name, "from": t.first, "to": t.last, "direction": "forward", "color": BLACK}
        for t in tags
    ]
    meta["layers"] = [{"name": "sprite", "opacity": 255, "blendMode": "normal"}]
    meta["slices"] = []
    return {"frames": frames, "meta": meta}
