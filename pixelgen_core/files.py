"""Files that are whole or absent: atomic writes, stale temporary files, one-line OS errors.

Every file pixelgen writes (checkpoints, sprites, grids, run records, reports) goes to a
temporary name in the same folder and is renamed over its target only once complete, so a
Ctrl-C, a kill -9 or a full disk never leaves a truncated file under the real name. The
temporary name carries the host and process id, so the next run can tell a temporary file
left by a dead process (safe to delete) from one that another live process is writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from pixelgen_core.errors import PixelgenError

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_TEMP = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")


def temp_name(path: Path) -> Path:
    """A temporary sibling of `path` that names this host and process."""
    return path.with_name(f".{path.name}.{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def os_error(exc: OSError, path: Path | str | None = None) -> PixelgenError:
    """A user-facing one-liner for an OSError met while writing (full disk, read-only, ...)."""
    where = path if path is not None else (exc.filename or "file")
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "no space left on the device"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "not writable (permission denied or read-only file system)"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST) or isinstance(exc, FileExistsError):
        reason = "a file is in the way where a folder is needed"
    return PixelgenError(f"cannot write {where}: {reason}")


def make_dir(path: Path) -> Path:
    """mkdir -p, with a one-line error when a file is in the way or the place is unwritable."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, path) from None
    if not path.is_dir():
        raise PixelgenError(f"cannot write {path}: it is a file, not a folder")
    return path


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of `path` for writing; rename it over `path` on success.

    On any failure (including KeyboardInterrupt) the temporary file is removed and `path`
    keeps its previous content. OSErrors become one-line PixelgenErrors.
    """
    path = Path(path)
    make_dir(path.parent)
    if path.is_dir():
        raise PixelgenError(f"cannot write {path}: it is a folder")
    tmp = temp_name(path)
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise os_error(exc, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, write: Callable[[IO], object], mode: str = "wb") -> Path:
    """Call `write(handle)` on a temporary file, then rename it to `path`."""
    with atomic_open(path, mode) as handle:
        write(handle)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda handle: handle.write(text), mode="w")


def new_folder(parent: Path, prefix: str = "") -> Path:
    """A fresh folder `parent/PREFIXYYYYmmdd-HHMMSS-xxxxxx`, created exclusively: commands
    started side by side never share one, even within the same second."""
    make_dir(parent)
    while True:
        folder = parent / f"{prefix}{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # another process drew the same name in the same second
        except OSError as exc:
            raise os_error(exc, folder) from None
        return folder


def user_cache() -> Path:
    """$PIXELGEN_CACHE_DIR, else $XDG_CACHE_HOME/pixelgen, else ~/.cache/pixelgen."""
    if os.environ.get("PIXELGEN_CACHE_DIR"):
        return Path(os.environ["PIXELGEN_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "pixelgen"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def this_host() -> str:
    return _HOST


def remove_stale_temps(folder: Path, pattern: str = "**/.*.tmp") -> list[Path]:
    """Delete temporary files under `folder` left by dead processes of this host.

    Temporary files of live processes, of other hosts, or not made by `temp_name` stay.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.glob(pattern):
        match = _TEMP.match(path.name)
        if not match or match["host"] != _HOST or pid_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed
