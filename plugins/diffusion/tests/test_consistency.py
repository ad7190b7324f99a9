"""Consistency tuning: its gap schedule, its DDIM jump, its stage, its sampler, and that
it really turns a one-step blur into a sprite."""

import warnings

import pytest
import torch
from pixelgen_diffusion import consistency
from pixelgen_diffusion.samplers import ConsistencySampler
from pixelgen_diffusion.schedule import NoiseSchedule
from pixelgen_diffusion.testing import TINY

from pixelgen_core import Batch, ConfigError, DataInfo, NotReady, PixelgenWarning
from pixelgen_core.testing import PALETTE, invoke, make_strategy, sample


def make(*overrides, classes=3, size=16):
    info = DataInfo(size, PALETTE, classes, 8)
    return make_strategy("diffusion", [*TINY, "sampling.steps=4", *overrides], info)


def test_consistency_timesteps_start_at_t_max_then_mid_t():
    sampler = ConsistencySampler(NoiseSchedule(1000), mid_t=600)
    expected = {1: [999], 2: [999, 600], 3: [999, 600, 300], 4: [999, 600, 400, 200]}
    for steps, timesteps in expected.items():
        sampler.set_timesteps(steps)
        assert sampler.timesteps.tolist() == timesteps
    with pytest.raises(ValueError, match="steps must be between 1 and 601"):
        sampler.set_timesteps(602)


def test_a_consistency_step_keeps_its_noise_with_eta_0_and_draws_it_afresh_with_eta_1():
    """Given a perfect model's output at T - 1, eta = 0 lands on the same sprite noised
    with the same noise at mid_t (one trajectory); eta = 1 noises it with new noise
    (Song et al.'s multistep sampling). The last step returns the x_0."""
    schedule = NoiseSchedule(1000)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(64, 4, 8, 8, generator=g) * 2 - 1
    noise = torch.randn(64, 4, 8, 8, generator=g)
    at = {t: torch.full((64,), t) for t in (999, 800)}
    v = schedule.velocity(x0, noise, at[999])
    x_t = schedule.add_noise(x0, noise, at[999])
    landed, samplers = {}, {}
    for eta in (0.0, 1.0):
        samplers[eta] = ConsistencySampler(schedule, mid_t=800, eta=eta)
        samplers[eta].set_timesteps(2)
        landed[eta] = samplers[eta].step(v, 999, x_t, torch.Generator().manual_seed(1))
    assert torch.allclose(landed[0.0], schedule.add_noise(x0, noise, at[800]), atol=1e-4)
    last = samplers[0.0].step(schedule.velocity(x0, noise, at[800]), 800, landed[0.0])
    assert torch.allclose(last, x0, atol=1e-4)
    a = schedule.abar(800)
    drawn = (landed[1.0] - a**0.5 * x0) / (1 - a) ** 0.5
    assert abs(float(drawn.std()) - 1) < 0.05
    assert abs(float(torch.corrcoef(torch.stack([drawn.flatten(), noise.flatten()]))[0, 1])) < 0.05


def test_gap_starts_at_the_clean_end_and_halves_each_phase():
    t = torch.tensor([0, 1, 2, 7, 500, 999])
    assert consistency.gap_start(t, 0).tolist() == [-1] * 6  # phase 0: plain denoising
    assert consistency.gap_start(t, 1).tolist() == [-1, 0, 0, 3, 249, 499]
    assert consistency.gap_start(t, 3).tolist() == [-1, 0, 1, 6, 437, 874]
    assert (consistency.gap_start(t, 10) == t - 1).all()  # never less than one step
    assert [consistency.phase_of(s, 100, 4) for s in (0, 24, 25, 99, 100, 500)] == [
        0,
        0,
        1,
        3,
        3,
        3,
    ]


def test_ddim_jump_ends_at_x0_and_stays_put_for_no_gap():
    schedule = NoiseSchedule(1000)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(3, 4, 8, 8, generator=g) * 2 - 1, torch.randn(3, 4, 8, 8, generator=g)
    t = torch.tensor([10, 400, 999])
    x_t = schedule.add_noise(x0, noise, t)
    assert torch.allclose(consistency.ddim_jump(schedule, x0, x_t, t, torch.full_like(t, -1)), x0)
    assert torch.allclose(consistency.ddim_jump(schedule, x0, x_t, t, t), x_t, atol=1e-5)
    r = torch.tensor([5, 100, 500])  # with the true x_0, the jump lands on the same noise
    assert torch.allclose(
        consistency.ddim_jump(schedule, x0, x_t, t, r), schedule.add_noise(x0, noise, r), atol=1e-4
    )
    v = schedule.velocity(x0, noise, t)
    assert torch.allclose(consistency.x0_from_v(schedule, v, x_t, t), x0, atol=1e-5)


