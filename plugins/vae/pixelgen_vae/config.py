"""The VAE strategy's settings, typed; core's data/training/tracking keys apply too."""

from dataclasses import dataclass, field

from pixelgen_core import Config, Section, TrainingConfig, setting


@dataclass
class Model(Section):
    latent_dim: int = setting(32, low=1, high=4096, help="size of the latent vector z")
    channels: list[int] = setting(
        [], low=1, high=4096, help="conv widths per level; empty: from the sprite size"
    )
    loss: str = setting("bce", choices=("bce", "mse"), help="reconstruction loss")
    kl_weight: float = setting(0.5, low=0, help="beta: weight of KL(q(z|x) || N(0, I))")


@dataclass
class Sampling(Section):
    temperature: float = setting(1.0, low=0, help="scale of the prior's standard deviation")


@dataclass
class Training(TrainingConfig):
    epochs: int = setting(40, low=1)
    lr: float = setting(0.002, low=0, help="Adam learning rate")


@dataclass
class VAEConfig(Config):
    model: Model = field(default_factory=Model)
    sampling: Sampling = field(default_factory=Sampling)
    training: Training = field(default_factory=Training)
