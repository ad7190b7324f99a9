"""The VQ-VAE strategy's entry point: registers the spec only, so loading it needs no torch."""

from pixelgen_core import Option, StrategySpec, hookimpl
from pixelgen_vqvae.config import VQVAEConfig


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="vqvae",
            description="VQ-VAE with a causal transformer prior over its code grid.",
            strategy="pixelgen_vqvae.strategy:VQVAEStrategy",
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
                Option("prior_epochs", int, None, "epochs of the prior stage", "prior.epochs"),
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
