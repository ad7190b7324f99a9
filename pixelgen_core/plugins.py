"""Plugin discovery: entry points -> pluggy -> a registry of strategies.

Each entry point is loaded, validated and asked for its strategies on its own, so
one broken plugin is reported and every other strategy still works.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points

import pluggy

from pixelgen_core import hookspecs
from pixelgen_core.errors import PixelgenError, PluginError
from pixelgen_core.strategy import StrategySpec

ENTRY_POINT_GROUP = "pixelgen"
LOAD_ENV = "PIXELGEN_LOAD_PLUGINS"  # comma-separated distribution names; "" loads none
DISABLE_ENV = "PIXELGEN_DISABLE_PLUGINS"  # comma-separated names never to load
STRICT_ENV = "PIXELGEN_STRICT_PLUGINS"
TRACE_ENV = "PIXELGEN_TRACE_PLUGINS"  # 1: print every hook call on stderr


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
class PluginInfo:
    """One installed entry point of group `pixelgen`, for `pixelgen plugins`.

    `status` is "ok", "failed", "disabled" (--disable-plugin or PIXELGEN_DISABLE_PLUGINS)
    or "not loaded" (left out of the PIXELGEN_LOAD_PLUGINS allow-list).
    """

    name: str
    distribution: str
    version: str
    status: str = "ok"
    hooks: list[str] = field(default_factory=list)
    strategies: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Registry:
    strategies: dict[str, StrategyRecord] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    conflicts: dict[str, list[StrategyRecord]] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)

    def get(self, name: str) -> StrategyRecord:
        if name in self.conflicts:
            raise PluginError(conflict_message(name, self.conflicts[name]))
        if name not in self.strategies:
            installed = ", ".join(sorted(self.strategies)) or "none"
            failed = "".join(f"; plugin {f.name} failed: {f.error}" for f in self.failures)
            raise PixelgenError(f"unknown strategy {name!r} (installed: {installed}){failed}")
        return self.strategies[name]

    def capable(self, capability: str) -> list[str]:
        """The installed strategies whose spec declares `capability`, by name."""
        return sorted(n for n, r in self.strategies.items() if capability in r.spec.capabilities)

    def lacks(self, name: str, capability: str, what: str) -> PixelgenError:
        """The one-line error for strategy `name` asked to do `what` without `capability`."""
        able = ", ".join(self.capable(capability)) or "none installed"
        return PixelgenError(f"strategy {name!r} cannot {what}; strategies that can: {able}")


def conflict_message(name: str, records: list[StrategyRecord]) -> str:
    who = " and ".join(f"{r.distribution} {r.version}" for r in records)
    return f"strategy {name!r} is provided by both {who}; uninstall one of them"


def _names(text: str | None) -> set[str]:
    return {_normalise(n) for n in (text or "").split(",") if n.strip()}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def plugin_entry_points(disabled: set[str] = frozenset()) -> list[tuple[EntryPoint, str]]:
    """Installed entry points in the `pixelgen` group, each with why it would not load
    ("" when it will): PIXELGEN_LOAD_PLUGINS is an allow-list of distributions, and
    `disabled` plus PIXELGEN_DISABLE_PLUGINS name distributions or entry points to skip."""
    wanted = os.environ.get(LOAD_ENV)
    allowed = _names(wanted)
    skip = {_normalise(n) for n in disabled} | _names(os.environ.get(DISABLE_ENV))
    out = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = _normalise(_distribution(ep)[0])
        if dist in skip or _normalise(ep.name) in skip:
            out.append((ep, "disabled"))
        elif wanted is not None and dist not in allowed:
            out.append((ep, "not loaded"))
        else:
            out.append((ep, ""))
    return out


def _distribution(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.module, "unknown"
    return dist.metadata["Name"], dist.version


def _flag(env: str) -> bool:
    return os.environ.get(env, "") not in ("", "0")


def _trace(pm: pluggy.PluginManager) -> None:
    """PIXELGEN_TRACE_PLUGINS=1: one stderr line before and after every hook call."""

    def before(hook_name, impls, kwargs) -> None:
        named = {k: getattr(v, "__name__", type(v).__name__) for k, v in kwargs.items()}
        args = ", ".join(f"{k}={v}" for k, v in named.items())
        who = ", ".join(i.plugin_name for i in impls) or "no plugin"
        print(f"[pixelgen] hook {hook_name}({args}) -> {who}", file=sys.stderr)
        started.append(time.perf_counter())

    def after(outcome, hook_name, impls, kwargs) -> None:
        ms = 1000 * (time.perf_counter() - started.pop())
        failed = outcome.exception is not None
        result = f"raised {type(outcome.exception).__name__}" if failed else "returned"
        print(f"[pixelgen] hook {hook_name} {result} in {ms:.1f} ms", file=sys.stderr)

    started: list[float] = []
    pm.add_hookcall_monitoring(before, after)


def discover(
    eps: list[EntryPoint] | None = None,
    strict: bool | None = None,
    disabled: set[str] = frozenset(),
) -> Registry:
    """Load every plugin and collect its strategies; failures are recorded, not raised.

    With strict (or PIXELGEN_STRICT_PLUGINS=1) the first failure raises PluginError.
    `disabled` names distributions or entry points to skip, like PIXELGEN_DISABLE_PLUGINS.
    """
    if strict is None:
        strict = _flag(STRICT_ENV)
    pm = pluggy.PluginManager("pixelgen")
    pm.add_hookspecs(hookspecs)
    if _flag(TRACE_ENV):
        _trace(pm)
    registry = Registry()
    claimed: dict[str, list[StrategyRecord]] = {}

    def fail(name: str, dist: str, error: BaseException | str, info=None) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        text = " ".join(str(text).split())
        if strict:
            raise PluginError(f"plugin {name} ({dist}) failed: {text}")
        registry.failures.append(PluginFailure(name, dist, text))
        if info is not None:
            info.status, info.error = "failed", text

    listed = plugin_entry_points(disabled) if eps is None else [(ep, "") for ep in eps]
    for ep, skipped in listed:
        dist, version = _distribution(ep)
        info = PluginInfo(ep.name, dist, version)
        registry.plugins.append(info)
        if skipped:
            info.status = skipped
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            fail(ep.name, dist, exc, info)
            continue
        try:
            pm.register(plugin, name=f"{dist}:{ep.name}")
            pm.check_pending()
        except Exception as exc:
            if pm.is_registered(plugin):
                pm.unregister(plugin)
            fail(ep.name, dist, exc, info)
            continue
        info.hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
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
            fail(ep.name, dist, exc, info)
            continue
        info.strategies = [spec.name for spec in specs]
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


DISABLED: set[str] = set()  # filled by `pixelgen --disable-plugin NAME` and api.disable_plugins


@cache
def registry() -> Registry:
    """The installed strategies, discovered once per process: the one place core calls
    `discover()`. `disable()` starts over with fewer plugins."""
    return discover(disabled=DISABLED)


def disable(names) -> None:
    """Leave out these plugins (distribution or entry-point names) from now on."""
    DISABLED.update(names)
    registry.cache_clear()
