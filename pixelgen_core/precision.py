"""Training and sampling in bfloat16 where the hardware has it: one rule for every strategy."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pixelgen_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "bf16", "fp32")


def bf16_supported(device: torch.device) -> bool:
    """Whether `device` runs bfloat16 kernels fast (CUDA that says so; a CPU with oneDNN's)."""
    import torch

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
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16)
