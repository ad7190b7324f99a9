"""The studio's HTTP API: JSON in and out, sprites as base64 PNGs, every call a thin layer
over the public Python API (`pixelgen_core.api`), as the CLI is. docs/studio.md lists it.

FastAPI (with uvicorn) comes with MLflow 3, whose own server uses it: nothing to add.
"""

from __future__ import annotations

import base64
import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from fastapi import FastAPI, Request
from fastapi.datastructures import Headers
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from pixelgen_core import runs
from pixelgen_core.errors import PixelgenError
from pixelgen_core.files import make_dir, new_folder, write_atomic
from pixelgen_core.studio import security
from pixelgen_core.studio.trainings import Trainings

STATIC = Path(__file__).parent / "static"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # one folder or file name
MAX_SPRITES = 256  # per draw or export: a page's worth
MAX_DEPTH = 4  # folders inside an uploaded dataset


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Studio:
    """What one launch serves: its folder (runs, MLflow store, datasets/, exports/), the
    dataset folders it was given, and its token."""

    folder: Path
    data_folders: tuple[Path, ...] = ()
    token: str = field(default_factory=security.new_token)
    host: str = "127.0.0.1"
    port: int = 8765
    max_upload_mb: float = 16.0
    open_runs: dict[str, Any] = field(default_factory=dict)
    run_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}/?token={self.token}"

    @property
    def uploads(self) -> Path:
        return self.folder / "datasets"

    def datasets(self) -> list[dict]:
        """What training may read: the bundled sheets, folders uploaded into ./datasets,
        and the folders given with --data. Nothing else is ever read."""
        from pixelgen_core.data.datasets import BUILTIN_DATASETS

        found = [{"name": name, "kind": "bundled"} for name in BUILTIN_DATASETS]
        if self.uploads.is_dir():
            for path in sorted(p for p in self.uploads.iterdir() if p.is_dir()):
                found.append({"name": f"datasets/{path.name}", "kind": "uploaded"})
        found += [{"name": str(path), "kind": "given"} for path in self.data_folders]
        return found

    def run(self, run_id: str):
        """The run, opened once per checkpoint version and kept; one lock per run, since a
        model samples one request at a time."""
        import pixelgen_core as pg

        record = runs.find(run_id)
        if record is None or record.checkpoint_path is None:
            raise Refused(404, f"no run {run_id!r} with a checkpoint in this folder")
        key = f"{record.id}:{runs.stamp(record.checkpoint_path)}"
        with self.run_lock:
            if key not in self.open_runs:
                for old in [k for k in self.open_runs if k.split(":")[0] == record.id]:
                    del self.open_runs[old]  # an older checkpoint of a resumed run
                self.open_runs[key] = (pg.open_run(run_id=record.id), threading.Lock())
            return self.open_runs[key]


# -- request bodies ---------------------------------------------------------------------
class TrainingRequest(BaseModel):
    strategy: str
    dataset: str
    minutes: float = Field(5.0, gt=0, le=24 * 60)
    epochs: int | None = Field(None, ge=1, le=100_000)


class DrawBody(BaseModel):
    n: int = Field(16, ge=1, le=MAX_SPRITES)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    label: int | None = Field(None, ge=0)
    prompt: str | None = Field(None, max_length=200)
    negative: str | None = Field(None, max_length=200)
    palette: str | None = Field(None, max_length=64)
    tileable: bool = False
    options: dict[str, Any] = Field(default_factory=dict)

    def draw_arguments(self) -> dict[str, Any]:
        """What `Run.sample` and `Run.edit` share, as keyword arguments; each sprite from
        its own seed (`separate`), so the page's seeds draw it again alone."""
        return {
            "seed": self.seed,
            "label": self.label,
            "prompt": self.prompt or None,
            "negative": self.negative or None,
            "palette": builtin_palette(self.palette),
            "tileable": self.tileable,
            "separate": True,
        }


