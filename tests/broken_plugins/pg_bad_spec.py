"""A plugin that registers something that is not a StrategySpec."""

from pixelgen_core import hookimpl


@hookimpl
def register_strategies(register):
    register({"name": "dict-strategy"})
