"""Evaluation end to end: calibration ordering on real data, the commands, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pixelgen_diffusion.testing import TINY as DIFFUSION_TINY

from pixelgen_core.cli import cli
from pixelgen_core.config import resolve
from pixelgen_core.data.prepare import prepare
from pixelgen_core.evaluation import metrics
from pixelgen_core.evaluation.encoder import WEIGHTS, embed, load_encoder
from pixelgen_core.evaluation.report import (
    LIMIT_SPLITS,
    PIXEL_STATS,
    RESOLUTION,
    Reference,
    Verdict,
    judge,
    markdown_table,
    pixel_limits,
)
from pixelgen_core.plugins import discover

TINY = ["data.dataset=kenney-mono", "data.focused=true", "training.epochs=1"]
TINY += ["training.batch_size=128", "training.grid_size=4", "model.channels=[8,16]"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def reference():
    config = resolve(discover().get("vae").spec, overrides=["data.dataset=kenney-colored"])
    return Reference(prepare(config, conditional=False), seed=0)


def test_the_shipped_encoder_is_small_and_standardised():
    path = Path(__file__).parents[1] / "pixelgen_core" / "evaluation" / WEIGHTS
    assert path.stat().st_size < 2_000_000
    encoder = load_encoder()
    assert encoder.feature_std.min() > 0
    blank = np.zeros((2, 16, 16, 4), dtype=np.uint8)
    assert embed(blank).shape == (2, 128)
    assert embed(np.zeros((1, 32, 32, 4), dtype=np.uint8)).shape == (1, 128)  # resized


@pytest.fixture(scope="module")
def calibration(reference):
    rows = reference.calibration_rows(300)
    judge(rows, rows[0], reference.limits(300))  # as evaluate judges
    return {row.name: row for row in rows}


def test_pixel_verdict_passes_real_sprites_and_catches_speckle(calibration):
    data, speckled = calibration["data (held-out half)"], calibration["speckled data (2%)"]
    assert data.verdict.clean and calibration["training copies"].verdict.clean
    assert not calibration["palette noise"].verdict.clean
    # Two specks in a sprite of ~80 opaque pixels: FD cannot tell them from the real
    # sprites, each per-sprite count can, far outside the real sprites' spread.
    assert abs(speckled.metrics["fd"] - data.metrics["fd"]) < data.metrics["fd_sd"]
    assert speckled.verdict.failed == ["isolated", "colours", "components"]
    for key in ("isolated", "colours", "components"):
        gap = speckled.metrics[f"{key}_w1"] - data.metrics[f"{key}_w1"]
        assert gap > 4 * max(data.metrics[f"{key}_w1_sd"], RESOLUTION[key])
    assert speckled.metrics["colours_per_sprite"] > 2 > data.metrics["colours_per_sprite"]


def bumped(sprites: np.ndarray, bumps: int, seed: int) -> np.ndarray:
    """Each sprite with `bumps` one-pixel bumps on its outline: a clear pixel with exactly
    one opaque 4-neighbour, itself joined to two or more of its colour (an edge, not a
    speck), takes that neighbour's colour. No speck, colour or region is added: only the
    outline gets ragged."""
    rng = np.random.default_rng(seed)
    out = sprites.copy()
    for sprite in out:
        joined = np.pad(metrics._same_colour_neighbours(sprite[None])[0], 1)
        padded = np.pad(sprite, 1)
        sides = [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
        edges = [joined[:-2, 1:-1], joined[2:, 1:-1], joined[1:-1, :-2], joined[1:-1, 2:]]
        touching = sum((side > 0).astype(int) for side in sides)
        on_edge = sum(
            ((side > 0) & (edge >= 2)).astype(int) for side, edge in zip(sides, edges, strict=True)
        )
        ys, xs = np.nonzero((sprite == 0) & (touching == 1) & (on_edge == 1))
        for k in rng.choice(len(ys), size=min(bumps, len(ys)), replace=False):
            y, x = ys[k], xs[k]
            sprite[y, x] = max(side[y, x] for side in sides)
    return out


def test_the_verdict_catches_ragged_outlines_that_the_speck_counts_miss(reference, calibration):
    """Three one-pixel bumps on each real sprite's outline: only notches see them."""
    assert (
        calibration["data (held-out half)"].metrics["notches_w1"] < reference.limits(300)["notches"]
    )
    held, _ = reference.splits[0]
    rough = bumped(reference.training[held[:300]], 3, seed=0)
    distances = reference.pixel_distances(reference.sprite_stats(rough, None), 0)
    verdict = Verdict(reference.limits(300), {k: distances[f"{k}_w1"] for k in PIXEL_STATS})
    assert verdict.failed == ["notches"]
    assert distances["notches_w1"] > 2 * verdict.limits["notches"]


