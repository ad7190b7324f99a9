"""The diffusion strategy: contract suite, conditioning, guidance, EMA, and learning."""

from pathlib import Path

import pytest
import torch
from pixelgen_diffusion.testing import TINY as TINY_MODEL
from torch import nn

from pixelgen_core import Batch, ConfigError, DataInfo, PixelgenWarning, SettingError
from pixelgen_core.testing import (
    PALETTE,
    StrategyContract,
    invoke,
    make_strategy,
    resolve_config,
    sample,
)

TINY = [*TINY_MODEL, "model.attention=true"]  # the one file that tests attention


class TestDiffusionContract(StrategyContract):
    strategy_name = "diffusion"
    overrides = [*TINY, "sampling.steps=4", "training.lr=0.003"]


def make(*overrides, classes=3, size=16):
    info = DataInfo(size, PALETTE, classes, 8)
    return make_strategy("diffusion", [*TINY, "sampling.steps=4", *overrides], info)


CONFIGS = Path(__file__).resolve().parents[3] / "configs"  # the repository's recipes


@pytest.mark.parametrize(
    "recipe", ["diffusion", "diffusion-quick", "diffusion-long", "diffusion-large"]
)
def test_the_shipped_recipes_load(recipe):
    """A key or value a recipe misspells fails here, not on a user's machine."""
    from omegaconf import OmegaConf

    path = CONFIGS / f"{recipe}.yaml"
    if not path.is_file():
        pytest.skip("not run from the repository")
    resolved = resolve_config("diffusion", path)
    for section, values in OmegaConf.to_container(OmegaConf.load(path)).items():
        for key, value in values.items():
            assert resolved[section][key] == value, f"{section}.{key}"


def test_the_written_out_defaults_are_the_defaults():
    if not (CONFIGS / "diffusion.yaml").is_file():
        pytest.skip("not run from the repository")
    assert resolve_config("diffusion", CONFIGS / "diffusion.yaml") == resolve_config("diffusion")


def test_config_validation_names_the_problem():
    with pytest.raises(ConfigError, match="6x6 sprites are not divisible by 4"):
        make("model.channels=[8,16,32]", size=6)
    with pytest.raises(ConfigError, match="not divisible by model.groups=4"):
        make("model.channels=[6,16]")
    with pytest.raises(ConfigError, match="'diffusion.schedule' must be one of cosine, linear"):
        make("diffusion.schedule=sigmoid")
    with pytest.raises(ConfigError, match="'sampling.sampler' must be one of auto, dpm"):
        make("sampling.sampler=euler")
    with pytest.raises(ConfigError, match="'training.precision' must be one of auto"):
        make("training.precision=fp8")
    with pytest.raises(ConfigError, match="^sampler must be auto, dpm"):
        sample(make(), 1, torch.Generator(), sampler="euler")


def test_guidance_runs_one_batched_forward_pass_per_step():
    strategy = make("model.detail=false")  # one draw: no sprite drawn again for its level
    calls = []
    net = strategy.modules["ema"]
    handle = net.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    sample(strategy, 3, torch.Generator().manual_seed(0), label=1, guidance_scale=3.0)
    # 4 steps (999, 749, 499, 249); the guided ones (t <= 700 by default) are conditional
    # + unconditional in one batch of 2n
    assert calls == [3, 3, 6, 6]
    calls.clear()
    sample(strategy, 3, torch.Generator().manual_seed(0), label=1, guidance_scale=1.0)
    assert calls == [3] * 4
    handle.remove()


