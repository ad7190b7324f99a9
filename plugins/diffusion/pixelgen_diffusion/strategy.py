"""Diffusion as a pixelgen strategy: v/eps-prediction training with label dropout, EMA weights,
and DDPM / DDIM / DPM-Solver++ sampling with batched classifier-free guidance."""

from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn.functional as F
from torch import nn

from pixelgen_core import Batch, ConfigError, DataInfo, Strategy, drop_labels, unwrap
from pixelgen_diffusion.config import PRECISIONS, DiffusionConfig
from pixelgen_diffusion.samplers import SAMPLERS, DDIMSampler
from pixelgen_diffusion.schedule import NoiseSchedule
from pixelgen_diffusion.unet import UNet


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return False


def uses_bf16(device: torch.device, precision: str) -> bool:
    """Whether `precision` means bfloat16 here ("auto": where the hardware has it)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision == "bf16" or (precision == "auto" and bf16_supported(device))


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast where `precision` asks for it, else nothing."""
    if not uses_bf16(device, precision):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def bf16_weights(net: nn.Module) -> nn.Module:
    """A copy of `net` whose convolution and linear weights are already bfloat16.

    Autocast would cast them again at every call (it caches casts only for weights that
    need gradients); once per sampling run saves about 7% on a CPU. The values are the same
    ones autocast makes, so the samples are too."""
    net = copy.deepcopy(net)
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            module.to(torch.bfloat16)
    return net


