"""The diffusion strategy's entry point: registers the spec only, so loading it needs no torch."""

from pixelgen_core import Option, SpriteSizes, StrategySpec, hookimpl
from pixelgen_diffusion.config import DiffusionConfig


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
            stages=("cleaner", "base", "consistency"),
            default_config=DiffusionConfig,
            conditional=True,
            capabilities=("edit", "tileable", "tags"),
            # Type, choices and (where not given) help come from the config field named.
            train_options=(
                Option("lr", config_key="training.lr"),
                Option(
                    "stage",
                    help="stages to train (consistency: tune a trained run, with --resume)",
                    config_key="training.stage",
                ),
                Option(
                    "consistency_share",
                    help="the tuning stage's share of training.epochs and of the time budget",
                    config_key="consistency.share",
                ),
                Option("p_uncond", config_key="diffusion.p_uncond"),
                Option("prediction", config_key="diffusion.prediction"),
            ),
            sample_options=(
                Option(
                    "sampler",
                    help="auto: the sampler chosen at the end of training; with a prompt, dpm++",
                    config_key="sampling.sampler",
                ),
                Option(
                    "steps",
                    help="denoising steps (0: consistency 2, else 24; 12: a prompt, 32x32 sprites)",
                    config_key="sampling.steps",
                ),
                Option("ddim_steps", int, None, "shortcut for --sampler ddim --steps N"),
                Option("eta", config_key="sampling.eta"),
                Option("timestep_spacing", help="timestep spacing", config_key="sampling.spacing"),
                Option(
                    "guidance_scale",
                    help="classifier-free guidance",
                    config_key="sampling.guidance_scale",
                ),
                Option("guidance_max_t", config_key="sampling.guidance_max_t"),
                Option("guidance_min_t", config_key="sampling.guidance_min_t"),
                Option(
                    "ema",
                    help="sample with the EMA weights (--no-ema: raw)",
                    config_key="sampling.ema",
                ),
                Option("precision", config_key="sampling.precision"),
                Option(
                    "mid_t",
                    help="consistency: where the second step starts",
                    config_key="consistency.mid_t",
                ),
                Option("final_step_t", config_key="sampling.final_step_t"),
                Option("colours", config_key="sampling.colours"),
                Option("clean", config_key="sampling.clean"),
                Option("mend", config_key="sampling.mend"),
                Option("restarts", config_key="sampling.restarts"),
                Option("restart_t", config_key="sampling.restart_t"),
                Option("restart_steps", config_key="sampling.restart_steps"),
                Option("resample", config_key="sampling.resample"),
            ),
        )
    )
