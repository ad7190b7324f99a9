"""The strategy contract: what a plugin implements, and the spec it registers.

A *spec* is cheap metadata (name, description, options, default config, where the
class lives); core reads it without importing torch. The *strategy* itself is
imported only when a command needs it.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelgen_core.errors import PixelgenError
from pixelgen_core.optimisation import (
    Average,
    Modules,
    Step,
    batch_size_for,
    steps_per_epoch,
    take_step,
)
from pixelgen_core.request import Draw
from pixelgen_core.settings import Config, core_config
from pixelgen_core.sizes import SpriteSizes

if TYPE_CHECKING:
    import torch

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
# Optional things a strategy can do, declared in its spec so core (and `list-strategies`)
# know before importing it: "edit" (it implements `Strategy.edit`: inpainting and
# variations) and "tileable" (`Draw.tileable` may be True, and then `sample` and `edit`
# make sprites that wrap around seamlessly) and "tags" (it conditions on the data's
# tags, `Batch.tags`, and a `Draw` may carry a prompt's `tags` and `negative`).
CAPABILITIES = ("edit", "tileable", "tags")
OPTION_TYPES = (int, float, str, bool)
# Names core's own `train` and `sample` options use; a strategy's options may not reuse them.
RESERVED_TRAIN = {"config", "config_file", "resume", "device", "quiet", "overrides", "help"}
RESERVED_SAMPLE = {
    "n",
    "num",
    "seed",
    "label",
    "class_",
    "out",
    "scale",
    "background",
    "run",
    "run_id",
    "checkpoint",
    "device",
    "reconstruct",
    "help",
    "image",
    "mask",
    "region",
    "strength",
    "palette",
    "tileable",
    "prompt",
    "negative",
    "sheet",
    "columns",
    "spacing",
    "margin",
}


@dataclass(frozen=True)
class Option:
    """A command-line option a strategy adds to `pixelgen train NAME` or `pixelgen sample NAME`.

    `name` is a Python identifier (``ddim_steps`` becomes ``--ddim-steps``). `type` is
    int, float, str or bool (bool gives a ``--name/--no-name`` switch), or a tuple of
    allowed strings. An option with a `config_key` has `default` None, meaning "whatever
    the config says": a train option sets that key; a sample option arrives in
    `Strategy.sample(**options)` (and `Strategy.edit`: `pixelgen edit NAME` takes the
    same options) as the user's value or, when not given, the key's value. With a typed
    config the option takes its type, choices and help from that field unless it gives
    them (``Option("sampler", config_key="sampling.sampler")``), so each is declared
    once, on the field. A sample option without a `config_key` arrives as the user's
    value or its `default`.
    """

    name: str
    type: type | tuple[str, ...] | None = None
    default: Any = None
    help: str = ""
    config_key: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def completed(self, config_class: Any) -> Option:
        """This option with its type (choices included) and help taken from the config
        field it names, where it does not give them: ``Option("sampler",
        config_key="sampling.sampler")`` is all a typed config needs."""
        from pixelgen_core.settings import declared, is_config_class

        if self.config_key is None or not is_config_class(config_class):
            return self
        found = declared(config_class, self.config_key)
        if found is None:
            return self  # the contract suite names the missing key
        kind, help_text = found
        return dataclasses.replace(self, type=self.type or kind, help=self.help or help_text)


@dataclass(frozen=True)
class StrategySpec:
    """What a plugin registers: a strategy's identity, options and where to find it.

    `strategy` is the class, or ``"module:Class"`` so the plugin's entry point need not
    import torch. `default_config` is a dataclass extending `pixelgen_core.Config` (typed:
    the strategy gets an instance, and `setting()` ranges and choices are checked), or, for
    an untyped config, a YAML file (path or importlib.resources file) or a dict. `limits`
    maps numeric config keys of an untyped config to their (lowest, highest) allowed
    values, None for no bound (a list value is checked item by item). A value out of range
    is a one-line config error before anything is built, for a new run and for a
    checkpoint's config alike. `capabilities` names the optional things it can do, from
    `CAPABILITIES`. `sizes` says which sprite sizes it trains on (core refuses others in
    one line before building anything); the default is square sprites of any side.
    `stages` names its training stages in order, for `pixelgen train NAME --help`: with
    more than one, `training.epochs` and `training.time_budget_minutes` bound the whole
    run and the strategy splits them between its stages (see `split_epochs`).
    """

    name: str
    description: str
    strategy: str | Callable[..., Strategy]
    default_config: Any = field(default_factory=dict)
    conditional: bool = False
    capabilities: tuple[str, ...] = ()
    train_options: tuple[Option, ...] = ()
    sample_options: tuple[Option, ...] = ()
    limits: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sizes: SpriteSizes = field(default_factory=SpriteSizes)
    stages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for kind in ("train_options", "sample_options"):
            done = tuple(o.completed(self.default_config) for o in getattr(self, kind))
            object.__setattr__(self, kind, done)

    def validate(self) -> None:
        """Raise ValueError if the spec cannot work, so a broken plugin is caught at load."""
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"strategy name {self.name!r} must match {NAME_PATTERN.pattern}")
        if not self.description or "\n" in self.description:
            raise ValueError(f"strategy {self.name!r} needs a one-line description")
        for option in (*self.train_options, *self.sample_options):
            if not option.name.isidentifier():
                raise ValueError(f"option name {option.name!r} is not an identifier")
            if option.type is None:
                raise ValueError(
                    f"option {option.flag} needs a type, or a config_key naming a field of "
                    "the spec's config class to take it from"
                )
            if not (option.type in OPTION_TYPES or isinstance(option.type, tuple)):
                raise ValueError(f"option {option.flag} has unsupported type {option.type!r}")
        if not isinstance(self.sizes, SpriteSizes):
            raise ValueError("sizes must be a pixelgen_core.SpriteSizes")
        self.sizes.validate()
        if not all(isinstance(s, str) and NAME_PATTERN.match(s) for s in self.stages):
            raise ValueError(f"stage names {self.stages!r} must match {NAME_PATTERN.pattern}")
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(
                f"unknown capabilities {sorted(unknown)}; known: {', '.join(CAPABILITIES)}"
            )
        for key, bounds in self.limits.items():
            if not isinstance(key, str) or not (isinstance(bounds, tuple) and len(bounds) == 2):
                raise ValueError(f"limit {key!r} must map a config key to (lowest, highest)")
        for option in self.train_options:
            if not option.config_key:
                raise ValueError(f"train option {option.flag} needs a config_key")
        for option in self.sample_options:
            if option.config_key and option.default is not None:
                raise ValueError(
                    f"sample option {option.flag} takes its default from {option.config_key}; "
                    "give it default None"
                )
        for options, reserved in (
            (self.train_options, RESERVED_TRAIN),
            (self.sample_options, RESERVED_SAMPLE),
        ):
            for option in options:
                if option.name in reserved:
                    raise ValueError(f"option {option.flag} clashes with a core option")

    def load_class(self) -> Callable[..., Strategy]:
        """Import the strategy class (this is where torch gets imported)."""
        if not isinstance(self.strategy, str):
            return self.strategy
        module_name, _, attr = self.strategy.partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def load_default_config(self) -> dict:
        """The strategy's default config as plain data."""
        from omegaconf import OmegaConf

        source = self.default_config
        if isinstance(source, type) and dataclasses.is_dataclass(source):
            return dataclasses.asdict(source())
        if isinstance(source, dict):
            return source
        if not isinstance(source, (str, Path)):  # an importlib.resources Traversable
            return OmegaConf.to_container(OmegaConf.create(source.read_text()))
        return OmegaConf.to_container(OmegaConf.load(source))


