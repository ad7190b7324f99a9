"""Restart sampling: its timesteps, that a round returns a true x_0 unchanged, and that
`sampling.restarts` runs its rounds after a base sampler and nowhere else."""

import pytest
import torch
from pixelgen_diffusion.samplers import Restart
from pixelgen_diffusion.schedule import NoiseSchedule
from pixelgen_diffusion.testing import TINY

from pixelgen_core import ConfigError, DataInfo
from pixelgen_core.testing import PALETTE, make_strategy, sample


def make(*overrides):
    info = DataInfo(16, PALETTE, 3, 8)
    return make_strategy("diffusion", [*TINY, "model.detail=false", *overrides], info)


def test_restart_timesteps_start_at_restart_t_and_trail_down_to_the_clean_end():
    schedule = NoiseSchedule(1000)
    expected = [500, 458, 417, 375, 333, 291, 249, 208, 166, 124, 83, 41]
    assert Restart(schedule, 500, 12).timesteps.tolist() == expected
    assert Restart(schedule, 300, 3).timesteps.tolist() == [300, 200, 99]
    assert Restart(schedule, 500, 1).timesteps.tolist() == [500]
    assert Restart(schedule, 500, 12).previous(41) == -1  # the last step returns x_0
    with pytest.raises(ConfigError, match=r"restart_steps must be between 1 and 501"):
        Restart(schedule, 500, 502)


def test_a_restart_round_with_a_true_denoiser_returns_its_x0():
    """Noised back and solved down with a network that knows x_0, a round changes
    nothing: restarts only move what the solver or the network got wrong."""
    schedule = NoiseSchedule(1000, "cosine", "v")
    restart = Restart(schedule, 500, 6)
    x0 = torch.rand(2, 4, 8, 8) * 1.6 - 0.8
    x = restart.noise(x0, torch.Generator().manual_seed(1))
    for t in restart.timesteps.tolist():
        a = schedule.abar(t)
        eps = (x - a**0.5 * x0) / (1 - a) ** 0.5
        x = restart.step(a**0.5 * eps - (1 - a) ** 0.5 * x0, t, x)
    assert torch.allclose(x, x0, atol=1e-4)


def test_restarts_run_their_rounds_after_a_base_sampler():
    strategy = make("sampling.steps=4")
    seen = []
    net = strategy.modules["ema"]  # the base model's EMA weights: what samples
    handle = net.register_forward_hook(lambda m, args, out: seen.append(int(args[1][0])))
    plain = sample(strategy, 2, torch.Generator().manual_seed(0), label=1, sampler="dpm++")
    assert seen == [999, 749, 499, 249]
    seen.clear()
    options = {"sampler": "dpm++", "restarts": 2, "restart_t": 300, "restart_steps": 3}
    again = sample(strategy, 2, torch.Generator().manual_seed(0), label=1, **options)
    handle.remove()
    assert seen == [999, 749, 499, 249, 300, 200, 99, 300, 200, 99]
    assert again.shape == plain.shape and not torch.equal(again, plain)


def test_restarts_refuse_what_they_cannot_do():
    strategy = make()
    strategy.consistency_steps = 1
    with pytest.raises(ConfigError, match="restarts are the base model's"):
        sample(strategy, 2, torch.Generator(), sampler="consistency", restarts=2)
    with pytest.raises(ConfigError, match=r"restart_t must be between 1 and 999"):
        sample(strategy, 2, torch.Generator(), sampler="dpm++", restarts=1, restart_t=1000)
    with pytest.raises(ConfigError, match=r"restart_steps must be between 1 and 301"):
        sample(
            strategy, 2, torch.Generator(), sampler="dpm++", restarts=1, restart_t=300,
            restart_steps=302,
        )  # fmt: skip
