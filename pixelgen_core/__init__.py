"""pixelgen: train small generative models on pixel-art sprites.

These are the public names a plugin may import. Nothing here imports torch, so
plugin entry-point modules that import only from this package stay fast to load.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from pixelgen_core.errors import NotReady, PixelgenError
from pixelgen_core.strategy import (
    Batch,
    DataInfo,
    Option,
    Stage,
    Strategy,
    StrategySpec,
    drop_labels,
    unwrap,
)

try:
    __version__ = version("pixelgen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

hookimpl = pluggy.HookimplMarker("pixelgen")

__all__ = [
    "Batch",
    "DataInfo",
    "Option",
    "NotReady",
    "PixelgenError",
    "Stage",
    "Strategy",
    "StrategySpec",
    "__version__",
    "drop_labels",
    "hookimpl",
    "unwrap",
]
