"""One drawing request: what `Run.sample` and `Run.edit` ask of a strategy, in one value.

Count, seed, class label, prompt, the strategy's sample options, tileable and separate
drawing, and for an edit the sprite, the pixels to keep and the strength: built once
by the API as a `DrawRequest`, checked once, and carried whole to
`sampling.draw_request`, the one path to the strategy. There it is resolved, chunk by
chunk, into a `Draw` (the same request as the strategy can use it: a generator in place
of the seed, every option filled in, tensors on the strategy's device), and
`Strategy.sample(draw)` and `Strategy.edit(draw)` both take that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixelgen_core import checks

if TYPE_CHECKING:
    import numpy as np
    import torch

    from pixelgen_core.prompts import Prompt


@dataclass(frozen=True)
class DrawRequest:
    """`n` sprites from `seed` (or, with `separate`, sprite i alone from seed + i).

    `options` are the strategy's sample options as given (the others take the run's
    config values). An edit also has `image` (palette indices (H, W)), `keep` (bool
    (H, W): pixels that must come back exactly) and `strength` in [0, 1]. `filtered`:
    let the run's pixel filter (`pixelgen_core.pixel_filter`) keep or drop each sprite
    where it applies; False draws every sprite as the model makes it."""

    n: int
    seed: int = 0
    label: int | None = None
    prompt: Prompt | None = None
    options: Options = field(default_factory=lambda: Options({}))
    tileable: bool = False
    separate: bool = False
    image: np.ndarray | None = None
    keep: np.ndarray | None = None
    strength: float = 1.0
    filtered: bool = True

    def __post_init__(self) -> None:
        checks.count(self.n)
        if (self.image is None) != (self.keep is None):
            raise ValueError("an edit request needs both image and keep")
        if self.is_edit:
            checks.strength(self.strength)

    @property
    def is_edit(self) -> bool:
        return self.image is not None


class Options(Mapping[str, Any]):
    """A strategy's sample options, resolved: each the user's value, else its config
    value, else its default. Read them as attributes (``draw.options.steps``) or keys.

    It notes which options were read, so the contract suite can tell a declared option
    that never reaches the strategy."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            known = ", ".join(sorted(self._values)) or "none"
            raise AttributeError(f"no sample option {name!r} (options: {known})")
        self.read.add(name)
        return self._values[name]

    def __getitem__(self, name: str) -> Any:
        value = self._values[name]
        self.read.add(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Options({self._values!r})"


@dataclass(frozen=True)
class Draw:
    """One chunk of a `DrawRequest`, resolved for the strategy: what `Strategy.sample`
    and `Strategy.edit` take.

    `generator` is the only source of randomness. `options` holds every sample option
    (a plain mapping given here is wrapped as `Options`).
    `tileable` is set only for strategies with the "tileable" capability; `tags` and
    `negative` (float (T,) 0/1 over `DataInfo.tags`) only when a prompt asks, for
    strategies with the "tags" capability. An edit has `images` (float RGBA (n, 4, H, W)
    in [0, 1], every pixel a palette colour), `keep` (bool (n, H, W): pixels that must
    come back exactly) and `strength` in [0, 1] (0: the input unchanged; 1: the input
    ignored where it is redrawn)."""

    n: int
    generator: torch.Generator
    options: Mapping[str, Any] = field(default_factory=dict)
    label: int | None = None
    tileable: bool = False
    tags: torch.Tensor | None = None
    negative: torch.Tensor | None = None
    images: torch.Tensor | None = None
    keep: torch.Tensor | None = None
    strength: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.options, Options):  # a plain dict, from a test or benchmark
            object.__setattr__(self, "options", Options(self.options))

    @property
    def is_edit(self) -> bool:
        return self.images is not None
