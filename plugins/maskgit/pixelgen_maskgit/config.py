"""The maskgit strategy's settings, typed. Sized to train on a 2-core CPU."""

from dataclasses import dataclass, field

from pixelgen_core import Config, DataConfig, Section, TrainingConfig, setting


@dataclass
class Model(Section):
    # The U-Net: FD 6.26 against the transformer's 27.40 for training seed 0, in less
    # time (benchmarks/RESULTS.md, "maskgit's network", 2026-12-04).
    network: str = setting(
        "unet",
        choices=("unet", "transformer"),
        help="unet: the diffusion plugin's U-Net, a pixel at a time (model.unet_channels); "
        "transformer: patch tokens (model.patch, width, layers, heads, dropout)",
    )
    unet_channels: list[int] = setting(
        [], low=8, high=4096, help="unet: widths per level, multiples of 8; empty: from the size"
    )
    patch: int = setting(
        0, low=0, high=64, help="transformer: pixels per token side; 0: about 8x8 tokens"
    )
    width: int = setting(128, low=1, high=8192, help="transformer: its width")
    layers: int = setting(6, low=1, high=64, help="transformer: its layers")
    heads: int = setting(4, low=1, high=256, help="transformer: attention heads")
    dropout: float = setting(0.1, low=0, high=1, help="transformer: dropout")
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
    epochs: int = setting(100, low=1, help="about 7 minutes on a 2-core CPU (U-Net)")
    lr: float = setting(0.0005, low=0)
    grad_clip: float = 1.0
    sample_every: int = setting(25, low=0)


@dataclass
class MaskGITConfig(Config):
    model: Model = field(default_factory=Model)
    sampling: Sampling = field(default_factory=Sampling)
    data: DataConfig = field(default_factory=lambda: DataConfig(num_classes=8))
    training: Training = field(default_factory=Training)