def test_the_limits_are_the_data_rows_spread_over_more_splits_than_the_repeats(reference):
    """The data row costs no draws, so the verdict's limits are measured over
    LIMIT_SPLITS half-splits: from three repeats they swing with the data seed (the end of
    training's choice judged clean draws unclean by it), from twenty they hardly move."""
    data = reference.data
    references = [Reference(data, seed=s, repeats=3) for s in range(4)]
    wide = [r.limits(256)["components"] for r in references]
    narrow = [pixel_limits(r.data_row(256))["components"] for r in references]
    assert max(wide) - min(wide) < (max(narrow) - min(narrow)) / 10
    assert references[0].limits(256) == Reference(data, 0, LIMIT_SPLITS).limits(256)
    own = pixel_limits(Reference(data, 0, LIMIT_SPLITS).data_row(256))
    assert references[0].limits(256) == pytest.approx(own)  # the same rule, more splits


def test_speckled_sprites_differ_from_the_real_ones_in_two_percent_of_opaque_pixels(reference):
    held = reference.training[reference.splits[1][0][:50]]
    speckled = reference.speckled(1, 50)
    for real, specked in zip(held, speckled, strict=True):
        changed = real != specked
        assert (real[changed] > 0).all() and (specked[changed] > 0).all()  # recoloured
        assert changed.sum() == max(1, round(0.02 * (real > 0).sum()))
    assert np.array_equal(speckled, reference.speckled(1, 50))  # seeded


def test_calibration_orders_noise_worst_and_flags_copies(calibration):
    rows = {name: row.metrics for name, row in calibration.items()}
    data, noise = rows["data (held-out half)"], rows["palette noise"]
    means, copies = rows["cluster means"], rows["training copies"]
    for key in ("fd", "kid"):
        assert data[key] < means[key] < noise[key]
    for key in ("density", "coverage"):
        assert noise[key] < 0.5 * min(data[key], means[key], copies[key])
    assert copies["memorised"] == 1.0
    assert noise["memorised"] == 0.0 and means["memorised"] < 0.2
    assert data["palette_fidelity"] == 1.0 and means["palette_fidelity"] < 0.9
    assert noise["stray_pixels"] > 10 * data["stray_pixels"]


def test_on_focused_sprites_noise_has_almost_no_precision():
    # On the full sheet a few dense texture tiles have k-NN balls wide enough to hold
    # noise (precision's known weakness, which density corrects); focused data has almost none.
    spec = discover().get("vae").spec
    config = resolve(spec, overrides=["data.dataset=kenney-colored", "data.focused=true"])
    rows = {
        row.name: row.metrics for row in Reference(prepare(config, False), 0).calibration_rows(200)
    }
    assert rows["palette noise"]["precision"] < 0.005  # 0.001 over the five splits
    assert rows["data (held-out half)"]["precision"] > 0.9


def test_identical_sets_score_zero_distance_and_full_precision_recall(reference):
    own = reference.features[reference.splits[0][1]]
    scores = reference.set_scores(own, 0)
    assert scores["fd"] == pytest.approx(0, abs=1e-6)
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0
    copies = reference.pixel_scores(reference.training[:50], None)
    assert copies["memorised"] == 1.0  # and a verbatim copy is flagged


