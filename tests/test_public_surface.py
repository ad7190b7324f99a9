"""The public surface, enforced: outside core, code imports only what core publishes.

Benchmarks, the docs' scripts, the shipped plugins and their tests, and the fixture
plugin are written as users and strategy authors write theirs, so they may import only
`pixelgen_core` (its `__all__`), the author kit `pixelgen_core.testing` and the
evaluation toolkit `pixelgen_core.evaluation` (each by its `__all__`).
"""

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ("pixelgen_core", "pixelgen_core.testing", "pixelgen_core.evaluation")
OUTSIDE = ["benchmarks", "docs", "plugins", "tests/plugins", "scripts"]


def outside_files() -> list[Path]:
    return sorted(p for folder in OUTSIDE for p in (ROOT / folder).rglob("*.py"))


def imports_of_core(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for each import of pixelgen_core in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, None)
                for a in node.names
                if a.name.startswith("pixelgen_core")
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pixelgen_core"):
            found += [(node.lineno, node.module, a.name) for a in node.names]
    return found


def test_code_outside_core_imports_only_the_public_surface():
    published = {m: set(importlib.import_module(m).__all__) for m in PUBLIC}
    wrong = []
    for path in outside_files():
        for line, module, name in imports_of_core(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module not in PUBLIC:
                wrong.append(f"{where} imports {module}, a core internal")
            elif name is not None and name not in published[module]:
                wrong.append(f"{where} imports {name} from {module}, which does not publish it")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_internal_import(tmp_path):
    path = tmp_path / "bench.py"
    path.write_text(
        "from pixelgen_core.config import resolve\nfrom pixelgen_core import Strategy\n"
    )
    assert imports_of_core(path) == [
        (1, "pixelgen_core.config", "resolve"),
        (2, "pixelgen_core", "Strategy"),
    ]


def test_every_name_published_is_importable():
    for module in PUBLIC:
        loaded = importlib.import_module(module)
        for name in loaded.__all__:
            assert getattr(loaded, name) is not None, f"{module}.{name}"


def test_no_arrow_points_upward():
    """The house, bottom to top: the author kit (strategy contract, optimisation, config)
    and core's machinery (data, training, sampling, tracking) < strategies (plugins) <
    the application API (`pixelgen_core.api`) < the CLI, the studio and the test kit.
    Nothing below the API imports it or the CLI, and no strategy calls the application
    API."""
    import pixelgen_core

    above = ("pixelgen_core.api", "pixelgen_core.cli", "pixelgen_core.testing")
    top = {"__init__.py", "__main__.py", "api.py", "testing.py"}
    wrong = []
    for path in sorted((ROOT / "pixelgen_core").rglob("*.py")):
        relative = path.relative_to(ROOT / "pixelgen_core")
        if relative.parts[0] in ("cli", "studio") or str(relative) in top:
            continue
        for line, module, name in imports_of_core(path):
            full = f"{module}.{name}" if name else module
            if full.startswith(above):
                wrong.append(f"pixelgen_core/{relative}:{line} imports {full}")
    application = set(pixelgen_core.API) - {"Palette", "Prompt", "Sprites", "SpriteSet"}
    for path in sorted((ROOT / "plugins").glob("*/pixelgen_*/**/*.py")):
        for line, module, name in imports_of_core(path):
            if module == "pixelgen_core" and name in application:
                wrong.append(f"{path.relative_to(ROOT)}:{line} calls the application API {name}")
    assert not wrong, "\n".join(wrong)
