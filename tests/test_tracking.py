"""Tracking to a shared `mlflow server` over HTTP, as a team would (loopback only)."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from pixelgen_core.cli import cli

TINY = ["data.dataset=kenney-mono", "data.focused=true", "training.epochs=1"]
TINY += ["training.batch_size=128", "training.grid_size=4", "model.channels=[8,16]"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    mlflow = shutil.which("mlflow") or f"{sys.executable} -m mlflow"
    cmd = [*mlflow.split(), "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"]
    cmd += ["--artifacts-destination", str(tmp_path / "server-artifacts")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("mlflow server did not start")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_train_and_sample_through_a_remote_server(mlflow_server, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    result = CliRunner().invoke(cli, ["train", "vae", "-q", *TINY])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "mlflow.db").exists()  # nothing tracked locally
    assert list((tmp_path / "server-artifacts").rglob("checkpoint.pt"))
    result = CliRunner().invoke(cli, ["sample", "vae", "-n", "2", "--out", "s"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "grid.png").is_file()
