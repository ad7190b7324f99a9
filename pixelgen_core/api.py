"""pixelgen from Python: everything the CLI does, as a few functions and two classes.

    import pixelgen_core as pg

    run = pg.train("vae", overrides=["training.epochs=5"])
    sprites = run.sample(16, seed=1)
    sprites.save("out", scale=4)

The `pixelgen` commands parse their options, call these, and print. Importing this
module does not import torch; the functions import it when they need it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelgen_core import checks, plugins
from pixelgen_core.errors import ConfigError, NoRun, PixelgenError
from pixelgen_core.plugins import StrategyRecord
from pixelgen_core.sprites import Sprites

# The types the API returns, importable from pixelgen_core without importing torch first
# (Sprites and StrategyRecord are imported above).
TYPES = {
    "Evaluation": "pixelgen_core.evaluation.run",
    "Palette": "pixelgen_core.palette",
    "Prompt": "pixelgen_core.prompts",
    "PromptEvaluation": "pixelgen_core.evaluation.prompts",
    "RunRecord": "pixelgen_core.runs",
    "SnappedSprite": "pixelgen_core.editing",
    "SpriteSet": "pixelgen_core.data.datasets",
    "TileSet": "pixelgen_core.tileset",
    "TrainingData": "pixelgen_core.data.prepare",
}
# Picture helpers for arrays of RGBA sprites (N, H, W, 4) uint8.
PICTURES = ("read_png", "write_png", "grid", "upscale")


def __getattr__(name: str):
    import importlib

    if name in TYPES:
        return getattr(importlib.import_module(TYPES[name]), name)
    if name in PICTURES:
        return getattr(importlib.import_module("pixelgen_core.images"), name)
    raise AttributeError(f"module 'pixelgen_core.api' has no attribute {name!r}")


if TYPE_CHECKING:
    from pixelgen_core.data.datasets import SpriteSet
    from pixelgen_core.data.prepare import TrainingData
    from pixelgen_core.editing import SnappedSprite
    from pixelgen_core.evaluation.prompts import PromptEvaluation
    from pixelgen_core.evaluation.run import Evaluation
    from pixelgen_core.palette import Palette
    from pixelgen_core.prompts import Prompt
    from pixelgen_core.request import DrawRequest
    from pixelgen_core.runs import RunRecord
    from pixelgen_core.strategy import DataInfo, Strategy
    from pixelgen_core.tileset import TileSet


def strategies() -> dict[str, StrategyRecord]:
    """The installed strategies by name, each with its spec, distribution and version.

    A plugin that fails to load is left out; `pixelgen plugins` shows why."""
    return dict(sorted(plugins.registry().strategies.items()))


def get_strategy(name: str) -> StrategyRecord:
    """One installed strategy; an unknown name is a PixelgenError listing the installed."""
    return plugins.registry().get(name)


def disable_plugins(*names: str) -> None:
    """Leave these plugins (distribution or entry-point names) out from now on."""
    plugins.disable(names)


def train(
    name: str,
    *,
    config: Path | str | Mapping | None = None,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    resume: Path | str | None = None,
    progress: bool = True,
    device: str | None = None,
    **options: Any,
) -> Run:
    """Train strategy `name` and return the trained run, live (nothing is reloaded).

    `config` is a YAML file or a nested dict layered over the defaults; `overrides` are
    ``"key=value"`` strings or a ``{"key": value}`` mapping; `options` are the strategy's
    train options by name (``lr=0.01``). `resume` continues a checkpoint or run folder.
    """
    from pixelgen_core import checkpoint
    from pixelgen_core.config import resolve
    from pixelgen_core.trainer import Trainer

    record = get_strategy(name)
    strings, settings = _split(overrides)
    settings.update(_train_settings(record, options))
    if device is not None:
        settings["training.device"] = device
    payload = None
    if resume is not None:
        payload = checkpoint.open_run(resume, name)
    base = payload.config if payload else None
    resolved = resolve(record.spec, config, strings, base=base, settings=settings)
    result = Trainer(record, resolved, quiet=not progress, resume=payload).fit()
    return Run(
        record,
        resolved,
        result.info,
        result.strategy,
        checkpoint=result.checkpoint,
        run_id=result.run_id,
        steps=result.steps,
        seconds=result.seconds,
        images=result.images,
    )


def _split(overrides: Iterable[str] | Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Overrides as (``key=value`` strings, typed ``{key: value}`` settings): a mapping
    keeps its values' types, an iterable of strings is parsed like the command line."""
    if isinstance(overrides, Mapping):
        return [], dict(overrides)
    return list(overrides), {}


