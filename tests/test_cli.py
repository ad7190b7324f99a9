"""The `pixelgen` command: happy paths end to end, and bad input as one clear line."""

import json
import os
import shutil
import subprocess
from importlib.metadata import EntryPoint

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import BROKEN_PLUGINS
from pixelgen_core import plugins
from pixelgen_core.cli import cli
from pixelgen_core.images import read_png, write_png

TINY_VAE = [
    "data.dataset=kenney-mono",
    "data.focused=true",
    "training.epochs=1",
    "training.batch_size=128",
    "training.grid_size=4",
    "model.channels=[8,16]",
]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result, message, code=1):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert message in result.output


def test_version_and_help():
    assert run("--version").output.startswith("pixelgen, version ")
    out = run("--help").output
    for command in ("list-strategies", "train", "sample", "data"):
        assert command in out


def test_list_strategies_json_and_table():
    rows = json.loads(run("list-strategies", "--json").output)
    assert [(r["name"], r["distribution"], r["status"]) for r in rows] == [
        ("diffusion", "pixelgen-diffusion", "ok"),
        ("maskgit", "pixelgen-maskgit", "ok"),
        ("pixel-prior", "pixelgen-pixelprior", "ok"),
        ("vae", "pixelgen-vae", "ok"),
        ("vqvae", "pixelgen-vqvae", "ok"),
    ]
    table = run("list-strategies").output
    assert "pixel-prior" in table and "pixelgen-vae" in table
    by_name = {r["name"]: r for r in rows}
    assert by_name["vqvae"]["sizes"] == {
        "smallest": 8,
        "largest": 64,
        "multiple": 4,
        "rectangular": True,
    }
    assert by_name["vqvae"]["stages"] == ["autoencoder", "prior"]
    assert by_name["pixel-prior"]["sizes"]["rectangular"] is False  # declares none: square
    assert by_name["pixel-prior"]["stages"] == []


def test_train_help_says_what_sizes_and_how_stages_share_the_run():
    text = " ".join(run("train", "vqvae", "--help").output.split())
    assert "Trains on sprites of 8 to 64 pixels a side, multiples of 4" in text
    assert "Trains in 2 stages: autoencoder, then prior." in text
    assert "training.epochs and training.time_budget_minutes bound the whole run" in text
    assert "--prior-share" in text
    single = " ".join(run("train", "vae", "--help").output.split())
    assert "stages" not in single and "Trains on sprites of 8 to 64" in single


def test_a_broken_plugin_shows_as_failed_and_the_rest_works(monkeypatch):
    monkeypatch.syspath_prepend(str(BROKEN_PLUGINS))
    real = plugins.plugin_entry_points()
    extra = EntryPoint(name="pg_broken_import", value="pg_broken_import", group="pixelgen")
    monkeypatch.setattr(
        plugins, "plugin_entry_points", lambda disabled=frozenset(): [*real, (extra, "")]
    )
    result = run("list-strategies", "--json")
    assert result.exit_code == 0
    assert "Warning: plugin pg_broken_import" in result.stderr
    rows = json.loads(result.stdout)
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["name"] for r in failed] == ["pg_broken_import"]
    assert "No module named 'pixelgen_does_not_exist'" in failed[0]["error"]
    assert run("train", "pixel-prior", "-q", "tracking.enabled=false", *TINY_VAE[:4]).exit_code == 0


def test_strategy_options_appear_in_help():
    out = run("sample", "vae", "--help").output
    assert "--temperature" in out and "--class" in out and "--scale" in out
    assert "--kl-weight" in run("train", "vae", "--help").output


def test_train_then_sample_through_mlflow(tmp_path):
    result = run("train", "vae", "-q", *TINY_VAE)
    assert result.exit_code == 0, result.output
    run_id = result.output.split("MLflow run: ")[1].split()[0]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlrun = client.get_run(run_id)
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.params["model.channels"] == "[8, 16]"
    assert mlrun.data.params["training.epochs"] == "1"
    assert mlrun.data.tags["pixelgen.distribution"] == "pixelgen-vae"
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"checkpoint", "samples", "config.yaml"} <= artifacts
    assert client.get_experiment(mlrun.info.experiment_id).name == "pixelgen-vae"

    out = tmp_path / "drawn"
    result = run("sample", "vae", "-n", 5, "--seed", 3, "--out", out, "--scale", 2)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grid.png"] + [f"sprite_{i:04d}.png" for i in range(5)]
    sprite = read_png(out / "sprite_0000.png")
    assert sprite.shape == (32, 32, 4)
    assert set(np.unique(sprite[..., 3])) <= {0, 255}
    assert (sprite[..., 3] == 0).any()  # transparent background kept

    again = tmp_path / "again"
    assert (
        run(
            "sample", "vae", "-n", 5, "--seed", 3, "--out", again, "--run", run_id, "--scale", 2
        ).exit_code
        == 0
    )
    assert (
        read_png(again / "grid.png") == read_png(out / "grid.png")
    ).all()  # same seed, same sprites


