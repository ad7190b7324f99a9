"""The VAE strategy's entry point: registers the spec only, so loading it needs no torch."""

from importlib.resources import files

from pixelgen_core import Option, StrategySpec, hookimpl

LIMITS = {  # config ranges, checked before anything is built
    "model.latent_dim": (1, 4096),
    "model.channels": (1, 4096),
    "model.kl_weight": (0, None),
    "training.lr": (0, None),
}


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="vae",
            description="Convolutional variational autoencoder; samples decode prior draws.",
            strategy="pixelgen_vae.strategy:VAEStrategy",
            default_config=files(__name__).joinpath("defaults.yaml"),
            limits=LIMITS,
            train_options=(
                Option("kl_weight", float, None, "weight of the KL term", "model.kl_weight"),
                Option("lr", float, None, "Adam learning rate", "training.lr"),
            ),
            sample_options=(
                Option("temperature", float, 1.0, "scale of the prior's standard deviation"),
            ),
        )
    )
