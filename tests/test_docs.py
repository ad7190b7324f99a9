"""The plugin tutorial stays true: every hook is documented with its exact signature
and tested, and the tutorial's hook example runs."""

import importlib
import inspect
import re
import sys
from pathlib import Path

from click.testing import CliRunner

from pixelgen_core import hookspecs
from pixelgen_core.cli import cli
from pixelgen_core.plugins import discover

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = (ROOT / "docs" / "plugins.md").read_text()


def hooks():
    return [
        (name, fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "pixelgen_spec")
    ]


def test_there_are_hooks():
    assert [name for name, _ in hooks()] == ["register_strategies"]


def test_every_hook_appears_in_the_tutorial_with_its_exact_signature():
    for name, fn in hooks():
        assert f"`{name}{inspect.signature(fn)}`" in TUTORIAL, f"document {name} in plugins.md"
        assert f"def {name}{inspect.signature(fn)}:" in TUTORIAL, f"show an example of {name}"


def test_every_hook_has_a_test():
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    for name, _ in hooks():
        assert re.search(rf"def test_\w*{name}\w*\(", tests), f"no test named after {name}"


def test_the_tutorials_hook_example_runs(tmp_path, monkeypatch):
    """Put the tutorial's example in a generated plugin's place and load it."""
    assert CliRunner().invoke(cli, ["new-strategy", "sparkle"]).exit_code == 0
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL, re.S)
    [example] = [b for b in blocks if "@hookimpl" in b and "sparkle-wide" in b]
    package = tmp_path / "pixelgen-sparkle" / "pixelgen_sparkle"
    (package / "__init__.py").write_text(example)
    monkeypatch.syspath_prepend(str(package.parent))
    try:
        module = importlib.import_module("pixelgen_sparkle")
        ep = type("EP", (), {"name": "sparkle", "module": "pixelgen_sparkle", "dist": None})()
        ep.load = lambda: module
        registry = discover(eps=[ep], strict=True)
        assert sorted(registry.strategies) == ["sparkle", "sparkle-wide"]
        wide = registry.get("sparkle-wide").spec.load_default_config()
        assert wide["model"]["width"] == 128 and wide["training"]["epochs"] == 20
    finally:
        for name in [m for m in sys.modules if m.startswith("pixelgen_sparkle")]:
            del sys.modules[name]