class EditBody(DrawBody):
    n: int = Field(4, ge=1, le=MAX_SPRITES)
    image: str
    mask: str | None = None
    strength: float | None = Field(None, ge=0, le=1)


class EvaluateBody(BaseModel):
    n: int = Field(200, ge=16, le=1000)
    repeats: int = Field(1, ge=1, le=5)


class ExportBody(BaseModel):
    sprites: list[str] = Field(min_length=1, max_length=MAX_SPRITES)
    formats: list[str] = Field(default_factory=list)
    columns: int | None = Field(None, ge=1, le=MAX_SPRITES)
    run: str | None = None


# -- sprites as PNG text ----------------------------------------------------------------
def png_text(rgba: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def read_png_text(text: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    try:
        with Image.open(io.BytesIO(base64.b64decode(payload, validate=True))) as image:
            return np.asarray(image.convert("RGBA"))
    except (ValueError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise Refused(400, "a sprite is not a base64 PNG") from None


def builtin_palette(name: str | None) -> str | None:
    """A palette the page may ask for: a built-in one by name. The API would also read a
    palette file by path, which would let a request read outside the studio's folder."""
    from pixelgen_core.palette_files import BUILTIN

    if not name:
        return None
    if name.lower() not in BUILTIN:
        raise Refused(400, f"unknown palette {name!r}: {', '.join(BUILTIN)}")
    return name


def sprite_list(sprites) -> dict:
    return {
        "sprites": [png_text(s) for s in np.asarray(sprites)],
        "seeds": sprites.seeds,
    }


# -- the app ----------------------------------------------------------------------------
def create_app(studio: Studio) -> FastAPI:
    import pixelgen_core as pg

    app = FastAPI(title="pixelgen studio", docs_url=None, redoc_url=None, openapi_url=None)
    trainings = Trainings(studio.folder)
    hosts = security.allowed_hosts(studio.host, studio.port)
    limit = int(studio.max_upload_mb * 1024 * 1024)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return JSONResponse({"error": str(exc)}, exc.status)

    @app.exception_handler(PixelgenError)
    async def user_error(request: Request, exc: PixelgenError):
        return JSONResponse({"error": str(exc)}, 400)

    @app.exception_handler(TooLarge)
    async def too_large_body(request: Request, exc: TooLarge):
        return too_large(studio, f"over {studio.max_upload_mb:g} MB")

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 400)

    # -- the page ---------------------------------------------------------------------
    @app.get("/")
    def page(request: Request):
        response = FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
        response.set_cookie(
            security.COOKIE, studio.token, httponly=True, samesite="strict", path="/"
        )
        return response

    @app.get("/static/{name}")
    def static(name: str):
        path = STATIC / name
        if not NAME.match(name) or not path.is_file():
            raise Refused(404, f"no file {name}")
        return FileResponse(path)

    # -- what there is ----------------------------------------------------------------
    @app.get("/api/info")
    def info():
        from pixelgen_core.exports import FORMATS
        from pixelgen_core.palette_files import BUILTIN

        return {
            "folder": str(studio.folder),
            "strategies": [describe_strategy(r) for r in pg.strategies().values()],
            "datasets": studio.datasets(),
            "palettes": list(BUILTIN),
            "export_formats": list(FORMATS),
            "max_upload_mb": studio.max_upload_mb,
        }

    @app.get("/api/runs")
    def list_runs():
        return {"runs": [run_summary(r) for r in runs.all_runs()]}

    @app.get("/api/runs/{run_id}")
    def run_details(run_id: str):
        run, lock = studio.run(run_id)
        with lock:
            options = run.sample_options()
        spec = run.record.spec
        choice = run.sampling_choice or {}
        return {
            "id": run_id,
            "strategy": run.name,
            "size": list(run.info.shape),
            "classes": run.info.num_classes if spec.conditional else 0,
            "tags": run.tags,
            "palette": list(run.palette.hex()),
            "capabilities": list(spec.capabilities),
            # the page shows the choice; the sprites' statistics stay on the server
            "sampling": {k: v for k, v in choice.items() if k != "sprite_statistics"} or None,
            "options": [describe_option(o, options.get(o.name)) for o in spec.sample_options],
        }

    # -- datasets ---------------------------------------------------------------------
    @app.put("/api/datasets/{name}/files/{path:path}")
    async def upload(name: str, path: str, request: Request):
        parts = path.split("/")
        if not NAME.match(name) or len(parts) > MAX_DEPTH + 1:
            raise Refused(400, f"a dataset name is letters, digits, _ . - (got {name!r})")
        if not all(NAME.match(p) for p in parts) or not parts[-1].lower().endswith(".png"):
            raise Refused(400, f"{path!r}: upload PNG files, named with letters, digits, _ . -")
        body = await request.body()  # the guard below stops it at the size limit
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(body)) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError):
            raise Refused(400, f"{path}: not a PNG image") from None
        target = studio.uploads / name / Path(*parts)
        make_dir(target.parent)
        write_atomic(target, lambda out: out.write(body))
        return {"dataset": f"datasets/{name}", "file": path, "bytes": len(body)}

    # -- training ---------------------------------------------------------------------
    @app.post("/api/trainings")
    def start_training(body: TrainingRequest):
        if body.strategy not in pg.strategies():
            raise Refused(400, f"no strategy {body.strategy!r} is installed")
        if body.dataset not in {d["name"] for d in studio.datasets()}:
            raise Refused(400, f"unknown dataset {body.dataset!r}: pick one the page lists")
        settings: dict[str, object] = {
            "data.dataset": body.dataset,
            "training.time_budget_minutes": body.minutes,
        }
        if body.epochs is not None:
            settings["training.epochs"] = body.epochs
        return trainings.start(body.strategy, settings).state()

    @app.get("/api/trainings/{job}")
    def training_state(job: int):
        training = trainings.get(job)
        if training is None:
            raise Refused(404, f"no training {job} was started by this studio")
        return training.state()

    @app.post("/api/trainings/{job}/stop")
    def stop_training(job: int):
        return {"stopped": trainings.stop(job)}

    @app.get("/api/runs/{run_id}/progress")
    def progress(run_id: str, after: int = -1):
        record = runs.find(run_id)
        if record is None:
            raise Refused(404, f"no run {run_id!r} in this folder")
        grids = sorted((record.run_dir / "samples").glob("step_*.png"))
        return {
            **run_summary(record),
            "entries": runs.read_progress(record.run_dir, after),
            "grid": grids[-1].name if grids else None,
        }

    @app.get("/api/runs/{run_id}/samples/{name}")
    def grid_picture(run_id: str, name: str):
        record = runs.find(run_id)
        path = record.run_dir / "samples" / name if record else None
        if path is None or not NAME.match(name) or not path.is_file():
            raise Refused(404, f"no sample grid {name}")
        return FileResponse(path, media_type="image/png")

    # -- drawing ----------------------------------------------------------------------
    @app.post("/api/runs/{run_id}/sample")
    def sample(run_id: str, body: DrawBody):
        run, lock = studio.run(run_id)
        with lock:
            sprites = run.sample(body.n, **body.draw_arguments(), **body.options)
        return sprite_list(sprites)

    @app.post("/api/runs/{run_id}/edit")
    def edit(run_id: str, body: EditBody):
        run, lock = studio.run(run_id)
        image = read_png_text(body.image)
        mask = read_png_text(body.mask) if body.mask else None
        with lock:
            sprites = run.edit(
                image,
                mask=mask,
                strength=body.strength,
                n=body.n,
                **body.draw_arguments(),
                **body.options,
            )
        return sprite_list(sprites)

    @app.post("/api/runs/{run_id}/evaluate")
    def evaluate(run_id: str, body: EvaluateBody):
        run, lock = studio.run(run_id)
        with lock:
            result = run.evaluate(body.n, repeats=body.repeats)
        run.log_evaluation(result)
        from pixelgen_core.evaluation import markdown_table

        verdict = result.model.verdict
        return {
            "verdict": verdict.describe(),
            "clean": verdict.clean,
            "count": result.count,
            "rows": [row.to_dict() for row in result.rows],
            "table": markdown_table(result.rows),
        }

    # -- exports ----------------------------------------------------------------------
    @app.post("/api/exports")
    def export(body: ExportBody):
        from pixelgen_core.exports import FORMATS

        unknown = sorted(set(body.formats) - set(FORMATS))
        if unknown:
            raise Refused(400, f"unknown export format {unknown[0]!r}: {', '.join(FORMATS)}")
        rgba = [read_png_text(s) for s in body.sprites]
        if len({s.shape for s in rgba}) != 1:
            raise Refused(400, "the kept sprites must all be one size to share a sheet")
        sprites = np.stack(rgba)
        palette = studio.run(body.run)[0].palette if body.run else None
        if palette is not None and not in_palette(sprites, palette):
            palette = None  # recoloured: indexed files take the sprites' own colours
        folder = new_folder(studio.folder / "exports")
        written = pg.Sprites(sprites, palette=palette).export(
            folder, tuple(body.formats), columns=body.columns
        )
        return {
            "folder": str(folder.relative_to(studio.folder)),
            "files": [p.name for p in written],
        }

    @app.get("/api/exports/{folder}/{name}")
    def exported(folder: str, name: str):
        path = studio.folder / "exports" / folder / name
        if not (NAME.match(folder) and NAME.match(name)) or not path.is_file():
            raise Refused(404, f"no exported file {folder}/{name}")
        return FileResponse(path, filename=name)

    return guarded(app, studio, hosts, limit)


