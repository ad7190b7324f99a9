"""A pixel filter of a request's own: for a prompt, or tileable sprites, unlike plain draws.

The run's pixel filter (`pixel_filter`) holds the run's plain draws to the statistics of
all the data. A prompt's draws are another distribution (tiles are solid, items small
and round), and so are tileable ones (shapes cut at the edges), and through the run's
odds both came out worse (RESULTS, "The pixel filter on prompts and tileable sprites").
So each gets a filter of its own, fitted on a pool of its own draws against the training
sprites it should look like: those with every tag of the prompt and none of its negative
ones, or all of them. Through their own filters the draws came close to those sprites
(RESULTS, "A prompt's own pixel filter" and "Tileable sprites through a filter of their
own"). The training sprites' statistics and tags are kept in the checkpoint at the end
of training (`reference`), so drawing needs no dataset. The cap sits at the pool's 90th
percentile, not the 99th: it keeps three times as many draws at nearly the same gain. A
fitted filter is kept, in memory and in the user's cache, under a digest of the model's
weights, the run's filter and the request, so a pool is drawn once; the cache keeps the
`KEEP` most recently used, so that trying prompts for months does not fill a disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelgen_core.pixel_filter import (
    COLUMNS,
    FLOATING,
    NoSpriteToKeep,
    PixelFilter,
    statistics,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pixelgen_core.prompts import Prompt
    from pixelgen_core.strategy import Strategy

POOL = 256  # of the request's draws, the filter is fitted on
POOL_SEED = 7919  # the pool's, whatever the request's seed: one filter per request
CAP_QUANTILE = 0.9
MIN_REAL = 20  # training sprites a filter needs: a prompt carried by fewer draws unfiltered
KEY = "sprite_statistics"  # of `Strategy.chosen_sampling`: what `reference` returns
KEEP = 500  # fitted filters the cache keeps, the most recently used

_fitted: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # strategy -> {digest: filter}


def reference(indices: np.ndarray, tags: np.ndarray | None, columns: int = COLUMNS) -> dict:
    """What the checkpoint keeps to fit a request's filter: the first `columns` of the
    `statistics` of the training sprites (palette indices (N, H, W)), those the run's own
    filter weighs, and, per sprite, the indices of the tags it carries ((N, T) 0/1
    `tags`; None for a run without tags). Plain lists: `torch.load(weights_only=True)`
    reads them."""
    carried = np.zeros((len(indices), 0), bool) if tags is None else np.asarray(tags, bool)
    return {
        "statistics": statistics(indices)[:, :columns].astype(np.int64).tolist(),
        "tags": [np.flatnonzero(row).tolist() for row in carried],
    }


def real_statistics(kept: dict, prompt: Prompt | None, vocabulary: tuple[str, ...]) -> np.ndarray:
    """The statistics of the training sprites with every tag of `prompt` and none of its
    negative ones (all of them without a prompt)."""
    # (N, 7); fewer columns where the run's filter weighs fewer (no notches below 32x32)
    # or it was made before floating pixels or notches were weighed
    every = np.asarray(kept["statistics"], dtype=np.float64)
    if every.ndim != 2:  # no sprite at all
        every = every.reshape(0, COLUMNS)
    if prompt is None:
        return every
    wanted = {vocabulary.index(t) for t in prompt.tags}
    unwanted = {vocabulary.index(t) for t in prompt.negative}
    rows = [
        i
        for i, carried in enumerate(kept["tags"])
        if wanted <= set(carried) and not unwanted & set(carried)
    ]
    return every[rows]


def request_filter(
    strategy: Strategy,
    prompt: Prompt | None,
    tileable: bool,
    label: int | None,
    options: dict[str, Any],
    draw_pool: Callable[[int, int], np.ndarray],
) -> PixelFilter | None:
    """The filter of a draw of `prompt` (or none), `tileable` and class `label` (or
    none), fitted on `draw_pool(POOL, POOL_SEED)` (such draws as palette indices) where
    the run kept a filter of its own and a reference; None where it did not, or where too
    few training sprites carry the prompt's tags to fit one. (A class's draws are held to
    all the sprites, as the run's filter holds them: the reference keeps no classes.)"""
    chosen = strategy.chosen_sampling or {}
    if chosen.get("filter") is None or not chosen.get(KEY):
        return None
    real = real_statistics(chosen[KEY], prompt, strategy.data.tags)
    if len(real) < MIN_REAL:
        return None
    digest = _digest(strategy, prompt, tileable, label, options)
    cache = _fitted.setdefault(strategy, {})
    if digest not in cache:
        found = _read(digest)
        what = "tileable sprites" if tileable and prompt is None else "this prompt"
        if tileable and prompt is not None:
            what = "this prompt's tileable sprites"
        cache[digest] = _fit(real, draw_pool, digest, what) if found is None else found
    return cache[digest] or None


