"""The diffusion strategy's entry point: registers the spec only, so loading it needs no torch."""

from pixelgen_core import Option, SpriteSizes, StrategySpec, hookimpl
from pixelgen_diffusion.config import PRECISIONS, SAMPLER_NAMES, DiffusionConfig


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="diffusion",
            description=(
                "Class- or tag-conditional U-Net diffusion; DDPM, DDIM, DPM-Solver++ and "
                "1-2 step consistency sampling."
            ),
            strategy="pixelgen_diffusion.strategy:DiffusionStrategy",
            sizes=SpriteSizes(smallest=8, largest=128, multiple=4, rectangular=True),
            stages=("base", "consistency"),
            default_config=DiffusionConfig,
            conditional=True,
            capabilities=("edit", "tileable", "tags"),
            train_options=(
                Option("lr", float, None, "AdamW learning rate", "training.lr"),
                Option(
                    "stage",
                    ("both", "base", "consistency"),
                    None,
                    "stages to train (consistency: tune a trained run, with --resume)",
                    "training.stage",
                ),
                Option(
                    "consistency_share",
                    float,
                    None,
                    "the tuning stage's share of training.epochs and of the time budget",
                    "consistency.share",
                ),
                Option("p_uncond", float, None, "label dropout for guidance", "diffusion.p_uncond"),
                Option(
                    "prediction", ("v", "epsilon"), None, "network target", "diffusion.prediction"
                ),
            ),
            sample_options=(
                Option(
                    "sampler",
                    SAMPLER_NAMES,
                    None,
                    "auto: consistency (1-2 steps) once the run is tuned, else dpm++",
                    "sampling.sampler",
                ),
                Option(
                    "steps",
                    int,
                    None,
                    "denoising steps (0: 2 for consistency, else 24)",
                    "sampling.steps",
                ),
                Option("ddim_steps", int, None, "shortcut for --sampler ddim --steps N"),
                Option(
                    "eta",
                    float,
                    None,
                    "DDIM and consistency noise, 0 = deterministic",
                    "sampling.eta",
                ),
                Option(
                    "timestep_spacing",
                    ("trailing", "leading", "linspace"),
                    None,
                    "timestep spacing",
                    "sampling.spacing",
                ),
                Option(
                    "guidance_scale",
                    float,
                    None,
                    "classifier-free guidance",
                    "sampling.guidance_scale",
                ),
                Option(
                    "guidance_max_t",
                    int,
                    None,
                    "guide only at timesteps t <= this",
                    "sampling.guidance_max_t",
                ),
                Option(
                    "ema", bool, None, "sample with the EMA weights (--no-ema: raw)", "sampling.ema"
                ),
                Option(
                    "precision",
                    PRECISIONS,
                    None,
                    "bf16 autocast where supported",
                    "sampling.precision",
                ),
                Option(
                    "final_step_t",
                    int,
                    None,
                    "consistency: end with one base-model step from this timestep (0 = none)",
                    "sampling.final_step_t",
                ),
                Option(
                    "resample",
                    int,
                    None,
                    "edit: RePaint rounds per step (1 = none)",
                    "sampling.resample",
                ),
            ),
        )
    )