def _train_settings(record: StrategyRecord, options: Mapping[str, Any]) -> dict[str, Any]:
    """Train options by name -> {config key: value}, typed values kept as they are."""
    by_name = {o.name: o for o in record.spec.train_options}
    settings = {}
    for key, value in options.items():
        if key not in by_name:
            names = ", ".join(by_name) or "none"
            raise ConfigError(f"{record.spec.name} has no train option {key!r} (options: {names})")
        if value is not None:
            settings[by_name[key].config_key] = value
    return settings


def open_run(
    name: str | None = None,
    *,
    run_id: str | None = None,
    checkpoint: Path | str | None = None,
    device: str = "auto",
) -> Run:
    """A trained run, ready to sample: the latest finished run of strategy `name`, the
    run `run_id` (a run folder name or MLflow run id), or a checkpoint file or folder."""
    from pixelgen_core import checkpoint as ckpt
    from pixelgen_core.sampling import choose_device, restore

    if checkpoint is not None and run_id is not None:
        raise PixelgenError("give a run id or a checkpoint, not both")
    if checkpoint is None:
        from pixelgen_core.tracking import find_checkpoint

        name = name or _strategy_of_run(run_id)
        try:  # an unknown name says so, rather than "train it first"
            get_strategy(name)
        except PixelgenError:
            if Path(name).exists():
                raise PixelgenError(
                    f"{name!r} is a path, not a strategy: open it with "
                    f"open_run(checkpoint={name!r})"
                ) from None
            raise
        checkpoint = find_checkpoint(name, run_id)
    saved = ckpt.open_run(checkpoint, name)  # name None: the strategy it names
    record = get_strategy(saved.strategy)
    strategy, _ = restore(record, saved, choose_device(device))
    return Run(
        record,
        saved.config,
        strategy.data,
        strategy,
        checkpoint=saved.path,
        run_id=saved.mlflow_run_id,
        steps=saved.steps,
    )


def new_run(
    name: str,
    *,
    config: Path | str | Mapping | None = None,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    device: str = "auto",
) -> Run:
    """An untrained run of strategy `name` on its configured dataset: the model as
    training would start it (for benchmarks, and for looking at a model's size)."""
    import torch

    from pixelgen_core.config import resolve
    from pixelgen_core.data.prepare import prepare
    from pixelgen_core.sampling import build, choose_device
    from pixelgen_core.settings import core_config

    record = get_strategy(name)
    strings, settings = _split(overrides)
    resolved = resolve(record.spec, config, strings, settings=settings)
    data = prepare(resolved, record.spec.conditional, spec=record.spec)
    torch.manual_seed(core_config(resolved).training.seed)
    strategy = build(record, resolved, data.info, choose_device(device))
    return Run(record, resolved, data.info, strategy)


def open_dataset(name: str = "kenney-colored", *, focused: bool = False) -> SpriteSet:
    """A dataset as it is on disk (a built-in name or a folder of PNGs): `sprites`, RGBA
    uint8 (N, H, W, 4) with binary alpha, `names`, `shape`; `palette(max_colors)` as
    training extracts it, `tags()` as prompts read them, `class_labels(k)`."""
    from pixelgen_core.data.datasets import load_dataset

    return load_dataset(name, focused)


def prepare_dataset(
    name: str = "kenney-colored",
    *,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    strategy: str | None = None,
    conditional: bool = False,
) -> TrainingData:
    """A dataset as training sees it: its `palette`, the sprites as palette `indices`,
    class `labels` (with `conditional` and data.num_classes) or `tags`, and `info` (a
    `DataInfo`). `overrides` are config settings ("data.max_colors=8"); with `strategy`
    its defaults apply and its sprite sizes are checked."""
    from pixelgen_core.config import resolve
    from pixelgen_core.data.prepare import prepare
    from pixelgen_core.strategy import Strategy, StrategySpec

    spec = get_strategy(strategy).spec if strategy else StrategySpec("data", "Data.", Strategy)
    strings, settings = _split(overrides)
    resolved = resolve(spec, overrides=[f"data.dataset={name}", *strings], settings=settings)
    return prepare(resolved, conditional, spec=spec if strategy else None)


