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
                    ("both", "autoencoder", "prior"),
                    None,
                    "which stages to train [default: both]",
                    "training.stage",
                ),
                Option(
                    "autoencoder",
                    str,
                    None,
                    "checkpoint whose trained autoencoder a new prior is trained on",
                    "model.autoencoder",
                ),
                Option("lr", float, None, "autoencoder learning rate", "training.lr"),
                Option(
                    "prior_share",
                    float,
                    None,
                    "the prior's share of training.epochs and of the time budget",
                    "prior.share",
                ),
            ),
            sample_options=(
                Option(
                    "temperature",
                    float,
                    None,
                    "divide the prior's logits by this",
                    "sampling.temperature",
                ),
                Option(
                    "top_k",
                    int,
                    None,
                    "sample each code from the k likeliest (0 = all)",
                    "sampling.top_k",
                ),
                Option(
                    "codes",
                    ("prior", "uniform"),
                    None,
                    "draw codes from the prior, or uniformly at random (a baseline)",
                    "sampling.codes",
                ),
            ),
        )
    )