def test_guidance_only_inside_its_interval():
    strategy = make("model.detail=false")  # 4 trailing steps: 999, 749, 499, 249
    calls = []
    net = strategy.modules["ema"]
    handle = net.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    kwargs = {"label": 1, "guidance_scale": 3.0}
    sample(strategy, 3, torch.Generator().manual_seed(0), guidance_max_t=300, **kwargs)
    assert calls == [3, 3, 3, 6]  # above t = 300 the conditional pass alone
    calls.clear()
    sample(strategy, 3, torch.Generator().manual_seed(0), guidance_max_t=999, **kwargs)
    assert calls == [6] * 4
    calls.clear()
    sample(
        strategy,
        3,
        torch.Generator().manual_seed(0),
        guidance_min_t=500,
        guidance_max_t=999,
        **kwargs,
    )
    assert calls == [6, 6, 3, 3]  # below t = 500 the conditional pass alone
    handle.remove()
    # Unguided steps take the conditional prediction as it is: no interval = scale 1 there.
    low = sample(strategy, 3, torch.Generator().manual_seed(0), guidance_max_t=0, **kwargs)
    plain = sample(strategy, 3, torch.Generator().manual_seed(0), label=1, guidance_scale=1.0)
    assert torch.equal(low, plain)
    with pytest.raises(ConfigError, match="^guidance_max_t must be at least 0, got -1"):
        sample(strategy, 1, torch.Generator(), guidance_max_t=-1)
    with pytest.raises(ConfigError, match="'sampling.guidance_max_t' must be at least 0"):
        make("sampling.guidance_max_t=-5")
    with pytest.raises(ConfigError, match="^guidance_min_t must be at least 0, got -1"):
        sample(strategy, 1, torch.Generator(), guidance_min_t=-1)
    # an empty interval would guide nothing: said, not ignored
    for window in ({"guidance_min_t": 800, "guidance_max_t": 700}, {"guidance_min_t": 1000}):
        with pytest.raises(SettingError, match="guides no timestep"):
            sample(strategy, 1, torch.Generator(), **kwargs, **window)
    sample(strategy, 1, torch.Generator(), label=1, guidance_scale=1.0, guidance_min_t=1000)


def test_bf16_weights_sample_exactly_what_autocast_samples(monkeypatch):
    import pixelgen_diffusion.strategy as module

    strategy = make("model.palette_head=false")  # RGBA out, where bf16 rounding shows
    for p in strategy.modules["ema"].parameters():
        torch.nn.init.normal_(p, 0, 0.1)  # conv_out starts at zero; give it something to do
    a = sample(strategy, 3, torch.Generator().manual_seed(0), precision="bf16")
    monkeypatch.setattr(module, "bf16_weights", lambda net: net)
    strategy._bf16_copies.clear()  # else the kept copy would sample again
    b = sample(strategy, 3, torch.Generator().manual_seed(0), precision="bf16")
    assert torch.equal(a, b)
    c = sample(strategy, 3, torch.Generator().manual_seed(0), precision="fp32")
    assert not torch.equal(a, c)  # bf16 really was used
    assert strategy.modules["ema"].conv_in.weight.dtype == torch.float32  # a copy was cast


def test_the_bf16_copy_is_kept_until_the_weights_change():
    strategy = make()
    kept = strategy._sampling_net("base", True, "bf16")
    assert strategy._sampling_net("base", True, "bf16") is kept
    raw = strategy._sampling_net("base", False, "bf16")
    assert raw is not kept and strategy._sampling_net("base", False, "bf16") is raw
    batch = Batch(torch.rand(4, 4, 16, 16), torch.zeros(4, 16, 16), torch.tensor([0, 1, 2, 0]))
    strategy.train_step(batch, "base")  # changes both the raw weights and their EMA
    for ema, old in ((True, kept), (False, raw)):
        fresh = strategy._sampling_net("base", ema, "bf16")
        source = strategy.modules["ema" if ema else "unet"]
        assert fresh is not old
        assert torch.equal(fresh.conv_in.weight, source.conv_in.weight.bfloat16())
    again = strategy._sampling_net("base", True, "bf16")
    strategy.modules["ema"].load_state_dict(strategy.modules["unet"].state_dict())
    assert strategy._sampling_net("base", True, "bf16") is not again
    assert strategy._sampling_net("base", True, "fp32") is strategy.modules["ema"]


def test_dpm_solver_takes_12_steps_of_its_own_on_32x32_sprites_and_24_below():
    """Where no steps are asked for; measured in benchmarks/RESULTS.md, 2026-12-06."""
    for size, steps in ((16, 24), (32, 12)):
        strategy = make("sampling.steps=0", "model.detail=false", classes=0, size=size)
        assert strategy.sampler_candidates() == {
            f"dpm++ {steps}": {"sampler": "dpm++", "steps": steps}
        }
        calls = []
        real = strategy.make_sampler
        strategy.make_sampler = lambda *args, calls=calls, real=real: (
            calls.append(args) or real(*args)
        )
        sample(strategy, 1, torch.Generator(), sampler="dpm++")
        sample(strategy, 1, torch.Generator(), sampler="ddim")  # the others keep theirs
        sample(strategy, 1, torch.Generator(), sampler="dpm++", steps=5)  # asked: as asked
        assert [args[:2] for args in calls] == [("dpm++", steps), ("ddim", 24), ("dpm++", 5)]


