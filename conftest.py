"""Test isolation: only the plugins under test load, and every test runs in its own folder."""

from pathlib import Path

import pytest

TEST_PLUGINS = "pixelgen-vae,pixelgen-vqvae,pixelgen-diffusion,pixelgen-maskgit,pixelgen-pixelprior"
BROKEN_PLUGINS = Path(__file__).parent / "tests" / "broken_plugins"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELGEN_LOAD_PLUGINS", TEST_PLUGINS)
    monkeypatch.delenv("PIXELGEN_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("PIXELGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    from pixelgen_core.cli.common import DISABLED, registry

    DISABLED.clear()
    registry.cache_clear()
    yield
    DISABLED.clear()
    registry.cache_clear()