def test_sample_from_a_checkpoint_and_resume(tmp_path):
    assert run("train", "pixel-prior", "-q", "tracking.enabled=false", *TINY_VAE[:4]).exit_code == 0
    [ckpt] = list((tmp_path / "runs" / "pixel-prior").glob("*/checkpoint.pt"))
    result = run("sample", "pixel-prior", "--checkpoint", ckpt, "--class", 1, "-n", 3, "--out", "o")
    assert result.exit_code == 0, result.output
    result = run("train", "pixel-prior", "-q", "--resume", ckpt, "training.epochs=2")
    assert result.exit_code == 0, result.output
    assert "trained pixel-prior" in result.output


def test_a_checkpoint_from_before_a_new_setting_gets_its_default(tmp_path):
    """A plugin that gains a config key must still load runs saved without it."""
    import torch

    from pixelgen_core import checkpoint
    from pixelgen_core.sampling import restore

    assert run("train", "pixel-prior", "-q", "tracking.enabled=false", *TINY_VAE[:4]).exit_code == 0
    [ckpt] = list((tmp_path / "runs" / "pixel-prior").glob("*/checkpoint.pt"))
    payload = torch.load(ckpt, weights_only=True)
    del payload["config"]["training"]["lr"]  # as if saved by an older version of the plugin
    payload["config"]["data"]["num_classes"] = 3  # the run's own settings stay
    checkpoint.save(payload, ckpt)
    record = plugins.discover().get("pixel-prior")
    strategy, _ = restore(record, checkpoint.load(ckpt), torch.device("cpu"))
    assert strategy.config["training"]["lr"] == 0.5
    assert strategy.config["data"]["num_classes"] == 3


def test_sample_reconstruct_pairs_dataset_sprites_with_reconstructions(tmp_path):
    assert run("train", "vae", "-q", "tracking.enabled=false", *TINY_VAE).exit_code == 0
    [ckpt] = list((tmp_path / "runs" / "vae").glob("*/checkpoint.pt"))
    result = run("sample", "vae", "--checkpoint", ckpt, "--reconstruct", "-n", 4, "--out", "r")
    assert result.exit_code == 0, result.output
    assert "pixels reconstructed exactly:" in result.output
    image = read_png(tmp_path / "r" / "reconstructions.png")
    assert image.shape == (2 * 17 + 1, 4 * 17 + 1, 4)  # 4 pairs: 2 rows of 2 pairs
    left, right = image[1:17, 1:17], image[1:17, 18:34]
    assert left[..., 3].any() and right.shape == left.shape
    run("train", "pixel-prior", "-q", "tracking.enabled=false", *TINY_VAE[:4])
    [ckpt] = list((tmp_path / "runs" / "pixel-prior").glob("*/checkpoint.pt"))
    result = run("sample", "pixel-prior", "--checkpoint", ckpt, "--reconstruct", "-n", 2)
    assert_user_error(result, "cannot reconstruct")
    result = run("sample", "pixel-prior", "--checkpoint", ckpt, "--reconstruct", "--class", 1)
    assert_user_error(result, "--class does not apply")


def test_train_options_set_config_keys(tmp_path):
    result = run("train", "vae", "-q", "--kl-weight", "0.25", "tracking.enabled=false", *TINY_VAE)
    assert result.exit_code == 0, result.output
    [config] = list((tmp_path / "runs" / "vae").glob("*/config.yaml"))
    assert "kl_weight: 0.25" in config.read_text()


