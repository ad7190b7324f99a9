// pixelgen studio: the page. It talks only to the studio's JSON API (docs/studio.md).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, run: null, details: null, selected: null, kept: [], job: null, after: -1, points: [] };

// The token came in the address; the server keeps it in a cookie, so drop it from view.
if (location.search.includes("token=")) history.replaceState(null, "", "/");

function say(text, error = false) {
  $("message").textContent = text;
  $("message").className = error ? "error" : "";
}

async function api(path, body, method) {
  const init = { method: method || (body === undefined ? "GET" : "POST"), headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function busy(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function zoom() {
  return Number($("zoom").value);
}

// -- sprites on the page -------------------------------------------------------------
function spriteElement(sprite, onClick) {
  const box = document.createElement("span");
  box.className = "sprite";
  const img = new Image();
  img.src = sprite.png;
  img.onload = () => {
    img.width = img.naturalWidth * zoom();
    img.height = img.naturalHeight * zoom();
  };
  box.append(img);
  box.style.setProperty("--pixel", zoom() + "px");
  box.addEventListener("click", () => onClick(sprite, box));
  const keep = document.createElement("button");
  keep.className = "keep";
  keep.textContent = "keep";
  keep.addEventListener("click", (event) => {
    event.stopPropagation();
    keepSprite(sprite);
    box.classList.add("kept");
  });
  box.append(keep);
  box.sprite = sprite;
  return box;
}

function showSprites(target, sprites, onClick) {
  const box = $(target);
  box.replaceChildren(...sprites.map((s) => spriteElement(s, onClick)));
}

function rezoom() {
  for (const box of document.querySelectorAll(".sprite")) {
    const img = box.querySelector("img");
    img.width = img.naturalWidth * zoom();
    img.height = img.naturalHeight * zoom();
    box.style.setProperty("--pixel", zoom() + "px");
  }
}

function keepSprite(sprite) {
  state.kept.push(sprite);
  showSprites("kept", state.kept, (s, box) => {
    state.kept = state.kept.filter((k) => k !== s);
    box.remove();
  });
  say(`kept ${state.kept.length} sprite(s)`);
}

// -- runs and training -----------------------------------------------------------------
async function loadInfo() {
  state.info = await api("/api/info");
  $("folder").textContent = state.info.folder;
  fill($("dataset"), state.info.datasets.map((d) => [d.name, `${d.name} (${d.kind})`]));
  fill($("strategy"), state.info.strategies.map((s) => [s.name, `${s.name}: ${s.description}`]));
  const formats = $("formats");
  formats.querySelectorAll("label").forEach((l) => l.remove());
  for (const name of state.info.export_formats) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" value="${name}"> ${name}`;
    formats.append(label);
  }
  await loadRuns();
}

function fill(select, pairs, chosen) {
  select.replaceChildren(
    ...pairs.map(([value, text]) => {
      const option = new Option(text, value);
      option.selected = value === chosen;
      return option;
    }),
  );
}

async function loadRuns() {
  const { runs } = await api("/api/runs");
  const list = $("runs");
  list.replaceChildren(
    ...runs.map((run) => {
      const item = document.createElement("li");
      item.dataset.run = run.id;
      item.innerHTML = `${run.strategy} <code>${run.id}</code> <span class="state">${run.state}, ${run.steps} steps</span>`;
      item.classList.toggle("selected", run.id === state.run);
      item.addEventListener("click", () => selectRun(run).catch((error) => say(error.message, true)));
      return item;
    }),
  );
}

async function selectRun(run) {
  if (!run.usable) {
    watch(run.id);
    return;
  }
  state.run = run.id;
  state.details = await api(`/api/runs/${run.id}`);
  const d = state.details;
  $("run-name").textContent = `${d.strategy} ${d.id}`;
  document.querySelectorAll("#runs li").forEach((li) => li.classList.toggle("selected", li.dataset.run === run.id));
  $("prompt-field").hidden = $("negative-field").hidden = d.tags.length === 0;
  $("tag-list").replaceChildren(...d.tags.map(([tag]) => new Option(tag)));
  $("class-field").hidden = d.classes === 0;
  fill($("label"), [["", "any"], ...Array.from({ length: d.classes }, (_, i) => [String(i), String(i)])]);
  fill($("palette"), [["", "the run's own"], ...state.info.palettes.map((p) => [p, p])]);
  $("tileable-field").hidden = !d.capabilities.includes("tileable");
  $("options").replaceChildren(...d.options.map(optionField));
  const edits = d.capabilities.includes("edit");
  $("edit-panel").hidden = !edits;
  $("no-edit").hidden = edits;
  say(`${d.strategy} run ${d.id}: ${d.size[1]}x${d.size[0]} sprites, ${d.palette.length} colours`);
}

function optionField(option) {
  const label = document.createElement("label");
  label.textContent = option.name.replaceAll("_", " ") + " ";
  label.title = option.help;
  let input;
  if (option.type === "choice") {
    input = document.createElement("select");
    fill(input, option.choices.map((c) => [c, c]), option.value);
  } else {
    input = document.createElement("input");
    if (option.type === "bool") {
      input.type = "checkbox";
      input.checked = Boolean(option.value);
    } else {
      input.type = option.type === "str" ? "text" : "number";
      if (option.type === "float") input.step = "any";
      input.value = option.value ?? "";
    }
  }
  input.dataset.option = option.name;
  input.dataset.kind = option.type;
  label.append(input);
  return label;
}

function drawSettings() {
  const options = {};
  for (const input of document.querySelectorAll("[data-option]")) {
    const kind = input.dataset.kind;
    if (kind === "bool") options[input.dataset.option] = input.checked;
    else if (input.value === "") continue;
    else if (kind === "int") options[input.dataset.option] = parseInt(input.value, 10);
    else if (kind === "float") options[input.dataset.option] = parseFloat(input.value);
    else options[input.dataset.option] = input.value;
  }
  const d = state.details;
  return {
    seed: Number($("seed").value),
    label: d.classes && $("label").value !== "" ? Number($("label").value) : null,
    prompt: d.tags.length ? $("prompt").value || null : null,
    negative: d.tags.length ? $("negative").value || null : null,
    palette: $("palette").value || null,
    tileable: !$("tileable-field").hidden && $("tileable").checked,
    options,
  };
}

function needRun() {
  if (!state.run) throw new Error("pick a finished run first");
}

async function startTraining() {
  const body = {
    strategy: $("strategy").value,
    dataset: $("dataset").value,
    minutes: Number($("minutes").value),
  };
  if ($("epochs").value) body.epochs = Number($("epochs").value);
  const job = await api("/api/trainings", body);
  state.job = job.job;
  say("training started");
  $("training").hidden = false;
  $("training-run").textContent = "(starting)";
  $("training-progress").removeAttribute("value");
  waitForRun();
}

async function waitForRun() {
  const job = await api(`/api/trainings/${state.job}`);
  if (job.error) {
    say(job.error, true);
    $("training").hidden = true;
    return;
  }
  if (job.run) watch(job.run);
  else setTimeout(() => waitForRun().catch((error) => say(error.message, true)), 1000);
}

function watch(runId) {
  state.watching = runId;
  state.after = -1;
  state.points = [];
  $("training").hidden = false;
  $("stop").hidden = false;
  $("training-run").textContent = runId;
  poll(runId);
}

function poll(runId) {
  showProgress(runId).catch((error) => say(error.message, true));
}

async function showProgress(runId) {
  if (state.watching !== runId) return;
  const p = await api(`/api/runs/${runId}/progress?after=${state.after}`);
  for (const entry of p.entries) state.points.push([entry.step, entry.loss]);
  const last = p.entries[p.entries.length - 1];
  if (last) {
    state.after = last.step;
    const budget = last.budget_seconds;
    const share = Math.max(last.step / last.total_steps, budget ? last.seconds / budget : 0);
    $("training-progress").value = Math.min(share, 1);
    $("training-text").textContent =
      `${last.stage}, step ${last.step} of at most ${last.total_steps}, loss ${last.loss.toFixed(4)}, ` +
      `${Math.round(last.seconds)} s`;
  }
  if (p.grid) $("training-grid").src = `/api/runs/${runId}/samples/${p.grid}`;
  drawCurve();
  if (p.state === "RUNNING") {
    setTimeout(() => poll(runId), 1000);
    return;
  }
  $("training-progress").value = 1;
  $("training-text").textContent += ` (${p.state})`;
  $("stop").hidden = true;
  await loadRuns();
  if (p.usable) {
    say(`run ${runId} finished`);
    await selectRun(p);
  } else {
    say(`run ${runId} ended ${p.state}`, p.state !== "FINISHED");
  }
}

function drawCurve() {
  const canvas = $("loss-curve");
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const pts = state.points;
  if (pts.length < 2) return;
  const steps = pts.map((p) => p[0]);
  const losses = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...losses), Math.max(...losses)];
  g.strokeStyle = "#f4b942";
  g.beginPath();
  pts.forEach(([x, y], i) => {
    const px = ((x - x0) / (x1 - x0 || 1)) * (canvas.width - 4) + 2;
    const py = canvas.height - 2 - ((y - y0) / (y1 - y0 || 1)) * (canvas.height - 4);
    i ? g.lineTo(px, py) : g.moveTo(px, py);
  });
  g.stroke();
}

