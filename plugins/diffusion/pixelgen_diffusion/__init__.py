"""The diffusion strategy's entry point: registers the spec only, so loading it needs no torch."""

from importlib.resources import files

from pixelgen_core import Option, StrategySpec, hookimpl

FROM_CONFIG = "[default: the run's sampling config]"

LIMITS = {  # config ranges, checked before anything is built
    "model.channels": (1, 4096),
    "model.blocks_per_level": (1, 16),
    "model.groups": (1, 4096),
    "model.dropout": (0, 1),
    "diffusion.timesteps": (2, 100_000),
    "diffusion.p_uncond": (0, 1),
    "diffusion.ema_decay": (0, 1),
    "sampling.steps": (1, 100_000),
    "sampling.ddim_steps": (1, 100_000),
    "sampling.eta": (0, 1),
    "sampling.guidance_scale": (0, None),
    "sampling.guidance_max_t": (0, None),
    "training.lr": (0, None),
    "training.grad_clip": (0, None),
}


@hookimpl
def register_strategies(register):
    register(
        StrategySpec(
            name="diffusion",
            description="Class-conditional U-Net diffusion; DDPM, DDIM and DPM-Solver++ sampling.",
            strategy="pixelgen_diffusion.strategy:DiffusionStrategy",
            default_config=files(__name__).joinpath("defaults.yaml"),
            conditional=True,
            limits=LIMITS,
            train_options=(
                Option("lr", float, None, "AdamW learning rate", "training.lr"),
                Option("p_uncond", float, None, "label dropout for guidance", "diffusion.p_uncond"),
                Option(
                    "prediction", ("v", "epsilon"), None, "network target", "diffusion.prediction"
                ),
            ),
            sample_options=(
                Option("sampler", ("dpm++", "ddim", "ddpm"), None, f"sampler {FROM_CONFIG}"),
                Option("steps", int, None, f"dpm++/ddpm steps {FROM_CONFIG}"),
                Option("ddim_steps", int, None, f"DDIM steps (selects ddim) {FROM_CONFIG}"),
                Option("eta", float, None, f"DDIM noise, 0 = deterministic {FROM_CONFIG}"),
                Option(
                    "spacing",
                    ("trailing", "leading", "linspace"),
                    None,
                    f"timestep spacing {FROM_CONFIG}",
                ),
                Option("guidance_scale", float, None, f"classifier-free guidance {FROM_CONFIG}"),
                Option(
                    "guidance_max_t",
                    int,
                    None,
                    f"guide only at timesteps t <= this {FROM_CONFIG}",
                ),
                Option("ema", bool, True, "sample with the EMA weights (--no-ema: raw weights)"),
                Option(
                    "precision",
                    ("auto", "bf16", "fp32"),
                    None,
                    f"bf16 autocast where supported {FROM_CONFIG}",
                ),
            ),
        )
    )
