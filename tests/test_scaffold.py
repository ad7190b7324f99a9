"""`pixelgen new-strategy`: the generated plugin is complete and passes the contract.

scripts/check_scaffold.sh (run by scripts/test.sh, hence CI) goes further: it installs
the generated plugin with `pixelgen install`, runs its own tests, trains and samples it.
"""

import importlib
import sys

import pytest
from click.testing import CliRunner

from pixelgen_core.cli import cli
from pixelgen_core.plugins import discover
from pixelgen_core.scaffold import names


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_names_follow_the_conventions():
    assert names("sparkle-dust") | {"core_version": "", "core_next": ""} == {
        "name": "sparkle-dust",
        "dist": "pixelgen-sparkle-dust",
        "package": "pixelgen_sparkle_dust",
        "class_name": "SparkleDustStrategy",
        "config_name": "SparkleDustConfig",
        "core_version": "",
        "core_next": "",
    }


def test_generated_plugin_is_complete_and_registers_its_strategy(tmp_path, monkeypatch):
    result = run("new-strategy", "sparkle-dust", "--dir", "plug")
    assert result.exit_code == 0, result.output
    root = tmp_path / "plug"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pixelgen_sparkle_dust/__init__.py",
        "pixelgen_sparkle_dust/config.py",
        "pixelgen_sparkle_dust/strategy.py",
        "pyproject.toml",
        "tests/test_strategy.py",
    ]
    text = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.pixelgen]\nsparkle-dust = "pixelgen_sparkle_dust"' in text
    assert "$" not in "".join((root / f).read_text() for f in files)
    # Import the generated package as its entry point would, and register it.
    monkeypatch.syspath_prepend(str(root))
    module = importlib.import_module("pixelgen_sparkle_dust")
    ep = type("EP", (), {"name": "sparkle-dust", "load": lambda self: module, "dist": None})()
    ep.module = "pixelgen_sparkle_dust"
    registry = discover(eps=[ep], strict=True)
    record = registry.get("sparkle-dust")
    assert record.spec.load_class().__name__ == "SparkleDustStrategy"
    for name in [m for m in sys.modules if m.startswith("pixelgen_sparkle_dust")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new-strategy", "Bad_Name"], "must be lower case"),
        (["new-strategy", "ok", "--dir", "."], "already exists and is not empty"),
    ],
)
def test_bad_names_and_occupied_folders_are_refused(args, message, tmp_path):
    (tmp_path / "something").write_text("x")
    result = run(*args)
    assert result.exit_code == 1 and message in result.stderr
