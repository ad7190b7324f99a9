"""Palettes from and to files: Lospec's download formats, and a few built-in palettes.

Read: ``.hex`` (one RRGGBB per line), ``.gpl`` (GIMP), ``.pal`` (JASC-PAL), ``.txt``
(Paint.NET: AARRGGBB per line, ``;`` comments) and ``.png`` (every opaque colour of the
image, left to right, top to bottom: a palette strip). Written: ``.hex``, ``.gpl``,
``.pal``, ``.png``. The colours keep the file's order; repeats are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelgen_core.errors import PixelgenError
from pixelgen_core.palette import Palette

# Palettes as their authors published them (the colours are facts, free to use):
# PICO-8 by Lexaloffle; the original Game Boy (DMG) greens; ENDESGA 32 by Endesga (Lospec).
_PUBLISHED = {
    "pico-8": "000000 1d2b53 7e2553 008751 ab5236 5f574f c2c3c7 fff1e8 "
    "ff004d ffa300 ffec27 00e436 29adff 83769c ff77a8 ffccaa",
    "gameboy": "0f380f 306230 8bac0f 9bbc0f",
    "endesga-32": "be4a2f d77643 ead4aa e4a672 b86f50 733e39 3e2731 a22633 e43b44 f77622 "
    "feae34 fee761 63c74d 3e8948 265c42 193c3e 124e89 0099db 2ce8f5 ffffff c0cbdc 8b9bb4 "
    "5a6988 3a4466 262b44 181425 ff0044 68386c b55088 f6757a e8b796 c28569",
}
BUILTIN: dict[str, tuple[str, ...]] = {k: tuple(v.split()) for k, v in _PUBLISHED.items()}
READ_SUFFIXES = (".hex", ".gpl", ".pal", ".txt", ".png")
WRITE_SUFFIXES = (".hex", ".gpl", ".pal", ".png")
MAX_COLORS = 255  # index 0 is transparency, and indices are stored in a byte's range


def load_palette(source: str | Path) -> Palette:
    """A built-in palette by name, or a palette file; a bad one is a one-line error."""
    name = str(source)
    if name.lower() in BUILTIN:
        return Palette(np.array([_hex(c, name) for c in BUILTIN[name.lower()]], dtype=np.uint8))
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in READ_SUFFIXES:
        raise PixelgenError(
            f"palette {name!r} is neither a built-in ({', '.join(BUILTIN)}) nor a palette "
            f"file ({', '.join(READ_SUFFIXES)})"
        )
    if suffix == ".png":
        from pixelgen_core.images import read_png

        rgba = read_png(path).reshape(-1, 4)
        colors = rgba[rgba[:, 3] >= 128][:, :3]
    else:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise PixelgenError(f"palette file not found: {path}") from None
        except OSError as exc:
            raise PixelgenError(f"cannot read palette {path}: {exc.strerror}") from None
        parse = {
            ".hex": _parse_hex,
            ".gpl": _parse_gpl,
            ".pal": _parse_jasc,
            ".txt": _parse_paintnet,
        }
        colors = parse[suffix](text, path)
    return _palette(colors, path)


def save_palette(palette: Palette, path: Path) -> Path:
    """Write `palette`'s opaque colours in the format `path`'s suffix names, atomically."""
    from pixelgen_core.files import write_text

    suffix = Path(path).suffix.lower()
    colors = palette.colors
    if suffix == ".png":
        from pixelgen_core.images import write_png

        strip = np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], 1)
        return write_png(strip[None], path)
    if suffix == ".hex":
        text = "".join(f"{c}\n" for c in palette.hex())
        text = text.replace("#", "")
    elif suffix == ".gpl":
        rows = [
            f"{r:3d} {g:3d} {b:3d}\t{h}" for (r, g, b), h in zip(colors, palette.hex(), strict=True)
        ]
        text = "GIMP Palette\nName: pixelgen\nColumns: 8\n#\n" + "\n".join(rows) + "\n"
    elif suffix == ".pal":
        rows = [f"{r} {g} {b}" for r, g, b in colors]
        text = f"JASC-PAL\n0100\n{len(colors)}\n" + "\n".join(rows) + "\n"
    else:
        raise PixelgenError(f"cannot write a palette as {path}: use {', '.join(WRITE_SUFFIXES)}")
    return write_text(Path(path), text)


def _palette(colors, path: Path) -> Palette:
    colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    _, first = np.unique(colors, axis=0, return_index=True)
    colors = colors[np.sort(first)]  # drop repeats, keep the file's order
    if len(colors) == 0:
        raise PixelgenError(f"palette {path} has no colours")
    if len(colors) > MAX_COLORS:
        raise PixelgenError(f"palette {path} has {len(colors)} colours; at most {MAX_COLORS}")
    return Palette(colors)


def _hex(text: str, where: object) -> list[int]:
    value = text.strip().lstrip("#")
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise PixelgenError(f"bad colour {text.strip()!r} in palette {where}")
    return [int(value[i : i + 2], 16) for i in (0, 2, 4)]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _parse_hex(text: str, path: Path) -> list[list[int]]:
    return [_hex(line, path) for line in _lines(text)]


def _parse_paintnet(text: str, path: Path) -> list[list[int]]:
    rows = [line for line in _lines(text) if not line.startswith(";")]
    return [_hex(line[-6:], path) for line in rows]  # AARRGGBB: the alpha is ignored


def _rgb_row(line: str, path: Path) -> list[int]:
    parts = line.split()
    try:
        rgb = [int(v) for v in parts[:3]]
    except ValueError:
        rgb = []
    if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
        raise PixelgenError(f"bad colour line {line!r} in palette {path}")
    return rgb


def _parse_gpl(text: str, path: Path) -> list[list[int]]:
    lines = _lines(text)
    if not lines or lines[0] != "GIMP Palette":
        raise PixelgenError(f"{path} is not a GIMP palette (no 'GIMP Palette' first line)")
    body = [
        line
        for line in lines[1:]
        if not line.startswith("#") and line.split(":")[0] not in ("Name", "Columns")
    ]
    return [_rgb_row(line, path) for line in body]


def _parse_jasc(text: str, path: Path) -> list[list[int]]:
    lines = _lines(text)
    if len(lines) < 3 or lines[0] != "JASC-PAL":
        raise PixelgenError(f"{path} is not a JASC palette (no 'JASC-PAL' first line)")
    return [_rgb_row(line, path) for line in lines[3:]]


PARSERS = {".hex": _parse_hex, ".gpl": _parse_gpl, ".pal": _parse_jasc, ".txt": _parse_paintnet}
