"""The training step core runs for every strategy: the strategy gives a loss, core does the rest.

Backward, gradient clipping (`training.grad_clip`), the optimizer and its scheduler,
weight averages (EMA), bfloat16 autocast (`training.precision`) and data-parallel
wrappers are written once here, so a strategy author writes a loss and a sampler and
none of this machinery.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixelgen_core.errors import PixelgenError, PixelgenWarning
from pixelgen_core.precision import autocast

if TYPE_CHECKING:
    import torch

    from pixelgen_core.strategy import Batch, Strategy


@dataclass(frozen=True)
class Step:
    """Where training stands when core asks a strategy for a loss.

    `index` counts this stage's steps from 0 (steps trained before a resume included) and
    `total` is how many the stage has in all (its epochs times the batches in an epoch on
    each rank), so a schedule over the stage needs no arithmetic of its own.
    `world_size` is the number of data-parallel processes (1 without torchrun)."""

    stage: str
    index: int = 0
    total: int = 1
    epoch: int = 0
    world_size: int = 1

    @property
    def progress(self) -> float:
        """How far through its stage training is, in [0, 1)."""
        return self.index / max(self.total, 1)


@dataclass(frozen=True)
class Average:
    """A module whose weights core keeps as an exponential moving average of module `of`,
    updated after each optimizer step that trains `of`: average <- average + (1 - d) *
    (weights - average). With `warmup`, d = min(decay, (1 + n) / (10 + n)) after n updates,
    so early averages are not dominated by the random initial weights."""

    of: str
    decay: float
    warmup: bool = False

    def decay_after(self, updates: int) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + updates) / (10 + updates))


class Modules(dict):
    """A strategy's torch modules by name.

    Under torchrun core wraps the trained ones for data-parallel training. While core asks
    the strategy for a loss, ``modules[key]`` is the wrapper of the module that stage's
    optimizer trains (its gradients are averaged over the ranks through it); everywhere
    else, and for every other module, it is the module itself. So no strategy unwraps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wrappers: dict[str, torch.nn.Module] = {}
        self._trained: tuple[str, ...] = ()  # the keys whose wrappers are shown; "*": all

    def __getitem__(self, key: str):
        module = super().__getitem__(key)
        if key in self._trained or "*" in self._trained:
            return self._wrappers.get(key, module)
        return module

    def wrap(self, key: str, wrapper: torch.nn.Module) -> None:
        """Core's: train module `key` through `wrapper` (a DistributedDataParallel)."""
        self._wrappers[key] = wrapper

    def drop_wrappers(self) -> None:
        self._wrappers.clear()

    @contextlib.contextmanager
    def training(self, *keys: str) -> Iterator[None]:
        before, self._trained = self._trained, keys
        try:
            yield
        finally:
            self._trained = before


def take_step(strategy: Strategy, batch: Batch, step: Step) -> dict[str, float]:
    """One optimisation step of `strategy` on `batch`, as core runs it; its metrics.

    A stage steps one optimizer (`loss` returns its loss) or several: when
    `optimizer_for` names more than one, `loss` returns a dict with each one's loss under
    its name, and core steps them in that order (each optimizer's gradients are zeroed
    just before its own backward, so one loss's gradients never leak into another's)."""
    import torch

    named = strategy.optimizer_for(step.stage)
    keys = (named,) if isinstance(named, str) else tuple(named)
    precision = strategy.core_config.training.precision
    with strategy.modules.training(*keys), autocast(strategy.device, precision):
        out = strategy.loss(batch, step)
    losses = dict(out) if isinstance(out, Mapping) else {"loss": out}
    targets = {keys[0]: losses.get("loss")} if len(keys) == 1 else {k: losses.get(k) for k in keys}
    name = strategy.spec.name if strategy.spec else type(strategy).__name__
    for key, loss in targets.items():
        if not (isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1):
            under = "'loss'" if len(keys) == 1 else repr(key)
            raise PixelgenError(
                f"strategy {name!r}: loss() must return a one-element tensor with gradients "
                f"(or a dict with one under {under}), got {type(loss).__name__} at stage "
                f"{step.stage!r}"
            )
    if "loss" not in losses:
        losses["loss"] = sum(loss.detach() for loss in targets.values())
    metrics = {
        k: float(v.detach() if isinstance(v, torch.Tensor) else v) for k, v in losses.items()
    }
    for i, (key, loss) in enumerate(targets.items()):
        suffix = "" if len(keys) == 1 else f"/{key}"
        metrics.update(_optimise(strategy, key, loss, i + 1 < len(keys), suffix))
    return metrics


