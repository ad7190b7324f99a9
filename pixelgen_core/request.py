"""One drawing request: what `Run.sample` and `Run.edit` ask of a strategy, in one value.

Count, seed, class label, prompt, the strategy's sample options, tileable and separate
drawing, and for an edit the sprite, the pixels to keep and the strength: built once
by the API, checked once, and carried whole to `sampling.draw_request`, the one path
that calls `Strategy.sample` or `Strategy.edit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixelgen_core import checks

if TYPE_CHECKING:
    import numpy as np

    from pixelgen_core.prompts import Prompt


@dataclass(frozen=True)
class DrawRequest:
    """`n` sprites from `seed` (or, with `separate`, sprite i alone from seed + i).

    `options` are the strategy's sample options as given (the others take the run's
    config values). An edit also has `image` (palette indices (H, W)), `keep` (bool
    (H, W): pixels that must come back exactly) and `strength` in [0, 1]."""

    n: int
    seed: int = 0
    label: int | None = None
    prompt: Prompt | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    tileable: bool = False
    separate: bool = False
    image: np.ndarray | None = None
    keep: np.ndarray | None = None
    strength: float = 1.0

    def __post_init__(self) -> None:
        checks.count(self.n)
        if (self.image is None) != (self.keep is None):
            raise ValueError("an edit request needs both image and keep")
        if self.is_edit:
            checks.strength(self.strength)

    @property
    def is_edit(self) -> bool:
        return self.image is not None
