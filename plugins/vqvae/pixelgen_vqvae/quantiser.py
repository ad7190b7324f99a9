"""Vector quantisation (van den Oord et al. 2017, "Neural Discrete Representation Learning").

Each encoder output z_e is replaced by its nearest codebook vector e_k. The loss adds
the codebook term ||sg[z_e] - e||^2 (weight 1) and the commitment term
beta * ||z_e - sg[e]||^2; the straight-through estimator copies the decoder's gradient
from e_k to z_e. With `ema=True` the codebook is instead an exponential moving average
of the encoder outputs assigned to each code (the paper's appendix), and the codebook
term is reported but not trained on. Codes nobody uses are restarted from encoder
outputs, so the codebook does not collapse onto a few codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Quantised:
    z_q: torch.Tensor  # (N, D, H, W), straight-through: gradients flow to z_e
    codes: torch.Tensor  # (N, H, W) code indices
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    counts: torch.Tensor  # (K,) how often each code was chosen in this batch
    perplexity: torch.Tensor  # exp(entropy of `counts`)


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of a code histogram: K when all K codes are used equally, 1 for one."""
    probs = counts / counts.sum()
    return torch.exp(-(probs * torch.log(probs + 1e-10)).sum())


class VectorQuantiser(nn.Module):
    def __init__(
        self,
        num_codes: int,
        dim: int,
        ema: bool = True,
        decay: float = 0.99,
        restart_threshold: float = 1.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.num_codes, self.dim, self.ema = num_codes, dim, ema
        self.decay, self.restart_threshold, self.eps = decay, restart_threshold, eps
        init = torch.randn(num_codes, dim) / dim**0.5
        if ema:
            self.register_buffer("codebook", init)
            self.register_buffer("ema_count", torch.ones(num_codes))
            self.register_buffer("ema_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        # How often each code was chosen per batch, smoothed: the restart criterion.
        self.register_buffer("usage", torch.full((num_codes,), float(restart_threshold)))

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of `flat` (M, D)."""
        book = self.codebook
        distance = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.t() + book.pow(2).sum(1)[None]
        return distance.argmin(1)

    def encode(self, z_e: torch.Tensor) -> torch.Tensor:
        """Encoder outputs (N, D, H, W) -> indices of their nearest codes (N, H, W)."""
        n, d, h, w = z_e.shape
        return self.nearest(z_e.detach().permute(0, 2, 3, 1).reshape(-1, d)).view(n, h, w)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Code indices (N, H, W) -> code vectors (N, D, H, W)."""
        return F.embedding(codes, self.codebook).permute(0, 3, 1, 2)

    def forward(self, z_e: torch.Tensor) -> Quantised:
        n, d, h, w = z_e.shape
        grid = self.encode(z_e)
        flat, codes = z_e.permute(0, 2, 3, 1).reshape(-1, d), grid.flatten()
        one_hot = F.one_hot(codes, self.num_codes).type(flat.dtype)
        counts = one_hot.sum(0)
        if self.training:
            with torch.no_grad():
                counts_all, sums_all = _all_reduce(counts.clone(), one_hot.t() @ flat.detach())
                self.usage.mul_(self.decay).add_(counts_all, alpha=1 - self.decay)
                if self.ema:
                    self._ema_update(counts_all, sums_all)
                self._restart_dead(flat.detach())
        e = self.codebook[codes]
        codebook_loss = F.mse_loss(e, flat.detach())
        commitment_loss = F.mse_loss(flat, e.detach())
        z_q = flat + (e - flat).detach()  # straight-through estimator
        return Quantised(
            z_q.view(n, h, w, d).permute(0, 3, 1, 2),
            grid,
            codebook_loss,
            commitment_loss,
            counts,
            perplexity(counts),
        )

    def _ema_update(self, counts: torch.Tensor, sums: torch.Tensor) -> None:
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Laplace smoothing keeps rarely used codes from dividing by ~0.
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (total + self.num_codes * self.eps) * total
        self.codebook.copy_(self.ema_sum / smoothed[:, None])

    def _restart_dead(self, flat: torch.Tensor) -> None:
        dead = torch.nonzero(self.usage < self.restart_threshold).flatten()
        if dead.numel() == 0:
            return
        picks = torch.randint(0, len(flat), (dead.numel(),), device=flat.device)
        fresh = flat[picks]
        book = self.codebook if self.ema else self.codebook.data
        book[dead] = fresh
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(book, 0)  # every rank restarts with rank 0's picks
        self.usage[dead] = self.restart_threshold
        if self.ema:
            self.ema_count[dead] = 1.0
            self.ema_sum[dead] = book[dead]


def _all_reduce(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Sum code statistics over data-parallel ranks, so every rank's codebook agrees."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        for t in tensors:
            torch.distributed.all_reduce(t)
    return tensors