def erases_floating(strategy: Strategy, prompt: Prompt | None) -> bool:
    """Whether a prompt's draws lose their floating specks (`specks.erase_floating`):
    where the run kept a reference and none of the prompt's real sprites has one. A rare
    tag's draws are where the model sprinkles most (four robots in five on the words
    run, none of its 13 real robots) and a filter would have to drop nearly every draw;
    erasing is what the pixel artist would do. A common tag's draws go through its own
    filter first, which weighs floating pixels among five other statistics and let
    some through (`character`: 0.19 floating W1 against a limit of 0.05 on the words
    run, benchmarks/RESULTS.md), so they are erased after it too."""
    chosen = strategy.chosen_sampling or {}
    if prompt is None or not chosen.get(KEY):
        return False
    real = real_statistics(chosen[KEY], prompt, strategy.data.tags)
    return len(real) > 0 and real.shape[1] > FLOATING and not real[:, FLOATING].any()


def _fit(real: np.ndarray, draw_pool: Callable[[int, int], np.ndarray], digest: str, what: str):
    """A new filter, written to the cache; False where none could be fitted (noted in
    the cache too, so that the next process does not draw the pool again). Says so on
    the "pixelgen" logger (the command line prints it): the pool is most of the wait."""
    logging.getLogger("pixelgen").info(
        f"fitting a pixel filter for {what}: {POOL} draws, once for this run "
        "(then kept in the cache)"
    )
    try:
        fitted = PixelFilter.fit_statistics(
            real, statistics(draw_pool(POOL, POOL_SEED)), CAP_QUANTILE
        )
    except NoSpriteToKeep:
        _write(digest, None)
        return False
    _write(digest, fitted)
    return fitted


def _digest(
    strategy: Strategy, prompt: Prompt | None, tileable: bool, label: int | None, options: dict
) -> str:
    """Names the model's weights, the run's filter and reference, and what is asked."""
    hashed = hashlib.sha256()
    for name, module in sorted(strategy.modules.items()):
        for key, value in module.state_dict().items():
            hashed.update(f"{name}.{key}".encode())
            hashed.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    chosen = strategy.chosen_sampling or {}
    asked = [chosen.get("filter"), chosen.get(KEY), bool(tileable), label]
    if prompt is not None:
        asked += [sorted(prompt.tags), sorted(prompt.negative)]
    asked += [sorted((k, repr(v)) for k, v in options.items()), POOL, POOL_SEED, CAP_QUANTILE]
    hashed.update(json.dumps(asked, sort_keys=True).encode())
    return hashed.hexdigest()[:32]


def _path(digest: str) -> Path:
    from pixelgen_core.files import user_cache

    return user_cache() / "request-filters" / f"{digest}.json"


def _read(digest: str) -> PixelFilter | bool | None:
    """The cached filter (False: none could be fitted), or None where nothing is cached
    (or it cannot be read: fit anew)."""
    path = _path(digest)
    try:
        state = json.loads(path.read_text())
        found = False if state.get("unfit") else PixelFilter.from_dict(state)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the last to be pruned
    return found


def _write(digest: str, fitted: PixelFilter | None) -> None:
    """Atomically; a cache that cannot be written (read-only home, full disk) is skipped."""
    from pixelgen_core.errors import PixelgenError
    from pixelgen_core.files import write_text

    state = {"unfit": True} if fitted is None else fitted.to_dict()
    path = _path(digest)
    with contextlib.suppress(PixelgenError):
        write_text(path, json.dumps(state))
        _prune(path.parent)


def _prune(folder: Path) -> None:
    """Delete all but the `KEEP` most recently used filters. Another process may be
    pruning or reading at the same time: a file already gone is skipped, and a filter
    deleted under a reader only costs it a new fit."""
    by_use = []
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            by_use.append((path.stat().st_mtime, path))
    by_use.sort(reverse=True)
    for _, path in by_use[KEEP:]:
        with contextlib.suppress(OSError):
            path.unlink()
