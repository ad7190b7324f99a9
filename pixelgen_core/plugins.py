"""Plugin discovery: entry points -> pluggy -> a registry of strategies.

Each entry point is loaded, validated and asked for its strategies on its own, so
one broken plugin is reported and every other strategy still works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

import pluggy

from pixelgen_core import hookspecs
from pixelgen_core.errors import PixelgenError, PluginError
from pixelgen_core.strategy import StrategySpec

ENTRY_POINT_GROUP = "pixelgen"
LOAD_ENV = "PIXELGEN_LOAD_PLUGINS"  # comma-separated distribution names; "" loads none
STRICT_ENV = "PIXELGEN_STRICT_PLUGINS"


@dataclass(frozen=True)
class StrategyRecord:
    """A registered strategy and the distribution that provided it (core's own record)."""

    spec: StrategySpec
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginFailure:
    """A plugin (or strategy name) that could not be used, and why."""

    name: str
    distribution: str
    error: str


@dataclass
class Registry:
    strategies: dict[str, StrategyRecord] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    conflicts: dict[str, list[StrategyRecord]] = field(default_factory=dict)

    def get(self, name: str) -> StrategyRecord:
        if name in self.conflicts:
            raise PluginError(conflict_message(name, self.conflicts[name]))
        if name not in self.strategies:
            installed = ", ".join(sorted(self.strategies)) or "none"
            raise PixelgenError(f"unknown strategy {name!r} (installed: {installed})")
        return self.strategies[name]


def conflict_message(name: str, records: list[StrategyRecord]) -> str:
    who = " and ".join(f"{r.distribution} {r.version}" for r in records)
    return f"strategy {name!r} is provided by both {who}; uninstall one of them"


def plugin_entry_points() -> list[EntryPoint]:
    """Installed entry points in the `pixelgen` group, filtered by PIXELGEN_LOAD_PLUGINS."""
    found = list(entry_points(group=ENTRY_POINT_GROUP))
    wanted = os.environ.get(LOAD_ENV)
    if wanted is None:
        return found
    names = {n.strip() for n in wanted.split(",") if n.strip()}
    return [ep for ep in found if _distribution(ep)[0] in names]


def _distribution(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.module, "unknown"
    return dist.metadata["Name"], dist.version


def discover(eps: list[EntryPoint] | None = None, strict: bool | None = None) -> Registry:
    """Load every plugin and collect its strategies; failures are recorded, not raised.

    With strict (or PIXELGEN_STRICT_PLUGINS=1) the first failure raises PluginError.
    """
    if strict is None:
        strict = os.environ.get(STRICT_ENV, "") not in ("", "0")
    pm = pluggy.PluginManager("pixelgen")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    claimed: dict[str, list[StrategyRecord]] = {}

    def fail(name: str, dist: str, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        text = " ".join(str(text).split())
        if strict:
            raise PluginError(f"plugin {name} ({dist}) failed: {text}")
        registry.failures.append(PluginFailure(name, dist, text))

    for ep in plugin_entry_points() if eps is None else eps:
        dist, version = _distribution(ep)
        try:
            plugin = ep.load()
        except Exception as exc:
            fail(ep.name, dist, exc)
            continue
        try:
            pm.register(plugin, name=f"{dist}:{ep.name}")
            pm.check_pending()
        except Exception as exc:
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            fail(ep.name, dist, exc)
            continue
        others = [p for p in pm.get_plugins() if p is not plugin]
        specs: list[StrategySpec] = []
        try:
            pm.subset_hook_caller("register_strategies", remove_plugins=others)(
                register=specs.append
            )
            for spec in specs:
                if not isinstance(spec, StrategySpec):
                    raise TypeError(f"register() takes a StrategySpec, got {type(spec).__name__}")
                spec.validate()
        except Exception as exc:
            fail(ep.name, dist, exc)
            continue
        for spec in specs:
            claimed.setdefault(spec.name, []).append(StrategyRecord(spec, dist, version))

    for name, records in claimed.items():
        if len(records) == 1:
            registry.strategies[name] = records[0]
            continue
        registry.conflicts[name] = records
        dists = ", ".join(r.distribution for r in records)
        fail(name, dists, conflict_message(name, records))
    return registry