def test_stages_follow_training_stage():
    def stages(*overrides):
        return [(s.name, s.epochs) for s in make(*overrides).stages()]

    cleaner = ("cleaner", 1)  # TINY's epochs; first, and with the base stage
    assert stages() == [cleaner, ("base", 220), ("consistency", 30)]
    assert stages("consistency.share=0") == [cleaner, ("base", 250)]
    assert stages("training.epochs=1") == [cleaner, ("base", 1), ("consistency", 1)]
    assert stages("training.epochs=100", "consistency.share=0.25") == [
        cleaner,
        ("base", 75),
        ("consistency", 25),
    ]
    assert stages("cleaner.epochs=0")[0] == ("cleaner", 0)  # kept, so a resume's stage fits
    with pytest.raises(ConfigError, match="tunes a trained run: give resume"):
        stages("training.stage=consistency")  # nothing trained to tune
    trained = make("training.stage=consistency")
    trained.ema_updates = 1  # as a resumed run's
    assert [(s.name, s.epochs) for s in trained.stages()] == [
        ("cleaner", 0),
        ("base", 0),
        ("consistency", 30),
    ]
    assert stages("training.stage=base") == [cleaner, ("base", 220), ("consistency", 0)]
    with pytest.raises(ConfigError, match="training.stage=consistency needs consistency.share"):
        make("training.stage=consistency", "consistency.share=0").stages()
    with pytest.raises(ConfigError, match="needs diffusion.prediction=v"):
        make("diffusion.prediction=epsilon")
    make("diffusion.prediction=epsilon", "consistency.share=0")  # fine without the stage


def test_the_time_budget_leaves_the_cleaner_its_share_first():
    shares = [s.time_share for s in make("consistency.share=0.2").stages()]
    assert shares == pytest.approx([0.25, 0.25 + 0.75 * 0.8, 1.0])


def test_a_mid_t_past_the_schedule_is_clamped_with_a_warning():
    with pytest.warns(PixelgenWarning, match="the second step starts at 498 instead"):
        strategy = make("diffusion.timesteps=500")  # consistency.mid_t stays 800
    strategy.consistency_steps = 1  # as a tuned run's
    assert list(strategy.make_sampler("consistency", 2).timesteps) == [499, 498]
    with pytest.raises(
        ConfigError, match=r"^steps must be between 1 and 499 \(consistency.mid_t \+ 1\), got 500"
    ):
        strategy.make_sampler("consistency", 500)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make("diffusion.timesteps=500", "consistency.mid_t=300")
        make("diffusion.timesteps=500", "consistency.share=0")  # no stage, nothing to warn


def test_untuned_runs_refuse_the_consistency_sampler_and_old_checkpoints_load():
    strategy = make()
    with pytest.raises(NotReady, match="no consistency tuning"):
        sample(strategy, 1, torch.Generator(), sampler="consistency", steps=1)
    state = strategy.state_dict()
    for key in ("consistency", "consistency_ema"):
        del state["modules"][key]  # a run saved before the stage existed
    del state["extra"]["consistency_steps"]
    again = make()
    again.load_state_dict(state)
    assert again.consistency_steps == 0
    with pytest.raises(ConfigError, match="^steps must be between 1 and 801"):
        again.consistency_steps = 1
        sample(again, 1, torch.Generator(), sampler="consistency", steps=900)


