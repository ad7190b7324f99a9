"""The Trainer end to end on tiny models: checkpoints, resume, interruption."""

import math
import os
import shutil
import subprocess
import sys

import pytest
import torch
from pixelgen_diffusion.testing import TINY as DIFFUSION_TINY

from pixelgen_core import Stage, checkpoint, drop_labels, split_epochs, stage_plan
from pixelgen_core.config import resolve
from pixelgen_core.errors import PixelgenError
from pixelgen_core.optimisation import batch_size_for
from pixelgen_core.plugins import discover
from pixelgen_core.trainer import Trainer, TrainingInterrupted

TINY = [
    "data.dataset=kenney-mono",
    "data.focused=true",
    "training.batch_size=128",
    "training.grid_size=4",
    "tracking.enabled=false",
]


def config_for(name, *overrides):
    record = discover().get(name)
    return record, resolve(record.spec, overrides=[*TINY, *overrides])


def weights(path):
    return checkpoint.load(path)["state"]["modules"]


def test_training_writes_a_complete_checkpoint_and_grids():
    record, config = config_for(
        "vae", "training.epochs=2", "model.channels=[8,16]", "training.sample_every=1"
    )
    result = Trainer(record, config, quiet=True).fit()
    payload = checkpoint.load(result.checkpoint)
    assert payload["strategy"] == "vae"
    assert payload["plugin"] == {"distribution": "pixelgen-vae", "version": "0.1.0"}
    assert payload["config"] == config and isinstance(payload["config"], dict)
    assert payload["finished"] is True
    steps_per_epoch = -(-payload["data"]["num_sprites"] // 128)
    assert payload["position"] == {"stage": 0, "epoch": 2, "batch": 0, "step": 2 * steps_per_epoch}
    assert payload["state"]["optimizers"]["vae"]["state"]  # Adam moments are saved
    assert len(payload["data"]["palette"]) == 2  # transparent + the mono colour
    grids = sorted(p.name for p in (result.run_dir / "samples").glob("*.png"))
    assert grids == [f"step_{steps_per_epoch:06d}.png", f"step_{2 * steps_per_epoch:06d}.png"]
    assert (result.run_dir / "config.yaml").is_file()


def test_a_null_batch_size_follows_the_sprite_size():
    """About 16,384 pixels a batch, 8 to 64 sprites; a number stays the user's."""
    sides = (8, 16, 24, 32, 64, 128)
    assert [batch_size_for(None, s, s) for s in sides] == [64, 64, 28, 16, 8, 8]
    assert batch_size_for(None, 16, 32) == 32 and batch_size_for(12, 32, 32) == 12
    record, config = config_for("pixel-prior", "training.epochs=1", "training.batch_size=null")
    payload = checkpoint.load(Trainer(record, config, quiet=True).fit().checkpoint)
    assert payload["config"]["training"]["batch_size"] is None  # resumes follow the size too
    assert payload["position"]["step"] == -(-payload["data"]["num_sprites"] // 64)


def test_resume_with_more_epochs_continues_from_the_checkpoint():
    record, config = config_for("pixel-prior", "training.epochs=1")
    first = Trainer(record, config, quiet=True).fit()
    payload = checkpoint.load(first.checkpoint)
    more = resolve(record.spec, overrides=["training.epochs=2"], base=payload["config"])
    second = Trainer(record, more, quiet=True, resume=payload).fit()
    assert second.run_dir == first.run_dir
    assert second.steps == 2 * first.steps


def test_resuming_a_finished_run_with_nothing_left_says_so_and_writes_nothing():
    record, config = config_for("pixel-prior", "training.epochs=1")
    first = Trainer(record, config, quiet=True).fit()
    before = first.checkpoint.read_bytes(), sorted(first.run_dir.rglob("*"))
    payload = checkpoint.load(first.checkpoint)
    with pytest.raises(
        PixelgenError, match=r"already trained all its 1 epochs.*training.epochs=2\)"
    ):
        Trainer(record, config, quiet=True, resume=payload).fit()
    assert (first.checkpoint.read_bytes(), sorted(first.run_dir.rglob("*"))) == before
    # a run stopped early by its time budget is finished too, yet has epochs left to train
    payload["position"] = {"stage": 0, "epoch": 0, "batch": 1, "step": 1}
    resumed = Trainer(record, config, quiet=True, resume=payload).fit()
    assert resumed.steps == first.steps


def test_an_interrupted_run_resumes_to_the_same_weights(monkeypatch):
    from pixelgen_pixelprior.strategy import PixelPrior

    record, config = config_for("pixel-prior", "training.epochs=3", "training.batch_size=64")
    straight = Trainer(record, config, quiet=True).fit()

    original = PixelPrior.train_step
    calls = {"n": 0}

    def interrupt_on_fifth(self, batch, stage, *rest):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, batch, stage, *rest)

    monkeypatch.setattr(PixelPrior, "train_step", interrupt_on_fifth)
    with pytest.raises(TrainingInterrupted, match="--resume") as info:
        Trainer(record, config, quiet=True).fit()
    assert info.value.exit_code == 130
    monkeypatch.setattr(PixelPrior, "train_step", original)
    [path] = [
        p for p in (straight.run_dir.parent).glob("*/checkpoint.pt") if p != straight.checkpoint
    ]
    saved = checkpoint.load(path)
    assert saved["finished"] is False
    assert saved["position"] == {"stage": 0, "epoch": 0, "batch": 4, "step": 4}

    resumed = Trainer(record, config, quiet=True, resume=saved).fit()
    assert resumed.steps == straight.steps
    a, b = weights(straight.checkpoint)["prior"], weights(resumed.checkpoint)["prior"]
    # Not bitwise: CPU index backward accumulates in a thread-dependent order (~1e-10 apart
    # between two identical runs), far below what a skipped or repeated batch changes.
    assert torch.allclose(a["logits"], b["logits"], rtol=0, atol=1e-6)
    partial = saved["state"]["modules"]["prior"]["logits"]
    assert not torch.allclose(a["logits"], partial, rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    "every, saved_epochs",
    [(10, [1, 4, 7, 8]), (0, [1, 2, 3, 4, 5, 6, 7, 8]), (1000, [1, 8])],
)
def test_checkpoints_are_written_by_time_at_epoch_ends(monkeypatch, every, saved_epochs):
    """One step an epoch, four (fake) seconds a step: the first epoch saves, then each
    epoch end once `training.checkpoint_seconds` passed since the last save, then the
    last epoch and the finished run."""
    from pixelgen_pixelprior.strategy import PixelPrior

    from pixelgen_core import trainer

    steps, saved = [], []
    original, save = PixelPrior.train_step, checkpoint.save

    def step(self, batch, stage, *rest):
        steps.append(stage)
        return original(self, batch, stage, *rest)

    def record_save(payload, path):
        saved.append((payload["position"]["epoch"], payload["finished"]))
        save(payload, path)

    monkeypatch.setattr(PixelPrior, "train_step", step)
    monkeypatch.setattr(checkpoint, "save", record_save)
    monkeypatch.setattr(trainer, "clock", lambda: 4.0 * len(steps))
    record, config = config_for(
        "pixel-prior",
        "training.epochs=8",
        "training.batch_size=65536",
        f"training.checkpoint_seconds={every}",
    )
    result = Trainer(record, config, quiet=True).fit()
    assert len(steps) == 8  # one batch an epoch, as the fake clock assumes
    assert saved == [(epoch, False) for epoch in saved_epochs] + [(8, True)]
    assert checkpoint.load(result.checkpoint)["position"]["epoch"] == 8


@pytest.mark.skipif(shutil.which("pixelgen") is None, reason="pixelgen script not installed")
def test_torchrun_trains_data_parallel_on_two_cpu_ranks(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += ["--nproc-per-node", "2", "--no-python", "pixelgen", "train", "vae", "-q", *TINY]
    cmd += ["training.epochs=2", "training.device=cpu", "training.sample_every=1"]
    cmd += ["model.channels=[8,16]"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    [run] = list((tmp_path / "runs" / "vae").iterdir())  # one run folder: rank 0 only
    payload = checkpoint.load(run / "checkpoint.pt")
    steps_per_rank_epoch = math.ceil(math.ceil(payload["data"]["num_sprites"] / 2) / 128)
    assert payload["position"]["step"] == 2 * steps_per_rank_epoch
    assert out.stdout.count("trained vae") == 2  # both ranks finished
    assert len(list((run / "samples").glob("*.png"))) == 2  # grids drawn from the DDP-wrapped VAE


DUMP_EVERY_RANK = """
import atexit, os, torch
from pixelgen_core import strategy
made = []
init = strategy.Strategy.__init__
def keep(self, *a, **k):
    init(self, *a, **k); made.append(self)
strategy.Strategy.__init__ = keep
@atexit.register
def dump():
    if made:
        state = {k: m.state_dict() for k, m in made[-1].modules.items()}
        torch.save(state, f"modules{os.environ['RANK']}.pt")
"""


@pytest.mark.skipif(shutil.which("pixelgen") is None, reason="pixelgen script not installed")
def test_under_torchrun_core_keeps_every_rank_s_weights_and_averages_identical(tmp_path):
    """Diffusion's loss is all it writes: core wraps the stage's trained module for
    data-parallel training (the outline cleaner, the base U-Net, then the consistency
    student), steps it,
    clips and updates both EMAs. Ranks train on different shards, so any module trained
    without gradient averaging, or an average updated from the wrong weights, differs."""
    (tmp_path / "sitecustomize.py").write_text(DUMP_EVERY_RANK)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tmp_path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
    cmd += ["2", "--no-python", "pixelgen", "train", "diffusion", "-q", *TINY]
    cmd += ["training.epochs=2", "training.device=cpu", "training.precision=fp32"]
    cmd += [*DIFFUSION_TINY, "consistency.share=0.5"]  # its U-Net and cleaner tiny too
    cmd += ["training.choose_sampler=0", "training.batch_size=32"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    ranks = [torch.load(tmp_path / f"modules{r}.pt", weights_only=True) for r in (0, 1)]
    assert set(ranks[0]) == {"cleaner", "unet", "ema", "consistency", "consistency_ema"}
    for key, state in ranks[0].items():
        for name, value in state.items():
            assert torch.equal(value, ranks[1][key][name]), f"{key}.{name} differs between ranks"
    trained = ranks[0]
    for a, b in [("unet", "ema"), ("ema", "consistency"), ("consistency", "consistency_ema")]:
        assert any(not torch.equal(trained[a][k], trained[b][k]) for k in trained[a]), (a, b)


def test_a_strategy_that_cannot_sample_yet_trains_without_grids(monkeypatch):
    from pixelgen_core import NotReady

    record, config = config_for("pixel-prior", "training.epochs=2", "training.sample_every=1")
    cls = record.spec.load_class()

    def not_yet(self, draw):
        raise NotReady("no prior yet")

    monkeypatch.setattr(cls, "sample", not_yet)
    result = Trainer(record, config, quiet=True).fit()
    assert checkpoint.load(result.checkpoint)["finished"] is True
    assert not list((result.run_dir / "samples").glob("*.png"))


def test_drop_labels_replaces_each_label_with_the_null_class_at_rate_p():
    labels = torch.arange(4).repeat(2500)
    assert torch.equal(drop_labels(labels, 0.0, 9), labels)
    assert (drop_labels(labels, 1.0, 9) == 9).all()
    torch.manual_seed(0)
    dropped = drop_labels(labels, 0.25, 9)
    kept = dropped != 9
    assert torch.equal(dropped[kept], labels[kept])  # the rest are untouched
    assert abs((~kept).float().mean().item() - 0.25) < 0.02
    torch.manual_seed(0)
    assert torch.equal(drop_labels(labels, 0.25, 9), dropped)  # the global RNG decides


def test_a_stage_with_a_time_share_hands_the_rest_of_the_budget_to_the_next(monkeypatch):
    """Two endless stages and a 1.2 s budget: the first stops at its half (mid-epoch),
    the second starts at batch 0 and runs to the end of the budget."""
    import time

    from pixelgen_pixelprior.strategy import PixelPrior

    from pixelgen_core import Stage

    seen = []
    original = PixelPrior.train_step

    def timed(self, batch, stage, *rest):
        seen.append((stage, time.perf_counter()))
        time.sleep(0.01)
        return original(self, batch, stage, *rest)

    monkeypatch.setattr(
        PixelPrior, "stages", lambda self: [Stage("a", 10**6, 0.5), Stage("b", 10**6)]
    )
    monkeypatch.setattr(PixelPrior, "train_step", timed)
    record, config = config_for(
        "pixel-prior", "training.batch_size=4", "training.time_budget_minutes=0.02"
    )
    result = Trainer(record, config, quiet=True).fit()
    start = seen[0][1]
    first_b = next(i for i, (stage, _) in enumerate(seen) if stage == "b")
    assert {stage for stage, _ in seen[:first_b]} == {"a"}
    assert {stage for stage, _ in seen[first_b:]} == {"b"}
    assert 0.2 < seen[first_b][1] - start < 0.9  # at half of the 1.2 s budget
    assert seen[-1][1] - start > 1.0  # b had the rest of the budget
    payload = checkpoint.load(result.checkpoint)
    assert payload["finished"] and payload["position"]["stage"] == 1
    assert payload["position"]["batch"] == len(seen) - first_b  # b started at batch 0


def test_split_epochs_rounds_shares_and_gives_every_stage_an_epoch():
    assert split_epochs(270, [0.55, 0.45]) == [148, 122]
    assert split_epochs(440, [0.91, 0.09]) == [400, 40]
    assert split_epochs(1, [0.5, 0.5]) == [1, 1]  # a run of "1 epoch" trains each stage once
    assert split_epochs(3, [0.1, 0.1, 0.8]) == [1, 1, 2]


def test_stage_plan_splits_the_run_and_the_budget_by_share():
    both = stage_plan([("a", 0.75, True), ("b", 0.25, True)], 100)
    assert both == [Stage("a", 75, 0.75), Stage("b", 25, 1.0)]
    # One stage alone: the epochs it has in a whole run, and all of the time budget.
    assert stage_plan([("a", 0.75, False), ("b", 0.25, True)], 100) == [
        Stage("a", 0, 0.0),
        Stage("b", 25, 1.0),
    ]
    assert stage_plan([("a", 0.75, True), ("b", 0.25, False)], 100) == [
        Stage("a", 75, 1.0),
        Stage("b", 0, 1.0),
    ]
    three = stage_plan([("a", 0.5, True), ("b", 0.25, False), ("c", 0.25, True)], 8)
    assert [s.epochs for s in three] == [4, 0, 2]
    assert [round(s.time_share, 3) for s in three] == [0.667, 0.667, 1.0]
