"""Switching plugins off, tracing hook calls, `pixelgen plugins`, install and uninstall."""

import json
import sys
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

from conftest import BROKEN_PLUGINS, TEST_PLUGINS
from pixelgen_core import plugins
from pixelgen_core.cli import cli, manage


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def with_broken_plugin(monkeypatch):
    """The installed entry points plus one whose import fails."""
    monkeypatch.syspath_prepend(str(BROKEN_PLUGINS))
    real = list(plugins.entry_points(group="pixelgen"))
    extra = EntryPoint(name="pg_broken_import", value="pg_broken_import", group="pixelgen")
    monkeypatch.setattr(plugins, "entry_points", lambda group: [*real, extra])
    monkeypatch.setenv("PIXELGEN_LOAD_PLUGINS", f"{TEST_PLUGINS},pg_broken_import")


def names(result):
    return {row["name"] for row in json.loads(result.stdout) if row["status"] == "ok"}


def test_disable_plugin_switches_off_a_broken_plugin(with_broken_plugin):
    result = run("list-strategies", "--json")
    assert "Warning: plugin pg_broken_import" in result.stderr
    result = run("--disable-plugin", "pg_broken_import", "list-strategies", "--json")
    assert result.exit_code == 0 and "Warning" not in result.stderr
    assert names(result) == {"diffusion", "maskgit", "pixel-prior", "vae", "vqvae"}


def test_disable_plugin_by_distribution_flag_or_environment():
    result = run("--disable-plugin", "pixelgen-vae", "list-strategies", "--json")
    assert names(result) == {"diffusion", "maskgit", "pixel-prior", "vqvae"}
    result = run("list-strategies", "--json", env={"PIXELGEN_DISABLE_PLUGINS": "pixelgen_vae"})
    assert names(result) == {"diffusion", "maskgit", "pixel-prior", "vqvae"}
    result = run("--disable-plugin", "pixelgen-vae", "train", "vae")
    assert result.exit_code == 2 and "unknown strategy 'vae'" in result.stderr


def test_plugins_lists_versions_hooks_strategies_and_status(with_broken_plugin):
    result = run("--disable-plugin", "pixelgen-diffusion", "plugins", "--json")
    rows = {row["distribution"]: row for row in json.loads(result.stdout)}
    assert rows["pixelgen-vae"] == {
        "distribution": "pixelgen-vae",
        "version": "0.1.0",
        "entry_point": "vae",
        "hooks": ["register_strategies"],
        "strategies": ["vae"],
        "status": "ok",
        "error": None,
    }
    assert rows["pixelgen-diffusion"]["status"] == "disabled"
    assert rows["pg_broken_import"]["status"] == "failed"
    assert "pixelgen_does_not_exist" in rows["pg_broken_import"]["error"]
    table = run("plugins").stdout
    assert "pixelgen-vqvae" in table and "register_strategies" in table


def test_plugins_left_out_of_the_allow_list_show_as_not_loaded():
    result = run("plugins", "--json", env={"PIXELGEN_LOAD_PLUGINS": "pixelgen-vae"})
    status = {row["distribution"]: row["status"] for row in json.loads(result.stdout)}
    assert status["pixelgen-vae"] == "ok" and status["pixelgen-vqvae"] == "not loaded"


def test_trace_prints_each_hook_call():
    result = run("list-strategies", env={"PIXELGEN_TRACE_PLUGINS": "1"})
    lines = [line for line in result.stderr.splitlines() if line.startswith("[pixelgen] hook")]
    assert "register_strategies(register=append) -> pixelgen-vae:vae" in "\n".join(lines)
    assert len(lines) == 2 * 5  # a line before and after the call, for each of 5 plugins
    assert "[pixelgen]" not in run("list-strategies").stderr


@pytest.fixture
def calls(monkeypatch):
    seen = []

    class Done:
        def __init__(self, code):
            self.returncode = code

    def fake_run(command):
        seen.append(command)
        return Done(1 if "bad-package" in command else 0)

    monkeypatch.setattr(manage.subprocess, "run", fake_run)
    return seen


def test_install_and_uninstall_use_pixelgens_own_environment(calls):
    assert run("install", "-U", "-e", "./mine", "pixelgen-foo", "-c", "c.txt").exit_code == 0
    pip = [sys.executable, "-m", "pip"]
    assert calls[-1] == [*pip, "install", "-U", "-e", "./mine", "pixelgen-foo", "-c", "c.txt"]
    assert run("uninstall", "-y", "pixelgen-foo").exit_code == 0
    assert calls[-1] == [sys.executable, "-m", "pip", "uninstall", "-y", "pixelgen-foo"]
    result = run("install", "bad-package")
    assert result.exit_code == 1 and result.stderr.strip().endswith("install failed (exit 1)")
    result = run("uninstall", "pixelgen")
    assert result.exit_code == 1 and "cannot uninstall itself" in result.stderr
    assert run("install").exit_code == 1


def test_install_uses_uv_where_the_environment_has_no_pip(calls, monkeypatch):
    monkeypatch.setattr(manage.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(manage.shutil, "which", lambda name: "/bin/uv" if name == "uv" else None)
    assert run("install", "pixelgen-foo").exit_code == 0
    assert calls[-1] == ["/bin/uv", "pip", "install", "--python", sys.executable, "pixelgen-foo"]
    assert run("uninstall", "-y", "pixelgen-foo").exit_code == 0
    assert calls[-1] == ["/bin/uv", "pip", "uninstall", "--python", sys.executable, "pixelgen-foo"]
    monkeypatch.setattr(manage.shutil, "which", lambda name: None)
    result = run("install", "pixelgen-foo")
    assert result.exit_code == 1 and "neither pip nor uv" in result.stderr
