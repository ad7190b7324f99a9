"""The maskgit strategy's settings, typed. Sized to train on a 2-core CPU."""

from dataclasses import dataclass, field

from pixelgen_core import Config, DataConfig, Section, TrainingConfig, setting


@dataclass
class Model(Section):
    patch: int = setting(
        0, low=0, high=64, help="pixels per token side; 0: about 8x8 tokens (2 at 16x16)"
    )
    width: int = setting(128, low=1, high=8192, help="transformer width")
    layers: int = setting(6, low=1, high=64)
    heads: int = setting(4, low=1, high=256)
    dropout: float = setting(0.1, low=0, high=1)
    p_uncond: float = setting(0.1, low=0, high=1, help="label dropout, for guidance")


@dataclass
class Sampling(Section):
    """Defaults of `pixelgen sample maskgit`; each has a sample option of the same name."""

    steps: int = setting(24, low=1, high=10_000, help="decoding steps, cosine schedule")
    temperature: float = setting(1.0, low=0, help="temperature of each pixel's distribution")
    # Gumbel noise on which pixels stay; low values pick the safest pixel (transparent)
    # first and give near-empty sprites.
    choice_temperature: float = setting(30.0, low=0, help="noise on which pixels to keep")
    guidance_scale: float = setting(1.0, low=0, help="1 = plain conditional")


@dataclass
class Training(TrainingConfig):
    epochs: int = setting(100, low=1, help="about 10 minutes on a 2-core CPU")
    lr: float = setting(0.0005, low=0)
    grad_clip: float = 1.0
    sample_every: int = setting(25, low=0)


@dataclass
class MaskGITConfig(Config):
    model: Model = field(default_factory=Model)
    sampling: Sampling = field(default_factory=Sampling)
    data: DataConfig = field(default_factory=lambda: DataConfig(num_classes=8))
    training: Training = field(default_factory=Training)
