"""Config layering and one-line errors."""

import pytest

from pixelgen_core.config import dotted, resolve
from pixelgen_core.errors import ConfigError
from pixelgen_core.plugins import discover


@pytest.fixture
def spec():
    return discover().get("vae").spec


def test_layers_apply_in_order(spec, tmp_path):
    defaults = resolve(spec)
    assert defaults["model"]["latent_dim"] == 32  # the strategy's default
    assert defaults["data"]["dataset"] == "kenney-colored"  # core's default
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.yaml").write_text("training: {epochs: 2, seed: 5}\n")
    user = tmp_path / "mine.yaml"
    user.write_text("training: {epochs: 3}\nmodel: {latent_dim: 8}\n")
    config = resolve(spec, user, ["training.epochs=4"])
    assert config["training"]["seed"] == 5  # base
    assert config["model"]["latent_dim"] == 8  # user file
    assert config["training"]["epochs"] == 4  # command line wins
    assert config["training"]["lr"] == 0.002  # untouched strategy default


def test_unknown_key_names_it_and_suggests(spec):
    with pytest.raises(
        ConfigError, match=r"unknown config key 'training.epocs'.*did you mean 'training.epochs'"
    ):
        resolve(spec, overrides=["training.epocs=3"])
    assert ConfigError.exit_code == 2


def test_unknown_key_in_a_file_names_the_file(spec, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("modl:\n  latent_dim: 3\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'modl.latent_dim' in .*bad.yaml"):
        resolve(spec, path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epochs=abc", "'training.epochs' in command line must be int, got 'abc'"),
        ("training.epochs=1.5", "must be int"),
        ("data.hflip=3", "'data.hflip' in command line must be bool"),
        ("model.channels=7", "'model.channels' in command line must be list"),
        ("training.epochs", "must look like key=value"),
    ],
)
def test_bad_values_are_one_line_errors(spec, override, message):
    with pytest.raises(ConfigError, match=message) as info:
        resolve(spec, overrides=[override])
    assert "\n" not in str(info.value)


def test_an_int_is_accepted_for_a_float(spec):
    assert resolve(spec, overrides=["training.lr=1"])["training"]["lr"] == 1


def test_missing_and_broken_files(spec, tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        resolve(spec, tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("training: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read config"):
        resolve(spec, bad)


def test_dotted_gives_dotted_keys(spec):
    flat = dotted(resolve(spec))
    assert flat["training.epochs"] == 40
    assert flat["model.channels"] == [64, 128]
