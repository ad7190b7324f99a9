"""The VAE as a pixelgen strategy: loss = reconstruction + beta * KL."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelgen_core import Batch, DataInfo, Draw, Step, Strategy
from pixelgen_vae.config import VAEConfig
from pixelgen_vae.model import ConvVAE


class VAEStrategy(Strategy):
    config: VAEConfig

    def __init__(self, config: VAEConfig, data: DataInfo, device: torch.device) -> None:
        super().__init__(config, data, device)
        self.latent_dim = config.model.latent_dim
        vae = ConvVAE.from_config(config.model, data).to(device)
        self.modules = {"vae": vae}
        self.optimizers = {"vae": lambda: torch.optim.Adam(vae.parameters(), lr=config.training.lr)}

    def _losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch.images
        noise = torch.randn(len(x), self.latent_dim, device=x.device)
        logits, mean, logvar = self.modules["vae"](x, noise)
        if self.config.model.loss == "bce":
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        else:
            recon = F.mse_loss(torch.sigmoid(logits), x, reduction="sum")
        recon = recon / len(x)
        # KL(N(mean, sigma^2) || N(0, 1)), summed over latent dims, averaged over the batch.
        kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / len(x)
        loss = recon + self.config.model.kl_weight * kl
        return {"loss": loss, "recon": recon, "kl": kl}

    def loss(self, batch: Batch, step: Step) -> dict[str, torch.Tensor]:
        return self._losses(batch)

    def metrics(self, batch: Batch) -> dict[str, float]:
        with torch.no_grad():
            return {k: v.item() for k, v in self._losses(batch).items()}

    def sample(self, draw: Draw) -> torch.Tensor:
        z = torch.randn(draw.n, self.latent_dim, generator=draw.generator, device=self.device)
        return torch.sigmoid(self.modules["vae"].decode(z * draw.options.temperature))

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Decode the posterior means of `images` (used by the learning docs)."""
        mean, _ = self.modules["vae"].encode(images.to(self.device))
        return torch.sigmoid(self.modules["vae"].decode(mean))