async function upload() {
  const name = $("upload-name").value.trim();
  const files = [...$("upload-files").files];
  if (!name || files.length === 0) throw new Error("give the dataset a name and pick PNG files");
  for (const file of files) {
    const path = (file.webkitRelativePath || file.name).split("/").map(encodeURIComponent).join("/");
    const response = await fetch(`/api/datasets/${encodeURIComponent(name)}/files/${path}`, { method: "PUT", body: file });
    if (!response.ok) throw new Error((await response.json()).error);
  }
  await loadInfo();
  $("dataset").value = `datasets/${name}`;
  say(`uploaded ${files.length} file(s) into datasets/${name}`);
}

// -- drawing, variations and redrawing ---------------------------------------------------
async function draw() {
  needRun();
  const body = { n: Number($("n").value), ...drawSettings() };
  // a prompt's first draw also draws the pool its pixel filter is fitted on (256 sprites)
  const first = body.prompt ? " (a prompt's first draw fits its pixel filter once: slower)" : "";
  say(`drawing ${body.n} sprites…${first}`);
  const result = await api(`/api/runs/${state.run}/sample`, body);
  const sprites = result.sprites.map((png, i) => ({ png, seed: result.seeds ? result.seeds[i] : null }));
  showSprites("sheet", sprites, pick);
  say(`drew ${sprites.length} sprites`);
}