@dataclass(frozen=True)
class Stage:
    """One phase of training (a VQ-VAE trains its autoencoder, then its prior).

    `time_share`: with `training.time_budget_minutes`, the stage ends once this share of
    the budget has passed since the run started, and the next stage begins; the last
    stage ends with the budget (so a stage before the last can leave the rest time)."""

    name: str
    epochs: int
    time_share: float = 1.0


def split_epochs(total: int, shares: list[float]) -> list[int]:
    """Split a run's `total` epochs between stages by `shares` (summing to 1): each
    stage gets its rounded share and at least one epoch, so even `training.epochs=1`
    trains every stage once; the first stage takes what rounding leaves."""
    later = [max(1, round(total * share)) for share in shares[1:]]
    return [max(1, total - sum(later)), *later]


def stage_plan(stages: list[tuple[str, float, bool]], total: int) -> list[Stage]:
    """The stages of a multi-stage run from (name, share of the run, trained?) in order.

    `total` epochs (`training.epochs`) are split between all the stages by their shares
    (`split_epochs`), so a stage trained alone (`--stage prior`) gets the epochs it gets
    in a whole run; a stage not trained gets 0. The time budget is split between the
    trained stages in proportion to their shares."""
    weight = sum(share for _, share, _ in stages)
    epochs = split_epochs(total, [share / weight for _, share, _ in stages])
    trained = [(name, share) for name, share, on in stages if on]
    trained_weight = sum(share for _, share in trained) or 1.0
    out, passed = [], 0.0
    for (name, share, on), count in zip(stages, epochs, strict=True):
        passed += share / trained_weight if on else 0.0
        last = not trained or name == trained[-1][0]
        out.append(Stage(name, count if on else 0, 1.0 if last else min(passed, 1.0)))
    return out


