"""A real `pixelgen studio` for the studio tests: a process of its own on loopback, in a
folder with a tiny maskgit run (one for the whole session, shared by the API and the
browser tests), and a client that speaks to it as the page does."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

PLUGINS = "pixelgen-vae,pixelgen-maskgit"  # isolated from whatever else is installed
TINY_MASKGIT = ["model.unet_channels=[8,16]", "training.epochs=2"]
TINY_MASKGIT += ["data.dataset=kenney-mono", "data.focused=true", "training.grid_size=4"]


def environment() -> dict[str, str]:
    plugins = PLUGINS
    if os.environ.get("PIXELGEN_STUDIO_RUN"):  # and the given run's own strategy
        plugins += ",pixelgen-" + Path(os.environ["PIXELGEN_STUDIO_RUN"]).resolve().parent.name
    env = {**os.environ, "PIXELGEN_LOAD_PLUGINS": plugins}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def pixelgen(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pixelgen_core", *args]
    done = subprocess.run(command, cwd=folder, env=environment(), capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def small_dataset(folder: Path, count: int = 40) -> str:
    """`count` sprites of the bundled mono sheet as a folder in `folder/datasets`, as an
    upload leaves them: a dataset the studio lists and trains on in seconds."""
    from PIL import Image

    import pixelgen_core as pg

    target = folder / "datasets" / "small"
    target.mkdir(parents=True)
    for i, sprite in enumerate(pg.open_dataset("kenney-mono").sprites[:count]):
        Image.fromarray(sprite, "RGBA").save(target / f"sprite_{i}.png")
    return "datasets/small"


def train_tiny_maskgit(folder: Path) -> str:
    pixelgen(folder, "train", "maskgit", "-q", *TINY_MASKGIT)
    [run] = [p.name for p in (folder / "runs" / "maskgit").iterdir()]
    return run


@dataclass
class Server:
    process: subprocess.Popen
    folder: Path
    url: str  # the address printed, with the token
    run: str = ""  # the session studio's run (a tiny maskgit), its id
    strategy: str = ""

    @property
    def run_dir(self) -> Path:
        return self.folder / "runs" / self.strategy / self.run

    @property
    def base(self) -> str:
        return self.url.split("/?")[0]

    @property
    def token(self) -> str:
        return self.url.split("token=")[1]

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def call(
        self,
        path: str,
        body: dict | bytes | None = None,
        method: str | None = None,
        headers: dict | None = None,
        token: bool = True,
    ) -> tuple[int, dict | bytes]:
        """(status, JSON or bytes) of one request, as the page would send it."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            request.add_header("X-Pixelgen-Token", self.token)
        if isinstance(body, dict):
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, raw, kind = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers
        if "json" in kind.get("Content-Type", ""):
            return status, json.loads(raw)
        return status, raw

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_studio(folder: Path, *args: str) -> Server:
    """`pixelgen studio ARGS` in `folder`, once it prints its address."""
    command = [sys.executable, "-m", "pixelgen_core", "studio", *args]
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"(http://\S+/\?token=\S+)", line)
        if found:
            return Server(process, folder, found.group(1))
    process.kill()
    raise AssertionError("pixelgen studio did not start:\n" + "".join(lines))


def wait_for_run(server: Server, job: int, timeout: float = 180) -> dict:
    """Poll a training the studio started until its run has ended; its last progress."""
    deadline = time.monotonic() + timeout
    run = None
    while time.monotonic() < deadline:
        if run is None:
            status, state = server.call(f"/api/trainings/{job}")
            assert status == 200 and state["error"] is None, state
            run = state["run"]
        if run is not None:
            status, progress = server.call(f"/api/runs/{run}/progress")
            if progress["state"] != "RUNNING":
                return progress
        time.sleep(0.5)
    raise AssertionError(f"training {job} did not end in {timeout} s")


@pytest.fixture(scope="session")
def studio(tmp_path_factory) -> Server:
    """One studio for the session, in a folder with a tiny maskgit run (`studio.run`); it
    takes requests of at most 0.05 MB, so that the size limit can be tested.

    PIXELGEN_STUDIO_RUN=RUN_FOLDER serves a copy of that run instead (any strategy that
    edits): the docs' screenshots show a real model, not the tiny one."""
    folder = tmp_path_factory.mktemp("studio")
    given = os.environ.get("PIXELGEN_STUDIO_RUN")
    if given:
        source = Path(given).resolve()
        strategy, run = source.parent.name, source.name
        shutil.copytree(source, folder / "runs" / strategy / run)
    else:
        strategy, run = "maskgit", train_tiny_maskgit(folder)
    small_dataset(folder)
    server = start_studio(folder, "--max-upload-mb", "0.05")
    server.run, server.strategy = run, strategy
    yield server
    server.stop()


@pytest.fixture
def cli():
    """`pixelgen ARGS` in a folder, as a process: cli(folder, *args, check=True)."""
    return pixelgen


@pytest.fixture
def launch():
    """`pixelgen studio ARGS` in a folder of a test's own: launch(folder, *args)."""
    started = []

    def start(folder: Path, *args: str) -> Server:
        started.append(start_studio(folder, *args))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def wait():
    return wait_for_run


@pytest.fixture
def small():
    """small(folder): a folder of 40 sprites in folder/datasets; its dataset name."""
    return small_dataset
