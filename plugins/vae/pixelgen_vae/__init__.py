"""The VAE strategy's entry point: registers the spec only, so loading it needs no torch."""

from importlib.resources import files

from pixelgen_core import Option, StrategySpec, hookimpl


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="vae",
            description="Convolutional variational autoencoder; samples decode prior draws.",
            strategy="pixelgen_vae.strategy:VAEStrategy",
            default_config=files(__name__).joinpath("defaults.yaml"),
            train_options=(
                Option("kl_weight", float, None, "weight of the KL term", "model.kl_weight"),
                Option("lr", float, None, "Adam learning rate", "training.lr"),
            ),
            sample_options=(
                Option("temperature", float, 1.0, "scale of the prior's standard deviation"),
            ),
        )
    )
