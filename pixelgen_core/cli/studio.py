"""`pixelgen studio`: serve the local web page."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("studio")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port; 0 picks a free one.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to listen on (127.0.0.1 or ::1): the studio serves this machine only.",
)
@click.option(
    "--data",
    "data_folders",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FOLDER",
    help="A folder of sprites the page may train on (repeatable; read only).",
)
@click.option(
    "--max-upload-mb",
    type=float,
    default=16.0,
    show_default=True,
    help="Largest request the page may send (uploads, sprites to export).",
)
@click.option("--open/--no-open", "open_browser", default=False, help="Open the page in a browser.")
def studio(
    port: int, host: str, data_folders: tuple[Path, ...], max_upload_mb: float, open_browser: bool
) -> None:
    """Train, draw, redraw, recolour and export on a local web page.

    Works in this folder, as the other commands do: runs in ./runs, the local MLflow
    store, uploads in ./datasets, exports in ./exports. Prints the page's address with
    its token; only that address (from this machine) can use it. Ctrl-C stops it;
    trainings it started go on (see `pixelgen runs`).
    """
    from pixelgen_core.studio import make_studio, serve

    made = make_studio(Path.cwd(), tuple(data_folders), host, port, max_upload_mb)

    def ready(url: str) -> None:
        click.echo(f"pixelgen studio: {url}")
        click.echo("(Ctrl-C stops it; trainings it started go on)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    serve(made, ready)
