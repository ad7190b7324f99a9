"""Tracking to a shared `mlflow server` over HTTP, as a team would (loopback only)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

import pixelgen_core as pg
from pixelgen_core.cli import cli
from pixelgen_core.files import user_cache

TINY = ["data.dataset=kenney-mono", "data.focused=true", "training.epochs=1"]
TINY += ["training.batch_size=128", "training.grid_size=4", "model.channels=[8,16]"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A team's server: one worker (of the default four, each of which would import all
    of MLflow first) over a store already made, as it is after its first day. The store
    is made as pixelgen makes its own (a copy of the cached pristine one, which skips
    MLflow's migrations), its Default experiment placed where `mlflow server` puts it."""
    from pixelgen_core.store import prepare

    port = free_port()
    prepare(tmp_path / "server.db", "mlflow-artifacts:/")
    mlflow = shutil.which("mlflow") or f"{sys.executable} -m mlflow"
    cmd = [*mlflow.split(), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    cmd += ["--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"]
    cmd += ["--artifacts-destination", str(tmp_path / "server-artifacts")]
    # Without MLflow's job runner: a second process importing MLflow, for GenAI jobs that
    # pixelgen never submits, which on two cores doubled the time of the test itself.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
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
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    grids = ["training.epochs=2", "training.sample_every=1"]
    result = CliRunner().invoke(cli, ["train", "vae", "-q", *TINY, *grids])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "mlflow.db").exists()  # nothing tracked locally
    assert list((tmp_path / "server-artifacts").rglob("checkpoint.pt"))

    # mlflow ui shows a model-training experiment, with the grids as an image series
    client = mlflow.MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("pixelgen-vae")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    [tracked] = client.search_runs([experiment.experiment_id])
    images = [f.path for f in client.list_artifacts(tracked.info.run_id, "images")]
    assert images and all(p.startswith("images/samples+step+") for p in images)
    assert {p.split("+")[2] for p in images if p.endswith(".png")} == {"7", "14"}

    # the remote checkpoint is downloaded once into the cache, never into the temp folder
    shutil.rmtree(tmp_path / "runs")  # as on a teammate's machine
    for out in ("s", "t"):
        result = CliRunner().invoke(cli, ["sample", "vae", "-n", "2", "--out", out])
        assert result.exit_code == 0, result.output
        assert (tmp_path / out / "grid.png").is_file()
    cached = list((user_cache() / "checkpoints").rglob("*"))
    assert [p.relative_to(user_cache() / "checkpoints") for p in cached] == [
        Path(tracked.info.run_id),
        Path(tracked.info.run_id) / "checkpoint.pt",
    ]

    # one run lookup: the server's runs are listed, opened and deleted like local ones
    listed = json.loads(CliRunner().invoke(cli, ["runs", "vae", "--json"]).output)
    assert [(r["id"], r["status"], r["remote"], r["steps"]) for r in listed] == [
        (tracked.info.run_id, "FINISHED", True, 14)
    ]
    assert pg.open_run(run_id=tracked.info.run_id).name == "vae"
    result = CliRunner().invoke(cli, ["runs", "--delete", tracked.info.run_id])
    assert result.exit_code == 0 and "on its server" in result.output, result.output
    assert client.get_run(tracked.info.run_id).info.lifecycle_stage == "deleted"
    assert json.loads(CliRunner().invoke(cli, ["runs", "vae", "--json"]).output) == []


def test_an_experiment_made_before_the_tag_gains_it(tmp_path):
    from pixelgen_core.tracking import _experiment, _mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow = _mlflow(uri)
    old = mlflow.create_experiment("pixelgen-vae")  # as pixelgen made it before the tag
    assert "mlflow.experimentKind" not in mlflow.get_experiment(old).tags
    assert _experiment(mlflow, "pixelgen-vae", uri) == old
    tags = mlflow.get_experiment(old).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    new = _experiment(mlflow, "pixelgen-other", uri)
    assert mlflow.get_experiment(new).tags["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.parametrize("command", [["train", "vae", "-q", *TINY], ["sample", "vae", "-n", "1"]])
def test_a_server_that_is_down_is_reported_within_seconds(monkeypatch, tmp_path, command):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    result = CliRunner().invoke(cli, command)
    assert time.monotonic() - started < 10
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is not reachable" in result.output and len(result.output.splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # no run was started, so no run is left


def test_sample_with_a_checkpoint_never_needs_the_server(monkeypatch, tmp_path):
    assert (
        CliRunner().invoke(cli, ["train", "vae", "-q", *TINY, "tracking.enabled=false"]).exit_code
        == 0
    )
    [ckpt] = list(tmp_path.glob("runs/vae/*/checkpoint.pt"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(cli, ["sample", "vae", "-n", "1", "--checkpoint", str(ckpt)])
    assert result.exit_code == 0, result.output
