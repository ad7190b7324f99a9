"""Evaluation end to end: calibration ordering on real data, the commands, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pixelgen_core.cli import cli
from pixelgen_core.config import resolve
from pixelgen_core.data.prepare import prepare
from pixelgen_core.evaluation.encoder import WEIGHTS, embed, load_encoder
from pixelgen_core.evaluation.report import Reference, markdown_table
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


def test_calibration_orders_noise_worst_and_flags_copies(reference):
    rows = {row.name: row.metrics for row in reference.calibration_rows(300)}
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


def test_on_focused_sprites_noise_has_no_precision_at_all():
    # On the full sheet a few dense texture tiles have k-NN balls wide enough to hold
    # noise (precision's known weakness, which density corrects); focused data has none.
    spec = discover().get("vae").spec
    config = resolve(spec, overrides=["data.dataset=kenney-colored", "data.focused=true"])
    rows = {
        row.name: row.metrics for row in Reference(prepare(config, False), 0).calibration_rows(200)
    }
    assert rows["palette noise"]["precision"] == 0.0
    assert rows["data (held-out half)"]["precision"] > 0.9


def test_identical_sets_score_zero_distance_and_full_precision_recall(reference):
    scores = reference.score(reference.rest, None, reference.training)
    assert scores["fd"] == pytest.approx(0, abs=1e-6)
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0
    assert scores["memorised"] == 1.0  # and a verbatim copy is flagged


def test_markdown_table_marks_calibration_rows(reference):
    table = markdown_table(reference.calibration_rows(64)[:2])
    assert "| *data (held-out half)* |" in table and "FD ↓" in table


def test_evaluate_prints_logs_to_mlflow_and_writes_a_report(tmp_path):
    result = run("train", "vae", "-q", *TINY)
    assert result.exit_code == 0, result.output
    run_id = result.output.split("MLflow run: ")[1].split()[0]
    result = run("evaluate", "vae", "-n", 64, "--json", "--out", "ev", "--temperature", 0.9)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mlflow_run_id"] == run_id
    names = [row["name"] for row in report["rows"]]
    assert names == [
        "vae",
        "data (held-out half)",
        "palette noise",
        "cluster means",
        "training copies",
    ]
    model = report["rows"][0]
    assert 0 <= model["metrics"]["precision"] <= 1 and model["metrics"]["fd"] > 0
    assert "strategy/kl" in model["extra"]  # the strategy's own metrics hook
    assert (tmp_path / "ev" / "evaluation.md").is_file() and (
        tmp_path / "ev" / "samples.png"
    ).is_file()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = client.get_run(run_id).data.metrics
    assert logged["eval/fd"] == pytest.approx(model["metrics"]["fd"])
    assert "eval_baseline/palette_noise/fd" in logged
    assert {a.path for a in client.list_artifacts(run_id, "evaluation")} == {
        "evaluation/evaluation.md",
        "evaluation/samples.png",
    }
    table = run("evaluate", "vae", "-n", 32, "--run", run_id).output
    assert "palette noise" in table and "logged to MLflow run" in table


def test_evaluate_bad_input(tmp_path):
    result = run("evaluate", "vae", "-n", 5, "--checkpoint", "x.pt")
    assert result.exit_code == 1 and "at least 16 samples" in result.output
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
