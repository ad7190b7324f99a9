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
                Option("kl_weight", help="weight of the KL term", config_key="model.kl_weight"),
                Option("lr", help="Adam learning rate", config_key="training.lr"),
            ),
            sample_options=(
                Option(
                    "temperature",
                    help="scale of the prior's standard deviation",
                    config_key="sampling.temperature",
                ),
            ),
        )
    )
