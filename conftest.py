"""Test isolation: only the plugins under test load, and every test runs in its own folder."""

import os
import shutil
from pathlib import Path

import pytest

TEST_PLUGINS = "pixelgen-vae,pixelgen-vqvae,pixelgen-diffusion,pixelgen-maskgit,pixelgen-pixelprior"
BROKEN_PLUGINS = Path(__file__).parent / "tests" / "broken_plugins"


def pytest_configure(config):
    """Under pytest-xdist each worker gets one thread (and so do the processes it starts):
    two workers on two cores, each with torch's two threads, would fight for them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["MKL_NUM_THREADS"] = "1"


@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    """A pristine MLflow store, built once per session (MLflow's migrations take about
    4 s). Each test's own cache starts with it, as a user's cache does after their first
    training; tests of building one from scratch remove it."""
    cache = tmp_path_factory.mktemp("store-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXELGEN_CACHE_DIR", str(cache))
        from pixelgen_core.store import prepare

        prepare(cache / "first" / "mlflow.db", (cache / "first").as_uri())
    [template] = (cache / "mlflow-stores").glob("*.db")
    return template


@pytest.fixture(autouse=True)
def isolated(tmp_path, tmp_path_factory, monkeypatch, store_template):
    monkeypatch.setenv("PIXELGEN_LOAD_PLUGINS", TEST_PLUGINS)
    monkeypatch.delenv("PIXELGEN_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cache = tmp_path_factory.mktemp("cache")  # the test's own, beside its working folder
    monkeypatch.setenv("PIXELGEN_CACHE_DIR", str(cache))
    (cache / "mlflow-stores").mkdir()
    shutil.copy2(store_template, cache / "mlflow-stores" / store_template.name)
    monkeypatch.chdir(tmp_path)
    from pixelgen_core.plugins import DISABLED, registry

    DISABLED.clear()
    registry.cache_clear()
    yield
    DISABLED.clear()
    registry.cache_clear()