async function pick(sprite, box) {
  document.querySelectorAll(".sprite.selected").forEach((b) => b.classList.remove("selected"));
  box.classList.add("selected");
  state.selected = sprite;
  await loadEditor(sprite);
  if (box.parentElement.id === "sheet" && state.details.capabilities.includes("edit")) {
    await variations(sprite);
  }
}

async function variations(sprite) {
  const body = { image: sprite.png, n: 8, ...drawSettings(), strength: null };
  const result = await api(`/api/runs/${state.run}/edit`, body);
  showSprites("variations", result.sprites.map((png) => ({ png })), pick);
  say("8 variations of the picked sprite");
}

// The editor: the picked sprite at 20x; painted cells are the mask (redrawn).
const editor = { image: null, mask: null, w: 0, h: 0, cell: 20, painting: false };

function loadEditor(sprite) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => {
      editor.image = img;
      editor.w = img.naturalWidth;
      editor.h = img.naturalHeight;
      editor.cell = Math.max(1, Math.floor(320 / Math.max(editor.w, editor.h)));
      editor.mask = new Uint8Array(editor.w * editor.h);
      const canvas = $("edit-canvas");
      canvas.width = editor.w * editor.cell;
      canvas.height = editor.h * editor.cell;
      paintEditor();
      resolve();
    };
    img.src = sprite.png;
  });
}

function paintEditor() {
  const canvas = $("edit-canvas");
  const g = canvas.getContext("2d");
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (!editor.image) return;
  g.drawImage(editor.image, 0, 0, canvas.width, canvas.height);
  g.fillStyle = "rgba(255, 40, 90, 0.55)";
  for (let y = 0; y < editor.h; y++) {
    for (let x = 0; x < editor.w; x++) {
      if (editor.mask[y * editor.w + x]) g.fillRect(x * editor.cell, y * editor.cell, editor.cell, editor.cell);
    }
  }
}

