"""The VQ-VAE strategy's entry point: registers the spec only, so loading it needs no torch."""

from importlib.resources import files

from pixelgen_core import Option, StrategySpec, hookimpl

LIMITS = {  # config ranges, checked before anything is built
    "model.channels": (1, 4096),
    "model.codebook_size": (1, 65536),
    "model.code_dim": (1, 4096),
    "model.beta": (0, None),
    "model.ema_decay": (0, 1),
    "model.restart_threshold": (0, None),
    "prior.p_uncond": (0, 1),
    "prior.layers": (1, 64),
    "prior.width": (1, 8192),
    "prior.heads": (1, 256),
    "prior.dropout": (0, 1),
    "prior.epochs": (1, None),
    "prior.lr": (0, None),
    "training.lr": (0, None),
}


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="vqvae",
            description="VQ-VAE with a causal transformer prior over its code grid.",
            strategy="pixelgen_vqvae.strategy:VQVAEStrategy",
            default_config=files(__name__).joinpath("defaults.yaml"),
            conditional=True,
            limits=LIMITS,
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
                Option("temperature", float, 1.0, "divide the prior's logits by this"),
                Option("top_k", int, 0, "sample each code from the k likeliest (0 = all)"),
                Option(
                    "codes",
                    ("prior", "uniform"),
                    "prior",
                    "draw codes from the prior, or uniformly at random (a baseline)",
                ),
            ),
        )
    )
