"""`pixelgen studio`: the whole loop on a local web page (docs/studio.md).

A FastAPI app (`app.py`) over the public Python API, behind the checks of `security.py`,
serving plain files from `static/` (no build step); trainings run as `pixelgen train`
processes of their own (`trainings.py`).
"""

from __future__ import annotations

import socket
from pathlib import Path

from pixelgen_core.errors import PixelgenError


def free_port(host: str, port: int = 0) -> int:
    """`port` if it is free on `host` (any free one for 0); a port in use is a one-line
    error here, before uvicorn, which would log it and exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PixelgenError(
                f"cannot listen on {host}:{port}: {exc.strerror} (another --port, or 0 for any)"
            ) from None
        return probe.getsockname()[1]


def make_studio(
    folder: Path,
    data_folders: tuple[Path, ...] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    max_upload_mb: float = 16.0,
):
    """The studio for `folder` (runs, MLflow store, datasets/ and exports/ live there),
    with `data_folders` as extra datasets it may read."""
    from pixelgen_core.studio.app import Studio
    from pixelgen_core.studio.security import check_host

    host = check_host(host)
    if not 0 < max_upload_mb <= 4096:  # also refuses nan
        raise PixelgenError(
            f"--max-upload-mb {max_upload_mb}: give a size above 0 and at most 4096"
        )
    given = []
    for path in data_folders:
        if not Path(path).is_dir():
            raise PixelgenError(f"--data {path}: not a folder")
        given.append(Path(path).resolve())
    return Studio(
        Path(folder).resolve(),
        tuple(given),
        host=host,
        port=free_port(host, port),
        max_upload_mb=max_upload_mb,
    )


def serve(studio, on_ready=None) -> None:
    """Serve until Ctrl-C; `on_ready(url)` once it listens."""
    import uvicorn

    from pixelgen_core.studio.app import create_app

    config = uvicorn.Config(
        create_app(studio), host=studio.host, port=studio.port, log_level="warning"
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        startup = server.startup

        async def announced(sockets=None):
            await startup(sockets)
            if server.started:
                on_ready(studio.url)

        server.startup = announced
    try:
        server.run()
    except OSError as exc:
        raise PixelgenError(
            f"cannot listen on {studio.host}:{studio.port}: {exc.strerror}"
        ) from None