def list_runs(name: str | None = None) -> list[RunRecord]:
    """The training runs of strategy `name` (or all), newest first, each a `RunRecord`:
    `id`, `strategy`, `state` (FINISHED, FAILED, KILLED, RUNNING or DIED), `steps`,
    `started`, `checkpoint_path`, `mlflow_run_id`, `remote`. The runs under ./runs, and
    with a shared tracking server, the runs it holds that are not here (`remote`: open
    them by id, their checkpoint is fetched once). A `name` that is neither an installed
    strategy nor that of any run is a typo: an error, not an empty list."""
    records = _all_runs(name)
    if name is not None and not records and name not in plugins.registry().strategies:
        plugins.registry().get(name)  # raises: unknown strategy, naming the installed ones
    return records


def _all_runs(name: str | None) -> list[RunRecord]:
    """The one run lookup: the local index, then the tracking server's other runs."""
    from pixelgen_core import runs as index
    from pixelgen_core.tracking import tracked_runs

    records = index.all_runs(strategy=name)
    here = {r.mlflow_run_id for r in records if r.mlflow_run_id}
    records += [r for r in tracked_runs(name) if r.mlflow_run_id not in here]
    return sorted(records, key=lambda r: (r.started, r.id), reverse=True)


def delete_run(run_id: str, name: str | None = None) -> Path | None:
    """Delete a run's folder and mark its MLflow run deleted (when the store answers);
    return the folder (None for a run that only a tracking server held). A run still in
    progress is refused."""
    import shutil

    from pixelgen_core import runs as index
    from pixelgen_core.files import os_error
    from pixelgen_core.tracking import delete_run as delete_tracked

    record = next((r for r in _all_runs(name) if run_id in (r.id, r.mlflow_run_id)), None)
    if record is None:
        raise PixelgenError(f"no run {run_id!r}; see pixelgen runs")
    if record.state == index.RUNNING:
        where = "on its server" if record.remote else f"(process {record.pid})"
        raise PixelgenError(f"run {record.id} is still running {where}")
    if record.mlflow_run_id and record.tracking_uri:
        delete_tracked(record.mlflow_run_id, record.tracking_uri)
    if record.remote:
        return None
    try:
        shutil.rmtree(record.run_dir)
    except OSError as exc:
        raise os_error(exc, record.run_dir) from None
    return record.run_dir


def _strategy_of_run(run_id: str | None) -> str:
    """The strategy of a run: of `run_id` (here or on the tracking server), or of the
    latest usable run."""
    from pixelgen_core import runs

    every = _all_runs(None)
    if run_id is not None:
        record = next((r for r in every if run_id in (r.id, r.mlflow_run_id)), None)
        if record is None or not record.strategy:
            raise PixelgenError(f"run {run_id} is not in {runs.output_root()}; name its strategy")
        return record.strategy
    usable = [r for r in every if r.usable]
    if not usable:
        raise PixelgenError(f"no finished run in {runs.output_root()}; train one first")
    return usable[0].strategy


@dataclass
class Reconstructions:
    """Dataset sprites and what a strategy's encoder and decoder make of them."""

    originals: Sprites
    rebuilt: Sprites
    accuracy: float  # share of pixels whose palette index survived the round trip

    def pairs(self) -> Sprites:
        """Original and reconstruction alternating: a grid of 2k columns shows pairs."""
        stacked = np.stack([self.originals.rgba, self.rebuilt.rgba], axis=1)
        return Sprites(stacked.reshape(-1, *self.originals.shape[1:]))


