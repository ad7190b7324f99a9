"""Config layering with OmegaConf, and one-line errors for bad keys, types and values.

Layers, lowest first: core defaults < the strategy's defaults < configs/base.yaml
(in the working directory, when present) < a user file (-c) or dict < command-line
overrides < typed settings (train options given as values, never as strings).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pixelgen_core.errors import ConfigError, PixelgenWarning, first_line
from pixelgen_core.settings import Config, checks, core_config, is_config_class
from pixelgen_core.strategy import StrategySpec

BASE_CONFIG = Path("configs") / "base.yaml"


def load_yaml(path: Path) -> Any:
    from omegaconf import OmegaConf

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return OmegaConf.load(path)
    except Exception as exc:
        raise ConfigError(f"cannot read config {path}: {first_line(exc)}") from None


def dotted(node: Mapping, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {"a.b": value} (what MLflow logs as params)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(dotted(value, path + "."))
        else:
            out[path] = value
    return out


def nested(settings: Mapping[str, Any]) -> dict:
    """{"a.b": value} as {"a": {"b": value}}."""
    out: dict = {}
    for key, value in settings.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def reference_config(spec: StrategySpec) -> dict:
    """Core defaults merged with the strategy's defaults: the schema of valid keys."""
    from omegaconf import OmegaConf

    source = spec.default_config
    core = dataclasses.asdict(Config())
    own = dataclasses.asdict(source()) if is_config_class(source) else spec.load_default_config()
    return OmegaConf.to_container(OmegaConf.merge(core, own))


def value_checks(spec: StrategySpec) -> tuple[dict[str, tuple], dict[str, tuple[str, ...]]]:
    """(ranges, choices) by dotted key: core's, the typed config's, and `spec.limits`."""
    ranges, choices = checks(Config)
    if is_config_class(spec.default_config):
        more_ranges, more_choices = checks(spec.default_config)
        ranges.update(more_ranges)
        choices.update(more_choices)
    ranges.update(spec.limits)
    return ranges, choices


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
    user_file: Path | str | Mapping | None = None,
    overrides: list[str] = (),
    base: dict | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict:
    """Merge all layers and validate keys, types, choices and ranges; return plain data.

    `user_file` is a YAML path or a nested dict. `settings` maps dotted keys to typed
    values (train options), applied last. `base` replaces the defaults layer (on resume
    and when restoring, the checkpoint's config is the base): a key in it that the plugin
    no longer has is dropped with a warning, so an old checkpoint still loads.
    """
    from omegaconf import OmegaConf

    reference = reference_config(spec)
    layers: list[tuple[str, Any]] = []
    if base is not None:
        layers.append(("checkpoint", base))
    elif BASE_CONFIG.is_file():
        layers.append((str(BASE_CONFIG), load_yaml(BASE_CONFIG)))
    if isinstance(user_file, Mapping):
        layers.append(("config", dict(user_file)))
    elif user_file is not None:
        layers.append((str(user_file), load_yaml(Path(user_file))))
    if overrides:
        layers.append(("command line", parse_overrides(list(overrides))))
    if settings:
        layers.append(("options", nested(settings)))

    known = dotted(reference)
    result = reference
    for source, layer in layers:
        data = OmegaConf.to_container(layer) if OmegaConf.is_config(layer) else layer
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a config must be a mapping of keys")
        if source == "checkpoint":
            data = _drop_unknown(data, known, spec.name)
        _check(data, known, source)
        result = OmegaConf.to_container(OmegaConf.merge(result, data))
    ranges, choices = value_checks(spec)
    check_choices(result, choices)
    check_limits(result, ranges)
    check_types(spec, result)
    return result


def check_types(spec: StrategySpec, config: dict) -> None:
    """A one-line ConfigError for a value its declared type cannot take. `_check` checks
    types against the defaults; this catches the settings whose default is null (such as
    `training.batch_size`, from the sprite size), by the config classes' annotations."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        core_config(config)  # core's sections, as the Trainer will read them
        if is_config_class(spec.default_config):
            OmegaConf.merge(OmegaConf.structured(spec.default_config), config)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"config key {key!r}: {first_line(str(exc))}") from None


def typed(spec: StrategySpec, config: dict) -> Any:
    """The config a strategy reads: its dataclasses filled from `config` (a resolved plain
    dict), or the plain dict itself for a strategy that declares no config class."""
    if not is_config_class(spec.default_config):
        return config
    from omegaconf import OmegaConf

    try:
        merged = OmegaConf.merge(OmegaConf.structured(spec.default_config), config)
        return OmegaConf.to_object(merged)
    except Exception as exc:
        raise ConfigError(
            f"config does not fit strategy {spec.name!r}: {first_line(exc)}"
        ) from None


def _is_known(key: str, value: Any, known: dict[str, Any]) -> bool:
    """A setting of the schema, or one of its sections given empty (``model: {}``)."""
    if key in known:
        return True
    return value in ({}, None) and any(k.rpartition(".")[0] == key for k in known)


def _drop_unknown(data: dict, known: dict[str, Any], strategy: str) -> dict:
    kept = {}
    for key, value in dotted(data).items():
        if _is_known(key, value, known):
            kept[key] = value
        else:
            warnings.warn(
                f"the checkpoint's config key {key!r} is no longer a {strategy} setting; ignored",
                PixelgenWarning,
                stacklevel=3,
            )
    return nested(kept)


def check_limits(config: dict, limits: dict[str, tuple[float | None, float | None]]) -> None:
    """Raise a one-line ConfigError naming the first key whose value is out of its range."""
    flat = dotted(config)
    for key, (low, high) in limits.items():
        value = flat.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if not math.isfinite(item):  # nan passes every comparison, inf every lower bound
                raise ConfigError(f"config key {key!r} must be a finite number, got {value!r}")
            if (low is not None and item < low) or (high is not None and item > high):
                raise ConfigError(f"config key {key!r} must be {_bounds(low, high)}, got {value!r}")


def check_choices(config: dict, choices: dict[str, tuple[str, ...]]) -> None:
    flat = dotted(config)
    for key, allowed in choices.items():
        if key in flat and flat[key] not in allowed:
            raise ConfigError(
                f"config key {key!r} must be one of {', '.join(allowed)}, got {flat[key]!r}"
            )


def _bounds(low: float | None, high: float | None) -> str:
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    return f"between {low} and {high}"


def _check(data: dict, known: dict[str, Any], source: str) -> None:
    for key, value in dotted(data).items():
        if not _is_known(key, value, known):
            hint = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            suffix = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"unknown config key {key!r} in {source}{suffix}")
        expected = known.get(key)  # None also for a section given empty
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