@dataclass(frozen=True)
class DataInfo:
    """What a strategy knows about the data when it builds its models.

    `image_size` is the sprites' height, and `image_width` their width when it differs
    (0: square); read them as `height` and `width`. Core only hands a strategy
    rectangular sprites when its spec's `sizes` says it takes them.
    `palette` lists RGBA colours in [0, 1]; index 0 is the transparent background.
    `num_classes` is 0 for unconditional training. `tags` is the run's vocabulary when
    it conditions on tags (a strategy with the "tags" capability, on data that has
    them), `tag_counts` how many training sprites carry each, and `tag_implies` which
    other tags every sprite with it carries (a prompt adds them).
    """

    image_size: int
    palette: tuple[tuple[float, float, float, float], ...]
    num_classes: int = 0
    num_sprites: int = 0
    image_width: int = 0
    tags: tuple[str, ...] = ()
    tag_counts: tuple[int, ...] = ()
    tag_implies: tuple[tuple[str, ...], ...] = ()  # per tag: the tags always with it

    @property
    def height(self) -> int:
        return self.image_size

    @property
    def width(self) -> int:
        return self.image_width or self.image_size

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of a sprite."""
        return self.height, self.width

    def to_dict(self) -> dict:
        out = {
            "image_size": self.image_size,
            "palette": [list(c) for c in self.palette],
            "num_classes": self.num_classes,
            "num_sprites": self.num_sprites,
        }
        if self.width != self.height:
            out["image_width"] = self.width
        if self.tags:
            out["tags"] = list(self.tags)
            out["tag_counts"] = list(self.tag_counts)
            out["tag_implies"] = [list(t) for t in self.tag_implies]
        return out

    def to_indices(self, images: torch.Tensor) -> torch.Tensor:
        """Float RGBA (N, 4, H, W) in [0, 1] -> palette indices (N, H, W): the nearest
        opaque colour, 0 where alpha < 0.5 (what core's snapping does)."""
        import torch

        table = torch.tensor(self.palette, dtype=torch.float32, device=images.device)
        rgb = images[:, :3].permute(0, 2, 3, 1).float()
        distance = ((rgb[..., None, :] - table[1:, :3]) ** 2).sum(-1)
        indices = distance.argmin(-1) + 1
        return torch.where(images[:, 3] < 0.5, torch.zeros_like(indices), indices)

    @classmethod
    def from_dict(cls, data: dict) -> DataInfo:
        return cls(
            image_size=int(data["image_size"]),
            palette=tuple(tuple(float(v) for v in c) for c in data["palette"]),
            num_classes=int(data["num_classes"]),
            num_sprites=int(data.get("num_sprites", 0)),
            image_width=int(data.get("image_width", 0)),
            tags=tuple(str(t) for t in data.get("tags", ())),
            tag_counts=tuple(int(c) for c in data.get("tag_counts", ())),
            tag_implies=tuple(tuple(str(t) for t in i) for i in data.get("tag_implies", ())),
        )


@dataclass
class Batch:
    """A training batch.

    `images`: float RGBA in [0, 1], shape (N, 4, H, W), transparent pixels all zero.
    `indices`: the same sprites as palette indices, shape (N, H, W), 0 = transparent.
    `labels`: class labels, shape (N,), or None when training unconditionally.
    `tags`: which of `DataInfo.tags` each sprite carries, float 0/1 of shape (N, T), or
    None when the run has no tags.
    """

    images: torch.Tensor
    indices: torch.Tensor
    labels: torch.Tensor | None = None
    tags: torch.Tensor | None = None


class Optimizers(dict):
    """A dict of optimizers whose values may be factories, built when first read.

    Building a torch optimizer imports torch._dynamo (1.7 s on a 2-core CPU, more than
    the rest of `pixelgen sample`), and a restored model that only samples never needs one.
    """

    def __getitem__(self, key: str):
        value = super().__getitem__(key)
        if callable(value):  # optimizers are not callable; factories are
            value = value()
            super().__setitem__(key, value)
        return value

    def get(self, key: str, default=None):
        return self[key] if key in self else default  # noqa: SIM401 (dict.get skips __getitem__)

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]


