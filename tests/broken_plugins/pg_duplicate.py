"""A plugin that registers a strategy name another plugin already uses."""

from pixelgen_core import StrategySpec, hookimpl


@hookimpl
def register_strategies(register):
    register(StrategySpec("pixel-prior", "an impostor", "pg_duplicate:Nothing"))
