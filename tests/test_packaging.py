"""What a user's `pip install` gets, checked without installing anything.

The suite runs against editable installs in a development environment, where a module
imported only through another package's dependencies, or a data file that the wheel
leaves out, still works. These tests read the sources and each pyproject.toml instead.
"""

import ast
import functools
import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = [ROOT, *sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))]
# The contract suite is imported by plugins' own tests, which install pytest.
TEST_ONLY = {"pixelgen_core/testing.py": {"pytest"}}


def pyproject(root: Path) -> str:
    return (root / "pyproject.toml").relative_to(ROOT).as_posix()


def name(root: Path) -> str:
    return "core" if root == ROOT else root.name


def project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text())


def packages(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/__init__.py"))


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def requirements(root: Path) -> set[str]:
    """Names of the distributions `root` depends on, without its extras."""
    return {
        normalise(re.match(r"[A-Za-z0-9._-]+", r)[0])
        for r in project(root)["project"]["dependencies"]
    }


@functools.cache
def providers() -> dict[str, list[str]]:
    """Top-level module name -> the installed distributions that provide it."""
    return md.packages_distributions()


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one source file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"}


@pytest.mark.parametrize("root", DISTRIBUTIONS, ids=name)
def test_each_distribution_imports_only_what_it_declares(root):
    """A module that only arrives as another package's dependency can vanish from a
    user's environment with that package's next release. A plugin may use what core
    declares (it depends on core); core never imports a plugin."""
    own = {p.name for p in packages(root)}
    allowed = requirements(root) | (requirements(ROOT) if root != ROOT else set())
    for package in packages(root):
        for source in package.rglob("*.py"):
            relative = source.relative_to(root).as_posix()
            for module in imported_modules(source) - own - TEST_ONLY.get(relative, set()):
                assert module in providers(), f"{relative} imports {module}, which nothing provides"
                dists = {normalise(d) for d in providers()[module]}
                assert dists & allowed, (
                    f"{relative} imports {module} (from {sorted(dists)}), "
                    f"which {pyproject(root)} does not declare"
                )


@pytest.mark.parametrize("root", DISTRIBUTIONS, ids=name)
def test_every_data_file_is_shipped_as_package_data(root):
    """Editable installs read files from the source tree; a wheel carries only the
    package-data globs, so a file they miss is gone on a user's machine."""
    globs = project(root)["tool"]["setuptools"].get("package-data", {})
    for package in packages(root):
        shipped = {f for pattern in globs.get(package.name, []) for f in package.glob(pattern)}
        data = {
            f
            for f in package.rglob("*")
            if f.is_file() and f.suffix not in {".py", ".pyc"} and "__pycache__" not in f.parts
        }
        missing = sorted(f.relative_to(root).as_posix() for f in data - shipped)
        assert not missing, f"not in {pyproject(root)}'s package-data: {missing}"