def test_real_sprites_are_checked_against_all_others_leaving_themselves_out():
    a = np.zeros((4, 4), dtype=np.uint8)
    a[0, 0] = 1
    b = np.arange(16, dtype=np.uint8).reshape(4, 4) % 3
    training = np.stack([a, a[:, ::-1], b])  # a, a's mirror, and b once
    everyone = np.arange(3)
    dist = metrics.nearest_copy_distance(training, training, everyone)
    assert dist[0] == dist[1] == 0  # each is the other's mirror: still a copy
    assert dist[2] > 0.2  # b is only itself (and its own mirror), both left out
    assert (metrics.nearest_copy_distance(training, training) == 0).all()


def test_every_row_compares_the_same_count_with_a_spread(reference):
    held = len(reference.splits[0][0])
    assert reference.count(10_000) == held and reference.count(100) == 100
    assert all(len(h) == held for h, _ in reference.splits)
    assert len({tuple(h[:5]) for h, _ in reference.splits}) == reference.repeats  # new splits
    first, again = reference.splits[0], reference.splits[-reference.repeats]  # made on demand
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    data = reference.data_row(10_000).metrics
    assert data["fd_sd"] > 0 and data["kid_sd"] > 0
    drawn = []

    def copies(r, m):
        drawn.append(m)
        return reference.training[np.random.default_rng(r).integers(0, held, m)], None

    scores, indices, _ = reference.score(copies, 10_000)
    assert drawn == [held] * reference.repeats and len(indices) == held * reference.repeats
    assert scores["memorised"] == 1.0 and scores["fd_sd"] > 0


def test_the_data_rows_memorisation_uses_the_full_training_set(reference):
    # Each real sprite against every other one finds at least the near copies that the
    # other half alone holds: leave-one-out can only raise the rate of a held sprite.
    held, rest = reference.splits[0]
    training = reference.training
    against_half = metrics.nearest_copy_distance(training[held], training[rest])
    against_all = metrics.nearest_copy_distance(training[held], training, held)
    assert (against_all <= against_half).all() and (against_all < against_half).any()


def test_markdown_table_marks_calibration_rows(reference):
    table = markdown_table(reference.calibration_rows(64)[:2])
    assert "| *data (held-out half)* |" in table and "FD ↓" in table
    assert " ± " in table  # FD and KID with their spread over the repeats


def test_evaluate_prints_logs_to_mlflow_and_writes_a_report(tmp_path):
    result = run("train", "vae", "-q", *TINY)
    assert result.exit_code == 0, result.output
    run_id = result.output.split("MLflow run: ")[1].split()[0]
    result = run("evaluate", "vae", "-n", 64, "--json", "--out", "ev", "--temperature", 0.9)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mlflow_run_id"] == run_id
    assert report["n"] == 64 and report["repeats"] == 5
    names = [row["name"] for row in report["rows"]]
    assert names == [
        "vae",
        "data (held-out half)",
        "speckled data (2%)",
        "palette noise",
        "cluster means",
        "training copies",
    ]
    model = report["rows"][0]
    assert 0 <= model["metrics"]["precision"] <= 1 and model["metrics"]["fd"] > 0
    # the verdict, with what it measured against, for every row
    assert model["metrics"]["pixel_clean"] in (0.0, 1.0)
    assert model["verdict"]["clean"] == bool(model["metrics"]["pixel_clean"])
    assert set(model["verdict"]["limits"]) == {
        "isolated",
        "floating",
        "colours",
        "components",
        "notches",
        "palette",
    }
    assert report["rows"][1]["verdict"]["clean"]  # the real data, against its own spread
    assert not report["rows"][3]["verdict"]["clean"]  # palette noise
    assert "strategy/kl" in model["extra"]  # the strategy's own metrics hook
    assert (tmp_path / "ev" / "evaluation.md").is_file() and (
        tmp_path / "ev" / "samples.png"
    ).is_file()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = client.get_run(run_id).data.metrics
    assert logged["eval/fd"] == pytest.approx(model["metrics"]["fd"])
    assert logged["eval/pixel_clean"] == model["metrics"]["pixel_clean"]
    assert "eval/isolated_w1_sd" in logged and "eval_baseline/speckled_data/colours_w1" in logged
    assert "eval_baseline/palette_noise/fd" in logged
    assert {a.path for a in client.list_artifacts(run_id, "evaluation")} == {
        "evaluation/evaluation.md",
        "evaluation/samples.png",
    }
    table = run("evaluate", "vae", "-n", 32, "--run", run_id).output
    assert "palette noise" in table and "logged to MLflow run" in table
    assert "vae: pixel-clean" in table or "vae: not pixel-clean: " in table