def in_palette(sprites: np.ndarray, palette) -> bool:
    """Whether every opaque pixel is one of `palette`'s colours (in the run's order)."""
    opaque = sprites[sprites[..., 3] >= 128][:, :3]
    used = {"#{:02x}{:02x}{:02x}".format(*rgb) for rgb in np.unique(opaque, axis=0)}
    return used <= {c.lower() for c in palette.hex()}


def describe_strategy(record) -> dict:
    spec = record.spec
    return {
        "name": spec.name,
        "description": spec.description,
        "conditional": spec.conditional,
        "capabilities": list(spec.capabilities),
    }


def describe_option(option, value: Any) -> dict:
    kind = option.type
    choices = list(kind) if isinstance(kind, tuple) else None
    name = "choice" if choices else getattr(kind, "__name__", "str")
    return {
        "name": option.name,
        "type": name,
        "choices": choices,
        "value": value,
        "help": option.help,
    }


def run_summary(record) -> dict:
    return {
        "id": record.id,
        "strategy": record.strategy,
        "state": record.state,
        "steps": record.steps,
        "started": record.started,
        "usable": record.usable,
    }


class TooLarge(Exception):
    """A request body past the limit, found while it is read (no Content-Length)."""


def too_large(studio: Studio, size: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": f"upload too large ({size}): the studio takes at most "
            f"{studio.max_upload_mb:g} MB per request (pixelgen studio --max-upload-mb)"
        },
        413,
    )


def guarded(app, studio: Studio, hosts: set[str], limit: int):
    """The app behind the checks of `security` and the upload limit, as plain ASGI so
    that a refused request never reaches a route."""

    async def guard(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = Headers(scope=scope)
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        cookies = cookie_values(headers.get("cookie", ""))
        why = security.refusal(headers, query, cookies, studio.token, hosts)
        if why is not None:
            return await JSONResponse({"error": why}, 403)(scope, receive, send)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large(studio, f"{int(length) / 2**20:.1f} MB")(scope, receive, send)
            return
        received = 0
        started = False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge
            return message

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, counted, sending)
        except TooLarge:
            if not started:
                await too_large(studio, f"over {studio.max_upload_mb:g} MB")(scope, receive, send)

    return guard


def cookie_values(header: str) -> dict[str, str]:
    from http.cookies import CookieError, SimpleCookie

    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {k: m.value for k, m in jar.items()}
