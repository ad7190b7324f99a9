"""The maskgit strategy's entry point: registers the spec only, so loading it needs no torch."""

from pixelgen_core import Option, SpriteSizes, StrategySpec, hookimpl
from pixelgen_maskgit.config import MaskGITConfig


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="maskgit",
            description="Masked U-Net that paints palette indices in a few parallel steps.",
            strategy="pixelgen_maskgit.strategy:MaskGITStrategy",
            sizes=SpriteSizes(smallest=8, largest=64, multiple=4, rectangular=True),
            default_config=MaskGITConfig,
            conditional=True,
            capabilities=("edit", "tileable", "tags"),
            train_options=(
                Option("lr", help="AdamW learning rate", config_key="training.lr"),
                Option("p_uncond", help="label dropout for guidance", config_key="model.p_uncond"),
            ),
            sample_options=(
                Option("steps", help="decoding steps", config_key="sampling.steps"),
                Option(
                    "temperature",
                    help="divide the logits by this",
                    config_key="sampling.temperature",
                ),
                Option(
                    "choice_temperature",
                    help="noise on which pixels to keep each step",
                    config_key="sampling.choice_temperature",
                ),
                Option(
                    "guidance_scale",
                    help="classifier-free guidance",
                    config_key="sampling.guidance_scale",
                ),
            ),
        )
    )
