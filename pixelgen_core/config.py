"""Config layering with OmegaConf, and one-line errors for bad keys and types.

Layers, lowest first: core defaults < the strategy's defaults < configs/base.yaml
(in the working directory, when present) < a user file (-c) < command-line overrides.
"""

from __future__ import annotations

import difflib
from importlib.resources import files
from pathlib import Path
from typing import Any

from pixelgen_core.errors import ConfigError, first_line
from pixelgen_core.strategy import StrategySpec

BASE_CONFIG = Path("configs") / "base.yaml"
# Ranges of core's numeric keys, (lowest, highest), None for no bound; strategies add theirs
# in StrategySpec.limits. Zero epochs or batches would record a run that trained nothing.
CORE_LIMITS: dict[str, tuple[float | None, float | None]] = {
    "data.max_colors": (1, 255),
    "data.palette_swap": (0, 1),
    "data.num_classes": (0, 1000),
    "training.seed": (0, 2**63 - 1),
    "training.epochs": (1, None),
    "training.time_budget_minutes": (0, None),
    "training.batch_size": (1, 65536),
    "training.log_every": (1, None),
    "training.sample_every": (0, None),
    "training.grid_size": (1, 1024),
}


def load_yaml(path: Path) -> Any:
    from omegaconf import OmegaConf

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return OmegaConf.load(path)
    except Exception as exc:
        raise ConfigError(f"cannot read config {path}: {first_line(exc)}") from None


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to {"a.b": value}."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def flatten(config: dict) -> dict[str, Any]:
    return _leaves(config)


def reference_config(spec: StrategySpec) -> dict:
    """Core defaults merged with the strategy's defaults: the schema of valid keys."""
    from omegaconf import OmegaConf

    core = OmegaConf.create(files("pixelgen_core").joinpath("defaults.yaml").read_text())
    merged = OmegaConf.merge(core, OmegaConf.create(spec.load_default_config()))
    return OmegaConf.to_container(merged)


def parse_overrides(overrides: list[str]) -> Any:
    from omegaconf import OmegaConf

    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"override {item!r} must look like key=value (e.g. training.epochs=5)"
            )
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except Exception as exc:
        raise ConfigError(f"bad override: {first_line(exc)}") from None


def resolve(
    spec: StrategySpec,
    user_file: Path | None = None,
    overrides: list[str] = (),
    base: dict | None = None,
) -> dict:
    """Merge all layers and validate keys and types; return plain data.

    `base` replaces the defaults layer (used on resume, where the checkpoint's config is the base).
    """
    from omegaconf import OmegaConf

    reference = reference_config(spec)
    layers: list[tuple[str, Any]] = []
    if base is not None:
        layers.append(("checkpoint", OmegaConf.create(base)))
    elif BASE_CONFIG.is_file():
        layers.append((str(BASE_CONFIG), load_yaml(BASE_CONFIG)))
    if user_file is not None:
        layers.append((str(user_file), load_yaml(Path(user_file))))
    if overrides:
        layers.append(("command line", parse_overrides(list(overrides))))

    known = _leaves(reference)
    result = reference
    for source, layer in layers:
        data = OmegaConf.to_container(layer) if layer is not None else {}
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a config must be a mapping of keys")
        _check(data, known, source)
        result = OmegaConf.to_container(OmegaConf.merge(result, data))
    check_limits(result, {**CORE_LIMITS, **spec.limits})
    return result


def check_limits(config: dict, limits: dict[str, tuple[float | None, float | None]]) -> None:
    """Raise a one-line ConfigError naming the first key whose value is out of its range."""
    flat = _leaves(config)
    for key, (low, high) in limits.items():
        value = flat.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if (low is not None and item < low) or (high is not None and item > high):
                raise ConfigError(f"config key {key!r} must be {_bounds(low, high)}, got {value!r}")


def _bounds(low: float | None, high: float | None) -> str:
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    return f"between {low} and {high}"


def _check(data: dict, known: dict[str, Any], source: str) -> None:
    sections = {k.rsplit(".", 1)[0] for k in known if "." in k}
    for key, value in _leaves(data).items():
        if key not in known:
            if key in sections and value in ({}, None):
                continue
            hint = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            suffix = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown config key {key!r} in {source}{suffix}")
        expected = known[key]
        if expected is None or value is None:
            continue
        if not _type_ok(value, expected):
            raise ConfigError(
                f"config key {key!r} in {source} must be {type(expected).__name__}, got {value!r}"
            )


def _type_ok(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return isinstance(value, bool)
    if isinstance(expected, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(expected, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(expected))


def to_yaml(config: dict) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(config))
