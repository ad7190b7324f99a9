"""Make the pictures and numbers in docs/learn/vae.md from a trained VAE checkpoint.

    pixelgen train vae -c configs/vae.yaml
    python docs/learn/make_vae_figures.py runs/vae/RUN/checkpoint.pt   # under a minute

Writes docs/images/vae-*.png and docs/learn/vae-numbers.json: prior samples at three
temperatures scored like every model (`Run.evaluate`, five repeats), beside the real
held-out sprites, and the share of pixels reconstructed exactly.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from figures import evaluations, save, scores_table, write_numbers

import pixelgen_core as pg


def main(path: str) -> None:
    run = pg.open_run("vae", checkpoint=path, device="cpu")
    strategy, palette = run.strategy, run.palette
    strategy.eval()
    data = run.training_data()
    indices = data.indices.long()  # stored as uint8, which would index as a mask
    table = torch.tensor(palette.as_tuples(), dtype=torch.float32)

    # 1. Reconstructions: real sprites (top) and the decoded posterior means (bottom).
    rows = torch.arange(0, len(data), len(data) // 12)[:12]
    real = table[indices[rows]].permute(0, 3, 1, 2)
    with torch.no_grad():
        recon = strategy.reconstruct(real)
    snapped = palette.to_rgba(palette.snap(recon.permute(0, 2, 3, 1).numpy()))
    save(
        "vae-reconstructions.png",
        np.concatenate([palette.to_rgba(indices[rows].numpy()), snapped]),
        12,
    )

    # 2. Samples from the prior at three temperatures.
    rows = [run.sample(12, seed=0, temperature=t) for t in (0.5, 1.0, 1.5)]
    save("vae-temperature.png", np.concatenate(rows), 12)

    # 3. A walk through latent space between two sprites' posterior means.
    with torch.no_grad():
        mean, _ = strategy.modules["vae"].encode(real[[0, 5]])
        steps = torch.linspace(0, 1, 12)[:, None]
        z = mean[0] * (1 - steps) + mean[1] * steps
        walk = torch.sigmoid(strategy.modules["vae"].decode(z))
    save(
        "vae-interpolation.png", palette.to_rgba(palette.snap(walk.permute(0, 2, 3, 1).numpy())), 12
    )

    # 4. The sheet the README shows.
    save("vae-samples.png", run.sample(64, seed=0), 16)

    # 5. Numbers: what temperature does to quality, and how much a round trip keeps.
    scores, real = evaluations(run, {f"{t}": {"temperature": t} for t in (0.5, 1.0, 1.5)})
    keys = ["fd", "precision", "recall", "coverage", "palette_fidelity", "stray_pixels"]
    rows = [([name], s) for name, s in scores.items()] + [(["*real held-out sprites*"], real)]
    accuracy = run.reconstruct(len(data)).accuracy
    quoted = {
        "table": scores_table(["temperature"], rows, keys),
        "pixels reconstructed exactly": f"{accuracy:.1%}",
    }
    write_numbers("vae", quoted, checkpoint=path, scores=scores, real=real, accuracy=accuracy)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
