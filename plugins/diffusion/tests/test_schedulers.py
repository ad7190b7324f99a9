"""The noise process and samplers against an independent implementation: diffusers."""

import numpy as np
import pytest
import torch
from pixelgen_diffusion.samplers import DDIMSampler, DDPMSampler, DPMSolverPP2MSampler
from pixelgen_diffusion.schedule import NoiseSchedule, spaced_timesteps

diffusers = pytest.importorskip("diffusers")

T = 1000
DIFFUSERS_SCHEDULE = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
DIFFUSERS_PREDICTION = {"epsilon": "epsilon", "v": "v_prediction"}


def their(cls, schedule="cosine", prediction="epsilon", exact=True, **kwargs):
    """The diffusers scheduler for the same settings.

    diffusers keeps alpha_bar in float32, whose rounding near t = 0 (1 - alpha_bar ~ 1e-4)
    and near T (alpha_bar ~ 1e-9) exceeds 1e-5 on its own. With `exact`, it gets our float64
    alpha_bar (compared separately below), so the tests check the update rules themselves.
    """
    scheduler = cls(
        num_train_timesteps=T,
        beta_schedule=DIFFUSERS_SCHEDULE[schedule],
        prediction_type=DIFFUSERS_PREDICTION[prediction],
        **kwargs,
    )
    if exact:
        scheduler.alphas_cumprod = NoiseSchedule(T, schedule).alphas_cumprod.clone()
    return scheduler


def stand_in_model(x: torch.Tensor, t: int) -> torch.Tensor:
    """A fixed, smooth function of (x, t): what any network might output."""
    return 0.8 * torch.tanh(x) + 0.1 * torch.sin(x * 3 + t / 100)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_alphas_cumprod_match(schedule):
    ours = NoiseSchedule(T, schedule).alphas_cumprod
    reference = their(diffusers.DDPMScheduler, schedule, exact=False).alphas_cumprod.double()
    assert torch.allclose(ours, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_noising_matches(schedule):
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(6, 4, 8, 8, generator=g) * 2 - 1, torch.randn(6, 4, 8, 8, generator=g)
    t = torch.tensor([0, 1, 250, 500, 998, 999])
    ours = NoiseSchedule(T, schedule)
    reference = their(diffusers.DDPMScheduler, schedule)
    assert torch.allclose(
        ours.add_noise(x0, noise, t), reference.add_noise(x0, noise, t), atol=1e-5
    )
    assert torch.allclose(
        ours.velocity(x0, noise, t), reference.get_velocity(x0, noise, t), atol=1e-5
    )


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
@pytest.mark.parametrize("steps", [10, 50, 30, 1000])
def test_timestep_arrays_match_diffusers(spacing, steps):
    reference = their(diffusers.DDIMScheduler, timestep_spacing=spacing)
    reference.set_timesteps(steps)
    assert spaced_timesteps(T, steps, spacing).tolist() == reference.timesteps.tolist()


def test_exact_timestep_arrays():
    assert spaced_timesteps(1000, 10, "trailing").tolist() == [
        999,
        899,
        799,
        699,
        599,
        499,
        399,
        299,
        199,
        99,
    ]
    assert spaced_timesteps(1000, 10, "leading").tolist() == [
        900,
        800,
        700,
        600,
        500,
        400,
        300,
        200,
        100,
        0,
    ]
    assert spaced_timesteps(1000, 4, "linspace").tolist() == [999, 666, 333, 0]
    assert spaced_timesteps(1000, 3, "trailing").tolist() == [999, 666, 332]


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_one_ddim_step_matches(prediction, eta):
    ours = DDIMSampler(NoiseSchedule(T, "cosine", prediction), eta=eta)
    ours.set_timesteps(50)
    reference = their(diffusers.DDIMScheduler, prediction=prediction, timestep_spacing="trailing")
    reference.set_timesteps(50)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 8, 8, generator=g)
    for t in (999, 499, 19):  # 19 is the last step: it must land on alpha_bar = 1
        out = stand_in_model(x, t)
        mine = ours.step(out, t, x, torch.Generator().manual_seed(5))
        theirs = reference.step(
            out,
            t,
            x,
            eta=eta,
            use_clipped_model_output=True,
            generator=torch.Generator().manual_seed(5),
        ).prev_sample
        assert torch.allclose(mine, theirs, atol=1e-5), (t, (mine - theirs).abs().max())


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_dpm_solver_steps_and_full_loop_match(prediction):
    ours = DPMSolverPP2MSampler(NoiseSchedule(T, "cosine", prediction), clip_sample=False)
    ours.set_timesteps(15)
    reference = their(
        diffusers.DPMSolverMultistepScheduler,
        prediction=prediction,
        timestep_spacing="trailing",
        final_sigmas_type="zero",
        solver_order=2,
    )
    reference.set_timesteps(15)
    assert ours.timesteps.tolist() == reference.timesteps.tolist()
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    a, b = x.clone(), x.clone()
    for i, t in enumerate(ours.timesteps.tolist()):
        a_next = ours.step(stand_in_model(a, t), t, a)
        b_next = reference.step(stand_in_model(b, t), t, b).prev_sample
        assert torch.allclose(a_next, b_next, atol=1e-5), (i, (a_next - b_next).abs().max())
        a, b = a_next, b_next


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_full_deterministic_ddim_loop_matches(prediction):
    ours = DDIMSampler(NoiseSchedule(T, "linear", prediction), eta=0.0)
    ours.set_timesteps(25)
    reference = their(diffusers.DDIMScheduler, "linear", prediction, timestep_spacing="trailing")
    reference.set_timesteps(25)
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    a, b = x.clone(), x.clone()
    for t in ours.timesteps.tolist():
        a = ours.step(stand_in_model(a, t), t, a)
        b = reference.step(stand_in_model(b, t), t, b, use_clipped_model_output=True).prev_sample
    assert torch.allclose(a, b, atol=1e-5)


