"""The VQ-VAE strategy's settings, typed; core's data/training/tracking keys apply too."""

from dataclasses import dataclass, field

from pixelgen_core import Config, DataConfig, Section, TrainingConfig, setting


@dataclass
class Model(Section):
    channels: list[int] = setting(
        [], low=1, high=4096, help="encoder widths per level; empty: from the sprite size"
    )
    codebook_size: int = setting(256, low=1, high=65536, help="K codes in the codebook")
    code_dim: int = setting(64, low=1, high=4096, help="length of each code vector")
    beta: float = setting(0.25, low=0, help="weight of the commitment term")
    ema: bool = setting(True, help="update the codebook by EMA of assigned encoder outputs")
    ema_decay: float = setting(0.99, low=0, high=1)
    restart_threshold: float = setting(1.0, low=0, help="codes used less than this restart")
    loss: str = setting("palette", choices=("palette", "bce", "mse"), help="reconstruction loss")
    autoencoder: str = setting("", help="a vqvae checkpoint to take the trained autoencoder from")


@dataclass
class Prior(Section):
    conditional: bool = setting(True, help="condition on the k-means class")
    p_uncond: float = setting(0.1, low=0, high=1, help="label dropout")
    layers: int = setting(4, low=1, high=64)
    width: int = setting(128, low=1, high=8192)
    heads: int = setting(4, low=1, high=256)
    dropout: float = setting(0.3, low=0, high=1)
    # 0.444 of the default 270 epochs is 120: the 150 + 120 split the defaults were
    # measured with (0.45 gives 148 + 122, which scored FD 14.5 against 6.7).
    share: float = setting(
        0.444, low=0.05, high=0.95, help="its share of training.epochs and of the time budget"
    )
    lr: float = setting(0.0005, low=0)


@dataclass
class Sampling(Section):
    """Defaults of `pixelgen sample vqvae`; each has a sample option of the same name."""

    temperature: float = setting(1.0, low=0, help="divide the prior's logits by this")
    top_k: int = setting(0, low=0, help="sample each code from the k likeliest (0 = all)")
    codes: str = setting("prior", choices=("prior", "uniform"), help="uniform: a baseline")


@dataclass
class Training(TrainingConfig):
    stage: str = setting("both", choices=("both", "autoencoder", "prior"))
    epochs: int = setting(
        270, low=1, help="epochs of the whole run: prior.share for the prior, the rest autoencoder"
    )
    lr: float = setting(0.001, low=0)


@dataclass
class VQVAEConfig(Config):
    model: Model = field(default_factory=Model)
    prior: Prior = field(default_factory=Prior)
    sampling: Sampling = field(default_factory=Sampling)
    data: DataConfig = field(default_factory=lambda: DataConfig(num_classes=8))
    training: Training = field(default_factory=Training)
