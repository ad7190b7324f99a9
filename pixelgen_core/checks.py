"""Checks of values a caller gives, each written once.

The API calls them, and the CLI calls the same ones before it loads a model (to refuse
fast); a `SettingError` names the setting as `{name}`, which Python callers read as the
keyword and command-line users as its flag.
"""

from __future__ import annotations

from pixelgen_core.errors import SettingError

MIN_SAMPLES = 16  # evaluation's k-NN metrics use k = 5; fewer samples make them meaningless
MIN_DATASET = 2 * MIN_SAMPLES  # evaluation splits the data in halves of MIN_SAMPLES or more


def count(n: int) -> None:
    if n < 1:
        raise SettingError("{n} must be at least 1", exit_code=1)


def scale(value: int) -> None:
    if value < 1:
        raise SettingError("{scale} must be a positive integer", exit_code=1)


def strength(value: float) -> None:
    if not 0 <= value <= 1:
        raise SettingError(f"{{strength}} must be between 0 and 1, got {value:g}", exit_code=1)


def max_colors(value: int) -> None:
    if value < 1:
        raise SettingError("{max_colors} must be at least 1", exit_code=1)


def evaluation(n: int, repeats: int | None = None) -> None:
    """An evaluation's sample count and repeats."""
    if n < MIN_SAMPLES:
        raise SettingError(f"evaluation needs at least {MIN_SAMPLES} samples ({{n}})", exit_code=1)
    if repeats is not None and repeats < 1:
        raise SettingError("{repeats} must be at least 1", exit_code=1)
