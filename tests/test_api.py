"""The Python API: each function, and runs that cross between it and the CLI."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import pixelgen_core as pg
from pixelgen_core.cli import cli
from pixelgen_core.images import read_png

TINY = {
    "data.dataset": "kenney-mono",
    "data.focused": True,
    "training.epochs": 1,
    "training.batch_size": 128,
    "training.grid_size": 4,
    "model.channels": [8, 16],
}
TINY_ARGS = [f"{k}={v}".replace("True", "true").replace(" ", "") for k, v in TINY.items()]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def sprites_in(folder, n):
    return np.stack([read_png(folder / f"sprite_{i:04d}.png") for i in range(n)])


def test_importing_the_package_imports_neither_torch_nor_numpy():
    import subprocess
    import sys

    code = "import sys, pixelgen_core; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_strategies_name_their_distribution():
    found = pg.strategies()
    assert list(found) == sorted(found) and {"vae", "diffusion"} <= set(found)
    assert found["vae"].distribution == "pixelgen-vae" and found["vae"].spec.name == "vae"
    with pytest.raises(pg.PixelgenError, match="unknown strategy 'nope'"):
        pg.get_strategy("nope")


def test_trained_through_the_api_sampled_through_the_cli(tmp_path):
    trained = pg.train("vae", overrides=TINY, progress=False, lr=0.003)
    assert trained.steps > 0 and trained.checkpoint.is_file() and trained.run_id
    assert trained.config.training.lr == 0.003  # a typed train option, no string round trip
    assert isinstance(trained.config.model.channels, list)
    ours = trained.sample(5, seed=3, temperature=0.7)
    result = run("sample", "vae", "--run", trained.run_dir.name, "-n", 5, "--seed", 3,
                 "--temperature", 0.7, "--out", "cli")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert np.array_equal(sprites_in(tmp_path / "cli", 5), ours.rgba)  # live == reloaded


def test_trained_through_the_cli_opened_through_the_api(tmp_path):
    assert run("train", "vae", "-q", *TINY_ARGS).exit_code == 0
    assert run("sample", "vae", "-n", 4, "--seed", 9, "--out", "cli").exit_code == 0
    latest = pg.open_run("vae")
    assert latest.name == "vae" and latest.checkpoint.is_file() and latest.steps > 0
    assert np.array_equal(latest.sample(4, seed=9).rgba, sprites_in(tmp_path / "cli", 4))
    by_id = pg.open_run(run_id=latest.run_id)  # an MLflow run id; the strategy is looked up
    by_file = pg.open_run(checkpoint=latest.checkpoint, device="cpu")
    assert by_id.checkpoint == by_file.checkpoint == latest.checkpoint
    with pytest.raises(pg.PixelgenError, match="not both"):
        pg.open_run("vae", run_id=latest.run_id, checkpoint=latest.checkpoint)
    [record] = pg.list_runs("vae")
    assert record.id == latest.run_dir.name and record.state == "FINISHED"
    assert pg.delete_run(record.id) == latest.run_dir and not latest.run_dir.exists()
    assert pg.list_runs() == []


def test_open_run_without_runs_says_what_to_do():
    with pytest.raises(pg.PixelgenError, match="no finished run"):
        pg.open_run()
    with pytest.raises(pg.PixelgenError, match="train first"):
        pg.open_run("vae")
    with pytest.raises(pg.PixelgenError, match="unknown strategy 'nosuch'"):
        pg.open_run("nosuch")
    folder = Path("runs/vae/20261202-000000-abcdef")
    folder.mkdir(parents=True)
    with pytest.raises(pg.PixelgenError, match=r"is a path, not a strategy: open it with open_r"):
        pg.open_run(str(folder))


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    """A tiny VAE trained once through the API, untracked."""
    import os

    home = tmp_path_factory.mktemp("api-vae")
    before = os.getcwd()
    os.chdir(home)
    try:
        return pg.train("vae", overrides={**TINY, "tracking.enabled": False}, progress=False)
    finally:
        os.chdir(before)


@pytest.mark.parametrize(
    ("call", "setting", "words", "cli", "flag_words"),
    [
        (lambda r: r.sample(0), "n", "n must be at least 1", ["-n", 0], "-n must be at least 1"),
        (
            lambda r: r.sample(2, temperature=-1.0),
            "temperature",
            "temperature must be at least 0, got -1.0",
            ["--temperature", -1],
            "--temperature must be at least 0, got -1.0",
        ),
        (
            lambda r: r.sample(2).save("s", scale=0),
            "scale",
            "scale must be a positive integer",
            ["--scale", 0],
            "--scale must be a positive integer",
        ),
        (
            lambda r: r.evaluate(4),
            "n",
            "evaluation needs at least 16 samples (n)",
            None,
            None,
        ),
    ],
)
def test_api_errors_name_the_setting_and_the_cli_its_flag(
    vae, tmp_path, monkeypatch, call, setting, words, cli, flag_words
):
    """One check each: the API's SettingError names the keyword, the CLI the flag."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pg.SettingError) as info:
        call(vae)
    assert info.value.setting == setting and str(info.value) == words
    if cli is not None:
        result = run("sample", "vae", "--checkpoint", vae.checkpoint, *cli)
        assert result.exit_code == info.value.exit_code
        assert result.output.strip() == f"Error: {flag_words}"