def test_ddim_steps_option_selects_ddim_and_sets_its_steps():
    strategy = make()
    calls = []
    real = strategy.make_sampler
    strategy.make_sampler = lambda *args: calls.append(args) or real(*args)
    sample(strategy, 1, torch.Generator(), ddim_steps=7)
    sample(strategy, 1, torch.Generator(), sampler="ddpm", steps=1000)
    sample(strategy, 1, torch.Generator())  # the config's: dpm++, sampling.steps=4
    assert calls == [
        ("ddim", 7, 0.0, "trailing", 800),  # consistency.mid_t: used by consistency alone
        ("ddpm", 1000, 0.0, "trailing", 800),
        ("dpm++", 4, 0.0, "trailing", 800),
    ]
    assert type(real("ddim", 7)).__name__ == "DDIMSampler"
    assert len(real("ddpm", 1000).timesteps) == 1000
    with pytest.raises(ConfigError, match="^steps must be between 1 and 1000"):
        sample(strategy, 1, torch.Generator(), steps=1001)
    # --eta with a sampler that has no such noise is refused, not dropped
    with pytest.raises(
        ConfigError,
        match=r"^eta is the noise of DDIM and consistency steps; sampler dpm\+\+ has none$",
    ):
        sample(strategy, 1, torch.Generator(), sampler="dpm++", eta=0.5)
    sample(strategy, 1, torch.Generator(), sampler="ddim", steps=3, eta=0.5)  # DDIM's own
    strategy.consistency_steps = 1
    calls.clear()
    sample(strategy, 1, torch.Generator(), eta=0.5)  # auto: consistency once tuned, eta kept
    assert calls == [("consistency", 4, 0.5, "trailing", 800)]  # make(): sampling.steps=4
    assert real("consistency", 2, 0.5).eta == 0.5
    with pytest.warns(PixelgenWarning, match="--timestep-spacing is ignored"):
        sample(strategy, 1, torch.Generator(), sampler="consistency", timestep_spacing="leading")


def test_same_seed_same_sprites_for_every_sampler():
    strategy = make()
    for options in ({"sampler": "ddpm", "steps": 5}, {"ddim_steps": 5, "eta": 1.0}, {}):
        a = sample(strategy, 2, torch.Generator().manual_seed(3), **options)
        b = sample(strategy, 2, torch.Generator().manual_seed(3), **options)
        assert torch.equal(a, b), options


def test_ema_warms_up_and_follows_the_weights():
    strategy = make("diffusion.ema_decay=0.5", "model.detail=false")
    images = torch.rand(4, 4, 16, 16)
    batch = Batch(images, torch.zeros(4, 16, 16, dtype=torch.long), torch.tensor([0, 1, 2, 0]))
    strategy.train_step(batch, "base")
    online = strategy.modules["unet"].state_dict()
    ema = strategy.modules["ema"].state_dict()
    key = "conv_in.weight"
    # First update: decay = min(0.5, 2 / 11) -> ema moved 82% of the way to the weights.
    assert not torch.equal(online[key], ema[key])
    assert strategy.ema_updates == 1
    assert strategy.class_counts.tolist() == [2, 1, 1]
    for _ in range(30):
        strategy.train_step(batch, "base")
    assert (online[key] - ema[key]).abs().max() < (online[key]).abs().max()


def test_no_ema_samples_the_raw_weights():
    strategy = make()
    batch = Batch(torch.rand(4, 4, 16, 16), torch.zeros(4, 16, 16, dtype=torch.long), None)
    for _ in range(3):
        strategy.train_step(batch, "base")
    a = sample(strategy, 2, torch.Generator().manual_seed(0), ema=True)
    b = sample(strategy, 2, torch.Generator().manual_seed(0), ema=False)
    assert not torch.equal(a, b)


