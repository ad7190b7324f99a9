"""Make the pictures and numbers in docs/learn/vqvae.md from a trained VQ-VAE checkpoint.

    pixelgen train vqvae
    python docs/learn/make_vqvae_figures.py runs/vqvae/RUN/checkpoint.pt   # under a minute

Writes docs/images/vqvae-*.png and docs/learn/vqvae-numbers.json: codes from the prior
against uniformly random codes, scored like every model (`Run.evaluate`, five
repeats) beside the real held-out sprites; pixels reconstructed exactly; and how many
codes the encoder uses over the whole dataset.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from figures import evaluations, save, scores_table, write_numbers
from pixelgen_vqvae.quantiser import perplexity

import pixelgen_core as pg


def main(path: str) -> None:
    run = pg.open_run("vqvae", checkpoint=path, device="cpu")
    strategy, palette = run.strategy, run.palette
    strategy.eval()
    data = run.training_data()
    indices = data.indices.long()  # stored as uint8, which would index as a mask
    table = torch.tensor(palette.as_tuples(), dtype=torch.float32)
    vqvae = strategy.modules["vqvae"]

    def snap(out: torch.Tensor) -> np.ndarray:
        """Decoder output (palette indices, or RGBA with model.loss bce/mse) as RGBA."""
        if not out.dtype.is_floating_point:
            return palette.to_rgba(out.numpy())
        return palette.to_rgba(palette.snap(out.permute(0, 2, 3, 1).numpy()))

    # 1. Reconstructions: real sprites (top) and their 4x4 code grids decoded (bottom).
    rows = torch.arange(0, len(data), len(data) // 12)[:12]
    real = table[indices[rows]].permute(0, 3, 1, 2)
    with torch.no_grad():
        recon = strategy.reconstruct(real)
    save(
        "vqvae-reconstructions.png",
        np.concatenate([palette.to_rgba(indices[rows].numpy()), snap(recon)]),
        12,
    )

    # 2. What a code stands for: for the 8 most used codes, 10 patches the encoder
    #    mapped to it (each code covers a 4x4 patch of a 16x16 sprite).
    images = table[indices].permute(0, 3, 1, 2)
    with torch.no_grad():
        codes = vqvae.encode(images)  # (N, 4, 4)
    side = data.info.image_size // codes.shape[1]
    patches = indices.unfold(1, side, side).unfold(2, side, side)  # (N, 4, 4, s, s)
    flat_codes, flat_patches = codes.flatten(), patches.reshape(-1, side, side)
    opaque = (flat_patches > 0).float().mean((1, 2))
    counts = torch.bincount(flat_codes[opaque > 0.2], minlength=strategy.num_codes)
    shown = []
    for code in counts.argsort(descending=True)[:8]:
        members = flat_patches[flat_codes == code][:10]
        members = torch.cat([members, torch.zeros(10 - len(members), side, side).long()])
        shown.append(palette.to_rgba(members.numpy()))
    save("vqvae-codes.png", np.concatenate(shown), 10, scale=8)

    # 3. Uniformly random codes (top) against codes drawn from the prior (bottom).
    uniform = run.sample(12, seed=0, codes="uniform")
    prior = run.sample(12, seed=0)
    save("vqvae-prior-vs-uniform.png", np.concatenate([uniform, prior]), 12)

    # 4. Temperature: 0.7, 1.0 and 1.3 (rows), same seeds.
    rows = [run.sample(12, seed=1, temperature=t) for t in (0.7, 1.0, 1.3)]
    save("vqvae-temperature.png", np.concatenate(rows), 12)

    # 5. One class per row, and the sheet the README shows.
    classes = [run.sample(12, seed=2, label=k) for k in range(4)]
    save("vqvae-classes.png", np.concatenate(classes), 12)
    save("vqvae-samples.png", run.sample(64, seed=0), 16)

    # 6. Numbers: the prior against uniform codes, round trips, codebook use.
    settings = {"from the prior": {}, "uniformly random": {"codes": "uniform"}}
    scores, real = evaluations(run, settings)
    keys = ["fd", "kid", "precision", "recall", "coverage", "memorised", "stray_pixels"]
    rows = [([name], s) for name, s in scores.items()] + [(["*real held-out sprites*"], real)]
    all_codes = torch.bincount(codes.flatten(), minlength=strategy.num_codes)
    accuracy = run.reconstruct(len(data)).accuracy
    used, spread = float((all_codes > 0).float().mean()), float(perplexity(all_codes.float()))
    quoted = {
        "table": scores_table(["codes"], rows, keys),
        "pixels reconstructed exactly": f"{accuracy:.1%}",
        "codes used over the dataset": f"{used:.0%}",
        "code perplexity": f"{spread:.0f} of {strategy.num_codes}",
    }
    raw = {"scores": scores, "real": real, "accuracy": accuracy, "used": used, "perplexity": spread}
    write_numbers("vqvae", quoted, checkpoint=path, **raw)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