def test_sample_checks_its_input(vae):
    with pytest.raises(pg.ConfigError, match="no sample option 'temprature'"):
        vae.sample(2, temprature=0.5)
    with pytest.raises(pg.ConfigError, match="^temperature must be at least 0, got -1"):
        vae.sample(2, temperature=-1.0)
    with pytest.raises(pg.PixelgenError, match="at least 1"):
        vae.sample(0)
    with pytest.raises(pg.PixelgenError, match="not trained with classes"):
        vae.sample(2, label=0)
    assert vae.sample_options() == {"temperature": 1.0}
    assert vae.sample_options(temperature=2) == {"temperature": 2}


def test_sprites_are_arrays_pictures_and_files(vae, tmp_path):
    sprites = vae.sample(6, seed=1)
    assert sprites.shape == (6, 16, 16, 4) and np.asarray(sprites).dtype == np.uint8
    assert len(sprites) == 6 and sprites[0].shape == (16, 16, 4)
    assert isinstance(sprites[1:3], pg.Sprites) and len(sprites[1:3]) == 2
    assert sprites.grid(columns=3).shape == (2 * 17 + 1, 3 * 17 + 1, 4)
    assert sprites.grid(columns=3, scale=2).shape == (70, 104, 4)
    assert sprites._repr_png_().startswith(b"\x89PNG")
    out = sprites.save(tmp_path / "s", scale=2)
    assert sorted(p.name for p in out.iterdir())[-1] == "sprite_0005.png"
    assert read_png(out / "sprite_0000.png").shape == (32, 32, 4)
    with pytest.raises(pg.PixelgenError, match="uint8"):
        pg.Sprites(np.zeros((2, 16, 16, 3)))


def test_reconstruct_pairs_dataset_sprites_with_their_reconstructions(vae):
    made = vae.reconstruct(5, seed=0)
    assert len(made.originals) == len(made.rebuilt) == 5 and 0 <= made.accuracy <= 1
    pairs = made.pairs()
    assert len(pairs) == 10 and np.array_equal(pairs[0], made.originals[0])


def test_evaluate_gives_the_model_row_and_calibration_rows(vae, tmp_path):
    report = vae.evaluate(32, seed=0)
    assert report.rows[0].name == "vae" and len(report.rows) > 1
    assert np.isfinite(report.model.metrics["fd"])
    files = report.save(tmp_path / "e")
    assert [f.name for f in files] == ["evaluation.md", "samples.png"]
    assert vae.log_evaluation(report) is None  # untracked: nothing to log to


def test_compare_evaluates_the_live_runs_it_trained(monkeypatch, tmp_path):
    from pixelgen_core import checkpoint

    def no_reload(*args, **kwargs):
        raise AssertionError("compare read a checkpoint back")

    monkeypatch.setattr(checkpoint, "load", no_reload)
    result = pg.compare(["vae"], overrides=[*TINY_ARGS, "tracking.enabled=false"], n=16,
                        progress=False)  # fmt: skip
    assert [r.name for r in result.runs] == ["vae"] and result.same_dataset()
    assert result.rows[0].extra["train_seconds"] > 0
    written = result.save(tmp_path / "c")
    assert written["picture"].is_file() and written["json"].is_file()
    with pytest.raises(pg.PixelgenError, match="not both"):
        pg.compare(["vae"], epochs=1, budget_minutes=1)