def test_the_student_starts_as_the_teacher_and_only_it_moves():
    strategy = make("consistency.lr=0.01")
    batch = Batch(torch.rand(4, 4, 16, 16), torch.zeros(4, 16, 16, dtype=torch.long), None)
    strategy.train_step(batch, "base")
    teacher = {k: v.clone() for k, v in strategy.modules["ema"].state_dict().items()}
    unet = {k: v.clone() for k, v in strategy.modules["unet"].state_dict().items()}
    metrics = strategy.train_step(batch, "consistency")
    assert metrics["loss"] >= 0 and strategy.consistency_steps == 1
    for name, frozen in (("ema", teacher), ("unet", unet)):
        after = strategy.modules[name].state_dict()
        assert all(torch.equal(after[k], v) for k, v in frozen.items()), name
    key = "conv_in.weight"
    student = strategy.modules["consistency"].state_dict()[key]
    average = strategy.modules["consistency_ema"].state_dict()[key]
    assert not torch.equal(student, teacher[key])  # one AdamW step from the teacher
    # the EMA (decay 0.95) moved 5% of the way from the teacher to the student
    assert torch.allclose(average, teacher[key] + 0.05 * (student - teacher[key]), atol=1e-6)


def test_consistency_sampling_makes_one_unguided_pass_per_step():
    strategy = make("model.detail=false")  # one draw: no sprite drawn again for its level
    strategy.consistency_steps = 1
    calls = []
    net = strategy.modules["consistency_ema"]
    handle = net.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    sample(strategy, 3, torch.Generator(), label=1, sampler="consistency", steps=3)
    handle.remove()
    assert calls == [3, 3, 3]  # guidance was learned in tuning: no unconditional pass


def test_the_teacher_is_guided_for_labelled_sprites_at_low_noise():
    strategy = make("consistency.guidance_scale=3.0", "sampling.guidance_max_t=500")
    calls = []
    net = strategy.modules["ema"]
    handle = net.register_forward_hook(lambda m, args, out: calls.append(args[2].tolist()))
    x = torch.randn(3, 4, 16, 16)
    # conditions are class * 3 + detail level, class 3 the null class: (0, 0), (1, 1), (null, 0)
    strategy._teacher(x, torch.tensor([999, 400, 100]), torch.tensor([0, 4, 9]))
    handle.remove()
    # one batch: conditional, then unconditional (the null class, each sprite's level kept)
    assert calls == [[0, 4, 9, 9, 10, 9]]


def test_consistency_tuning_makes_one_step_land_where_the_ode_ends():
    """Sprites of one flat grey level each, from black to white. One denoiser step from
    pure noise lands near their average grey; the ODE (50 DDIM steps) spreads the levels
    out. After tuning, one step lands near where the ODE ends from the same noise."""
    strategy = make(
        "model.channels=[16,32]",
        "model.groups=8",
        # dropout 0.1 and the uniform draw of t: the toy teacher the bounds were measured on
        "model.dropout=0.1",
        "training.lr=0.003",
        "diffusion.ema_decay=0.9",
        "diffusion.timestep_density=uniform",
        "training.precision=fp32",
        "training.epochs=240",
        "consistency.share=0.5",  # 120 epochs of 8 sprites: a batch each, 30 steps a phase
        "consistency.lr=0.001",
        "model.palette_head=false",  # grey levels, not palette colours: compare RGBA
        classes=0,
        size=8,
    )
    levels = torch.linspace(0, 1, 8).view(8, 1, 1, 1).expand(8, 4, 8, 8).contiguous()
    batch = Batch(levels, torch.zeros(8, 8, 8, dtype=torch.long), None)
    torch.manual_seed(0)
    for _ in range(200):
        strategy.train_step(batch, "base")

    def draw(**options) -> torch.Tensor:
        strategy.eval()
        drawn = sample(strategy, 16, torch.Generator().manual_seed(1), precision="fp32", **options)
        strategy.train()
        return drawn

    def spread(drawn: torch.Tensor) -> float:
        return float(drawn.mean(dim=(1, 2, 3)).std())

    ode = draw(ddim_steps=50)
    untuned = draw(ddim_steps=1)
    for _ in range(120):
        strategy.train_step(batch, "consistency")
    tuned = draw(sampler="consistency", steps=1)
    assert (tuned - ode).abs().mean() < 0.7 * (untuned - ode).abs().mean()  # 0.56 measured
    assert spread(tuned) > 1.5 * spread(untuned)
    assert (draw(sampler="consistency", steps=2) - ode).abs().mean() < 0.6 * (
        untuned - ode
    ).abs().mean()