def test_a_tiny_model_overfits_four_sprites():
    """Trained on four 8x8 sprites, one per class, samples must come out as those sprites."""
    strategy = make(
        "model.channels=[16,32]",
        "model.groups=8",
        "training.lr=0.003",
        "diffusion.ema_decay=0.9",
        "diffusion.p_uncond=0.0",
        "training.precision=fp32",
        classes=4,
        size=8,
    )
    table = torch.tensor(PALETTE, dtype=torch.float32)
    indices = torch.zeros(4, 8, 8, dtype=torch.long)
    indices[0, 1:7, 1:3] = 1
    indices[1, 1:3, 1:7] = 2
    indices[2, 2:6, 2:6] = 3
    indices[3, ::2, ::2] = 1
    images = table[indices].permute(0, 3, 1, 2).contiguous()
    batch = Batch(images, indices, torch.arange(4))
    torch.manual_seed(0)
    for _ in range(300):
        strategy.train_step(batch, "base")
    for k in range(4):
        drawn = sample(
            strategy,
            1,
            torch.Generator().manual_seed(k),
            label=k,
            ddim_steps=20,
            guidance_scale=1.0,
            precision="fp32",
        )
        error = (drawn[0] - images[k]).abs().mean()
        assert error < 0.1, (k, error)


def test_train_and_sample_from_the_command_line(tmp_path):
    run = invoke  # `pixelgen ARGS` in this process

    small = ["data.dataset=kenney-mono", "data.focused=true", "data.num_classes=4"]
    small += ["training.epochs=1", "training.batch_size=256", "training.grid_size=4"]
    small += ["tracking.enabled=false", "sampling.steps=3", *TINY]
    small += ["training.choose_sampler=0"]  # auto: consistency, as the run is tuned
    result = run("train", "diffusion", "-q", *small)
    assert result.exit_code == 0, result.output
    [ckpt] = list(tmp_path.glob("runs/diffusion/*/checkpoint.pt"))
    result = run(
        "sample",
        "diffusion",
        "--checkpoint",
        ckpt,
        "-n",
        4,
        "--ddim-steps",
        5,
        "--class",
        3,
        "--guidance-scale",
        3,
        "--out",
        "s",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "grid.png").is_file()
    result = run("sample", "diffusion", "--checkpoint", ckpt, "--class", 9)
    assert result.exit_code == 1 and "class 9 is not one of this run's 0..3" in result.output
    result = run("sample", "diffusion", "--checkpoint", ckpt, "--steps", -1)
    assert result.exit_code == 2 and "--steps must be between 0 and 100000" in result.output
    result = run("sample", "diffusion", "--checkpoint", ckpt, "--sampler", "dpm++", "--steps", 2000)
    assert (
        result.exit_code == 2
        and "--steps must be between 1 and 1000 (diffusion.timesteps)" in result.output
    )
    # the run is tuned, so the default sampler is consistency: at most mid_t + 1 steps
    result = run("sample", "diffusion", "--checkpoint", ckpt, "--steps", 2000)
    assert (
        result.exit_code == 2
        and "--steps must be between 1 and 801 (consistency.mid_t + 1), got" in result.output
    )
    result = run("sample", "diffusion", "--checkpoint", ckpt, "--guidance-scale", 3)
    assert result.exit_code == 2 and "use --sampler dpm++" in result.output
    result = run("train", "diffusion", "-q", *small, "model.channels=[8,8,8,8,8,8]")
    assert result.exit_code == 2 and "16x16 sprites are not divisible by 32" in result.output
    result = run("train", "diffusion", "-q", *small, "model.groups=3")
    assert result.exit_code == 2 and "not divisible by model.groups=3" in result.output
    assert "Traceback" not in result.output


def test_min_snr_weights_follow_the_paper():
    from pixelgen_diffusion.schedule import NoiseSchedule

    t = torch.tensor([10, 500, 990])
    for prediction, carried in (("v", lambda snr: snr + 1), ("epsilon", lambda snr: snr)):
        schedule = NoiseSchedule(1000, "cosine", prediction)
        abar = schedule.alphas_cumprod[t]
        snr = abar / (1 - abar)
        expected = snr.clamp(max=5.0) / carried(snr)
        got = schedule.min_snr_weights(t, torch.zeros(3), 5.0)
        assert torch.allclose(got.double(), expected, rtol=1e-5)
    assert snr[0] > 5 > snr[2]  # the clamp matters at low noise only


