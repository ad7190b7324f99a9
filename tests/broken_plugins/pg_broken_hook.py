"""A plugin whose hook raises."""

from pixelgen_core import StrategySpec, hookimpl


@hookimpl
def register_strategies(register):
    register(StrategySpec("half", "registered before the hook failed", "x:Y"))
    raise RuntimeError("boom in register_strategies")