def adamw(params, lr: float) -> torch.optim.AdamW:
    """AdamW with torch's fused kernel where it has one (CPU and CUDA since torch 2.4): one
    call per step instead of a loop over every tensor, 13 -> 4 ms a step for the 8.2M U-Net."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # older torch, or a device without the kernel
        return torch.optim.AdamW(params, lr=lr)


class DiffusionStrategy(Strategy):
    config: DiffusionConfig

    def __init__(self, config: DiffusionConfig, data: DataInfo, device: torch.device) -> None:
        super().__init__(config, data, device)
        m, d = config.model, config.diffusion
        self.schedule = NoiseSchedule(d.timesteps, d.schedule, d.prediction)
        self.num_classes = data.num_classes
        self.null_class = data.num_classes  # the extra "no class" embedding
        unet = UNet(
            data.image_size,
            m.channels,
            m.blocks_per_level,
            m.attention,
            data.num_classes,
            m.groups,
            m.dropout,
        ).to(device)
        ema = copy.deepcopy(unet).requires_grad_(False).eval()
        self.modules = {"unet": unet, "ema": ema}
        self.optimizers = {"unet": lambda: adamw(unet.parameters(), config.training.lr)}
        self.ema_updates = 0
        self.class_counts = torch.zeros(max(self.num_classes, 1), dtype=torch.float64)

    # -- training -------------------------------------------------------------------------
    def _loss(self, batch: Batch) -> torch.Tensor:
        x0 = batch.images * 2 - 1  # RGBA in [-1, 1]
        n = len(x0)
        t = torch.randint(0, self.schedule.num_train_timesteps, (n,), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.schedule.add_noise(x0, noise, t)
        labels = torch.full((n,), self.null_class, device=x0.device, dtype=torch.long)
        if batch.labels is not None and self.num_classes:
            labels = drop_labels(batch.labels, self.config.diffusion.p_uncond, self.null_class)
        with autocast(self.device, self.config.training.precision):
            prediction = self.modules["unet"](x_t, t, labels)
        target = self.schedule.target(x0, noise, t)
        if self.config.diffusion.loss_weighting == "none":
            return F.mse_loss(prediction.float(), target)
        per_sample = (prediction.float() - target).pow(2).mean(dim=(1, 2, 3))
        gamma = self.config.diffusion.min_snr_gamma
        return (per_sample * self.schedule.min_snr_weights(t, per_sample, gamma)).mean()

    def train_step(self, batch: Batch, stage: str) -> dict[str, float]:
        loss = self._loss(batch)
        optimizer = self.optimizers["unet"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(
            self.modules["unet"].parameters(), self.config.training.grad_clip
        )
        optimizer.step()
        self._update_ema()
        if batch.labels is not None and self.num_classes:
            self.class_counts += torch.bincount(batch.labels.cpu(), minlength=self.num_classes)
        return {"loss": loss.item(), "grad_norm": float(norm)}

    @torch.no_grad()
    def _update_ema(self) -> None:
        """ema <- d * ema + (1 - d) * weights, with d warmed up from 0.1 towards ema_decay."""
        self.ema_updates += 1
        decay = min(
            self.config.diffusion.ema_decay, (1 + self.ema_updates) / (10 + self.ema_updates)
        )
        online = unwrap(self.modules["unet"]).state_dict()
        for key, value in self.modules["ema"].state_dict().items():
            if value.dtype.is_floating_point:
                value.lerp_(online[key], 1 - decay)
            else:
                value.copy_(online[key])

    def metrics(self, batch: Batch) -> dict[str, float]:
        with torch.no_grad():
            return {"loss": self._loss(batch).item()}

    def extra_state(self) -> dict:
        return {"ema_updates": self.ema_updates, "class_counts": self.class_counts}

    def load_extra_state(self, state: dict) -> None:
        self.ema_updates = int(state.get("ema_updates", 0))
        if "class_counts" in state:
            self.class_counts = state["class_counts"].to(torch.float64)

    # -- sampling -------------------------------------------------------------------------
    def make_sampler(self, sampler: str, steps: int, eta: float = 0.0, spacing: str = "trailing"):
        """The named sampler with its timesteps set."""
        if sampler == "ddim":
            made = DDIMSampler(self.schedule, eta=eta)
        else:
            made = SAMPLERS[sampler](self.schedule)
        if steps > self.schedule.num_train_timesteps:
            raise ConfigError(
                f"--steps must be between 1 and {self.schedule.num_train_timesteps} "
                f"(diffusion.timesteps), got {steps}"
            )
        made.set_timesteps(steps, spacing)
        return made

    def _labels(self, n: int, label: int | None, generator: torch.Generator) -> torch.Tensor:
        if not self.num_classes:
            return torch.full((n,), self.null_class, dtype=torch.long, device=self.device)
        if label is not None:
            return torch.full((n,), int(label), dtype=torch.long, device=self.device)
        weights = self.class_counts.clamp_min(1).float().to(self.device)  # data frequencies
        return torch.multinomial(weights, n, replacement=True, generator=generator)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        label: int | None = None,
        *,
        sampler: str,
        steps: int,
        eta: float,
        spacing: str,
        guidance_scale: float,
        guidance_max_t: int,
        ema: bool,
        precision: str,
        ddim_steps: int | None = None,
    ) -> torch.Tensor:
        """Core passes every option, each the user's value or its `sampling.*` default;
        `ddim_steps` is the shortcut for ``sampler="ddim", steps=ddim_steps``."""
        if ddim_steps is not None:
            sampler, steps = "ddim", ddim_steps
        runner = self.make_sampler(sampler, steps, eta, spacing)
        net = self.modules["ema"] if ema else unwrap(self.modules["unet"])
        if uses_bf16(self.device, precision):
            net = bf16_weights(net)
        labels = self._labels(n, label, generator)
        guided = self.num_classes > 0 and guidance_scale != 1.0
        # Guidance only at t <= max_t (Kynkaenniemi et al. 2024): at higher noise it pulls
        # every sprite towards its class average; there the conditional pass alone is used.
        both = torch.cat([labels, torch.full_like(labels, self.null_class)])
        x = torch.randn(
            n,
            4,
            self.data.image_size,
            self.data.image_size,
            generator=generator,
            device=self.device,
        )
        with autocast(self.device, precision):
            for t in runner.timesteps.tolist():
                guide = guided and t <= guidance_max_t
                # conditional and unconditional predictions in one batched pass
                x_in = torch.cat([x, x]) if guide else x
                t_in = torch.full((len(x_in),), t, device=self.device, dtype=torch.long)
                out = net(x_in, t_in, both if guide else labels).float()
                if guide:
                    cond, uncond = out.chunk(2)
                    out = uncond + guidance_scale * (cond - uncond)  # Ho & Salimans (2022), eq. 6
                x = runner.step(out, t, x, generator)
        return ((x.float().clamp(-1, 1) + 1) / 2).contiguous()