class Run:
    """A trained strategy with its data description, config and palette.

    `strategy` is the live Strategy (its torch modules in `strategy.modules`); `config`
    is what the strategy reads (typed for strategies that declare a config class), and
    `settings` the same as plain data, as the checkpoint and MLflow hold it.
    """

    def __init__(
        self,
        record: StrategyRecord,
        settings: dict,
        info: DataInfo,
        strategy: Strategy,
        *,
        checkpoint: Path | None = None,
        run_id: str | None = None,
        steps: int = 0,
        seconds: float = 0.0,
        images: int = 0,
    ) -> None:
        self.record = record
        self.settings = settings
        self.info = info
        self.strategy = strategy
        # absolute, so the run stays usable after the working directory changes
        self.checkpoint = Path(checkpoint).absolute() if checkpoint is not None else None
        self.run_id = run_id
        self.steps = steps
        self.seconds = seconds  # training time, when this run was trained here
        self.images = images

    def __repr__(self) -> str:
        where = self.checkpoint or "not saved"
        return f"<Run {self.name}: {self.steps} steps, {where}>"

    @property
    def name(self) -> str:
        return self.record.spec.name

    @property
    def config(self) -> Any:
        return self.strategy.config

    @property
    def palette(self) -> Palette:
        from pixelgen_core.palette import Palette

        return Palette.from_tuples(self.info.palette)

    @property
    def sampling_choice(self) -> dict | None:
        """The sampler `auto` draws with, chosen at the end of training by measurement:
        {"name", "options", "reason", "scores", "filter", "filter_reason"} (None for a
        strategy with one way to draw, or a run trained before the choice existed);
        "filter" is the pixel filter's state where one was kept, else None; where one
        was, "sprite_statistics" holds what the filters of prompts and tileable draws
        are fitted against (`pixelgen_core.request_filter`)."""
        return self.strategy.chosen_sampling

    @property
    def run_dir(self) -> Path | None:
        return self.checkpoint.parent if self.checkpoint else None

    def sample_options(self, **given) -> dict[str, Any]:
        """Every sample option's value for a call with `given`: the given ones (checked),
        the others from the run's config, as `Strategy.sample` receives them."""
        from pixelgen_core.sampling import options_for

        return options_for(self.strategy, given)

    def training_data(self):
        """The run's dataset as training saw it (its palette, class labels, and
        `unaugmented(rows, device)` batches); prepared anew, from the cache when it can."""
        from pixelgen_core.data.prepare import prepare

        conditional = self.record.spec.conditional
        return prepare(self.settings, conditional, self.palette, None, self.info.tags)

    def sample(
        self,
        n: int = 16,
        *,
        seed: int = 0,
        label: int | None = None,
        palette: Palette | str | Path | None = None,
        tileable: bool = False,
        separate: bool = False,
        prompt: str | None = None,
        negative: str | None = None,
        filtered: bool = True,
        **options,
    ) -> Sprites:
        """`n` sprites snapped to the palette; the same seed gives the same sprites.

        `palette`: a Palette, built-in name or palette file to draw in instead (colours
        paired by `palette.remap`). `tileable`: sprites that wrap around without a seam
        (strategies with that capability). `separate`: draw sprite i alone from seed + i,
        so each can be drawn again by itself (slower; sheets use it). `prompt`: words
        read as the run's tags (`tags`), "green slime"; `negative`: tags to steer away
        from. `filtered=False`: every sprite as the model draws it, without the run's
        pixel filter (`pixelgen_core.pixel_filter`). `options` are the strategy's sample
        options by name (``steps=12``); each one not given takes the run's config value."""
        from pixelgen_core.editing import as_palette, recolour
        from pixelgen_core.images import check_output_size
        from pixelgen_core.request import DrawRequest
        from pixelgen_core.sampling import draw_request

        checks.count(n)
        self._check_label(label)
        asked = self.read_prompt(prompt, negative)
        target = as_palette(palette)
        check_output_size(n, *self.info.shape)
        request = DrawRequest(n, seed, label, asked, options, tileable, separate, filtered=filtered)
        indices, _ = draw_request(self.strategy, self.palette, request)
        rgba = recolour(indices, self.palette, target)
        return self._sprites(rgba, request, target)

    def edit(
        self,
        image: np.ndarray | str | Path | SnappedSprite,
        *,
        mask: np.ndarray | str | Path | None = None,
        region: str | tuple[int, int, int, int] | None = None,
        strength: float | None = None,
        n: int = 1,
        seed: int = 0,
        label: int | None = None,
        palette: Palette | str | Path | None = None,
        tileable: bool = False,
        separate: bool = False,
        prompt: str | None = None,
        negative: str | None = None,
        **options,
    ) -> Sprites:
        """`n` edits of one sprite (a PNG path, RGBA uint8 (H, W, 4), or `snap_sprite`'s
        result). With `mask` (an image: white, opaque pixels are redrawn) or `region`
        (x, y, w, h) only those pixels are redrawn and every other comes back exactly;
        without either, the whole sprite is (variations). `strength` in [0, 1]: 0 returns
        the input, 1 ignores it where redrawn (default 1 with a mask, else 0.5). The
        other arguments are as for `sample` (`palette` also reads the input)."""
        from pixelgen_core.editing import (
            DEFAULT_STRENGTH_MASKED,
            DEFAULT_STRENGTH_WHOLE,
            SnappedSprite,
            as_palette,
            recolour,
            redraw_mask,
        )
        from pixelgen_core.images import check_output_size
        from pixelgen_core.request import DrawRequest
        from pixelgen_core.sampling import draw_request, has_capability

        if not has_capability(self.strategy, "edit"):
            raise plugins.registry().lacks(self.name, "edit", "edit sprites")
        checks.count(n)
        self._check_label(label)
        asked = self.read_prompt(prompt, negative)
        target = as_palette(palette)
        snapped = image if isinstance(image, SnappedSprite) else self.snap_sprite(image, target)
        size = snapped.indices.shape
        redraw = redraw_mask(size, mask, region)
        if strength is None:
            strength = DEFAULT_STRENGTH_WHOLE if redraw is None else DEFAULT_STRENGTH_MASKED
        if redraw is None:
            redraw = np.ones(size, dtype=bool)
        check_output_size(n, *size)
        request = DrawRequest(
            n, seed, label, asked, options, tileable, separate, snapped.indices, ~redraw, strength
        )
        indices, _ = draw_request(self.strategy, self.palette, request)
        indices = np.where(redraw, indices, snapped.indices)  # kept pixels, whatever a plugin did
        rgba = recolour(indices, self.palette, target)
        return self._sprites(rgba, request, target)

    def tileset(
        self,
        kind: str = "wang16",
        *,
        seed: int = 0,
        labels: tuple[int, ...] = (),
        prompts: tuple[str, ...] = (),
        transitions: str | None = None,
        **options,
    ) -> TileSet:
        """An autotile set of two terrains (`pixelgen_core.tileset`): "wang16", the 16
        corner tiles, or "blob47", blobs of terrain 1 over terrain 0. Terrain k is drawn
        tileable from seed + k with the k-th of `labels` or `prompts` (one given: both
        use it). `transitions`: "cut" (tiles cut from the two base tiles; the default) or
        "inpaint" (the cut redrawn by the model, for strategies that edit). `options`
        are the strategy's sample options. ``.save(folder)`` writes it for Tiled and
        Godot."""
        from pixelgen_core.tileset import make_tileset

        return make_tileset(self, kind, seed, labels, prompts, transitions, options)

    def snap_sprite(
        self, image: np.ndarray | str | Path, palette: Palette | str | Path | None = None
    ) -> SnappedSprite:
        """A sprite of this run's size as its palette indices, and how many pixels moved
        (read in `palette`'s colours when given)."""
        from pixelgen_core.editing import as_palette, snap_sprite

        return snap_sprite(image, self.info.shape, self.palette, as_palette(palette))

    def _sprites(self, rgba, request: DrawRequest, target: Palette | None) -> Sprites:
        n, seed = request.n, request.seed
        prompts = None if request.prompt is None else [request.prompt.text] * n
        palette = target if target is not None else self.palette
        if request.separate:
            seeds = [seed + i for i in range(n)]
            return Sprites(rgba, seeds, [request.label] * n, prompts, palette)
        return Sprites(rgba, prompts=prompts, palette=palette)

    @property
    def tags(self) -> list[tuple[str, int]]:
        """The run's vocabulary: (tag, training sprites carrying it), commonest first;
        empty for a run trained without tags."""
        return list(zip(self.info.tags, self.info.tag_counts, strict=True))

    def read_prompt(self, prompt: str | None, negative: str | None = None) -> Prompt | None:
        """`prompt` and `negative` read as this run's tags (None without a prompt); an
        unknown word is a one-line error naming the closest tags."""
        from pixelgen_core.prompts import read_prompt

        if prompt is None:
            if negative is not None:
                raise PixelgenError("a negative prompt needs a prompt")
            return None
        implies = dict(zip(self.info.tags, self.info.tag_implies, strict=False))
        return read_prompt(prompt, self.info.tags, implies, negative)

    def _check_label(self, label: int | None) -> None:
        if label is None:
            return
        classes = self.info.num_classes
        if not self.record.spec.conditional or classes == 0:
            raise PixelgenError(f"strategy {self.name!r} was not trained with classes")
        if not 0 <= label < classes:
            raise PixelgenError(f"class {label} is not one of this run's 0..{classes - 1}")

    def reconstruct(self, n: int = 16, *, seed: int = 0) -> Reconstructions:
        """`n` dataset sprites (drawn by `seed`) beside their reconstructions (strategies
        with an encoder); fewer when the dataset is smaller."""
        import torch

        from pixelgen_core.sampling import reconstruct

        checks.count(n)
        palette = self.palette
        data = self.training_data()
        rows = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
        batch = data.unaugmented(rows, self.strategy.device)
        rebuilt = reconstruct(self.strategy, palette, batch.images)
        original = batch.indices.cpu().numpy()
        return Reconstructions(
            Sprites(palette.to_rgba(original)),
            Sprites(palette.to_rgba(rebuilt)),
            float((rebuilt == original).mean()),
        )

    def evaluate(
        self,
        n: int = 1000,
        *,
        seed: int = 0,
        calibrate: bool = True,
        repeats: int | None = None,
        filtered: bool = True,
        tileable: bool = False,
        **options,
    ) -> Evaluation:
        """Score `n` samples per sampling seed (`repeats` seeds, n capped at half the
        dataset) against the run's dataset, beside calibration rows measured the same
        way (real held-out sprites, speckled ones, palette noise, cluster means, training
        copies); every row has its pixel-clean `verdict` against the real sprites.
        `filtered=False` scores the model's draws without the run's pixel filter;
        `tileable=True` scores tileable sprites (logged under ``eval_tileable/``)."""
        from pixelgen_core.evaluation import REPEATS
        from pixelgen_core.evaluation.run import evaluate

        repeats = REPEATS if repeats is None else repeats
        checks.evaluation(n, repeats)
        conditional = self.record.spec.conditional
        return evaluate(
            self.strategy,
            self.palette,
            self.settings,
            conditional,
            n,
            seed,
            options,
            name=f"{self.name} tileable" if tileable else self.name,
            calibrate=calibrate,
            repeats=repeats,
            filtered=filtered,
            tileable=tileable,
        )

    def evaluate_prompts(
        self, n: int = 32, *, seed: int = 0, filtered: bool = True, **options
    ) -> PromptEvaluation:
        """How well the run's samples follow prompts of its tags: for every tag, and for
        pairs of tags the data has together and never has, the share of `n` samples a tag
        classifier (trained on half the data) recognises, beside its share on held-out
        real sprites (the ceiling), with FD, pixel statistics and copies per prompt.
        Drawn as `sample` draws a prompt; `filtered=False` skips the prompt's filter."""
        from pixelgen_core.evaluation.prompts import evaluate_prompts

        if not self.info.tags:
            raise PixelgenError(
                f"run {self.run_id or self.checkpoint} was trained without tags: "
                "there are no prompts to score"
            )
        if n < 2:
            raise PixelgenError("scoring prompts needs at least 2 samples a prompt")
        data = self.training_data()
        indices = data.indices.numpy().astype(np.int64)

        def draw(tags: tuple[str, ...], count: int, draw_seed: int):
            asked = ", ".join(tags)
            rgba = np.asarray(
                self.sample(count, seed=draw_seed, prompt=asked, filtered=filtered, **options)
            )
            return rgba, self.palette.snap(rgba)

        return evaluate_prompts(
            draw, self.palette.to_rgba(indices), indices, data.tags.numpy(), self.info.tags, n, seed
        )

    def log_evaluation(self, evaluation: Evaluation, files: Iterable[Path] = ()) -> str | None:
        """Log an evaluation's metrics (and report files) to this run's MLflow run; the
        run id, or None when the run is not in the tracking store."""
        if not self.run_id:
            return None
        from pixelgen_core.tracking import log_to_run

        model = evaluation.model
        head = "eval_tileable" if evaluation.tileable else "eval"  # beside, not over, eval/
        values = {f"{head}/{k}": v for k, v in {**model.metrics, **model.extra}.items()}
        for row in evaluation.calibration:
            slug = row.name.split(" (")[0].replace(" ", "_")
            values.update({f"eval_baseline/{slug}/{k}": v for k, v in row.metrics.items()})
        logged = log_to_run(self.run_id, values, [(Path(f), "evaluation") for f in files])
        return self.run_id if logged else None

    def log_prompt_evaluation(
        self, evaluation: PromptEvaluation, files: Iterable[Path] = ()
    ) -> str | None:
        """Log a prompt evaluation's means (and its report files) to this run's MLflow
        run; the run id, or None when the run is not in the tracking store."""
        if not self.run_id:
            return None
        from pixelgen_core.tracking import log_to_run

        values = evaluation.summary()
        logged = log_to_run(self.run_id, values, [(Path(f), "evaluation") for f in files])
        return self.run_id if logged else None