class Strategy:
    """Base class for a generative strategy. Subclass it and fill in the marked methods.

    Put every torch module in `self.modules` and every optimizer in `self.optimizers`
    (dicts keyed by name): the base class saves and restores them. Give an optimizer as a
    function that makes it (``lambda: torch.optim.Adam(...)``): it is then only built when
    training needs it. An optimizer trains the module of the same name unless
    `optimizer_for` says otherwise.

    Training is yours only as far as the loss: `loss(batch, step)` returns it, and core
    runs backward, gradient clipping (`training.grad_clip`), the optimizer, its scheduler
    (`self.schedulers`), weight averages (`self.averages`), bfloat16 autocast
    (`training.precision`) and data-parallel wrapping under torchrun.

    `config` is an instance of the spec's config class (or a plain dict for an untyped
    config); `spec` is the StrategySpec core built this strategy from.
    """

    spec: StrategySpec | None = None

    def __init__(self, config: Any, data: DataInfo, device: torch.device) -> None:
        self.config = config
        self.data = data
        self.device = device
        self.modules = {}
        self.optimizers = {}
        # Per optimizer name, a function of the optimizer that makes its LR scheduler;
        # core steps it after each optimizer step and checkpoints it.
        self.schedulers: dict[str, Callable[[Any], Any]] = {}
        # Modules core keeps as moving averages of others (`Average`), by module name,
        # and how many updates each has had (checkpointed).
        self.averages: dict[str, Average] = {}
        self.average_updates: dict[str, int] = {}
        self._schedulers: dict[str, Any] = {}
        self._core_config: Config | None = None
        self._steps_taken: dict[str, int] = {}  # by stage, for steps run without a Step
        # What `auto` sampling draws with, as core measured it at the end of training
        # (`sampler_candidates`): {"name", "options", "reason", "scores"}, or None.
        self.chosen_sampling: dict | None = None

    @property
    def modules(self) -> Modules:
        """Torch modules by name (`Modules`: core's view, wrapped only where training
        needs it, so a strategy never unwraps)."""
        return self._modules

    @modules.setter
    def modules(self, value: dict) -> None:
        self._modules = Modules(value)

    @property
    def optimizers(self) -> Optimizers:
        """Optimizers by name. A value may be a zero-argument function that makes the
        optimizer: it is called on first use, so sampling never builds one."""
        return self._optimizers

    @optimizers.setter
    def optimizers(self, value: dict) -> None:
        self._optimizers = Optimizers(value)

    # -- to implement -------------------------------------------------------------
    def loss(self, batch: Batch, step: Step) -> torch.Tensor | dict[str, Any]:
        """The loss to minimise on `batch` at `step` (`step.stage` says which stage).

        Return a one-element tensor, or a dict with it under "loss" and any other
        metrics to log (tensors or floats). Core does backward and the optimizer step of
        `optimizer_for(step.stage)`; call modules through `self.modules[...]`.
        """
        raise NotImplementedError

    def sample(self, draw: Draw) -> torch.Tensor:
        """Draw `draw.n` sprites using only `draw.generator` for randomness.

        `draw.options` holds every sample option (``draw.options.temperature``): the
        user's value, else its config value or default. `draw.label` is the class asked
        for (None: any); with the "tileable" capability `draw.tileable`, with "tags" a
        prompt's `draw.tags` and `draw.negative`. Return float RGBA in [0, 1] with shape
        (n, 4, H, W), or palette indices with shape (n, H, W); core snaps either to the
        palette.
        """
        raise NotImplementedError

    # -- optional -----------------------------------------------------------------
    def stages(self) -> list[Stage]:
        """The training stages in order; by default one stage of `training.epochs`."""
        return [Stage("main", self.core_config.training.epochs)]

    def optimizer_for(self, stage: str) -> str | tuple[str, ...]:
        """The optimizer that stage `stage` steps (and the module it trains): by default
        the only one there is, else the one named like the stage. A tuple of names steps
        each in turn, `loss` then returning a loss under each name (a GAN's generator
        and discriminator)."""
        if len(self.optimizers) == 1:
            return next(iter(self.optimizers))
        if stage in self.optimizers:
            return stage
        raise PixelgenError(
            f"stage {stage!r} names none of the optimizers {sorted(self.optimizers)}; "
            "override Strategy.optimizer_for to say which it steps"
        )

    def begin_training(self) -> None:
        """Called by the Trainer once the strategy is built (and restored, on resume),
        before the run has a folder: the place to copy in what the run depends on (the
        VQ-VAE takes a trained autoencoder from `pixelgen_core.read_checkpoint`), so that
        opening the run later never opens another. A ConfigError refuses the run."""

    def begin_stage(self, stage: str) -> None:
        """Called when training enters (or resumes within) `stage`, before its first step:
        the place to start one module from another's weights."""

    def end_epoch(self, stage: str) -> None:
        """Called after each whole epoch of `stage` (per rank, on its shard of the data)."""

    def metrics(self, batch: Batch) -> dict[str, float]:
        """Metrics on a batch without training on it (e.g. held-out loss)."""
        return {}

    def edit(self, draw: Draw) -> torch.Tensor:
        """Redraw `draw.images` where `draw.keep` is False (the "edit" capability).

        `draw.images`: float RGBA (n, 4, H, W) in [0, 1], every pixel a palette colour.
        `draw.keep`: bool (n, H, W), True where a pixel must come back exactly as it is.
        `draw.strength` in [0, 1]: how far the redrawn pixels may move from the input (0:
        returned unchanged; 1: the input there is ignored, as in sampling). The rest of
        `draw` and the return value are as for `sample`; only `draw.generator` may supply
        randomness.
        """
        raise NotImplementedError

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Encode and decode `images` (float RGBA, (N, 4, H, W)); return what `sample` would.

        Only strategies with an encoder implement it; `pixelgen sample NAME --reconstruct`
        shows dataset sprites next to these reconstructions.
        """
        raise NotImplementedError

    def sampler_candidates(self) -> dict[str, dict[str, Any]]:
        """Named sets of sample options that this run could draw with by default (for
        example ``{"dpm++ 24": {"sampler": "dpm++", "steps": 24}}``). At the end of
        training core scores each one and keeps the pixel-clean one with the best FD in
        `chosen_sampling`, for `sample` to use when asked for its `auto` choice. One is
        scored too, for the pixel filter fitted on its draws; by default there is none."""
        return {}

    def extra_state(self) -> dict:
        """Anything else to checkpoint (tensors, numbers, strings, lists, dicts)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what `extra_state` returned."""

    # -- provided -------------------------------------------------------------------
    def train_step(self, batch: Batch, stage: str, step: Step | None = None) -> dict[str, float]:
        """One training step as core runs it (`loss`, then backward, clipping, the
        optimizer, averages); its metrics as floats. The Trainer passes `step`; without
        one (a test, a benchmark) the steps taken here count, over a stage as long as
        `training.epochs` epochs of `DataInfo.num_sprites` sprites."""
        if step is None:
            index = self._steps_taken.get(stage, 0)
            size = batch_size_for(self.core_config.training.batch_size, *self.data.shape)
            per_epoch = steps_per_epoch(self.data.num_sprites, size)
            epochs = next((s.epochs for s in self.stages() if s.name == stage), 1)
            step = Step(stage, index, max(epochs, 1) * per_epoch, index // per_epoch)
            if index == 0:
                self.begin_stage(stage)
        self._steps_taken[stage] = step.index + 1
        return take_step(self, batch, step)

    @property
    def core_config(self) -> Config:
        """Core's sections of the config (`data`, `training`, `tracking`), typed, whether
        the strategy's own config is a config class or plain dicts."""
        if self._core_config is None:
            self._core_config = core_config(self.config)
        return self._core_config

    def scheduler(self, key: str) -> Any:
        """The LR scheduler of optimizer `key` (built on first use), or None."""
        if key not in self.schedulers:
            return None
        if key not in self._schedulers:
            self._schedulers[key] = self.schedulers[key](self.optimizers[key])
        return self._schedulers[key]

    def state_dict(self) -> dict:
        """Modules, optimizers and extra state, as data `torch.load(weights_only=True)` reads."""
        return {
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self._schedulers.items()},
            "averages": dict(self.average_updates),
            "extra": self.extra_state(),
            "chosen_sampling": self.chosen_sampling,
        }

    def load_state_dict(self, state: dict, with_optimizers: bool = True) -> None:
        missing = set(self.modules) - set(state["modules"])
        if missing:
            raise ValueError(f"checkpoint lacks modules: {', '.join(sorted(missing))}")
        for key, module in self.modules.items():
            module.load_state_dict(state["modules"][key])
        if with_optimizers:
            for key, optimizer in self.optimizers.items():
                if key in state["optimizers"]:
                    optimizer.load_state_dict(state["optimizers"][key])
            for key, scheduler_state in state.get("schedulers", {}).items():
                if key in self.schedulers:
                    self.scheduler(key).load_state_dict(scheduler_state)
        self.average_updates = {k: int(v) for k, v in state.get("averages", {}).items()}
        self.load_extra_state(state.get("extra", {}))
        self.chosen_sampling = state.get("chosen_sampling")

    def train(self) -> None:
        for module in self.modules.values():
            module.train()

    def eval(self) -> None:
        for module in self.modules.values():
            module.eval()


def unwrap(module):
    """The module inside a DistributedDataParallel wrapper, or the module itself. (Kept
    for strategies written before contract 2; `Strategy.modules` never needs it.)"""
    return getattr(module, "module", module)


def drop_tags(tags, p: float):
    """Tag dropout for classifier-free guidance over prompts: each sprite's whole tag set
    is dropped with probability `p` (so the unconditional model is trained), and each
    remaining tag on its own with probability `p` (so guidance works per tag, and a
    prompt of some of a sprite's tags is one the model has seen). Draws from torch's
    global RNG (as the Trainer seeds it)."""
    import torch

    whole = torch.rand(len(tags), 1, device=tags.device) >= p
    each = torch.rand(tags.shape, device=tags.device) >= p
    return tags * (whole & each).to(tags.dtype)


def drop_labels(labels, p: float, null: int):
    """Label dropout for classifier-free guidance: each label becomes `null` with
    probability `p`, so the same network also learns the unconditional model.

    One uniform draw per label from torch's global RNG (as the Trainer seeds it)."""
    import torch

    keep = torch.rand(len(labels), device=labels.device) >= p
    return torch.where(keep, labels, torch.full_like(labels, null))