def test_train_options_and_settings_are_checked():
    with pytest.raises(pg.ConfigError, match="vae has no train option 'learning_rate'"):
        pg.train("vae", learning_rate=0.1)
    with pytest.raises(pg.ConfigError, match="'training.lr' in options must be float"):
        pg.train("vae", overrides={"training.lr": "fast"})


def test_new_run_builds_an_untrained_model():
    fresh = pg.new_run("vae", overrides=TINY, device="cpu")
    assert fresh.steps == 0 and fresh.checkpoint is None
    assert fresh.sample(2).shape == (2, 16, 16, 4)


def test_a_checkpoint_key_the_plugin_dropped_loads_with_a_warning(vae, tmp_path):
    payload = torch.load(vae.checkpoint, weights_only=True)
    payload["config"]["model"]["retired_setting"] = 3
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opened = pg.open_run(checkpoint=old)
    assert [str(w.message) for w in caught if w.category is pg.PixelgenWarning] == [
        "the checkpoint's config key 'model.retired_setting' is no longer a vae setting; ignored"
    ]
    assert opened.sample(2).shape == (2, 16, 16, 4)
    result = run("sample", "vae", "--checkpoint", old, "-n", 2, "--out", "s")
    assert result.exit_code == 0, result.output
    assert "Warning: the checkpoint's config key 'model.retired_setting'" in result.output


def test_an_exception_from_a_plugin_is_reported_as_its_bug(vae, monkeypatch):
    from pixelgen_vae.model import ConvVAE

    def broken(self, z):
        raise RuntimeError("decoder fell over")

    monkeypatch.setattr(ConvVAE, "decode", broken)
    result = run("sample", "vae", "--checkpoint", vae.checkpoint, "-n", 2)
    assert result.exit_code == 1
    assert "Traceback" in result.output and "RuntimeError: decoder fell over" in result.output
    assert "this is a bug in pixelgen-vae" in result.output


def test_disable_plugins_leaves_one_out():
    assert "vae" in pg.strategies()
    pg.disable_plugins("pixelgen-vae")
    assert "vae" not in pg.strategies() and "diffusion" in pg.strategies()
    with pytest.raises(pg.PixelgenError, match="unknown strategy 'vae'"):
        pg.get_strategy("vae")


def test_no_api_name_shadows_a_submodule():
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(pg.__path__)}
    assert not submodules & set(pg.API)
    from pixelgen_core import runs  # the module, not an API function

    assert hasattr(runs, "CHECKPOINT")


def test_sample_goes_to_the_strategy_as_one_drawing_request(vae, monkeypatch):
    from pixelgen_core import sampling
    from pixelgen_core.testing import DrawRequest

    seen, real = [], sampling.draw_request

    def spy(strategy, palette, request, chunk=256):
        seen.append(request)
        return real(strategy, palette, request, chunk)

    monkeypatch.setattr(sampling, "draw_request", spy)
    drawn = vae.sample(3, seed=5, temperature=0.5, separate=True)
    [request] = seen
    assert (request.n, request.seed, request.separate, request.is_edit) == (3, 5, True, False)
    assert dict(request.options) == {"temperature": 0.5} and drawn.seeds == [5, 6, 7]
    again = real(vae.strategy, vae.palette, DrawRequest(1, 6, options={"temperature": 0.5}))
    assert np.array_equal(vae.palette.to_rgba(again[0])[0], np.asarray(drawn)[1])
    with pytest.raises(pg.SettingError, match="^n must be at least 1"):
        DrawRequest(0)
    with pytest.raises(pg.SettingError, match="^strength must be between 0 and 1"):
        DrawRequest(1, image=np.zeros((2, 2), int), keep=np.ones((2, 2), bool), strength=2)


def test_a_sheet_layout_error_names_the_keyword(vae, tmp_path):
    with pytest.raises(pg.SettingError, match="^spacing and margin must be 0 or more$"):
        vae.sample(2).save_sheet(tmp_path / "s", spacing=-1)