COMPARE_EXTRA = ["train_seconds", "train_images_per_sec", "sample_ms_per_sprite"]


@dataclass
class Comparison:
    """Strategies evaluated on one dataset: their runs, evaluations and the table rows."""

    runs: list[Run]
    evaluations: list[Evaluation]

    @property
    def rows(self) -> list:
        """One row per strategy, then the calibration rows (of the first strategy's data)."""
        return [e.model for e in self.evaluations] + self.evaluations[0].calibration

    def same_dataset(self) -> bool:
        keys = ("dataset", "focused", "max_colors")  # what makes the sprites and palette
        return len({tuple(r.settings["data"][k] for k in keys) for r in self.runs}) == 1

    def save(self, folder: Path | str) -> dict[str, Path]:
        """compare.png (real data first, then a row per strategy), compare.md and .json."""
        from pixelgen_core.evaluation.report import markdown_table
        from pixelgen_core.evaluation.sheet import write_side_by_side
        from pixelgen_core.files import write_text

        folder = Path(folder)
        first = self.evaluations[0]
        held = first.reference.data.palette.to_rgba(first.reference.held)
        pictures = [("data", held)] + [(e.model.name, e.samples) for e in self.evaluations]
        rows = self.rows
        return {
            "picture": write_side_by_side(pictures, folder / "compare.png"),
            "table": write_text(folder / "compare.md", markdown_table(rows, COMPARE_EXTRA) + "\n"),
            "json": write_text(
                folder / "compare.json", json.dumps([r.to_dict() for r in rows], indent=2)
            ),
        }


