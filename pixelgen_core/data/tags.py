"""Tags: the words a user's sprites already carry, so they can be asked for in words.

A dataset folder gets its tags from the first of these that it has:

1. a tag file, ``tags.csv`` (``file,tags``; tags separated by commas or semicolons) or
   ``tags.jsonl`` (``{"file": ..., "tags": [...]}`` a line), naming files relative to
   the folder, with or without ``.png``;
2. sidecar files, ``NAME.txt`` beside ``NAME.png``: comma-separated tags, or, without a
   comma, a caption whose words are the tags;
3. otherwise the words of each sprite's path inside the folder (``enemies/slimeGreen_walk1``
   gives enemy, slime, green, walk).

Every tag is normalised the same way (lower case, one space between words, the last word
made singular), which is also how a prompt's words are read, so "Slimes" finds "slime".
Tags that too few sprites carry cannot be learned, and a tag that every sprite carries
says nothing about any of them: `Tagging.kept` drops both.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pixelgen_core.errors import PixelgenError
from pixelgen_core.settings import DataConfig

# A tag on fewer sprites than this is dropped (too few to learn it from): data.min_tag_count.
MIN_TAG_COUNT = DataConfig().min_tag_count
TAG_FILES = ("tags.csv", "tags.jsonl")
# Words that name no kind of sprite: articles, joiners, and what file names often carry.
_STOP = "a an and at by for from in into of on or the to with png copy final new sprite img image"
STOP_WORDS = frozenset(_STOP.split())
_SEPARATORS = re.compile(r"[\s_\-./\\]+")
# camelCase and digits: "slimeGreen2" -> slime, Green; "HUDIcon" -> HUD, Icon
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def singular(word: str) -> str:
    """An English plural folded to its singular, by rule (enemies -> enemy, boxes -> box,
    coins -> coin); short words and -ss, -us, -is endings are kept (gas, grass, status)."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zzes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The tag words of a name or caption, in order and once each: split at spaces,
    ``_ - . /``, digits and camelCase; lower-cased; stop words and single letters
    dropped; plurals folded."""
    found: list[str] = []
    for part in _SEPARATORS.split(text):
        for word in _WORD.findall(part):
            word = singular(word.lower())
            if len(word) > 1 and word not in STOP_WORDS and word not in found:
                found.append(word)
    return found


def normalise(tag: str) -> str:
    """One tag as written in a tag file, in the form tags are compared in: lower case,
    single spaces (underscores count as spaces), no stop words, the last word singular."""
    parts = [p for p in tag.replace("_", " ").lower().split() if p not in STOP_WORDS]
    if parts:
        parts[-1] = singular(parts[-1])
    return " ".join(parts)


def split_tags(text: str) -> list[str]:
    """A tag file's or sidecar's tags for one sprite: comma- or semicolon-separated tags,
    or, with neither, the words of a caption."""
    if "," not in text and ";" not in text:
        return words(text)
    return tag_list([text])


def tag_list(cells: Sequence[str]) -> list[str]:
    """Tags as a tag file lists them: each cell one tag or several separated by commas
    or semicolons; normalised, once each, in order."""
    tags = (normalise(t) for cell in cells for t in re.split(r"[,;]", cell))
    return list(dict.fromkeys(t for t in tags if t))


@dataclass(frozen=True)
class Tagging:
    """Each sprite's tags (in dataset order), and where they came from."""

    tags: tuple[tuple[str, ...], ...]
    source: str  # "tags.csv", "tags.jsonl", "sidecar files", "file names" or "none"
    unlisted: int = 0  # sprites the tag file or sidecars say nothing about

    def counts(self) -> Counter:
        """How many sprites carry each tag."""
        return Counter(t for tags in self.tags for t in tags)

    def kept(self, min_count: int = MIN_TAG_COUNT) -> tuple[Tagging, list[str]]:
        """These tags without the ones fewer than `min_count` sprites carry, or every
        sprite does; and the dropped tags, commonest first (ties by name)."""
        counts = self.counts()
        drop = {t for t, c in counts.items() if c < min_count or c == len(self.tags)}
        tags = tuple(tuple(t for t in row if t not in drop) for row in self.tags)
        dropped = [t for t, _ in self.vocabulary() if t in drop]
        return Tagging(tags, self.source, self.unlisted), dropped

    def vocabulary(self) -> list[tuple[str, int]]:
        """(tag, count) pairs, commonest first, ties by name."""
        return sorted(self.counts().items(), key=lambda item: (-item[1], item[0]))


def dataset_tags(names: Sequence[str], folder: Path | None = None) -> Tagging:
    """The tags of sprites named `names` (paths inside the dataset, without ``.png``),
    read from `folder`'s tag file or sidecars when it has them, else from the names."""
    if folder is not None:
        for file in TAG_FILES:
            if (folder / file).is_file():
                listed = read_tag_file(folder / file)
                tags = [tuple(listed.get(_key(name), ())) for name in names]
                missing = sum(_key(name) not in listed for name in names)
                return Tagging(tuple(tags), file, missing)
        sidecars = [folder / f"{name}.txt" for name in names]
        if any(p.is_file() for p in sidecars):
            tags = [tuple(split_tags(_read_text(p))) if p.is_file() else () for p in sidecars]
            return Tagging(tuple(tags), "sidecar files", sum(not p.is_file() for p in sidecars))
    tags = tuple(tuple(words(name)) for name in names)
    return Tagging(tags, "file names" if any(tags) else "none")


def read_tag_file(path: Path) -> dict[str, list[str]]:
    """A ``tags.csv`` or ``tags.jsonl`` as {file key: tags}; a malformed one is a
    one-line error naming its line."""
    text = _read_text(path)
    listed: dict[str, list[str]] = {}
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                file, tags = entry["file"], entry["tags"]
            except (ValueError, KeyError, TypeError):
                raise PixelgenError(
                    f'{path}, line {number}: expected {{"file": ..., "tags": [...]}}'
                ) from None
            listed[_key(str(file))] = tag_list([str(t) for t in _as_list(tags)])
        return listed
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not row[0].strip():
            continue
        if number == 1 and row[0].strip().lower() in {"file", "filename", "image", "path"}:
            continue  # a header
        if len(row) < 2:
            raise PixelgenError(f"{path}, line {number}: expected FILE,TAGS")
        listed[_key(row[0])] = tag_list(row[1:])  # an unquoted "a, b" is several cells
    return listed


def _key(file: str) -> str:
    """A file as tag files and names are matched: relative, forward slashes, no .png."""
    key = file.strip().replace("\\", "/")
    key = key[2:] if key.startswith("./") else key
    return key[: -len(".png")] if key.lower().endswith(".png") else key


def _as_list(tags: object) -> list:
    return tags if isinstance(tags, list) else [tags]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PixelgenError(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise PixelgenError(f"cannot read {path}: {error.strerror or error}") from None
