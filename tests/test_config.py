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
    assert flat["model.channels"] == []  # from the sprite size


def test_a_typed_config_reaches_the_strategy_as_dataclasses():
    from pixelgen_vae.config import VAEConfig

    from pixelgen_core.testing import make_strategy

    strategy = make_strategy("vae", ["training.lr=1", "model.channels=[8,16]"])
    config = strategy.config
    assert isinstance(config, VAEConfig)
    assert config.training.lr == 1.0 and isinstance(config.training.lr, float)  # int -> float
    assert config.model.channels == [8, 16] and config["model"]["latent_dim"] == 32
    assert config.data.dataset == "kenney-colored"  # core's sections are typed too


def test_choices_and_ranges_of_a_typed_config_are_one_line_errors(spec):
    with pytest.raises(ConfigError, match="'model.loss' must be one of bce, mse, got 'l2'"):
        resolve(spec, overrides=["model.loss=l2"])
    with pytest.raises(ConfigError, match="'model.kl_weight' must be at least 0, got -1"):
        resolve(spec, settings={"model.kl_weight": -1})


def test_a_range_holds_when_a_subclass_only_changes_the_default():
    from dataclasses import dataclass, field

    from pixelgen_core import Config, TrainingConfig
    from pixelgen_core.settings import checks

    @dataclass
    class Training(TrainingConfig):
        epochs: int = 400  # a new default, no setting(): core's range still applies

    @dataclass
    class Mine(Config):
        training: Training = field(default_factory=Training)

    ranges, _ = checks(Mine)
    assert ranges["training.epochs"] == (1, None)


def test_non_finite_numbers_are_refused_where_a_range_applies(spec, tmp_path):
    """nan passes every comparison and inf every lower bound, so ranges alone let them in
    (from YAML as .nan and .inf, from Python as float values)."""
    with pytest.raises(ConfigError, match="'training.lr' must be a finite number, got nan"):
        resolve(spec, settings={"training.lr": float("nan")})
    path = tmp_path / "odd.yaml"
    path.write_text("training: {time_budget_minutes: .inf}\n")
    with pytest.raises(ConfigError, match="'training.time_budget_minutes' must be a finite"):
        resolve(spec, path)


def test_an_option_takes_type_choices_and_help_from_its_config_field():
    """Declared once: the field's choices and help reach the CLI option and its checks."""
    from dataclasses import dataclass, field

    from pixelgen_core import Config, Option, Section, StrategySpec, setting

    @dataclass
    class Sampling(Section):
        mode: str = setting("fast", choices=("fast", "slow"), help="how to draw")
        steps: int = setting(4, low=1, help="steps")

    @dataclass
    class Typed(Config):
        sampling: Sampling = field(default_factory=Sampling)

    spec = StrategySpec(
        "typed",
        "A test strategy.",
        "unused:Unused",
        default_config=Typed,
        sample_options=(
            Option("mode", config_key="sampling.mode"),
            Option("steps", help="denoising steps", config_key="sampling.steps"),
        ),
    )
    spec.validate()
    mode, steps = spec.sample_options
    assert (mode.type, mode.help) == (("fast", "slow"), "how to draw")
    assert (steps.type, steps.help) == (int, "denoising steps")  # a given help is kept
    untyped = StrategySpec("untyped", "A test.", "unused:Unused", sample_options=(Option("x"),))
    with pytest.raises(ValueError, match="option --x needs a type, or a config_key"):
        untyped.validate()
