"""Prompts: words a user types, read as the tags a run learned (`data.tags`).

A prompt is split at commas; each part is a tag as it stands ("green slime") or, failing
that, a run of words read left to right, each time taking the longest run that is a tag.
Words are read as tags are (`tags.words`: lower case, plurals folded, stop words out),
so "Slimes" finds "slime". Tags that every training sprite with a wanted tag also
carries are added (the data's "slime" sprites are all "enemy"), since the model never
saw the one without the other. A word that is no tag is a one-line error naming the
closest tags.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

from pixelgen_core.data.tags import normalise, words
from pixelgen_core.errors import PixelgenError


@dataclass(frozen=True)
class Prompt:
    """What a prompt asks for, in the run's tags: `tags` to draw (the words' own first,
    then the ones they imply) and `negative` tags to steer away from."""

    text: str
    tags: tuple[str, ...]
    negative: tuple[str, ...] = ()

    def vectors(self, vocabulary: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The (T,) float32 0/1 vectors over `vocabulary` of the tags and the negative
        tags, as a strategy with the "tags" capability takes them."""
        wanted = np.isin(np.asarray(vocabulary), self.tags).astype(np.float32)
        unwanted = np.isin(np.asarray(vocabulary), self.negative).astype(np.float32)
        return wanted, unwanted


def read_prompt(
    text: str,
    vocabulary: tuple[str, ...],
    implies: dict[str, tuple[str, ...]] | None = None,
    negative: str | None = None,
) -> Prompt:
    """`text` (and `negative`) as a Prompt over `vocabulary`; `implies` maps a tag to the
    tags that always come with it in the data."""
    if not vocabulary:
        raise PixelgenError(
            "this run was trained without tags, so it takes no prompt (its data had none: "
            "see pixelgen data show)"
        )
    wanted = _tags_of(text, vocabulary, "prompt")
    unwanted = _tags_of(negative, vocabulary, "negative prompt") if negative else []
    both = [t for t in wanted if t in unwanted]
    if both:
        raise PixelgenError(f"{both[0]!r} is both asked for and in the negative prompt")
    for tag in list(wanted):
        for implied in (implies or {}).get(tag, ()):
            if implied not in wanted and implied not in unwanted:
                wanted.append(implied)
    return Prompt(text, tuple(wanted), tuple(unwanted))


def _tags_of(text: str, vocabulary: tuple[str, ...], what: str) -> list[str]:
    known = set(vocabulary)
    found: list[str] = []
    for part in re.split(r"[,;]", text):
        whole = normalise(part)
        if whole in known:
            found.append(whole)
            continue
        said = words(part)
        start = 0
        while start < len(said):
            for end in range(len(said), start, -1):
                tag = " ".join(said[start:end])
                if tag in known:
                    found.append(tag)
                    start = end
                    break
            else:
                raise PixelgenError(_unknown(said[start], vocabulary, what))
    if not found:
        raise PixelgenError(f"the {what} {text!r} names no tag of this run")
    return list(dict.fromkeys(found))


def _unknown(word: str, vocabulary: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.6)
    hint = f"closest tags: {', '.join(close)}" if close else "no tag is close"
    return f"{word!r} in the {what} is not one of this run's {len(vocabulary)} tags ({hint})"


def tag_implications(tags: np.ndarray, vocabulary: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """For each tag, the other tags that every sprite carrying it also carries, from
    the (N, T) 0/1 tag matrix of the training sprites."""
    carried = tags.astype(bool)
    out: dict[str, tuple[str, ...]] = {}
    for i, tag in enumerate(vocabulary):
        rows = carried[carried[:, i]]
        if len(rows):
            always = np.flatnonzero(rows.all(axis=0))
            out[tag] = tuple(vocabulary[j] for j in always if j != i)
    return {tag: implied for tag, implied in out.items() if implied}