def test_logit_normal_timesteps_follow_their_definition():
    from pixelgen_diffusion.schedule import NoiseSchedule

    schedule = NoiseSchedule(1000, "cosine", "v")
    torch.manual_seed(0)
    got = schedule.training_timesteps(10_000, torch.device("cpu"), "logit-normal", 0.5, 1.2)
    torch.manual_seed(0)
    expected = (torch.sigmoid(0.5 + 1.2 * torch.randn(10_000)) * 1000).long()
    assert torch.equal(got, expected) and got.min() >= 0 and got.max() <= 999
    # the density's median sits at sigmoid(mean); the ends get less than uniform's share
    assert abs(got.float().median() / 1000 - torch.sigmoid(torch.tensor(0.5))) < 0.02
    torch.manual_seed(0)
    uniform = schedule.training_timesteps(10_000, torch.device("cpu"))
    torch.manual_seed(0)
    assert torch.equal(uniform, torch.randint(0, 1000, (10_000,)))  # as before the option
    assert (got < 50).sum() < (uniform < 50).sum() / 2
    with pytest.raises(ValueError, match="unknown timestep density 'beta'"):
        schedule.training_timesteps(1, torch.device("cpu"), "beta")


def test_training_draws_timesteps_from_the_configured_density(monkeypatch):
    from pixelgen_diffusion.schedule import NoiseSchedule

    drawn = []
    real = NoiseSchedule.training_timesteps

    def spy(self, n, device, density="uniform", mean=0.0, std=1.0):
        drawn.append((density, mean, std))
        return real(self, n, device, density, mean, std)

    monkeypatch.setattr(NoiseSchedule, "training_timesteps", spy)
    batch = Batch(torch.rand(4, 4, 16, 16), torch.zeros(4, 16, 16, dtype=torch.long), None)
    default = make().train_step(batch, "base")["loss"]
    uniform = make("diffusion.timestep_density=uniform").train_step(batch, "base")["loss"]
    assert drawn == [("logit-normal", 0.5, 1.0), ("uniform", 0.5, 1.0)]
    assert default != uniform


def test_min_snr_weighted_training_runs_and_differs():
    batch = Batch(torch.rand(4, 4, 16, 16), torch.zeros(4, 16, 16, dtype=torch.long), None)
    plain = make().train_step(batch, "base")["loss"]
    weighted = make("diffusion.loss_weighting=min-snr").train_step(batch, "base")["loss"]
    assert 0 < weighted < plain  # the same draws (seeded), each weight below 1 for v


def test_a_long_run_without_mirror_images_is_warned_that_it_will_copy():
    import warnings as w

    from pixelgen_diffusion.strategy import LONG_WITHOUT_FLIPS

    batch = Batch(torch.rand(4, 4, 16, 16), torch.zeros(4, 16, 16, dtype=torch.long), None)
    for epochs, hflip, warned in [
        (LONG_WITHOUT_FLIPS + 1, "false", True),
        (LONG_WITHOUT_FLIPS, "false", False),
        (3 * LONG_WITHOUT_FLIPS, "true", False),
    ]:
        strategy = make(f"training.epochs={epochs}", f"data.hflip={hflip}")
        with w.catch_warnings(record=True) as caught:
            w.simplefilter("always")
            strategy.train_step(batch, "base")
            strategy.train_step(batch, "base")
        said = [str(c.message) for c in caught if c.category is PixelgenWarning]
        assert len(said) == int(warned), said
        if warned:
            assert said[0].startswith(f"training.epochs={epochs} without mirror images")
            assert "set data.hflip=true" in said[0]


def test_the_ablation_switches_remove_what_they_name():
    """docs/learn/networks.md measures the U-Net without its time embedding and without
    its skips: the first must ignore t, the second keep its parameters but not the skips."""
    from pixelgen_diffusion.unet import UNet

    torch.manual_seed(0)
    x, labels = torch.randn(2, 4, 16, 16), torch.tensor([0, 1])
    blind = UNet((16, 16), [8, 16], 1, num_classes=2, groups=4, time_embedding=False)
    nn.init.normal_(blind.conv_out.weight)  # the output layer starts at zero
    early, late = torch.tensor([10, 10]), torch.tensor([900, 900])
    assert torch.equal(blind(x, early, labels), blind(x, late, labels))

    full = UNet((16, 16), [8, 16], 1, num_classes=2, groups=4)
    nn.init.normal_(full.conv_out.weight)
    cut = UNet((16, 16), [8, 16], 1, num_classes=2, groups=4, skips=False)
    cut.load_state_dict(full.state_dict())  # the same parameters
    assert not torch.equal(full(x, early, labels), cut(x, early, labels))
    assert not torch.equal(full(x, early, labels), full(x, late, labels))