def test_ddpm_step_matches_diffusers_with_all_steps():
    ours = DDPMSampler(NoiseSchedule(T, "linear", "epsilon"))
    ours.set_timesteps()
    assert ours.timesteps.tolist() == list(range(999, -1, -1))
    reference = their(diffusers.DDPMScheduler, "linear", "epsilon")
    reference.set_timesteps(T)
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(4))
    for t in (999, 500, 1, 0):
        out = stand_in_model(x, t)
        mine = ours.step(out, t, x, torch.Generator().manual_seed(7))
        theirs = reference.step(out, t, x, generator=torch.Generator().manual_seed(7)).prev_sample
        assert torch.allclose(mine, theirs, atol=1e-5), t


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
@pytest.mark.parametrize("sampler", [DDIMSampler, DDPMSampler, DPMSolverPP2MSampler])
def test_the_true_noise_recovers_x0(prediction, sampler):
    """A model that outputs the exact eps (or v) for one x_0 must lead every sampler to it."""
    schedule = NoiseSchedule(T, "cosine", prediction)
    x0 = torch.rand(1, 4, 8, 8, generator=torch.Generator().manual_seed(5)) * 1.6 - 0.8

    def oracle(x, t):
        a = schedule.abar(t)
        eps = (x - a**0.5 * x0) / (1 - a) ** 0.5
        return eps if prediction == "epsilon" else a**0.5 * eps - (1 - a) ** 0.5 * x0

    runner = sampler(schedule)
    runner.set_timesteps(20)
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(6))
    g = torch.Generator().manual_seed(8)
    for t in runner.timesteps.tolist():
        x = runner.step(oracle(x, t), t, x, g)
    assert torch.allclose(x, x0, atol=1e-4)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="unknown beta schedule"):
        NoiseSchedule(T, "quadratic")
    with pytest.raises(ValueError, match="unknown prediction"):
        NoiseSchedule(T, "cosine", "x0")
    with pytest.raises(ValueError, match="steps must be between"):
        spaced_timesteps(T, 0)
    with pytest.raises(ValueError, match="unknown timestep spacing"):
        spaced_timesteps(T, 10, "random")
    assert np.all(np.diff(spaced_timesteps(T, 7, "trailing")) < 0)
