"""The diffusion strategy's settings, typed. Sized to train on a 2-core CPU;
configs/diffusion-large.yaml has a bigger U-Net for a GPU."""

from dataclasses import dataclass, field

from pixelgen_core import PRECISIONS, Config, DataConfig, Section, TrainingConfig, setting

SAMPLER_NAMES = ("auto", "dpm++", "ddim", "ddpm", "consistency")
DEFAULT_STEPS = {"consistency": 2, "dpm++": 24, "ddim": 24, "ddpm": 24}
# `auto`'s DPM-Solver++ steps for a prompt: its samples carry their tags as often as with
# 24 steps, with fewer isolated pixels, in half the time (benchmarks/RESULTS.md, 2026-12-04).
PROMPT_STEPS = 12
# DPM-Solver++'s own steps on sprites of LARGE_SPRITE_PIXELS and more: on two 32x32
# kenney-arcade runs, 12 steps through their pixel filter scored a better or equal FD
# than 24, pixel-clean, in half the network calls (a filtered sprite 733 ms against 1020
# on one of them); on the 16x16 full default 24 scored clearly better (RESULTS, 2026-12-06).
LARGE_SPRITE_PIXELS = 32 * 32
LARGE_SPRITE_DPM_STEPS = 12
# Where the student's two steps alone (no final base step) take their second step, as a
# share of diffusion.timesteps: from t = 700 the full default drew as much detail as
# real sprites have and passed the pixel verdict, from consistency.mid_t = 800 (the
# best start before a final base step) too few regions (benchmarks/RESULTS.md, 2026-12-06).
ALONE_MID_SHARE = 0.7


@dataclass
class Model(Section):
    channels: list[int] = setting(
        [], low=1, high=4096, help="U-Net widths per level; empty: from the sprite size"
    )
    blocks_per_level: int = setting(1, low=1, high=16, help="residual blocks per level")
    attention: bool = setting(True, help="self-attention at the lowest resolution")
    skips: bool = setting(
        True, help="skip connections from each down level to its up level (off: to measure them)"
    )
    time_embedding: bool = setting(
        True, help="the timestep reaches every block (off: to measure what it buys)"
    )
    groups: int = setting(8, low=1, high=4096, help="GroupNorm groups; must divide every width")
    dropout: float = setting(0.0, low=0, high=1, help="residual-block dropout (0: none)")
    palette_head: bool | None = setting(
        True,
        help="per-pixel palette logits beside RGBA: samples end on palette colours; "
        "null: on only when the palette has more than 8 colours (the default until 2026-12-05)",
    )
    detail: bool = setting(
        True,
        help="condition on each sprite's detail level (its isolated pixels: none, 1-4, 5+) "
        "beside its class or tags; sampling draws levels by the data's frequencies and draws "
        "again a sprite that misses its level",
    )
    tag_conditioning: str = setting(
        "bag",
        choices=("bag", "cross"),
        help="how tags reach the U-Net: bag = their summed vectors in the time embedding; "
        "cross = cross-attention to them at the lowest resolution",
    )


@dataclass
class Diffusion(Section):
    timesteps: int = setting(1000, low=2, high=100_000, help="T of the forward process")
    schedule: str = setting("cosine", choices=("cosine", "linear"), help="beta schedule")
    prediction: str = setting("v", choices=("v", "epsilon"), help="what the network predicts")
    p_uncond: float = setting(0.1, low=0, high=1, help="label dropout for guidance")
    ema_decay: float = setting(0.999, low=0, high=1, help="EMA decay, warmed up")
    loss_weighting: str = setting(
        "none", choices=("none", "min-snr"), help="min-snr: Min-SNR-gamma weights per timestep"
    )
    min_snr_gamma: float = setting(5.0, low=0, help="gamma of min-snr weighting")
    timestep_density: str = setting(
        "logit-normal",
        choices=("uniform", "logit-normal"),
        help="how training draws t; logit-normal: more of the middle noise levels",
    )
    logit_mean: float = setting(0.5, help="logit-normal: mean of logit(t / T)")
    logit_std: float = setting(1.0, low=0, help="logit-normal: spread of logit(t / T)")
    palette_loss: float = setting(
        0.1, low=0, help="weight of the palette head's cross-entropy beside the RGBA loss"
    )
    palette_max_t: int = setting(
        1000, low=0, help="the palette head learns at timesteps t < this (it decodes at low t)"
    )