def compare(
    names: Iterable[str] = (),
    *,
    epochs: int | None = None,
    budget_minutes: float | None = None,
    use_runs: bool = False,
    n: int = 500,
    seed: int = 0,
    repeats: int | None = None,
    overrides: Iterable[str] = (),
    progress: bool = True,
    on_event=None,
) -> Comparison:
    """Train `names` (default: every installed strategy) on one budget and evaluate each
    live run; with `use_runs`, evaluate each strategy's latest finished run instead
    (without names: every installed strategy that has one).
    `on_event(text)` hears "training vae ..." and the like as it goes."""

    if budget_minutes is not None and epochs is not None:
        raise PixelgenError("give a time budget or a number of epochs, not both")
    overrides = list(overrides)
    if use_runs and (budget_minutes is not None or epochs is not None or overrides):
        raise PixelgenError("comparing existing runs takes no training settings")
    checks.evaluation(n)
    named = list(names)
    names = named or list(strategies())
    if not names:
        raise PixelgenError("no strategies installed")
    for name in names:
        get_strategy(name)  # an unknown name fails before anything trains
    tell = on_event or (lambda text: None)
    opened = {}
    if use_runs:  # open every run first: a missing one fails before minutes of scoring
        for name in names:
            try:
                opened[name] = open_run(name)
            except NoRun:
                if named:
                    raise
                tell(f"skipping {name}: no finished run")
        if not opened:
            raise NoRun("no installed strategy has a finished run; train one first")
        names = list(opened)
    if budget_minutes:
        overrides.append(f"training.time_budget_minutes={budget_minutes}")
    if epochs is not None:
        overrides.append(f"training.epochs={epochs}")
    runs, evaluations = [], []
    for name in names:
        if use_runs:
            run = opened[name]
        else:
            tell(f"training {name} ...")
            run = train(name, overrides=overrides, progress=progress)
        tell(f"evaluating {name} ...")
        evaluation = run.evaluate(n, seed=seed, repeats=repeats, calibrate=not evaluations)
        if not use_runs:
            evaluation.model.extra["train_seconds"] = run.seconds
            evaluation.model.extra["train_images_per_sec"] = run.images / max(run.seconds, 1e-9)
        runs.append(run)
        evaluations.append(evaluation)
    return Comparison(runs, evaluations)
