"""The maskgit strategy's entry point: registers the spec only, so loading it needs no torch."""

from importlib.resources import files

from pixelgen_core import Option, StrategySpec, hookimpl

FROM_CONFIG = "[default: the run's sampling config]"


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="maskgit",
            description="Masked transformer that paints palette indices in a few parallel steps.",
            strategy="pixelgen_maskgit.strategy:MaskGITStrategy",
            default_config=files(__name__).joinpath("defaults.yaml"),
            conditional=True,
            train_options=(
                Option("lr", float, None, "AdamW learning rate", "training.lr"),
                Option("p_uncond", float, None, "label dropout for guidance", "model.p_uncond"),
            ),
            sample_options=(
                Option("steps", int, None, f"decoding steps {FROM_CONFIG}"),
                Option("temperature", float, None, f"divide the logits by this {FROM_CONFIG}"),
                Option(
                    "choice_temperature",
                    float,
                    None,
                    f"noise on which pixels to keep each step {FROM_CONFIG}",
                ),
                Option("guidance_scale", float, None, f"classifier-free guidance {FROM_CONFIG}"),
            ),
        )
    )