def test_tune_a_trained_run_from_the_command_line(tmp_path):
    small = ["data.dataset=kenney-mono", "data.focused=true", "data.num_classes=4"]
    small += ["training.epochs=1", "training.batch_size=256", "training.grid_size=4"]
    small += ["tracking.enabled=false", "sampling.steps=3", *TINY]
    small += ["training.choose_sampler=0"]  # the choice has its own test, below
    result = invoke("train", "diffusion", "-q", *small, "consistency.share=0")
    assert result.exit_code == 0, result.output
    [ckpt] = list(tmp_path.glob("runs/diffusion/*/checkpoint.pt"))
    result = invoke("sample", "diffusion", "--checkpoint", ckpt, "--sampler", "consistency")
    assert result.exit_code == 1 and "no consistency tuning" in result.output
    result = invoke(
        "train", "diffusion", "-q", "--stage", "consistency", "consistency.share=0.5",
        "--resume", ckpt,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for steps in (1, 2):
        result = invoke(
            "sample", "diffusion", "--checkpoint", ckpt, "--sampler", "consistency",
            "--steps", steps, "--class", 1, "-n", 4, "--out", f"c{steps}",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert (tmp_path / f"c{steps}" / "grid.png").is_file()
    result = invoke("train", "diffusion", "-q", *small, "--stage", "consistency",
                    "consistency.share=0")  # fmt: skip
    assert result.exit_code == 2
    assert "--stage=consistency needs --consistency-share above 0" in result.output
    result = invoke("train", "diffusion", "-q", *small, "--stage", "consistency")
    assert result.exit_code == 2 and "tunes a trained run: give --resume" in result.output
    assert len(list(tmp_path.glob("runs/diffusion/*"))) == 1  # no folder for either refusal


def test_training_ends_by_choosing_the_default_sampler_and_auto_draws_with_it(tmp_path):
    import json

    import numpy as np
    from mlflow.tracking import MlflowClient

    import pixelgen_core as pg

    small = ["data.dataset=kenney-mono", "data.focused=true", "data.num_classes=4"]
    small += ["training.epochs=2", "training.batch_size=256", "training.grid_size=4"]
    # without detail levels: an untrained model misses every level it is asked for, and
    # the hold's redraws took half the test's time (the hold has its own tests)
    small += [*TINY, "consistency.share=0.5", "model.detail=false"]
    result = invoke("train", "diffusion", "-q", *small, "training.choose_sampler=16")
    assert result.exit_code == 0, result.output
    [folder] = list(tmp_path.glob("runs/diffusion/*"))
    chosen = json.loads((folder / "run.json").read_text())["sampling"]
    mlflow_run = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(
        json.loads((folder / "run.json").read_text())["mlflow_run_id"]
    )
    assert mlflow_run.data.tags["pixelgen.auto_sampler"] == chosen["name"]
    assert {"choice/consistency_2/fd", "choice/dpmpp_24/pixel_clean"} <= set(
        mlflow_run.data.metrics
    )
    # each as it draws and through its filter; the student's palette is taught by default
    candidates = {"consistency 2", "consistency 2 alone", "dpm++ 24"}
    assert candidates <= set(chosen["scores"]) <= candidates | {f"{c} + filter" for c in candidates}
    assert chosen["name"] in chosen["scores"] and chosen["reason"].startswith(chosen["name"])
    assert f"default sampler (auto): {chosen['reason']}" in result.output
    assert chosen["filter_reason"].startswith("pixel filter ") and chosen["filter_reason"] in (
        result.output
    )
    run = pg.open_run("diffusion", checkpoint=folder / "checkpoint.pt")
    kept = run.sampling_choice.pop("filter")  # its table is in the checkpoint, not run.json
    # and so are, where a filter is kept, the sprites' statistics for tiles and prompts
    statistics = run.sampling_choice.pop("sprite_statistics", None)
    assert run.sampling_choice == chosen  # kept in the checkpoint too
    assert (kept is not None) == chosen["filter_reason"].startswith("pixel filter kept")
    assert (statistics is not None) == (kept is not None)
    auto = run.sample(4, seed=3, filtered=False).rgba
    assert np.array_equal(auto, run.sample(4, seed=3, **chosen["options"]).rgba)
    row = chosen["name"] + (" + filter" if kept is not None else "")
    clean = [name for name, s in chosen["scores"].items() if s["pixel_clean"]]
    assert not clean or row in clean  # never a speckled one over a clean one
    assert all(chosen["scores"][row]["fd"] <= chosen["scores"][c]["fd"] for c in clean)

    # a resume chooses again (the tag may change; a param could not) and keeps the choice
    result = invoke("train", "diffusion", "-q", "--resume", folder, "training.epochs=3",
                    "training.choose_sampler=16")  # fmt: skip
    assert result.exit_code == 0 and "default sampler (auto): " in result.output

    small.append("tracking.enabled=false")
    result = invoke("train", "diffusion", "-q", *small, "training.choose_sampler=0")
    assert result.exit_code == 0 and "default sampler" not in result.output
    [newest] = [f for f in tmp_path.glob("runs/diffusion/*") if f != folder]
    assert json.loads((newest / "run.json").read_text())["sampling"] is None

    # without consistency tuning, DPM-Solver++ alone is a candidate: scored for its filter
    result = invoke("train", "diffusion", "-q", *small, "consistency.share=0",
                    "training.choose_sampler=16")  # fmt: skip
    assert result.exit_code == 0 and "default sampler (auto): dpm++ 24 " in result.output
    [alone] = [f for f in tmp_path.glob("runs/diffusion/*") if f not in (folder, newest)]
    chosen = json.loads((alone / "run.json").read_text())["sampling"]
    assert chosen["name"] == "dpm++ 24" and set(chosen["scores"]) <= {
        "dpm++ 24",
        "dpm++ 24 + filter",
    }
    assert "dpm++ 24" in chosen["scores"] and chosen["filter_reason"]


def test_consistency_sampling_ends_with_one_guided_base_step_at_final_step_t():
    strategy = make("model.detail=false")  # one draw: no sprite drawn again for its level
    strategy.consistency_steps = 1
    calls = []
    net = strategy.modules["ema"]  # the base model's EMA weights: what samples
    handle = net.register_forward_hook(lambda m, args, out: calls.append(args[1].tolist()))
    ended = sample(strategy, 3, torch.Generator().manual_seed(0), label=1, sampler="consistency")
    assert calls == [[200] * 6]  # one pass: conditional and unconditional, at t = 200
    calls.clear()
    plain = sample(
        strategy, 3, torch.Generator().manual_seed(0), label=1, sampler="consistency",
        final_step_t=0,
    )  # fmt: skip
    handle.remove()
    assert calls == [] and not torch.equal(ended, plain)
    with pytest.raises(ConfigError, match="final_step_t ends the consistency sampler"):
        sample(strategy, 2, torch.Generator(), sampler="dpm++", final_step_t=100)
    with pytest.raises(ConfigError, match="final_step_t must be below 1000"):
        sample(strategy, 2, torch.Generator(), sampler="consistency", final_step_t=1000)


def test_mid_t_sets_the_students_second_timestep_for_one_draw():
    strategy = make("model.detail=false")
    strategy.consistency_steps = 1
    calls = []
    net = strategy.modules["consistency_ema"]  # the student's EMA weights: what samples
    handle = net.register_forward_hook(lambda m, args, out: calls.append(args[1].tolist()))
    options = {"sampler": "consistency", "steps": 2, "final_step_t": 0}
    sample(strategy, 2, torch.Generator().manual_seed(0), **options)
    assert calls == [[999, 999], [800, 800]]  # consistency.mid_t
    calls.clear()
    sample(strategy, 2, torch.Generator().manual_seed(0), mid_t=650, **options)
    handle.remove()
    assert calls == [[999, 999], [650, 650]]
    with pytest.raises(ConfigError, match="mid_t is the consistency sampler's second"):
        sample(strategy, 2, torch.Generator(), sampler="dpm++", mid_t=650)
    with pytest.raises(ConfigError, match=r"mid_t must be below the first step's timestep \(999\)"):
        sample(strategy, 2, torch.Generator(), mid_t=999, **options)


def test_a_low_noise_step_noises_to_its_timestep_and_returns_x0_from_a_true_prediction():
    from pixelgen_diffusion.samplers import LowNoiseStep

    schedule = NoiseSchedule(1000, "cosine", "v")
    step = LowNoiseStep(schedule, 200)
    assert step.timesteps.tolist() == [200] and step.previous(200) == -1
    x0 = torch.rand(2, 4, 8, 8) * 1.6 - 0.8
    x_t = step.noise(x0, torch.Generator().manual_seed(1))
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    t = torch.full((2,), 200)
    assert torch.allclose(x_t, schedule.add_noise(x0, eps, t))
    v = schedule.velocity(x0, eps, t)
    assert torch.allclose(step.step(v, 200, x_t), x0, atol=1e-5)
