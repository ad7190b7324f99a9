"""The maskgit strategy's entry point: registers the spec only, so loading it needs no torch."""

from importlib.resources import files

from pixelgen_core import Option, StrategySpec, hookimpl

FROM_CONFIG = "[default: the run's sampling config]"

LIMITS = {  # config ranges, checked before anything is built
    "model.patch": (1, 64),
    "model.width": (1, 8192),
    "model.layers": (1, 64),
    "model.heads": (1, 256),
    "model.dropout": (0, 1),
    "model.p_uncond": (0, 1),
    "sampling.steps": (1, 10_000),
    "sampling.temperature": (0, None),
    "sampling.choice_temperature": (0, None),
    "sampling.guidance_scale": (0, None),
    "training.lr": (0, None),
    "training.grad_clip": (0, None),
}


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="maskgit",
            description="Masked transformer that paints palette indices in a few parallel steps.",
            strategy="pixelgen_maskgit.strategy:MaskGITStrategy",
            default_config=files(__name__).joinpath("defaults.yaml"),
            conditional=True,
            limits=LIMITS,
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