def test_data_slice_and_show(tmp_path):
    sheet = np.zeros((16, 32, 4), np.uint8)
    sheet[2:6, 2:6] = (200, 50, 50, 255)
    sheet[8:14, 20:30] = (20, 20, 90, 255)
    write_png(sheet, tmp_path / "sheet.png")
    result = run("data", "slice", tmp_path / "sheet.png", tmp_path / "tiles", "--tile", 8)
    assert result.exit_code == 0 and "wrote 3 tiles of 8x8" in result.output
    result = run("data", "show", tmp_path / "tiles", "--out", tmp_path / "p.png", "--classes", 2)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps at 80 columns: long tmp paths move it
    assert "3 sprites of 8x8" in said and "#c83232" in said
    assert "2 classes" in said
    assert (tmp_path / "p.png").is_file()
    result = run("data", "show", "kenney-colored", "--focused", "--out", tmp_path / "k.png")
    assert "focused: kept" in result.output


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["train", "nope"], "(installed: diffusion, maskgit, pixel-prior, vae, vqvae)", 2),
        (["sample", "nope"], "unknown strategy 'nope'", 2),
        (["train", "vae", "training.epocs=1"], "did you mean 'training.epochs'", 2),
        (["train", "vae", "training.epochs=x"], "must be int", 2),
        (["train", "vae", "-c", "missing.yaml"], "config file not found: missing.yaml", 2),
        (["train", "vae", "data.dataset=nowhere"], "dataset 'nowhere' is neither built in", 1),
        (["train", "vae", "--resume", "nothing.pt"], "checkpoint not found", 1),
        (["train", "vae", "--device", "cuda"], "CUDA is not available", 1),
        (["sample", "vae", "--checkpoint", "nothing.pt"], "checkpoint not found", 1),
        (["sample", "vae"], "no finished vae run in runs and no MLflow store", 1),
        (["sample", "vae", "-n", "0", "--checkpoint", "x"], "-n must be at least 1", 1),
        (["sample", "vae", "--background", "blue", "--checkpoint", "x"], "bad colour 'blue'", 1),
        (["data", "slice", "missing.png", "out"], "image not found: missing.png", 1),
        (["data", "show", "nowhere"], "neither built in", 1),
    ],
)
def test_bad_input_is_one_clear_line(args, message, code):
    result = run(*args)
    assert_user_error(result, message, code)
    assert len([ln for ln in result.output.splitlines() if ln.startswith("Error")]) == 1


def test_corrupt_image_and_wrong_checkpoint(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    assert_user_error(run("data", "slice", "bad.png", "out"), "cannot read image bad.png")
    assert run("train", "pixel-prior", "-q", "tracking.enabled=false", *TINY_VAE[:4]).exit_code == 0
    [ckpt] = list((tmp_path / "runs" / "pixel-prior").glob("*/checkpoint.pt"))
    assert_user_error(run("sample", "vae", "--checkpoint", ckpt), "is a 'pixel-prior' checkpoint")
    assert_user_error(run("train", "vae", "--resume", ckpt), "is a 'pixel-prior' checkpoint")
    (tmp_path / "mlflow.db").write_text("")
    assert_user_error(run("sample", "vae", "--run", "abc123"), "cannot find run abc123")


def test_unconditional_strategy_rejects_a_class(tmp_path):
    assert run("train", "vae", "-q", "tracking.enabled=false", *TINY_VAE).exit_code == 0
    [ckpt] = list((tmp_path / "runs" / "vae").glob("*/checkpoint.pt"))
    assert_user_error(
        run("sample", "vae", "--checkpoint", ckpt, "--class", 1), "not trained with classes"
    )


@pytest.mark.skipif(shutil.which("pixelgen") is None, reason="pixelgen script not installed")
def test_the_installed_script_runs():
    env = {**os.environ}
    out = subprocess.run(
        ["pixelgen", "list-strategies", "--json"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0
    expected = {"vae", "vqvae", "diffusion", "maskgit", "pixel-prior"}
    assert {r["name"] for r in json.loads(out.stdout)} == expected
    out = subprocess.run(["pixelgen", "train", "nope"], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and "unknown strategy 'nope'" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.skipif(shutil.which("pixelgen") is None, reason="pixelgen script not installed")
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    import signal
    import time

    cmd = ["pixelgen", "train", "vae", "tracking.enabled=false", *TINY_VAE[:4]]
    cmd += ["training.epochs=500", "model.channels=[8,16]", "training.batch_size=16"]
    # A shell that starts this suite in the background sets SIGINT to "ignore", and children
    # inherit that; give the child the default disposition a terminal user has.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("runs/vae/*/checkpoint.pt")):
            assert time.monotonic() < deadline and proc.poll() is None, "training did not start"
            time.sleep(0.2)  # wait until training is under way (first epoch saved)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a training process behind, whatever failed
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted at step" in stderr and "--resume" in stderr
    [ckpt] = list(tmp_path.glob("runs/vae/*/checkpoint.pt"))
    from pixelgen_core import checkpoint

    payload = checkpoint.load(ckpt)
    assert payload["finished"] is False and payload["position"]["step"] > 0