def test_evaluate_scores_tileable_sprites_beside_the_plain_ones(tmp_path):
    """`--tileable` scores what `sample --tileable` draws, logged under eval_tileable/
    so that it does not overwrite the plain evaluation; a strategy that cannot make
    tileable sprites says so."""
    small = [*TINY, *DIFFUSION_TINY, "model.detail=false"]  # its U-Net and cleaner tiny
    small += ["consistency.share=0", "training.choose_sampler=0", "sampling.steps=3"]
    result = run("train", "diffusion", "-q", *small)
    assert result.exit_code == 0, result.output
    run_id = result.output.split("MLflow run: ")[1].split()[0]
    result = run("evaluate", "diffusion", "-n", 16, "--repeats", 1, "--tileable", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["tileable"] and report["rows"][0]["name"] == "diffusion tileable"
    from mlflow.tracking import MlflowClient

    logged = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(run_id).data.metrics
    assert logged["eval_tileable/fd"] == pytest.approx(report["rows"][0]["metrics"]["fd"])
    assert "eval/fd" not in logged
    # the same seeds without --tileable draw other sprites: the flag reaches the strategy
    plain = run("evaluate", "diffusion", "-n", 16, "--repeats", 1, "--json")
    assert json.loads(plain.output)["rows"][0]["metrics"]["fd"] != pytest.approx(
        report["rows"][0]["metrics"]["fd"]
    )
    assert run("train", "vae", "-q", *TINY).exit_code == 0
    result = run("evaluate", "vae", "-n", 16, "--tileable")
    assert result.exit_code == 1 and "tileable" in result.output
    assert "Traceback" not in result.output
    result = run("evaluate", "diffusion", "--prompts", "--tileable")
    assert result.exit_code == 2 and "--tileable does not apply with --prompts" in result.output


def test_evaluate_bad_input(tmp_path):
    result = run("evaluate", "vae", "-n", 5, "--checkpoint", "x.pt")
    assert result.exit_code == 1 and "at least 16 samples" in result.output
    result = run("evaluate", "vae", "--repeats", 0, "--checkpoint", "x.pt")
    assert result.exit_code == 1 and "--repeats must be at least 1" in result.output
    result = run("evaluate", "vae", "--checkpoint", "missing.pt")
    assert result.exit_code == 1 and "checkpoint not found" in result.output
    assert run("train", "vae", "-q", *TINY).exit_code == 0
    result = run("evaluate", "vae", "--run", "0123456789abcdef")
    assert result.exit_code == 1 and "cannot find run 0123456789abcdef" in result.output

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run(
        experiment_id=mlflow.get_experiment_by_name("pixelgen-vae").experiment_id
    ) as bare:
        pass
    result = run("evaluate", "vae", "--run", bare.info.run_id)
    assert result.exit_code == 1 and "has no checkpoint" in result.output
    assert "Traceback" not in result.output


def test_evaluate_a_checkpoint_without_tracking(tmp_path):
    assert run("train", "vae", "-q", "tracking.enabled=false", *TINY).exit_code == 0
    [ckpt] = list(tmp_path.glob("runs/vae/*/checkpoint.pt"))
    result = run("evaluate", "vae", "--checkpoint", ckpt, "-n", 32)
    assert result.exit_code == 0, result.output
    assert "not logged to MLflow" in result.output
    # -n beyond half the data is capped to it (what is drawn is what memory is checked for)
    result = run("evaluate", "vae", "--checkpoint", ckpt, "-n", 10**9, "--repeats", 1, "--json")
    assert result.exit_code == 0, result.output
    data = prepare(resolve(discover().get("vae").spec, overrides=TINY[:2]), conditional=False)
    assert json.loads(result.output)["n"] == len(data) // 2


def test_compare_trains_evaluates_and_draws_side_by_side(tmp_path):
    sets = [a for kv in TINY[:2] for a in ("--set", kv)]
    result = run(
        "compare", "vae", "pixel-prior", "--epochs", 1, "-n", 32, "-q", "--out", "cmp", *sets
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["name"] for r in rows][:2] == ["vae", "pixel-prior"]
    assert (
        rows[0]["extra"]["train_images_per_sec"] > 0
        and rows[0]["extra"]["sample_ms_per_sprite"] > 0
    )
    from PIL import Image

    picture = Image.open(tmp_path / "cmp" / "compare.png")
    assert picture.height == 3 * 3 * 17 + 3 * 3  # data + two strategies, 16px sprites, x3
    assert "| vae |" in (tmp_path / "cmp" / "compare.md").read_text()

    again = run("compare", "vae", "--runs", "-n", 32, "--out", "cmp2")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "cmp2" / "compare.json").read_text())[0]["name"] == "vae"

    # without names, --runs takes every strategy that has a finished run and says which not
    every = run("compare", "--runs", "-n", 32, "--out", "cmp3")
    assert every.exit_code == 0, every.output
    assert "skipping diffusion: no finished run" in every.output
    rows = json.loads((tmp_path / "cmp3" / "compare.json").read_text())
    scored = [r["name"] for r in rows if r["kind"] == "model"]
    assert sorted(scored) == ["pixel-prior", "vae"]  # the two trained above, no other
    # a named strategy without a run fails at once, before the others are scored
    missing = run("compare", "vae", "diffusion", "--runs", "-n", 32, "--out", "cmp4")
    assert missing.exit_code == 1 and "no finished diffusion run" in missing.output
    assert "evaluating" not in missing.output and not (tmp_path / "cmp4").exists()


