"""The maskgit strategy's entry point: registers the spec only, so loading it needs no torch."""

from pixelgen_core import Option, SpriteSizes, StrategySpec, hookimpl
from pixelgen_maskgit.config import MaskGITConfig


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="maskgit",
            description="Masked transformer that paints palette indices in a few parallel steps.",
            strategy="pixelgen_maskgit.strategy:MaskGITStrategy",
            sizes=SpriteSizes(smallest=8, largest=64, multiple=4, rectangular=True),
            default_config=MaskGITConfig,
            conditional=True,
            capabilities=("edit", "tileable", "tags"),
            train_options=(
                Option("lr", float, None, "AdamW learning rate", "training.lr"),
                Option("p_uncond", float, None, "label dropout for guidance", "model.p_uncond"),
            ),
            sample_options=(
                Option("steps", int, None, "decoding steps", "sampling.steps"),
                Option(
                    "temperature", float, None, "divide the logits by this", "sampling.temperature"
                ),
                Option(
                    "choice_temperature",
                    float,
                    None,
                    "noise on which pixels to keep each step",
                    "sampling.choice_temperature",
                ),
                Option(
                    "guidance_scale",
                    float,
                    None,
                    "classifier-free guidance",
                    "sampling.guidance_scale",
                ),
            ),
        )
    )