def _optimise(
    strategy: Strategy, key: str, loss: torch.Tensor, more: bool, suffix: str
) -> dict[str, float]:
    """Backward, clipping, the optimizer and scheduler of `key`, then its averages."""
    import torch

    optimizer = strategy.optimizers[key]
    scheduler = strategy.scheduler(key)  # built before the optimizer steps, as torch expects
    optimizer.zero_grad(set_to_none=True)
    loss.backward(retain_graph=more)
    metrics = {}
    clip = strategy.core_config.training.grad_clip
    if clip > 0:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        metrics["grad_norm" + suffix] = float(torch.nn.utils.clip_grad_norm_(params, clip))
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    for average_key, average in strategy.averages.items():
        if average.of == key:
            updates = strategy.average_updates.get(average_key, 0) + 1
            strategy.average_updates[average_key] = updates
            lerp_weights(  # outside `loss`, so both are the bare modules
                strategy.modules[average_key],
                strategy.modules[key],
                1 - average.decay_after(updates),
            )
    return metrics


def legacy_step(strategy: Strategy, batch: Batch, stage: str) -> dict[str, float]:
    """A strategy written before contract 2 overrides `train_step(batch, stage)` and runs
    its own backward and optimizer: it still trains, its modules shown wrapped as before,
    with one warning per strategy object."""
    if not getattr(strategy, "_warned_legacy", False):
        strategy._warned_legacy = True
        name = strategy.spec.name if strategy.spec else type(strategy).__name__
        warnings.warn(
            f"strategy {name!r} overrides train_step(); implement loss() instead and core "
            "runs backward, clipping, the optimizer, averages and bf16 (docs/plugins.md)",
            PixelgenWarning,
            stacklevel=3,
        )
    with strategy.modules.training("*"):
        return type(strategy).train_step(strategy, batch, stage)


def is_legacy(strategy: Strategy) -> bool:
    """Whether `strategy` runs its own step (`train_step`) rather than giving a loss."""
    from pixelgen_core.strategy import Strategy

    cls = type(strategy)
    return cls.loss is Strategy.loss and cls.train_step is not Strategy.train_step


def lerp_weights(average: torch.nn.Module, online: torch.nn.Module, weight: float) -> None:
    """average <- average + weight * (online - average) for floating-point tensors; other
    buffers (counters) are copied."""
    import torch

    with torch.no_grad():
        source = online.state_dict()
        for key, value in average.state_dict().items():
            if value.dtype.is_floating_point:
                value.lerp_(source[key], weight)
            else:
                value.copy_(source[key])


PIXELS_PER_BATCH = 64 * 16 * 16  # a batch's pixels when its size follows the sprites'


def batch_size_for(setting: int | None, height: int, width: int) -> int:
    """`training.batch_size`, or for null (a strategy's size-aware default) as many
    sprites as make about PIXELS_PER_BATCH pixels, 8 to 64: 64 at 16x16, 16 at 32x32.
    At a fixed time a smaller batch buys more steps for nearly the same sprites a second,
    which larger sprites need (benchmarks/RESULTS.md, 32x32 defaults, 2026-12-04)."""
    if setting is not None:
        return setting
    return max(8, min(64, PIXELS_PER_BATCH // (height * width)))


def steps_per_epoch(sprites: int, batch_size: int, world_size: int = 1) -> int:
    """Batches each rank trains in an epoch (the last one may be short)."""
    return max(1, math.ceil(max(sprites, 1) / (batch_size * max(world_size, 1))))
