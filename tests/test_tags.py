"""Tags from a dataset's own names, sidecars and tag files (issue 36, item 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pixelgen_core.cli import cli
from pixelgen_core.data import load_dataset
from pixelgen_core.data.tags import Tagging, dataset_tags, singular, split_tags, words
from pixelgen_core.errors import PixelgenError
from pixelgen_core.images import write_png


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("coinGold", ["coin", "gold"]),
        ("slime_green_walk1", ["slime", "green", "walk"]),
        ("enemies/slimeBlue-2.final", ["enemy", "slime", "blue"]),
        ("tiles/grass_half_left", ["tile", "grass", "half", "left"]),
        ("HUDIcon_boxes", ["hud", "icon", "box"]),
        ("a_sprite_of_the_coins", ["coin"]),  # stop words
        ("0007", []),  # numbers carry no words
        ("x32", []),  # nor do single letters
        ("grass/grass_top", ["grass", "top"]),  # each word once
    ],
)
def test_words_split_names_at_separators_digits_and_camel_case(name, expected):
    assert words(name) == expected


@pytest.mark.parametrize(
    ("plural", "one"),
    [
        ("enemies", "enemy"),
        ("boxes", "box"),
        ("coins", "coin"),
        ("torches", "torch"),
        ("tiles", "tile"),
        ("grass", "grass"),
        ("status", "status"),
        ("gas", "gas"),
        ("key", "key"),
    ],
)
def test_plurals_fold_to_their_singular(plural, one):
    assert singular(plural) == one


def test_a_caption_gives_words_and_a_list_gives_tags():
    assert split_tags("A green slime, jumping") == ["green slime", "jumping"]
    assert split_tags("a green slime jumping") == ["green", "slime", "jumping"]
    assert split_tags("Enemies; Green_Slimes ;;") == ["enemy", "green slime"]


def _folder(root, names):
    for i, name in enumerate(names):
        sprite = np.zeros((8, 8, 4), np.uint8)
        sprite[1 + i % 5, 1:6] = (200, 40, 40, 255)
        write_png(sprite, root / f"{name}.png")
    return root


def test_a_folder_reads_its_subfolders_and_takes_tags_from_the_paths(tmp_path):
    root = _folder(tmp_path / "set", ["enemies/slimeGreen", "enemies/slimeBlue", "items/coin"])
    (root / ".pixelgen").mkdir(exist_ok=True)
    write_png(np.zeros((8, 8, 4), np.uint8), root / ".pixelgen" / "hidden.png")  # skipped
    data = load_dataset(str(root))
    assert data.names == ["enemies/slimeBlue", "enemies/slimeGreen", "items/coin"]
    tagging = data.tags()
    assert tagging.source == "file names"
    assert tagging.tags == (
        ("enemy", "slime", "blue"),
        ("enemy", "slime", "green"),
        ("item", "coin"),
    )
    assert tagging.counts()["slime"] == 2


def test_a_tag_file_comes_first_then_sidecars_then_names(tmp_path):
    names = ["a", "b", "sub/c"]
    by_name = dataset_tags(names, tmp_path)
    assert by_name.source == "file names"  # single letters are no words; "sub" is one
    assert by_name.tags == ((), (), ("sub",))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("Red Slimes, enemy\n")
    sidecars = dataset_tags(names, tmp_path)
    assert sidecars.source == "sidecar files" and sidecars.unlisted == 2
    assert sidecars.tags == ((), (), ("red slime", "enemy"))
    (tmp_path / "tags.jsonl").write_text(
        json.dumps({"file": "a.png", "tags": ["Coins", "gold"]})
        + "\n\n"
        + json.dumps({"file": "./sub/c", "tags": "slime, green"})
        + "\n"
    )
    jsonl = dataset_tags(names, tmp_path)
    assert jsonl.source == "tags.jsonl" and jsonl.unlisted == 1
    assert jsonl.tags == (("coin", "gold"), (), ("slime", "green"))
    (tmp_path / "tags.csv").write_text('file,tags\nb.png,"tree, Bushes"\nsub\\c.png,rock\n')
    table = dataset_tags(names, tmp_path)
    assert table.source == "tags.csv"
    assert table.tags == ((), ("tree", "bush"), ("rock",))


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("tags.csv", "a.png\n", "tags.csv, line 1: expected FILE,TAGS"),
        ("tags.jsonl", '{"file": "a.png"}\n', "tags.jsonl, line 1: expected"),
        ("tags.jsonl", "not json\n", "tags.jsonl, line 1: expected"),
    ],
)
def test_a_malformed_tag_file_is_a_one_line_error_naming_its_line(tmp_path, file, text, message):
    (tmp_path / file).write_text(text)
    with pytest.raises(PixelgenError, match=message):
        dataset_tags(["a"], tmp_path)


def test_rare_tags_and_tags_on_every_sprite_are_dropped():
    tagging = Tagging(
        (("set", "slime", "rare"), ("set", "slime"), ("set", "slime"), ("set", "coin")), "x"
    )
    kept, dropped = tagging.kept(min_count=2)
    assert kept.tags == (("slime",), ("slime",), ("slime",), ())
    assert dropped == ["set", "coin", "rare"]
    assert kept.vocabulary() == [("slime", 3)]


def test_the_bundled_sheets_have_tags_only_where_they_have_names():
    assert load_dataset("kenney-mono").tags().source == "none"
    arcade = load_dataset("kenney-arcade").tags()
    counts = arcade.counts()
    assert arcade.source == "file names"
    assert counts["enemy"] >= 10 and counts["slime"] >= 3 and counts["coin"] >= 3
    kept, _ = arcade.kept()
    assert len(kept.vocabulary()) == 56 and kept.counts()["tile"] == 150  # docs/usage.md


def test_data_show_lists_the_tags_with_their_counts_and_what_it_dropped(tmp_path):
    root = _folder(
        tmp_path / "set",
        ["enemies/slime1", "enemies/slime2", "enemies/slime3", "enemies/bat1", "items/coin1"],
    )
    result = CliRunner().invoke(
        cli, ["data", "show", str(root), "--out", str(tmp_path / "p.png"), "--min-tag-count", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "tags from file names: 2 on 4 of 5 sprites" in result.output
    assert "enemy 4" in result.output and "slime 3" in result.output
    assert "dropped 3 tags on fewer than 2 sprites or on all: bat, coin, item" in result.output
    bad = CliRunner().invoke(cli, ["data", "show", str(root), "--min-tag-count", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
