"""Make the pictures and numbers in docs/learn/maskgit.md from a trained maskgit checkpoint.

    pixelgen train maskgit
    python docs/learn/make_maskgit_figures.py runs/maskgit/RUN/checkpoint.pt   # ~12 min

Writes docs/images/maskgit-*.png and docs/learn/maskgit-numbers.json: a sweep of the
choice temperature and the number of steps, each setting scored like every model
(`Run.evaluate`, five repeats) beside the real held-out sprites.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from figures import evaluations, save, scores_table, write_numbers
from pixelgen_maskgit.decoding import decode

import pixelgen_core as pg

MASKED = (255, 0, 255, 255)  # how a still-masked pixel is drawn
# The plugin's sampling defaults, passed explicitly so that checkpoints trained
# before a change of defaults draw the same pictures.
SAMPLING = {"steps": 24, "choice_temperature": 30.0}
SWEEP = [(2.0, 24), (10.0, 24), (30.0, 12), (30.0, 24), (30.0, 48)]  # (choice temperature, steps)


def main(path: str) -> None:
    run = pg.open_run("maskgit", checkpoint=path, device="cpu")
    strategy, palette = run.strategy, run.palette
    strategy.eval()
    net, mask = strategy.modules["net"], strategy.mask_index

    def rgba(pixels: torch.Tensor) -> np.ndarray:
        out = palette.to_rgba(pixels.clamp(max=mask - 1).numpy())
        out[pixels.numpy() == mask] = MASKED
        return out

    # 1. Decoding, step by step: 6 sprites (rows), the state before each of 12 steps
    #    and the result (columns); magenta = still masked.
    states = []

    def recording(pixels: torch.Tensor) -> torch.Tensor:
        states.append(pixels.clone())
        return net(pixels, torch.zeros(len(pixels), dtype=torch.long))

    with torch.inference_mode():
        final = decode(
            recording, 6, strategy.data.shape, mask, 12, torch.Generator(),
            choice_temperature=SAMPLING["choice_temperature"],
        )  # fmt: skip
    frames = torch.stack([*states, final], dim=1)  # (6, 13, H, W)
    save("maskgit-decoding.png", rgba(frames.flatten(0, 1)), 13)

    # 2. Choice temperature 2, 10, 30 (rows), same seeds: low values fix the safest
    #    pixels (transparent background) first and leave sprites nearly empty.
    rows = [
        run.sample(12, seed=0, **{**SAMPLING, "choice_temperature": c}) for c in (2.0, 10.0, 30.0)
    ]
    save("maskgit-choice.png", np.concatenate(rows), 12)

    # 3. Temperature 0.8, 1.0, 1.2 (rows).
    rows = [run.sample(12, seed=1, **{**SAMPLING, "temperature": t}) for t in (0.8, 1.0, 1.2)]
    save("maskgit-temperature.png", np.concatenate(rows), 12)

    # 4. One class per row (guidance 2), and the sheet the README shows.
    classes = [
        run.sample(12, seed=2, label=k, **{**SAMPLING, "guidance_scale": 2.0}) for k in range(4)
    ]
    save("maskgit-classes.png", np.concatenate(classes), 12)
    save("maskgit-samples.png", run.sample(64, seed=0, **SAMPLING), 16)

    # 5. Numbers: the choice temperature and the number of steps, measured like every model.
    settings = {f"{c:g}, {n}": {"choice_temperature": c, "steps": n} for c, n in SWEEP}
    scores, real = evaluations(run, settings)
    keys = ["fd", "precision", "recall", "coverage", "memorised"]
    keys += ["isolated_w1", "components_w1", "opaque_share"]
    rows = [
        ([f"{c:g}", str(n), f"{scores[name]['sample_ms_per_sprite']:.1f}"], scores[name])
        for name, (c, n) in zip(settings, SWEEP, strict=True)
    ]
    rows.append((["*real held-out sprites*", "", ""], real))
    quoted = {"table": scores_table(["choice temperature", "steps", "ms per sprite"], rows, keys)}
    write_numbers("maskgit", quoted, checkpoint=path, scores=scores, real=real)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
