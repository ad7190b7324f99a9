"""Plugin discovery: failures are isolated and reported, clashes name both distributions."""

from importlib.metadata import EntryPoint, entry_points

import pytest

from conftest import BROKEN_PLUGINS
from pixelgen_core import plugins
from pixelgen_core.errors import PixelgenError, PluginError


def installed(*dists):
    return [ep for ep in entry_points(group="pixelgen") if ep.dist.metadata["Name"] in dists]


def broken(module):
    return EntryPoint(name=module, value=module, group="pixelgen")


@pytest.fixture
def broken_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BROKEN_PLUGINS))


def test_installed_plugins_register_strategies_with_their_distribution():
    registry = plugins.discover()
    assert sorted(registry.strategies) == ["diffusion", "maskgit", "pixel-prior", "vae", "vqvae"]
    record = registry.get("pixel-prior")
    assert (record.distribution, record.version) == ("pixelgen-pixelprior", "0.3.0")
    assert record.spec.conditional
    assert registry.get("vae").distribution == "pixelgen-vae"
    assert registry.failures == []


def test_load_env_restricts_plugins(monkeypatch):
    monkeypatch.setenv("PIXELGEN_LOAD_PLUGINS", "pixelgen-vae")
    assert list(plugins.discover().strategies) == ["vae"]
    monkeypatch.setenv("PIXELGEN_LOAD_PLUGINS", "")
    assert plugins.discover().strategies == {}


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("pg_broken_import", "ModuleNotFoundError: No module named 'pixelgen_does_not_exist'"),
        ("pg_broken_hook", "RuntimeError: boom in register_strategies"),
        ("pg_unknown_hook", "unknown hook 'register_strategys'"),
        ("pg_bad_spec", "register() takes a StrategySpec, got dict"),
    ],
)
def test_a_broken_plugin_is_reported_and_the_others_still_work(broken_path, module, message):
    registry = plugins.discover(installed("pixelgen-vae") + [broken(module)])
    assert list(registry.strategies) == ["vae"]
    [failure] = registry.failures
    assert failure.name == module
    assert message in failure.error
    assert "half" not in registry.strategies  # a failing hook's registrations are dropped


def test_strict_mode_turns_failures_into_errors(broken_path, monkeypatch):
    monkeypatch.setenv("PIXELGEN_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="pg_broken_import"):
        plugins.discover([broken("pg_broken_import")])


def test_two_strategies_with_one_name_is_an_error_naming_both(broken_path):
    registry = plugins.discover(installed("pixelgen-pixelprior") + [broken("pg_duplicate")])
    assert "pixel-prior" not in registry.strategies
    with pytest.raises(PluginError) as info:
        registry.get("pixel-prior")
    assert "pixelgen-pixelprior 0.3.0" in str(info.value)
    assert "pg_duplicate" in str(info.value)
    assert [f.name for f in registry.failures] == ["pixel-prior"]


def test_unknown_strategy_lists_the_installed_ones():
    with pytest.raises(
        PixelgenError, match=r"'nope' \(installed: diffusion, maskgit, pixel-prior, vae, vqvae\)"
    ):
        plugins.discover().get("nope")


def test_entry_point_modules_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from pixelgen_core.plugins import discover; discover(); "
        "print('torch' in sys.modules, 'mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_spec_validation_rejects_what_cannot_work():
    from pixelgen_core import Option, StrategySpec

    def check(message, **kwargs):
        fields = {"name": "ok", "description": "fine", "strategy": "m:C", **kwargs}
        with pytest.raises(ValueError, match=message):
            StrategySpec(**fields).validate()

    check("must match", name="Bad Name")
    check("one-line description", description="two\nlines")
    check("needs a config_key", train_options=(Option("lr", float, None, "x"),))
    check("clashes with a core option", sample_options=(Option("seed", int, 0, "x"),))
    check("unsupported type", sample_options=(Option("steps", list, 0, "x"),))
