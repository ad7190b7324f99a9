"""Typed configs: core's own sections as dataclasses, and `setting()` for a checked field.

A strategy may declare its config as dataclasses that extend `Config` (OmegaConf
structured configs). `config.resolve()` then checks every key, type, choice and range
once, and the strategy reads ``self.config.model.channels`` with no casts. Sections also
answer ``section["key"]``, so code written for plain dict configs keeps working.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pixelgen_core.precision import PRECISIONS

RANGE = "pixelgen_range"
CHOICES = "pixelgen_choices"


def setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
    help: str = "",
) -> Any:
    """A dataclass field with its allowed range (`low`..`high`, either open) or `choices`.

    A list default is copied for each instance; a range applies to each item of a list.
    """
    metadata: dict[str, Any] = {"help": help}
    if low is not None or high is not None:
        metadata[RANGE] = (low, high)
    if choices is not None:
        metadata[CHOICES] = tuple(choices)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


class Section:
    """Base of typed config sections: attribute access, plus ``section["key"]``."""

    def __getitem__(self, key: str) -> Any:
        if not (
            dataclasses.is_dataclass(self) and key in {f.name for f in dataclasses.fields(self)}
        ):
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in {f.name for f in dataclasses.fields(self)}


@dataclass
class DataConfig(Section):
    dataset: str = setting(
        "kenney-colored", help="kenney-colored, kenney-mono, kenney-arcade (32x32), or a folder"
    )
    focused: bool = setting(False, help="keep sprites whose opaque share lies in [0.15, 0.50]")
    max_colors: int = setting(16, low=1, high=255, help="palette size K, transparency not counted")
    palette: str = setting(
        "", help="train in this palette (built-in name or palette file); empty: the data's own"
    )
    hflip: bool = setting(True, help="random horizontal flips")
    palette_swap: float = setting(0.0, low=0, high=1, help="probability of permuting colours")
    num_classes: int = setting(0, low=0, high=1000, help="k-means class labels; 0 = none")
    tags: bool = setting(
        True,
        help="condition on the data's tags (tag file, sidecars or file names) where the "
        "strategy can and the data has them; they replace num_classes",
    )
    min_tag_count: int = setting(3, low=1, help="drop tags fewer sprites carry")


@dataclass
class TrainingConfig(Section):
    seed: int = setting(0, low=0, high=2**63 - 1)
    device: str = setting("auto", help="auto = cuda, then mps, then cpu")
    # Zero epochs or batches would record a run that trained nothing.
    epochs: int = setting(10, low=1)
    time_budget_minutes: float = setting(0.0, low=0, help="stop after this long; 0 = no limit")
    batch_size: int | None = setting(
        64, low=1, high=65536, help="sprites a batch; null: from the sprite size (64 at 16x16)"
    )
    log_every: int = setting(10, low=1, help="steps between metric logs")
    sample_every: int = setting(5, low=0, help="epochs between sample grids; 0 = only at the end")
    grid_size: int = setting(64, low=1, high=1024, help="sprites in each sample grid")
    checkpoint_seconds: float = setting(
        10.0, low=0, help="at an epoch's end, save once this long passed since the last; 0 = each"
    )
    grad_clip: float = setting(0.0, low=0, help="clip the gradient norm to this; 0 = no clipping")
    precision: str = setting(
        "fp32", choices=PRECISIONS, help="bf16: bfloat16 autocast; auto: where the hardware has it"
    )
    output_dir: str = setting("runs", help="run folders go to OUTPUT_DIR/STRATEGY/RUN")
    choose_sampler: int = setting(
        256,
        low=0,
        high=100_000,
        help="sprites per repeat scored for each candidate sampler at the end of training, "
        "so `auto` draws with the best pixel-clean one, and 8x as many fit its pixel "
        "filter; 0 = skip both",
    )


@dataclass
class TrackingConfig(Section):
    enabled: bool = True
    uri: str | None = setting(None, help="None: $MLFLOW_TRACKING_URI, else ./mlflow.db")
    experiment: str | None = setting(None, help="None: pixelgen-STRATEGY")


@dataclass
class Config(Section):
    """Core's sections. A strategy's config class extends this one (and its sections)."""

    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


CORE_SECTIONS = ("data", "training", "tracking")


def core_config(config: Any) -> Config:
    """Core's own sections of a resolved config, typed: what the Trainer, the data
    pipeline and tracking read, by attribute and without casts. The plain dict stays at
    the checkpoint and MLflow boundary; a strategy's own keys are left to it."""
    if isinstance(config, Config):
        return config
    from omegaconf import OmegaConf

    own = {}
    for section in CORE_SECTIONS:
        declared = {f.name for f in dataclasses.fields(_default(_field(Config, section)))}
        given = config.get(section) or {}
        own[section] = {k: v for k, v in dict(given).items() if k in declared}
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), own))


def _field(cls: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def declared(cls: type, key: str) -> tuple[type | tuple[str, ...], str] | None:
    """What config class `cls` declares for dotted `key`: its type (a tuple of the
    allowed strings when it has choices) and its help; None if it declares no such key.
    Options read them, so a choice list or a help line is written once, on the field."""
    import typing

    *sections, name = key.split(".")
    klass = cls
    for section in sections:
        found = [f for f in dataclasses.fields(klass) if f.name == section]
        if not found or not is_config_class(type(_default(found[0]))):
            return None
        klass = type(_default(found[0]))
    if name not in {f.name for f in dataclasses.fields(klass)}:
        return None
    choices = _inherited(klass, name, CHOICES)
    help_text = _inherited(klass, name, "help") or ""
    if choices is not None:
        return tuple(choices), help_text
    kind = typing.get_type_hints(klass)[name]
    options = [a for a in typing.get_args(kind) if a is not type(None)] or [kind]
    return options[0], help_text


def is_config_class(value: Any) -> bool:
    return isinstance(value, type) and dataclasses.is_dataclass(value)


def checks(cls: type, prefix: str = "") -> tuple[dict[str, tuple], dict[str, tuple[str, ...]]]:
    """The ranges and choices a config class declares, keyed by dotted path."""
    ranges: dict[str, tuple] = {}
    choices: dict[str, tuple[str, ...]] = {}
    for f in dataclasses.fields(cls):
        path = prefix + f.name
        default = _default(f)
        if is_config_class(type(default)):
            more_ranges, more_choices = checks(type(default), path + ".")
            ranges.update(more_ranges)
            choices.update(more_choices)
        for key, found in ((RANGE, ranges), (CHOICES, choices)):
            declared = _inherited(cls, f.name, key)
            if declared is not None:
                found[path] = declared
    return ranges, choices


def _inherited(cls: type, name: str, key: str) -> Any:
    """A field's range or choices, from the class or the nearest base that declares them,
    so a strategy that changes only the default of `epochs` keeps core's range for it."""
    for klass in cls.__mro__:
        declared = getattr(klass, "__dataclass_fields__", {}).get(name)
        if declared is not None and key in declared.metadata:
            return declared.metadata[key]
    return None


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default
