"""The hooks a pixelgen plugin can implement. Each is a verb that takes a `register` callback."""

import pluggy

hookspec = pluggy.HookspecMarker("pixelgen")


@hookspec
def register_strategies(register):
    """Call ``register(StrategySpec(...))`` once for each strategy the plugin provides."""
