"""The VAE strategy's entry point: registers the spec only, so loading it needs no torch."""

from pixelgen_core import Option, SpriteSizes, StrategySpec, hookimpl
from pixelgen_vae.config import VAEConfig


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="vae",
            description="Convolutional variational autoencoder; samples decode prior draws.",
            strategy="pixelgen_vae.strategy:VAEStrategy",
            sizes=SpriteSizes(smallest=8, largest=64, multiple=4, rectangular=True),
            default_config=VAEConfig,
            train_options=(
                Option("kl_weight", float, None, "weight of the KL term", "model.kl_weight"),
                Option("lr", float, None, "Adam learning rate", "training.lr"),
            ),
            sample_options=(
                Option(
                    "temperature",
                    float,
                    None,
                    "scale of the prior's standard deviation",
                    "sampling.temperature",
                ),
            ),
        )
    )