@dataclass
class Sampling(Section):
    """Defaults of `pixelgen sample diffusion`; each has a sample option of the same name."""

    sampler: str = setting(
        "auto",
        choices=SAMPLER_NAMES,
        help="auto: consistency once the run is tuned, else dpm++",
    )
    steps: int = setting(
        0,
        low=0,
        high=100_000,
        help="denoising steps; 0: the sampler's own (24, dpm++ 12 at 32x32; consistency 2)",
    )
    eta: float = setting(
        0.0, low=0, high=1, help="DDIM and consistency noise: 0 deterministic, 1 DDPM-like"
    )
    spacing: str = setting("trailing", choices=("trailing", "leading", "linspace"))
    guidance_scale: float = setting(2.0, low=0, help="1 = plain conditional")
    guidance_max_t: int = setting(700, low=0, help="guide only at timesteps t <= this")
    guidance_min_t: int = setting(0, low=0, help="guide only at timesteps t >= this")
    prompt_guidance_scale: float = setting(
        4.0, low=0, help="with --prompt: the guidance scale, unless --guidance-scale is given"
    )
    prompt_guidance_min_t: int = setting(
        300, low=0, help="with --prompt: guide at t >= this, unless --guidance-min-t is given"
    )
    ema: bool = setting(True, help="sample with the EMA weights")
    precision: str = setting("auto", choices=PRECISIONS, help="bf16 where supported")
    resample: int = setting(
        3, low=1, high=100, help="edit: RePaint rounds per step, for coherent borders (1 = none)"
    )
    final_step_t: int = setting(
        200,
        low=0,
        help="consistency: end with one base-model step from this timestep (0 = none)",
    )
    colours: int = setting(
        0,
        low=0,
        high=1024,
        help="the most opaque colours a sprite gets, the palette head's likeliest over the "
        "sprite (0 = any); runs with the palette head only",
    )
    restarts: int = setting(
        0,
        low=0,
        high=100,
        help="dpm++, ddim, ddpm: times the finished sprite is noised back to restart_t and "
        "solved down again (restart sampling; fewer ragged outlines, each round costs "
        "restart_steps network calls)",
    )
    restart_t: int = setting(500, low=1, help="the timestep a restart noises back to")
    restart_steps: int = setting(12, low=1, help="DPM-Solver++ steps of each restart")
    clean: bool = setting(
        True,
        help="the run's outline cleaner redraws each finished sprite's ragged edges "
        "(runs that trained one; --no-clean: as the model drew them)",
    )
    mend: bool = setting(
        True,
        help="a sprite asked for no isolated pixel that came with a speck or a few has "
        "them recoloured to their neighbours' colour (--no-mend: drawn again)",
    )


@dataclass
class Consistency(Section):
    """The consistency-tuning stage after the base stage: a student copy of the trained
    model learns to jump to a trajectory's clean end, for 1- and 2-step sampling."""

    share: float = setting(
        0.12,
        low=0,
        high=0.95,
        help="its share of training.epochs and of the time budget (0.12: 30 of 250); 0 = none",
    )
    lr: float = setting(0.0003, low=0, help="AdamW learning rate of the tuning")
    phases: int = setting(6, low=1, high=16, help="the t - r gap halves each phase")
    huber: float = setting(0.03, low=0, help="pseudo-Huber c of the loss; 0 = squared error")
    ema_decay: float = setting(0.95, low=0, high=1, help="EMA of the student, which samples")
    guidance_scale: float = setting(
        2.0, low=0, help="the teacher's guidance, learned by the student (1 = none)"
    )
    mid_t: int = setting(800, low=1, help="where the second consistency step starts")
    # On since 2026-12-06: it costs no training time, does not harm the final base
    # step's path, and gives the end-of-training choice the student's two steps alone
    # as a candidate (benchmarks/RESULTS.md).
    palette: float = setting(
        0.1,
        low=0,
        help="weight of the student's palette-head loss: its palette logits learn the "
        "clean end too, so its last step lands on palette colours (0 = not taught)",
    )


@dataclass
class Cleaner(Section):
    """The outline cleaner (`pixelgen_diffusion.cleaner`): the run's first stage, a small
    network trained on the run's sprites to redraw the ragged outlines of what it draws."""

    epochs: int = setting(
        150, low=0, high=100_000, help="epochs of the cleaner's stage, before the others (0 = none)"
    )
    width: int = setting(32, low=1, high=1024, help="channels of its convolutions")
    depth: int = setting(6, low=1, high=16, help="3x3 convolutions: it sees 2 * depth + 1 pixels")
    jitter: float = setting(
        0.12, low=0, high=0.5, help="mean share of edge pixels recoloured in its training copies"
    )
    lr: float = setting(0.002, low=0, help="AdamW learning rate")
    rounds: int = setting(2, low=1, high=16, help="passes over each finished sprite")


@dataclass
class Training(TrainingConfig):
    stage: str = setting(
        "both",
        choices=("both", "base", "consistency"),
        help="stages to train (the cleaner's goes with the base stage)",
    )
    epochs: int = setting(
        250, low=1, help="epochs of the whole run: consistency.share for tuning, the rest base"
    )
    # From the sprite size: 64 at 16x16, 16 at 32x32. At 32x32 batches of 16 drew fewer
    # stray pixels and colours than 64 on two seeds of 10 minutes (benchmarks/RESULTS.md,
    # "Your own sprites at 32x32", 2026-12-04).
    batch_size: int | None = setting(
        None, low=1, high=65536, help="sprites a batch; null: from the sprite size (64 at 16x16)"
    )
    lr: float = setting(0.001, low=0, help="AdamW learning rate")
    grad_clip: float = 1.0
    precision: str = "auto"  # bf16 autocast where the hardware has it
    sample_every: int = setting(50, low=0)


@dataclass
class DiffusionConfig(Config):
    model: Model = field(default_factory=Model)
    diffusion: Diffusion = field(default_factory=Diffusion)
    sampling: Sampling = field(default_factory=Sampling)
    consistency: Consistency = field(default_factory=Consistency)
    cleaner: Cleaner = field(default_factory=Cleaner)
    # No flips: the bundled sheet's letters, digits and arrows face one way, and four
    # minutes score better without mirror images; long runs copy more without them, so
    # the long recipes in configs/ turn them on (benchmarks/RESULTS.md, 2026-12-03).
    data: DataConfig = field(default_factory=lambda: DataConfig(num_classes=8, hflip=False))
    training: Training = field(default_factory=Training)
