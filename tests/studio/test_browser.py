"""The studio page, driven in a real headless Chromium (Debian's `chromium`, through
Playwright): train, watch, draw, pick, paint a mask and redraw, switch palette, keep,
export, evaluate; two tabs at once; and a page of another origin that tries to drive it.

scripts/readers.sh installs Chromium where apt can; without it these tests skip and say
why. With PIXELGEN_SCREENSHOTS=FOLDER set they save the page's screenshots there (the
docs' pictures: `PIXELGEN_SCREENSHOTS=docs/images python -m pytest tests/studio`).
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pixelgen_core as pg

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Resolved now, before any test changes the working directory.
SCREENSHOTS = (
    os.environ.get("PIXELGEN_SCREENSHOTS") and Path(os.environ["PIXELGEN_SCREENSHOTS"]).resolve()
)
GAMEBOY = {(15, 56, 15), (48, 98, 48), (139, 172, 15), (155, 188, 15)}


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (scripts/readers.sh installs Debian's package)")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, studio):
    context = browser.new_context(viewport={"width": 1400, "height": 1250})
    context.set_default_timeout(120_000)  # a run's first drawing loads torch and its weights
    opened = context.new_page()
    errors = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(studio.url)
    opened.wait_for_selector(f"#runs li[data-run='{studio.run}']")
    yield opened
    context.close()
    assert not errors, errors


@pytest.fixture
def shots(tmp_path) -> Path:
    return SCREENSHOTS or tmp_path


def pixels(data_url: str) -> np.ndarray:
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA"))


def sprites_in(page, selector: str) -> list[np.ndarray]:
    sources = page.eval_on_selector_all(f"{selector} .sprite img", "els => els.map(e => e.src)")
    return [pixels(s) for s in sources]


def cut_out(folder: Path) -> list[bytes]:
    """The sprites of an exported sheet, in atlas order, where its atlas says they are."""
    sheet = np.asarray(Image.open(folder / "sheet.png").convert("RGBA"))
    frames = json.loads((folder / "sheet.json").read_text())["frames"].values()
    boxes = [f["frame"] for f in frames]
    return [sheet[b["y"] : b["y"] + b["h"], b["x"] : b["x"] + b["w"]].tobytes() for b in boxes]


def open_maskgit(studio):
    return pg.open_run(checkpoint=studio.run_dir, device="cpu")


def test_train_on_uploaded_sprites_and_watch_it_learn(page, studio, tmp_path, shots):
    sheet = pg.open_dataset("kenney-mono").sprites
    files = []
    for i in range(40):
        path = tmp_path / f"hero_{i}.png"
        Image.fromarray(sheet[i], "RGBA").save(path)
        files.append(str(path))
    page.fill("#upload-name", "heroes")
    page.set_input_files("#upload-files", files)
    page.click("#upload")
    page.wait_for_selector("#message:has-text('uploaded 40 file(s) into datasets/heroes')")
    assert len(list((studio.folder / "datasets" / "heroes").glob("*.png"))) == 40
    page.select_option("#dataset", "datasets/heroes")
    page.select_option("#strategy", "vae")
    page.fill("#minutes", "2")
    page.fill("#epochs", "20")
    page.click("#train")
    page.wait_for_selector("#training-text:has-text('(FINISHED)')", timeout=180_000)
    page.wait_for_selector("#run-name:has-text('vae')")
    curve = page.evaluate(
        """() => { const c = document.getElementById('loss-curve');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let lit = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) lit++; return lit; }"""
    )
    assert curve > 100  # a drawn line
    assert page.eval_on_selector("#training-grid", "img => img.naturalWidth") > 0
    run = page.text_content("#training-run")
    assert (
        "dataset: datasets/heroes"
        in (studio.folder / "runs" / "vae" / run / "config.yaml").read_text()
    )
    assert page.is_hidden("#edit-panel") and page.is_visible("#no-edit")  # a VAE does not edit
    assert page.is_hidden("#stop")
    page.screenshot(path=str(shots / "studio-training.png"), full_page=True)


def test_draw_pick_redraw_recolour_keep_and_export(page, studio, shots):
    page.click(f"#runs li[data-run='{studio.run}']")
    page.wait_for_selector(f"#run-name:has-text('{studio.run}')")
    page.fill("#n", "6")
    page.fill("#seed", "4")
    held = []  # the draw's request, held until the page has said it is drawing
    page.route("**/sample", lambda route: held.append(route))
    page.click("#draw")
    page.wait_for_selector("#message:has-text('drawing 6 sprites…')")
    assert page.is_disabled("#draw")  # one draw at a time
    held[0].continue_()
    page.unroute("**/sample")
    page.wait_for_function("document.querySelectorAll('#sheet .sprite img').length === 6")
    page.wait_for_function(
        "[...document.querySelectorAll('#sheet .sprite img')].every(i => i.width === 64)"
    )
    drawn = sprites_in(page, "#sheet")
    expected = np.asarray(open_maskgit(studio).sample(6, seed=4, separate=True))
    assert np.array_equal(np.stack(drawn), expected)
    style = page.eval_on_selector("#sheet .sprite img", "i => getComputedStyle(i).imageRendering")
    assert style == "pixelated"  # nearest neighbour, never smoothed
    page.select_option("#zoom", "8")
    assert page.eval_on_selector("#sheet .sprite img", "i => i.width") == 128
    page.check("#pixel-grid")

    # a click on a sprite: it goes into the editor, and its variations come
    page.click("#sheet .sprite >> nth=0")
    page.wait_for_function("document.querySelectorAll('#variations .sprite img').length === 8")

    # paint a mask with the pixel brush: rows 4 and 5, columns 5 to 10
    box = page.locator("#edit-canvas").bounding_box()
    cell = box["width"] / 16
    for row in (4, 5):
        y = box["y"] + (row + 0.5) * cell
        page.mouse.move(box["x"] + 5.5 * cell, y)
        page.mouse.down()
        page.mouse.move(box["x"] + 10.5 * cell, y, steps=25)
        page.mouse.up()
    page.fill("#edit-n", "3")
    page.screenshot(path=str(shots / "studio-redraw.png"))
    page.click("#redraw")
    page.wait_for_function("document.querySelectorAll('#edits .sprite img').length === 3")
    page.wait_for_selector("#message:has-text('redrew 12 pixels')")
    inside = np.zeros((16, 16), bool)
    inside[4:6, 5:11] = True
    edits = sprites_in(page, "#edits")
    for edit in edits:
        assert np.array_equal(edit[~inside], drawn[0][~inside])
    assert any(not np.array_equal(e[inside], drawn[0][inside]) for e in edits)

    # keep two, recolour the sheet, keep one more, export with an atlas and for Tiled
    for index in (0, 1):
        page.hover(f"#edits .sprite >> nth={index}")
        page.click(f"#edits .sprite >> nth={index} >> button.keep")
    page.select_option("#palette", "gameboy")
    page.click("#draw")
    page.wait_for_function(
        "document.querySelectorAll('#sheet .sprite img').length === 6 && "
        "document.getElementById('message').textContent === 'drew 6 sprites'"
    )
    recoloured = sprites_in(page, "#sheet")
    colours = {tuple(p[:3]) for s in recoloured for p in s.reshape(-1, 4) if p[3]}
    assert colours and colours <= GAMEBOY
    page.hover("#sheet .sprite >> nth=2")
    page.click("#sheet .sprite >> nth=2 >> button.keep")
    page.wait_for_function("document.querySelectorAll('#kept .sprite').length === 3")
    page.screenshot(path=str(shots / "studio.png"), full_page=True)
    page.check("#formats input[value='tiled']")
    page.click("#export")
    page.wait_for_selector("#exported li a:has-text('sheet.tsx')")
    [folder] = sorted((studio.folder / "exports").iterdir(), key=lambda p: p.stat().st_mtime)[-1:]
    assert cut_out(folder) == [s.tobytes() for s in (edits[0], edits[1], recoloured[2])]
    assert (folder / "sheet.tsx").is_file()


def test_the_evaluation_verdict(page, studio):
    page.click(f"#runs li[data-run='{studio.run}']")
    page.wait_for_selector(f"#run-name:has-text('{studio.run}')")
    page.fill("#eval-n", "32")
    page.click("#evaluate")
    page.wait_for_selector("#verdict:has-text('32 sprites per row')", timeout=120_000)
    verdict = page.text_content("#verdict")
    # the same words as `pixelgen evaluate` (tests/studio/test_api.py checks the verdict)
    assert re.fullmatch(
        rf"{studio.strategy}: (pixel-clean|not pixel-clean: .+) \(32 sprites per row\)", verdict
    ), verdict
    assert "data (held-out half)" in page.text_content("#eval-table")


def test_two_tabs_export_at_once_and_lose_nothing(browser, studio):
    context = browser.new_context()
    context.set_default_timeout(120_000)
    tabs = [context.new_page(), context.new_page()]
    for seed, tab in enumerate(tabs):
        tab.goto(studio.url)
        tab.click(f"#runs li[data-run='{studio.run}']")
        tab.wait_for_selector(f"#run-name:has-text('{studio.run}')")
        tab.fill("#n", "2")
        tab.fill("#seed", str(10 + seed))
        tab.click("#draw")
        tab.wait_for_function("document.querySelectorAll('#sheet .sprite img').length === 2")
        for index in (0, 1):
            tab.hover(f"#sheet .sprite >> nth={index}")
            tab.click(f"#sheet .sprite >> nth={index} >> button.keep")
    before = (
        set((studio.folder / "exports").glob("*"))
        if (studio.folder / "exports").is_dir()
        else set()
    )
    for tab in tabs:
        tab.click("#export")
    for tab in tabs:
        tab.wait_for_selector("#exported li a:has-text('sheet.json')")
    made = set((studio.folder / "exports").glob("*")) - before
    assert len(made) == 2
    run = open_maskgit(studio)
    expected = [[s.tobytes() for s in run.sample(2, seed=10 + t, separate=True)] for t in (0, 1)]
    assert sorted(cut_out(folder) for folder in made) == sorted(expected)
    context.close()


class EvilPage(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):  # noqa: N802 (the http.server API)
        script = f"""
        <img id=i src="{self.target}/api/runs">
        <script>
        window.results = {{}};
        fetch("{self.target}/api/exports", {{method: "POST", mode: "no-cors",
          credentials: "include", headers: {{"Content-Type": "text/plain"}},
          body: JSON.stringify({{sprites: ["x"]}})}}).then(() => results.post = "sent",
          e => results.post = "failed");
        fetch("{self.target}/api/runs", {{credentials: "include"}})
          .then(r => r.text()).then(t => results.read = t, e => results.read = "blocked");
        </script>"""
        body = script.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_page_of_another_origin_cannot_drive_it(browser, studio):
    """Same machine, same site (127.0.0.1), another port: the browser sends the studio's
    cookie with its requests, and the studio still refuses them."""
    EvilPage.target = studio.base
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EvilPage)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(studio.url)  # the user has the studio open: its cookie is set
        tab.wait_for_selector("#runs li")
        exports = studio.folder / "exports"
        before = set(exports.glob("*")) if exports.is_dir() else set()
        attacker = context.new_page()
        attacker.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        attacker.wait_for_function("window.results.post && window.results.read")
        assert attacker.evaluate("window.results.read") == "blocked"
        assert attacker.evaluate("document.getElementById('i').naturalWidth") == 0
        after = set(exports.glob("*")) if exports.is_dir() else set()
        assert after == before
        status, body = studio.call(
            "/api/runs", headers={"Origin": f"http://127.0.0.1:{evil.server_address[1]}"}
        )
        assert status == 403
    finally:
        context.close()
        evil.shutdown()