function brushAt(event) {
  if (!editor.image) return;
  const rect = $("edit-canvas").getBoundingClientRect();
  const scale = $("edit-canvas").width / rect.width;
  const cx = Math.floor(((event.clientX - rect.left) * scale) / editor.cell);
  const cy = Math.floor(((event.clientY - rect.top) * scale) / editor.cell);
  const size = Number($("brush").value);
  const value = $("erase").checked ? 0 : 1;
  for (let y = cy; y < cy + size; y++) {
    for (let x = cx; x < cx + size; x++) {
      if (x >= 0 && y >= 0 && x < editor.w && y < editor.h) editor.mask[y * editor.w + x] = value;
    }
  }
  paintEditor();
}

function maskPng() {
  const canvas = document.createElement("canvas");
  canvas.width = editor.w;
  canvas.height = editor.h;
  const g = canvas.getContext("2d");
  const pixels = g.createImageData(editor.w, editor.h);
  editor.mask.forEach((on, i) => {
    pixels.data.set(on ? [255, 255, 255, 255] : [0, 0, 0, 255], i * 4);
  });
  g.putImageData(pixels, 0, 0);
  return canvas.toDataURL("image/png");
}

async function redraw() {
  needRun();
  if (!state.selected) throw new Error("pick a sprite to redraw first");
  if (!editor.mask.some((v) => v)) throw new Error("paint the pixels to redraw first");
  const body = {
    image: state.selected.png,
    mask: maskPng(),
    strength: Number($("strength").value),
    n: Number($("edit-n").value),
    ...drawSettings(),
  };
  const result = await api(`/api/runs/${state.run}/edit`, body);
  showSprites("edits", result.sprites.map((png) => ({ png })), pick);
  say(`redrew ${editor.mask.reduce((a, b) => a + b, 0)} pixels, ${result.sprites.length} results`);
}

async function evaluate() {
  needRun();
  say("evaluating…");
  const result = await api(`/api/runs/${state.run}/evaluate`, { n: Number($("eval-n").value) });
  $("verdict").textContent = `${state.details.strategy}: ${result.verdict} (${result.count} sprites per row)`;
  $("eval-table").textContent = result.table;
  say("evaluated");
}

async function exportKept() {
  if (state.kept.length === 0) throw new Error("keep some sprites first (hover a sprite: keep)");
  const formats = [...document.querySelectorAll("#formats input:checked")].map((i) => i.value);
  const body = { sprites: state.kept.map((s) => s.png), formats, run: state.run };
  if ($("columns").value) body.columns = Number($("columns").value);
  const result = await api("/api/exports", body);
  const folder = result.folder.split("/").pop();
  $("exported").replaceChildren(
    ...result.files.map((name) => {
      const item = document.createElement("li");
      item.innerHTML = `<a href="/api/exports/${folder}/${name}" download>${name}</a>`;
      return item;
    }),
  );
  say(`exported ${state.kept.length} sprites to ${result.folder}`);
}

// -- wiring ------------------------------------------------------------------------------
$("zoom").addEventListener("change", rezoom);
$("pixel-grid").addEventListener("change", (e) => document.body.classList.toggle("grid-on", e.target.checked));
$("train").addEventListener("click", () => busy($("train"), startTraining));
$("upload").addEventListener("click", () => busy($("upload"), upload));
$("stop").addEventListener("click", () => busy($("stop"), () => api(`/api/trainings/${state.job}/stop`, {})));
$("draw-form").addEventListener("submit", (e) => {
  e.preventDefault();
  busy($("draw"), draw);
});
$("redraw").addEventListener("click", () => busy($("redraw"), redraw));
$("evaluate").addEventListener("click", () => busy($("evaluate"), evaluate));
$("export").addEventListener("click", () => busy($("export"), exportKept));
$("clear-mask").addEventListener("click", () => {
  if (editor.mask) editor.mask.fill(0);
  paintEditor();
});
$("strength").addEventListener("input", (e) => ($("strength-value").value = e.target.value));
const canvas = $("edit-canvas");
canvas.addEventListener("pointerdown", (e) => {
  editor.painting = true;
  canvas.setPointerCapture(e.pointerId);
  brushAt(e);
});
canvas.addEventListener("pointermove", (e) => editor.painting && brushAt(e));
canvas.addEventListener("pointerup", () => (editor.painting = false));

loadInfo().catch((error) => say(error.message, true));
