"""The third-party plugin runs core's contract suite against itself, as any plugin can."""

from pixelgen_core.testing import StrategyContract


class TestPixelPrior(StrategyContract):
    strategy_name = "pixel-prior"
