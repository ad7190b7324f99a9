"""MaskGIT over palette indices as a pixelgen strategy.

Training: mask a cosine-scheduled share of each sprite's pixels and predict their
palette indices (cross-entropy on the masked pixels only), with label dropout.
Sampling: iterative parallel decoding. The output is palette indices, so every pixel
is an exact palette colour (transparency included) with no snapping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelgen_core import (
    Batch,
    ConfigError,
    DataInfo,
    Draw,
    SettingError,
    Step,
    Strategy,
    drop_labels,
    drop_tags,
)
from pixelgen_maskgit.config import MaskGITConfig
from pixelgen_maskgit.decoding import decode, random_mask
from pixelgen_maskgit.model import build_network


class MaskGITStrategy(Strategy):
    config: MaskGITConfig

    def __init__(self, config: MaskGITConfig, data: DataInfo, device: torch.device) -> None:
        super().__init__(config, data, device)
        cfg = config.model
        self.num_classes = data.num_classes
        self.num_tags = len(data.tags)
        self.mask_index = len(data.palette)  # the extra pixel value meaning "unknown"
        self._set_network(build_network(cfg, data).to(device))

    def _set_network(self, net: torch.nn.Module) -> None:
        self.patch = net.patch
        self.modules = {"net": net}
        lr = self.config.training.lr
        self.optimizers = {
            "net": lambda: torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
        }

    def load_state_dict(self, state: dict, with_optimizers: bool = True) -> None:
        """Runs from before the U-Net became the default saved no `model.network`, so
        theirs reads as the U-Net: their weights are a transformer's (it alone has
        `position`), and the transformer is built again to take them."""
        if self.config.model.network == "unet" and "position" in state["modules"]["net"]:
            self.config.model.network = "transformer"
            self._set_network(build_network(self.config.model, self.data).to(self.device))
        super().load_state_dict(state, with_optimizers)

    def _loss(self, batch: Batch, dropout: bool) -> torch.Tensor:
        target = batch.indices
        mask = random_mask(tuple(target.shape), None, target.device)
        net = self.modules["net"]
        inputs = torch.where(mask, torch.full_like(target, self.mask_index), target)
        classes = torch.zeros(len(target), dtype=torch.long, device=target.device)
        if self.num_tags:  # a bag of tags, dropped whole and one by one for guidance
            classes = torch.zeros(len(target), self.num_tags, device=target.device)
            if batch.tags is not None:
                p = self.config.model.p_uncond
                classes = drop_tags(batch.tags, p) if dropout else batch.tags
        elif self.num_classes and batch.labels is not None:
            classes = batch.labels + 1
            if dropout:  # class 0 is "no class"
                classes = drop_labels(classes, self.config.model.p_uncond, 0)
        logits = net(inputs, classes)  # (N, C, H, W)
        return F.cross_entropy(logits.permute(0, 2, 3, 1)[mask], target[mask])

    def loss(self, batch: Batch, step: Step) -> torch.Tensor:
        return self._loss(batch, dropout=True)

    def metrics(self, batch: Batch) -> dict[str, float]:
        net = self.modules["net"]
        was_training = net.training
        net.eval()
        state = torch.random.get_rng_state()
        torch.manual_seed(0)  # the same masks every time, so held-out losses compare
        try:
            with torch.no_grad():
                return {"masked_nll": self._loss(batch, dropout=False).item()}
        finally:
            torch.random.set_rng_state(state)
            net.train(was_training)

    def sample(self, draw: Draw) -> torch.Tensor:
        """Every option is the user's value or its `sampling.*` default."""
        return self._decode(draw)

    def edit(self, draw: Draw) -> torch.Tensor:
        """MaskGIT's own task: the pixels to redraw are masked and decoded, the others
        stay as they are. With `strength` < 1 only that share of them, chosen at random
        per sprite, is masked (the rest keep the input's colours)."""
        generator, keep, strength = draw.generator, draw.keep, draw.strength
        indices = self.data.to_indices(draw.images.to(self.device))
        n, pixels = len(indices), indices[0].numel()
        redraw = ~keep.to(self.device).reshape(n, pixels)
        # Each redrawable pixel gets a random rank; the lowest round(strength * count) go.
        count = torch.round(redraw.sum(1).double() * strength)
        noise = torch.rand(n, pixels, generator=generator, device=self.device)
        rank = torch.where(redraw, noise, torch.full_like(noise, 2.0)).argsort(1).argsort(1)
        masked = (rank < count[:, None]).view_as(indices)
        if not masked.any():
            return indices
        start = torch.where(masked, torch.full_like(indices, self.mask_index), indices)
        return self._decode(draw, start)

    def _decode(self, draw: Draw, start: torch.Tensor | None = None) -> torch.Tensor:
        """`draw.n` sprites decoded from `start` (None: every pixel masked) as `draw` asks."""
        o, n, label, tags, negative = draw.options, draw.n, draw.label, draw.tags, draw.negative
        if o.temperature <= 0:
            raise SettingError("{temperature} must be positive")
        scale = o.guidance_scale
        net = self.modules["net"]
        classes = torch.zeros(n, dtype=torch.long, device=self.device)
        unconditioned = torch.zeros_like(classes)
        if label is not None:
            if not self.num_classes:
                raise ConfigError("this model was trained without classes")
            classes += int(label) + 1
        if self.num_tags:  # no prompt: no tags, the unconditional model
            classes = torch.zeros(n, self.num_tags, device=self.device)
            unconditioned = torch.zeros_like(classes)
            if tags is not None:
                classes = classes + tags.to(classes)
            if negative is not None:
                unconditioned = unconditioned + negative.to(classes)
        guided = scale != 1.0 and not torch.equal(classes, unconditioned)

        def logits_fn(pixels: torch.Tensor) -> torch.Tensor:
            if not guided:
                return net(pixels, classes)
            # Conditional and unconditional predictions in one batched pass.
            both = net(torch.cat([pixels, pixels]), torch.cat([classes, unconditioned]))
            cond, uncond = both.chunk(2)
            return uncond + scale * (cond - uncond)

        return decode(
            logits_fn,
            n,
            self.data.shape,
            self.mask_index,
            o.steps,
            draw.generator,
            o.temperature,
            o.choice_temperature,
            self.device,
            start=start,
            tileable=draw.tileable,
        )
