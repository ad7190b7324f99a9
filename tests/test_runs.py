"""Runs you can trust: own folders, side by side, honest statuses, nothing left behind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pixelgen_core import runs
from pixelgen_core.cli import cli
from pixelgen_core.files import new_folder, remove_stale_temps, this_host, user_cache

TINY = ["data.dataset=kenney-mono", "data.focused=true", "training.epochs=1"]
TINY += ["training.batch_size=128", "training.grid_size=4", "model.channels=[8,16]"]
PIXELGEN = shutil.which("pixelgen")
needs_script = pytest.mark.skipif(PIXELGEN is None, reason="pixelgen script not installed")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def mlflow_runs(tmp_path, experiment="pixelgen-vae"):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


@needs_script
def test_four_trainings_started_at_once_in_a_fresh_folder_all_finish(tmp_path):
    procs = [
        subprocess.Popen(
            [PIXELGEN, "train", "vae", "-q", *TINY, f"training.seed={i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    folders = sorted((tmp_path / "runs" / "vae").iterdir())
    assert len(folders) == 4
    for folder in folders:
        assert (folder / "checkpoint.pt").is_file() and list((folder / "samples").glob("*.png"))
        assert runs.read(folder).status == runs.FINISHED
    # each run's config holds its own seed: nothing was overwritten by a neighbour
    seeds = {(f / "config.yaml").read_text().split("seed: ")[1].split()[0] for f in folders}
    assert seeds == {"0", "1", "2", "3"}
    tracked = mlflow_runs(tmp_path)
    assert len(tracked) == 4 and {r.info.status for r in tracked} == {"FINISHED"}
    assert {r.info.run_id for r in tracked} == {runs.read(f).mlflow_run_id for f in folders}
    assert not list(tmp_path.rglob("*.tmp"))


def test_run_folders_are_created_exclusively(tmp_path):
    made = {new_folder(tmp_path / "vae") for _ in range(50)}
    assert len(made) == 50 and all(p.is_dir() for p in made)


def test_a_failed_run_is_failed_and_sample_keeps_the_good_one(tmp_path, monkeypatch):
    assert run("train", "vae", "-q", *TINY).exit_code == 0
    [good] = runs.all_runs(strategy="vae")
    from pixelgen_vae.strategy import VAEStrategy

    def explode(self, batch, stage, *rest):
        raise RuntimeError("boom")

    real = VAEStrategy.train_step
    monkeypatch.setattr(VAEStrategy, "train_step", explode)
    crashed = run("train", "vae", "-q", *TINY)  # not a user error: a bug, with its traceback
    assert crashed.exit_code == 1
    assert "RuntimeError: boom" in crashed.output and "this is a bug in" in crashed.output
    monkeypatch.setattr(VAEStrategy, "train_step", real)
    newest = runs.all_runs(strategy="vae")[0]
    assert newest.id != good.id and newest.status == runs.FAILED
    assert {r.info.status for r in mlflow_runs(tmp_path)} == {"FINISHED", "FAILED"}
    result = run("sample", "vae", "-n", 2, "--out", "s")
    assert result.exit_code == 0, result.output
    assert runs.latest_usable("vae").id == good.id
    result = run("sample", "vae", "--run", newest.id)
    assert result.exit_code == 1 and "is FAILED with no finished checkpoint" in result.output


def test_ctrl_c_ends_killed_with_a_resumable_checkpoint(tmp_path, monkeypatch):
    from pixelgen_vae.strategy import VAEStrategy

    real = VAEStrategy.train_step
    calls = []

    def interrupted(self, batch, stage, *rest):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, batch, stage, *rest)

    monkeypatch.setattr(VAEStrategy, "train_step", interrupted)
    result = run("train", "vae", "-q", *TINY, "training.log_every=1")
    assert result.exit_code == 130 and "continue with: pixelgen train vae --resume" in result.output
    [record] = runs.all_runs(strategy="vae")
    assert record.status == runs.KILLED and record.steps == 2 and record.checkpoint_path.is_file()
    assert [r.info.status for r in mlflow_runs(tmp_path)] == ["KILLED"]
    monkeypatch.setattr(VAEStrategy, "train_step", real)
    result = run("train", "vae", "-q", "--resume", record.checkpoint_path)
    assert result.exit_code == 0, result.output
    [resumed] = runs.all_runs(strategy="vae")
    assert resumed.id == record.id and resumed.status == runs.FINISHED and resumed.steps == 7
    assert [r.info.status for r in mlflow_runs(tmp_path)] == ["FINISHED"]
    # the progress log goes on where it stopped: every step once, with its loss
    entries = runs.read_progress(record.run_dir)
    assert [e["step"] for e in entries] == [1, 2, 3, 4, 5, 6, 7]
    assert all(e["total_steps"] == 7 and e["loss"] > 0 for e in entries)
    assert [e["step"] for e in runs.read_progress(record.run_dir, after=5)] == [6, 7]


def test_a_progress_line_being_written_is_skipped(tmp_path):
    runs.log_progress(tmp_path, {"step": 10, "loss": 1.5})
    with open(tmp_path / runs.PROGRESS_FILE, "a") as log:
        log.write('{"step": 20, "lo')  # a writer caught mid-line
    assert runs.read_progress(tmp_path) == [{"step": 10, "loss": 1.5}]
    assert runs.read_progress(tmp_path / "no-such-run") == []


def test_a_run_with_no_steps_is_refused_before_it_starts(tmp_path):
    for override in ("training.epochs=0", "training.epochs=-1"):
        result = run("train", "vae", "-q", *TINY, override)
        assert result.exit_code == 2 and "'training.epochs' must be at least 1" in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


@needs_script
def test_kill_9_leaves_a_died_run_that_resumes_and_its_temp_files_are_cleaned(tmp_path):
    proc = subprocess.Popen(
        [PIXELGEN, "train", "vae", "-q", *TINY[:-2], "training.epochs=500"]
        + ["training.sample_every=0", "tracking.enabled=false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("runs/vae/*/checkpoint.pt")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [folder] = list((tmp_path / "runs" / "vae").iterdir())
    # what a write killed half-way leaves, and one by a live process that must stay
    dead = folder / f".checkpoint.pt.{this_host()}-{proc.pid}-0123abcd.tmp"
    live = folder / f".grid.png.{this_host()}-{os.getpid()}-0123abcd.tmp"
    dead.write_bytes(b"partial")
    live.write_bytes(b"partial")
    listed = json.loads(run("runs", "vae", "--json").output)
    assert [r["status"] for r in listed] == ["DIED"]
    assert listed[0]["checkpoint"] == str(folder / "checkpoint.pt")
    assert "DIED" in run("runs").output
    result = run("train", "vae", "-q", "--resume", folder, "training.epochs=2")
    assert result.exit_code == 0, result.output
    assert not dead.exists() and live.exists()
    assert runs.read(folder).status == runs.FINISHED


def test_stale_temp_files_of_dead_processes_only_are_removed(tmp_path):
    dead_pid = 2**22 + 12345  # above Linux's default pid_max
    dead = tmp_path / "a" / f".x.pt.{this_host()}-{dead_pid}-0123abcd.tmp"
    other_host = tmp_path / "a" / f".x.pt.elsewhere-{dead_pid}-0123abcd.tmp"
    unrelated = tmp_path / "a" / ".notes.tmp"
    dead.parent.mkdir()
    for path in (dead, other_host, unrelated):
        path.write_text("x")
    assert remove_stale_temps(tmp_path) == [dead]
    assert other_host.exists() and unrelated.exists()


def test_runs_lists_finds_and_deletes(tmp_path):
    assert "no runs in runs/" in run("runs").output
    assert run("train", "vae", "-q", *TINY).exit_code == 0
    assert run("train", "vae", "-q", *TINY, "tracking.enabled=false").exit_code == 0
    listed = json.loads(run("runs", "--json").output)
    assert [r["status"] for r in listed] == ["FINISHED", "FINISHED"]
    assert listed[0]["mlflow_run_id"] is None and listed[1]["mlflow_run_id"]
    table = run("runs", "vae").output
    assert listed[0]["id"] in table and "runs/vae/" in table and "checkpoint.pt" in table
    # a run is found by its folder name or its MLflow id; an untracked one too
    for key in (listed[0]["id"], listed[1]["id"], listed[1]["mlflow_run_id"]):
        result = run("sample", "vae", "--run", key, "-n", 1, "--out", f"s-{key}")
        assert result.exit_code == 0, result.output
    result = run("runs", "--delete", listed[1]["mlflow_run_id"])
    assert result.exit_code == 0 and "deleted run" in result.output
    assert not Path(listed[1]["run_dir"]).exists()
    assert mlflow_runs(tmp_path) == []  # marked deleted: hidden from active runs
    assert len(json.loads(run("runs", "--json").output)) == 1
    result = run("runs", "--delete", "nope")
    assert result.exit_code == 1 and "no run 'nope'" in result.output


def test_a_run_only_in_mlflow_is_read_in_place(tmp_path, monkeypatch):
    """Runs from before the index (or whose folder was removed) are found through MLflow;
    a local artifact store is read where it is, never copied to a temp folder."""
    assert run("train", "vae", "-q", *TINY).exit_code == 0
    shutil.rmtree(tmp_path / "runs")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    result = run("sample", "vae", "-n", 2, "--out", "s")
    assert result.exit_code == 0, result.output
    assert list(temp.iterdir()) == [] and not (user_cache() / "checkpoints").exists()


def test_the_index_is_read_without_importing_mlflow(tmp_path):
    assert run("train", "vae", "-q", *TINY).exit_code == 0
    code = (
        "import sys; from pixelgen_core.cli import main; sys.argv = "
        "['pixelgen', 'sample', 'vae', '-n', '2', '--out', 's']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None)\n"
        "assert 'mlflow' not in sys.modules, 'mlflow was imported'\n"
        "assert 'torch._dynamo' not in sys.modules, 'an optimizer was built'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s" / "grid.png").is_file()
