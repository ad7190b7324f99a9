"""A causal transformer prior over a VQ-VAE's code grid, read in raster order.

p(codes | class) = prod_i p(code_i | class, code_<i). The sequence starts with a class
token (index 0 = "no class", so the same prior samples unconditionally); position i
predicts code i from everything before it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pixelgen_core import ConfigError


class CodePrior(nn.Module):
    @classmethod
    def from_config(cls, prior: Any, num_codes: int, length: int, num_classes: int) -> CodePrior:
        """The prior a run's typed `prior` section describes, over `length` codes of
        `num_codes`, with `num_classes` classes (0: unconditional)."""
        return cls(
            num_codes, length, num_classes, prior.width, prior.layers, prior.heads, prior.dropout
        )

    def __init__(
        self,
        num_codes: int,
        length: int,
        num_classes: int,
        width: int,
        layers: int,
        heads: int,
        dropout: float,
    ) -> None:
        super().__init__()
        for key, value in (("width", width), ("layers", layers), ("heads", heads)):
            if value < 1:
                raise ConfigError(f"prior.{key} must be at least 1, got {value}")
        if width % heads:
            raise ConfigError(f"prior.width {width} is not divisible by prior.heads {heads}")
        self.num_codes, self.length = num_codes, length
        self.code_embedding = nn.Embedding(num_codes, width)
        self.class_embedding = nn.Embedding(num_classes + 1, width)  # 0 = no class
        self.position = nn.Parameter(torch.zeros(length, width))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_codes)
        mask = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, codes: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Logits (N, L', K) for positions 0..L'-1 given codes (N, L'-1) before them.

        `classes` holds class + 1, or 0 for "no class". Training passes codes[:, :-1].
        """
        tokens = torch.cat(
            [self.class_embedding(classes)[:, None], self.code_embedding(codes)], dim=1
        )
        n = tokens.shape[1]
        h = self.blocks(tokens + self.position[:n], mask=self.causal_mask[:n, :n], is_causal=True)
        return self.head(self.norm(h))

    @torch.no_grad()
    def sample(
        self,
        classes: torch.Tensor,
        generator: torch.Generator,
        temperature: float = 1.0,
        top_k: int = 0,
    ) -> torch.Tensor:
        """Codes (N, L) drawn one position at a time, all randomness from `generator`."""
        codes = torch.zeros(len(classes), 0, dtype=torch.long, device=classes.device)
        for _ in range(self.length):
            logits = self(codes, classes)[:, -1] / temperature
            if 0 < top_k < self.num_codes:
                kth = logits.topk(top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits.float(), dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
            codes = torch.cat([codes, nxt], dim=1)
        return codes