def test_compare_bad_input():
    result = run("compare", "--budget-minutes", 1, "--epochs", 2)
    assert result.exit_code == 1 and "not both" in result.output
    result = run("compare", "nope", "--epochs", 1)
    assert result.exit_code == 1 and "unknown strategy 'nope'" in result.output
    result = run("compare", "vae", "--runs", "--epochs", 1)
    assert result.exit_code == 1 and "takes no training settings" in result.output


def test_time_budget_stops_training_and_finishes_the_run():
    from pixelgen_core.trainer import Trainer

    record = discover().get("pixel-prior")
    config = resolve(
        record.spec,
        overrides=[
            *TINY[:2],
            "training.epochs=100000",
            "training.time_budget_minutes=0.02",
            "tracking.enabled=false",
        ],
    )
    result = Trainer(record, config, quiet=True).fit()
    assert 0.9 < result.seconds < 10
    from pixelgen_core import checkpoint

    payload = checkpoint.load(result.checkpoint)
    assert payload["finished"] and payload["position"]["epoch"] < 100000
    assert torch.isfinite(payload["state"]["modules"]["prior"]["logits"]).all()


def test_the_data_row_checks_as_many_sprites_as_a_model_does(reference, monkeypatch):
    # A folder of 20,000 sprites must not cost 20,000 x 40,000 comparisons: the data
    # row checks the sprites it scored, like a model's samples.
    checked = []
    real = metrics.memorisation

    def spy(samples, training, exclude=None):
        checked.append(len(samples))
        return real(samples, training, exclude)

    fresh = Reference(reference.data, reference.seed)  # data rows are measured once each
    monkeypatch.setattr(metrics, "memorisation", spy)
    fresh.data_row(20)
    assert checked == [20 * fresh.repeats]
    fresh.data_row(20)
    assert checked == [20 * fresh.repeats]  # the second call reuses the first's row
