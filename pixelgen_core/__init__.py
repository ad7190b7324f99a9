"""pixelgen: train small generative models on pixel-art sprites.

The Python API (`train`, `open_run`, `Run`, `Sprites`, `compare`, `strategies`) and the
names a plugin may import. Importing this package does not import torch, so plugin
entry-point modules that import only from it stay fast to load; the API module itself
is loaded when one of its names is first used.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from pixelgen_core.errors import (
    ConfigError,
    NoRun,
    NotReady,
    PixelgenError,
    PixelgenWarning,
    SettingError,
)
from pixelgen_core.optimisation import Average, Modules, Step
from pixelgen_core.precision import PRECISIONS, autocast, bf16_supported, uses_bf16
from pixelgen_core.request import Draw
from pixelgen_core.settings import (
    Config,
    DataConfig,
    Section,
    TrackingConfig,
    TrainingConfig,
    setting,
)
from pixelgen_core.sizes import SpriteSizes
from pixelgen_core.strategy import (
    Batch,
    DataInfo,
    Option,
    Stage,
    Strategy,
    StrategySpec,
    drop_labels,
    drop_tags,
    split_epochs,
    stage_plan,
    unwrap,
)

try:
    __version__ = version("pixelgen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

hookimpl = pluggy.HookimplMarker("pixelgen")

API = (
    "Comparison",
    "Evaluation",
    "Palette",
    "Prompt",
    "PromptEvaluation",
    "RunRecord",
    "SnappedSprite",
    "SpriteSet",
    "StrategyRecord",
    "TileSet",
    "TrainingData",
    "grid",
    "open_dataset",
    "prepare_dataset",
    "read_png",
    "upscale",
    "write_png",
    "Reconstructions",
    "Run",
    "Sprites",
    "compare",
    "delete_run",
    "disable_plugins",
    "get_strategy",
    "new_run",
    "open_run",
    "list_runs",
    "strategies",
    "train",
)


# Author-kit names loaded on first use (reading a checkpoint imports zipfile and more;
# mending specks, numpy): name -> (module, attribute).
LAZY_KIT = {
    "Checkpoint": ("checkpoint", "Checkpoint"),
    "read_checkpoint": ("checkpoint", "read"),
    "mend_specks": ("specks", "mend"),
}


def __getattr__(name: str):
    # An API name must never be a submodule's name: `from pixelgen_core import X` would
    # then get the function before the module is imported, and the module after.
    if name in API:
        from pixelgen_core import api

        return getattr(api, name)
    if name in LAZY_KIT:
        import importlib

        module, attribute = LAZY_KIT[name]
        return getattr(importlib.import_module(f"pixelgen_core.{module}"), attribute)
    raise AttributeError(f"module 'pixelgen_core' has no attribute {name!r}")


__all__ = [
    *API,
    "PRECISIONS",
    "Average",
    "Checkpoint",
    "read_checkpoint",
    "mend_specks",
    "Modules",
    "Step",
    "autocast",
    "bf16_supported",
    "uses_bf16",
    "Batch",
    "Config",
    "ConfigError",
    "DataConfig",
    "DataInfo",
    "Draw",
    "NoRun",
    "NotReady",
    "Option",
    "PixelgenError",
    "PixelgenWarning",
    "Section",
    "SettingError",
    "SpriteSizes",
    "Stage",
    "Strategy",
    "StrategySpec",
    "TrackingConfig",
    "TrainingConfig",
    "__version__",
    "drop_labels",
    "drop_tags",
    "hookimpl",
    "setting",
    "split_epochs",
    "stage_plan",
    "unwrap",
]
