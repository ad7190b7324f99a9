"""Which sprite sizes a strategy can train on, declared in its spec.

Core checks the data against it before building anything, so a size a strategy cannot
take is one line that says what it can take, and `list-strategies` shows it without
importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pixelgen_core.errors import ConfigError


@dataclass(frozen=True)
class SpriteSizes:
    """Sprite sides from `smallest` to `largest` pixels, each a multiple of `multiple`;
    with `rectangular`, height and width may differ (each within those bounds)."""

    smallest: int = 1
    largest: int = 256
    multiple: int = 1
    rectangular: bool = False

    def validate(self) -> None:
        if not 1 <= self.smallest <= self.largest:
            raise ValueError(f"sizes: need 1 <= smallest <= largest, got {self}")
        if self.multiple < 1:
            raise ValueError(f"sizes: multiple must be at least 1, got {self.multiple}")

    def problem(self, height: int, width: int) -> str | None:
        """Why `height` x `width` sprites cannot be used, or None if they can."""
        if height != width and not self.rectangular:
            return "sprites that are not square"
        for side in (height, width):
            if not self.smallest <= side <= self.largest or side % self.multiple:
                return f"{width}x{height} sprites"
        return None

    def check(self, strategy: str, height: int, width: int) -> None:
        """Raise a one-line ConfigError when `strategy` cannot take this size."""
        problem = self.problem(height, width)
        if problem:
            raise ConfigError(
                f"strategy {strategy!r} cannot train on {problem}; it takes {self.describe()}"
            )

    def describe(self) -> str:
        """E.g. "square sprites of 8 to 64 pixels a side, multiples of 4"."""
        shape = "sprites" if self.rectangular else "square sprites"
        text = f"{shape} of {self.smallest} to {self.largest} pixels a side"
        if self.multiple > 1:
            text += f", multiples of {self.multiple}"
        if self.rectangular:
            text += " (height and width may differ)"
        return text

    def examples(self, sides: tuple[int, ...] = (8, 16, 24, 32, 48, 64)) -> list[int]:
        """The sides among `sides` it takes (what tests and benchmarks try)."""
        return [s for s in sides if self.problem(s, s) is None]

    def to_dict(self) -> dict:
        return asdict(self)
