"""The VQ-VAE strategy's entry point: registers the spec only, so loading it needs no torch."""

from pixelgen_core import Option, SpriteSizes, StrategySpec, hookimpl
from pixelgen_vqvae.config import VQVAEConfig


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="vqvae",
            description="VQ-VAE with a causal transformer prior over its code grid.",
            strategy="pixelgen_vqvae.strategy:VQVAEStrategy",
            sizes=SpriteSizes(smallest=8, largest=64, multiple=4, rectangular=True),
            stages=("autoencoder", "prior"),
            default_config=VQVAEConfig,
            conditional=True,
            train_options=(
                Option(
                    "stage",
                    help="which stages to train [default: both]",
                    config_key="training.stage",
                ),
                Option(
                    "autoencoder",
                    help="checkpoint whose trained autoencoder a new prior is trained on",
                    config_key="model.autoencoder",
                ),
                Option("lr", help="autoencoder learning rate", config_key="training.lr"),
                Option(
                    "prior_share",
                    help="the prior's share of training.epochs and of the time budget",
                    config_key="prior.share",
                ),
            ),
            sample_options=(
                Option(
                    "temperature",
                    help="divide the prior's logits by this",
                    config_key="sampling.temperature",
                ),
                Option(
                    "top_k",
                    help="sample each code from the k likeliest (0 = all)",
                    config_key="sampling.top_k",
                ),
                Option(
                    "codes",
                    help="draw codes from the prior, or uniformly at random (a baseline)",
                    config_key="sampling.codes",
                ),
            ),
        )
    )
