"""`pixelgen studio`'s HTTP API, against a real server on loopback: who may drive it,
what it reads and writes, and that what it draws is what the Python API draws."""

from __future__ import annotations

import base64
import http.client
import io
import json
import threading
import time

import numpy as np
import pytest
from PIL import Image

import pixelgen_core as pg


@pytest.fixture
def server(studio):
    return studio


def png_text(rgba: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def pixels(text: str) -> np.ndarray:
    data = base64.b64decode(text.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def sprite_png(seed: int) -> bytes:
    sprite = pg.open_dataset("kenney-mono").sprites[seed]
    buffer = io.BytesIO()
    Image.fromarray(sprite, "RGBA").save(buffer, "PNG")
    return buffer.getvalue()


# -- who may drive it -------------------------------------------------------------------
def test_only_a_request_with_the_token_is_served(server):
    assert server.call("/api/info", token=False)[0] == 403
    status, body = server.call("/api/info", token=False, headers={"X-Pixelgen-Token": "nope"})
    assert status == 403 and "token" in body["error"]
    status, body = server.call(f"/api/info?token={server.token}", token=False)
    assert status == 200 and body["folder"] == str(server.folder.resolve())


def test_the_page_sets_its_token_as_a_strict_cookie(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    connection.request("GET", f"/?token={server.token}")
    response = connection.getresponse()
    assert response.status == 200 and b"pixelgen studio" in response.read()
    cookie = response.getheader("set-cookie")
    assert f"pixelgen_studio={server.token}" in cookie
    assert "samesite=strict" in cookie.lower() and "httponly" in cookie.lower()
    connection.request("GET", "/api/runs", headers={"Cookie": f"pixelgen_studio={server.token}"})
    assert connection.getresponse().status == 200


def test_another_site_cannot_drive_it_even_with_the_token(server):
    """A page elsewhere (its Origin) or a DNS name rebound to 127.0.0.1 (its Host)."""
    status, body = server.call("/api/runs", headers={"Origin": "http://evil.example"})
    assert status == 403 and "evil.example" in body["error"]
    status, body = server.call("/api/runs", headers={"Origin": "null"})
    assert status == 403
    status, body = server.call("/api/runs", headers={"Host": f"evil.example:{server.port}"})
    assert status == 403 and "Host" in body["error"]
    own = f"http://127.0.0.1:{server.port}"
    assert server.call("/api/runs", headers={"Origin": own})[0] == 200


def test_it_listens_on_loopback_only(tmp_path, cli):
    done = cli(tmp_path, "studio", "--host", "0.0.0.0", check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "Error: --host 0.0.0.0: the studio serves this machine only; give a loopback "
        "address (127.0.0.1 or ::1)"
    ]


def test_a_port_in_use_is_a_one_line_error(tmp_path, cli, studio):
    done = cli(tmp_path, "studio", "--port", str(studio.port), check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{studio.port}: Address already in use "
        "(another --port, or 0 for any)"
    ]


@pytest.mark.parametrize("size", ["0", "-1", "nan", "inf"])
def test_an_odd_upload_limit_is_a_one_line_error(tmp_path, cli, size):
    done = cli(tmp_path, "studio", "--max-upload-mb", size, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: --max-upload-mb {float(size)}: give a size above 0 and at most 4096"
    ]


# -- what it reads and writes ----------------------------------------------------------
def test_an_upload_lands_in_the_folders_datasets(server):
    status, body = server.call(
        "/api/datasets/mine/files/enemies/slime_green.png", sprite_png(3), method="PUT"
    )
    assert status == 200, body
    written = server.folder / "datasets" / "mine" / "enemies" / "slime_green.png"
    assert written.read_bytes() == sprite_png(3)
    names = [d["name"] for d in server.call("/api/info")[1]["datasets"]]
    assert "datasets/mine" in names and "kenney-mono" in names


@pytest.mark.parametrize(
    "path",
    ["../escape.png", "a/../../escape.png", "%2e%2e/escape.png", ".hidden.png", "notes.txt"],
)
def test_an_upload_never_leaves_the_datasets_folder(server, path):
    status, body = server.call(f"/api/datasets/mine/files/{path}", sprite_png(0), method="PUT")
    assert status in (400, 404), body
    assert not (server.folder / "escape.png").exists()
    assert not (server.folder / "datasets" / "escape.png").exists()


def test_an_upload_that_is_not_a_png_is_refused(server):
    status, body = server.call("/api/datasets/mine/files/fake.png", b"GIF89a...", method="PUT")
    assert status == 400 and body["error"] == "fake.png: not a PNG image"


def test_an_oversized_upload_is_refused_in_one_line(server):
    big = b"\0" * 60_000  # the test server takes 0.05 MB
    status, body = server.call("/api/datasets/mine/files/big.png", big, method="PUT")
    assert status == 413
    assert body["error"] == (
        "upload too large (0.1 MB): the studio takes at most 0.05 MB per request "
        "(pixelgen studio --max-upload-mb)"
    )


def test_an_oversized_upload_without_a_length_is_cut_off(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    chunks = (b"\0" * 10_000 for _ in range(10))
    headers = {"X-Pixelgen-Token": server.token}
    connection.request(
        "PUT", "/api/datasets/mine/files/big.png", chunks, headers, encode_chunked=True
    )
    response = connection.getresponse()
    assert response.status == 413
    assert "at most 0.05 MB" in json.loads(response.read())["error"]
    assert not (server.folder / "datasets" / "mine" / "big.png").exists()


def test_training_reads_only_the_datasets_the_page_lists(server):
    body = {"strategy": "vae", "dataset": "/etc", "minutes": 1}
    status, answer = server.call("/api/trainings", body)
    assert status == 400 and answer["error"].startswith("unknown dataset '/etc'")
    status, answer = server.call(
        "/api/trainings", {**body, "dataset": "kenney-mono", "minutes": -1}
    )
    assert status == 400 and answer["error"].startswith("minutes:")


# -- the same sprites as the Python API ----------------------------------------------------
def test_a_sheet_drawn_by_the_page_is_the_api_sheet(server):
    status, body = server.call(f"/api/runs/{server.run}/sample", {"n": 6, "seed": 4})
    assert status == 200, body
    run = pg.open_run(checkpoint=server.run_dir, device="cpu")
    expected = np.asarray(run.sample(6, seed=4, separate=True))
    assert np.array_equal(np.stack([pixels(s) for s in body["sprites"]]), expected)
    assert body["seeds"] == [4, 5, 6, 7, 8, 9]


def test_a_sheet_in_another_palette_uses_only_its_colours(server):
    status, body = server.call(
        f"/api/runs/{server.run}/sample", {"n": 4, "seed": 1, "palette": "gameboy"}
    )
    assert status == 200, body
    colours = {tuple(p[:3]) for s in body["sprites"] for p in pixels(s).reshape(-1, 4) if p[3]}
    gameboy = {(15, 56, 15), (48, 98, 48), (139, 172, 15), (155, 188, 15)}
    assert colours and colours <= gameboy
    # an indexed export of recoloured sprites takes their own colours, not the run's
    body = {"sprites": body["sprites"], "formats": ["aseprite"], "run": server.run}
    status, answer = server.call("/api/exports", body)
    assert status == 200 and "sprites.aseprite" in answer["files"], answer


def test_a_redraw_keeps_every_pixel_outside_the_mask(server):
    _, drawn = server.call(f"/api/runs/{server.run}/sample", {"n": 1, "seed": 2})
    original = pixels(drawn["sprites"][0])
    mask = np.zeros((16, 16, 4), np.uint8)
    mask[..., 3] = 255
    mask[4:9, 5:11, :3] = 255
    body = {"image": drawn["sprites"][0], "mask": png_text(mask), "n": 3, "strength": 1.0}
    status, answer = server.call(f"/api/runs/{server.run}/edit", body)
    assert status == 200, answer
    inside = np.zeros((16, 16), bool)
    inside[4:9, 5:11] = True
    results = [pixels(s) for s in answer["sprites"]]
    assert len(results) == 3
    for result in results:
        assert np.array_equal(result[~inside], original[~inside])
    assert any(not np.array_equal(r[inside], original[inside]) for r in results)


def test_a_bad_sprite_or_option_is_a_one_line_error(server):
    status, body = server.call(f"/api/runs/{server.run}/edit", {"image": "not a png"})
    assert status == 400 and body["error"] == "a sprite is not a base64 PNG"
    status, body = server.call(f"/api/runs/{server.run}/sample", {"options": {"steps": -3}})
    assert status == 400 and "\n" not in body["error"] and "steps" in body["error"]
    status, body = server.call(f"/api/runs/{server.run}/sample", {"n": 100000})
    assert status == 400 and body["error"].startswith("n:")
    status, body = server.call(f"/api/runs/{server.run}/sample", {"palette": "/etc/passwd"})
    assert status == 400 and body["error"].startswith("unknown palette '/etc/passwd': pico-8")
    status, body = server.call("/api/runs/no-such-run/sample", {"n": 1})
    assert status == 404 and "no-such-run" in body["error"]


def test_the_run_describes_its_sample_options(server):
    status, body = server.call(f"/api/runs/{server.run}")
    assert status == 200
    options = {o["name"]: o for o in body["options"]}
    run = pg.open_run(checkpoint=server.run_dir, device="cpu")
    assert set(options) == {o.name for o in run.record.spec.sample_options}
    assert {k: o["value"] for k, o in options.items()} == run.sample_options()
    assert body["size"] == [16, 16] and body["palette"] == list(run.palette.hex())


def test_the_verdict_is_pixelgen_evaluates(server):
    status, body = server.call(f"/api/runs/{server.run}/evaluate", {"n": 32})
    assert status == 200, body
    run = pg.open_run(checkpoint=server.run_dir, device="cpu")
    expected = run.evaluate(32, repeats=1).model.verdict
    assert body["verdict"] == expected.describe() and body["count"] == 32
    assert body["table"].startswith("|  | FD")


# -- exports, and two clients at once ------------------------------------------------------
def test_two_exports_at_once_each_get_their_own_folder(server):
    _, drawn = server.call(f"/api/runs/{server.run}/sample", {"n": 3, "seed": 7})
    body = {"sprites": drawn["sprites"], "formats": ["aseprite-json", "tiled"], "run": server.run}
    answers = []

    def export():
        answers.append(server.call("/api/exports", body))

    threads = [threading.Thread(target=export) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200, 200]
    folders = {answer["folder"] for _, answer in answers}
    assert len(folders) == 2
    for _, answer in answers:
        folder = server.folder / answer["folder"]
        atlas = json.loads((folder / "sheet.json").read_text())
        assert len(atlas["frames"]) == 3
        sheet = np.asarray(Image.open(folder / "sheet.png").convert("RGBA"))
        assert np.array_equal(sheet[:16, :16], pixels(drawn["sprites"][0]))
        assert {"sheet.png", "sheet.json", "sheet.tsx"} <= set(answer["files"])
        name = answer["folder"].split("/")[-1]
        status, raw = server.call(f"/api/exports/{name}/sheet.png")
        assert status == 200 and raw == (folder / "sheet.png").read_bytes()
    status, _ = server.call("/api/exports/..%2F..%2Fruns/run.json")
    assert status == 404


# -- training --------------------------------------------------------------------------------
def test_a_training_goes_on_when_the_studio_stops(tmp_path, launch, cli, small):
    """Started from the page, trained by a process of its own: stopping the server (or
    closing the page) does not stop it; the CLI sees the run like any other."""
    studio = launch(tmp_path)
    body = {"strategy": "vae", "dataset": small(tmp_path), "minutes": 2, "epochs": 30}
    status, job = studio.call("/api/trainings", body)
    assert status == 200, job
    deadline = time.monotonic() + 60
    while job["run"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
        job = studio.call(f"/api/trainings/{job['job']}")[1]
    assert job["run"] is not None, job
    studio.stop()
    record = tmp_path / "runs" / "vae" / job["run"] / "run.json"
    assert json.loads(record.read_text())["status"] == "RUNNING"  # the studio is gone
    deadline = time.monotonic() + 120
    while json.loads(record.read_text())["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the training did not finish"
        time.sleep(0.3)
    listed = json.loads(cli(tmp_path, "runs", "--json").stdout)
    assert [(r["id"], r["status"], r["steps"]) for r in listed] == [(job["run"], "FINISHED", 30)]
    progress = (record.parent / "progress.jsonl").read_text()
    entries = [json.loads(line) for line in progress.splitlines()]
    assert [e["step"] for e in entries] == [10, 20, 30]


def test_a_training_shows_its_progress_and_a_bad_one_says_why(server, wait):
    body = {"strategy": "vae", "dataset": "datasets/small", "minutes": 1, "epochs": 20}
    status, job = server.call("/api/trainings", body)
    assert status == 200, job
    progress = wait(server, job["job"])
    assert progress["state"] == "FINISHED" and progress["usable"]
    steps = [e["step"] for e in progress["entries"]]
    assert steps == sorted(steps) and all(e["loss"] > 0 for e in progress["entries"])
    status, grid = server.call(f"/api/runs/{progress['id']}/samples/{progress['grid']}")
    assert status == 200 and grid.startswith(b"\x89PNG")
    status, later = server.call(f"/api/runs/{progress['id']}/progress?after={steps[-1]}")
    assert later["entries"] == []
    # a folder of blank sprites: nothing to learn, said in one line
    blank = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 4), np.uint8), "RGBA").save(blank, "PNG")
    server.call("/api/datasets/blank/files/b.png", blank.getvalue(), method="PUT")
    status, job = server.call("/api/trainings", {**body, "dataset": "datasets/blank"})
    assert status == 200
    deadline = time.monotonic() + 60
    while job["exit_code"] is None and time.monotonic() < deadline:
        time.sleep(0.3)
        job = server.call(f"/api/trainings/{job['job']}")[1]
    assert job["exit_code"] not in (None, 0) and job["run"] is None
    assert job["error"] == (
        "Error: every pixel of the sprites in datasets/blank is transparent: nothing to learn"
    )


def test_stop_is_ctrl_c_for_the_training(server, cli):
    """The page's Stop: the run saves a checkpoint and ends KILLED, resumable."""
    body = {"strategy": "vae", "dataset": "datasets/small", "minutes": 5, "epochs": 5000}
    status, job = server.call("/api/trainings", body)
    assert status == 200, job
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = server.call(f"/api/trainings/{job['job']}")[1]
        if job["run"] and server.call(f"/api/runs/{job['run']}/progress")[1]["entries"]:
            break
        time.sleep(0.3)
    assert server.call(f"/api/trainings/{job['job']}/stop", {})[1] == {"stopped": True}
    deadline = time.monotonic() + 60
    while job["exit_code"] is None and time.monotonic() < deadline:
        time.sleep(0.3)
        job = server.call(f"/api/trainings/{job['job']}")[1]
    assert job["exit_code"] == 130, job
    progress = server.call(f"/api/runs/{job['run']}/progress")[1]
    assert progress["state"] == "KILLED" and 0 < progress["steps"] < 5000
    assert (server.folder / "runs" / "vae" / job["run"] / "checkpoint.pt").is_file()
    assert server.call(f"/api/trainings/{job['job']}/stop", {})[1] == {"stopped": False}


def test_a_prompt_draws_what_the_python_api_draws(studio, cli):
    """A run trained on tags (here from folder names): the page's prompt box sends the
    words as they are; an unknown one is a one-line error naming the closest tags."""
    sheet = pg.open_dataset("kenney-mono").sprites
    for i in range(40):
        folder = studio.folder / "datasets" / "tagged" / ("slime" if i % 2 else "coin")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet[i], "RGBA").save(folder / f"sprite_{i}.png")
    cli(
        studio.folder,
        "train",
        "maskgit",
        "-q",
        "data.dataset=datasets/tagged",
        "model.unet_channels=[8,16]",
        "training.epochs=2",
    )
    [run] = [
        r["id"]
        for r in studio.call("/api/runs")[1]["runs"]
        if r["id"] != studio.run and (studio.folder / "runs" / "maskgit" / r["id"]).is_dir()
    ]
    details = studio.call(f"/api/runs/{run}")[1]
    assert {tag for tag, _ in details["tags"]} == {"slime", "coin"}
    status, body = studio.call(f"/api/runs/{run}/sample", {"n": 4, "seed": 2, "prompt": "slimes"})
    assert status == 200, body
    opened = pg.open_run(checkpoint=studio.folder / "runs" / "maskgit" / run, device="cpu")
    expected = np.asarray(opened.sample(4, seed=2, prompt="slimes", separate=True))
    assert np.array_equal(np.stack([pixels(s) for s in body["sprites"]]), expected)
    status, body = studio.call(f"/api/runs/{run}/sample", {"prompt": "slim"})
    assert status == 400 and "\n" not in body["error"] and "slime" in body["error"]
