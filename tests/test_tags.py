"""Tags from a dataset's own names, sidecars and tag files (issue 36, item 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
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


VOCABULARY = ("enemy", "slime", "green", "green slime", "coin", "gold", "walk")


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("slime", ("slime", "enemy")),  # enemy: every slime is one
        ("Slimes", ("slime", "enemy")),  # plural and case
        ("green slime", ("green slime",)),  # the longest run of words that is a tag
        ("green, slime", ("green", "slime", "enemy")),  # commas separate tags
        ("a gold coin", ("gold", "coin")),  # stop words
        ("walking_enemies", None),  # "walking" is not "walk"
    ],
)
def test_a_prompt_reads_words_as_the_runs_tags(text, tags):
    from pixelgen_core.prompts import read_prompt

    implies = {"slime": ("enemy",)}
    if tags is None:
        with pytest.raises(PixelgenError, match="'walking' in the prompt .*closest tags: walk"):
            read_prompt(text, VOCABULARY, implies)
        return
    assert read_prompt(text, VOCABULARY, implies).tags == tags


def test_a_negative_prompt_and_its_vectors():
    from pixelgen_core.prompts import read_prompt

    prompt = read_prompt("slime", VOCABULARY, {"slime": ("enemy", "walk")}, negative="walk")
    assert prompt.tags == ("slime", "enemy") and prompt.negative == ("walk",)
    wanted, unwanted = prompt.vectors(VOCABULARY)
    assert wanted.tolist() == [1, 1, 0, 0, 0, 0, 0] and unwanted.tolist() == [0] * 6 + [1]
    with pytest.raises(PixelgenError, match="names no tag"):
        read_prompt("the", VOCABULARY)
    with pytest.raises(PixelgenError, match="trained without tags"):
        read_prompt("slime", ())


def test_implications_are_the_tags_always_carried_together():
    from pixelgen_core.prompts import tag_implications

    matrix = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1]])  # enemy, slime, green
    assert tag_implications(matrix, ("enemy", "slime", "green")) == {
        "slime": ("enemy",),
        "green": ("enemy",),
    }


def test_a_tagged_folder_conditions_a_strategy_that_takes_tags(tmp_path):
    """prepare() gives a tag matrix instead of k-means classes to a conditional strategy
    with the "tags" capability; a run's own vocabulary (empty: none) is kept on resume."""
    from pixelgen_core import DataInfo, StrategySpec
    from pixelgen_core.config import resolve
    from pixelgen_core.data.prepare import prepare

    root = _folder(
        tmp_path / "set",
        ["slimes/green1", "slimes/green2", "slimes/blue3", "coins/gold4", "coins/gold5"],
    )
    spec = StrategySpec("x", "d", "a:b", conditional=True, capabilities=("tags",))
    config = resolve(spec, overrides=[f"data.dataset={root}", "data.num_classes=2"])
    config["data"]["min_tag_count"] = 2
    data = prepare(config, True, spec=spec)
    assert data.info.tags == ("slime", "coin", "gold", "green")  # commonest first
    assert data.info.tag_counts == (3, 2, 2, 2) and data.info.num_classes == 0
    assert data.labels is None and data.tags.shape == (5, 4)
    assert data.info.tag_implies == ((), ("gold",), ("coin",), ("slime",))
    assert (
        "dropped 1 tags on fewer than 2 sprites or on all (data.min_tag_count): blue"
        in (data.notes[1])
    )
    batch = data.unaugmented(torch.arange(5), torch.device("cpu"))
    assert batch.tags.tolist()[0] == [0, 1, 1, 0]  # coins/gold4
    assert DataInfo.from_dict(data.info.to_dict()).to_dict() == data.info.to_dict()
    assert DataInfo.from_dict(data.info.to_dict()).tag_implies == data.info.tag_implies
    # a resumed run keeps its own vocabulary, each tag where the data has it today
    kept = prepare(config, True, spec=spec, vocabulary=("slime", "blue"))
    assert kept.info.tags == ("slime", "blue") and kept.info.tag_counts == (3, 1)
    assert not any("dropped" in note for note in kept.notes)  # a run's own tags drop none
    classes = prepare(config, True, spec=spec, vocabulary=())  # a run trained without tags
    assert classes.tags is None and classes.info.num_classes == 2
    config["data"]["tags"] = False
    assert prepare(config, True, spec=spec).info.num_classes == 2


def test_prompt_adherence_scores_every_tag_and_seen_and_novel_pairs():
    """`choose_prompts` picks single tags, pairs the data has together (not always), and
    pairs it never has; a perfect drawer (real sprites of the asked tags) scores at
    the classifier's ceiling on the tags it can tell apart."""
    from pixelgen_core.evaluation.prompts import choose_prompts, evaluate_prompts

    names = ("red", "blue", "tall", "wide")
    tags = np.array([[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0]] * 8)  # no blue wide sprite
    prompts = choose_prompts(tags, names)
    assert prompts[:4] == [("tag", (0,)), ("tag", (1,)), ("tag", (2,)), ("tag", (3,))]
    # red and blue never meet (they replace each other), nor tall and wide: no pairs;
    # blue and wide never meet, but red, blue's substitute, is wide: a new combination
    assert [p for p in prompts if p[0] == "novel pair"] == [("novel pair", (1, 3))]
    assert ("seen pair", (0, 2)) in prompts and ("seen pair", (1, 2)) not in prompts
    rgba = np.zeros((24, 8, 8, 4), np.uint8)
    for i, row in enumerate(tags):
        colour = (220, 30, 30, 255) if row[0] else (30, 30, 220, 255)
        if row[2]:  # tall
            rgba[i, 1:7, 3:5] = colour
        else:
            rgba[i, 3:5, 1:7] = colour
    indices = (rgba[..., 3] > 0).astype(np.int64) * np.where(rgba[..., 0] > 100, 1, 2)

    def draw(asked, n, seed):
        rows = np.flatnonzero(np.all([tags[:, names.index(t)] for t in asked], 0))
        pick = np.resize(rows, n) if len(rows) else np.zeros(n, int)
        return rgba[pick], indices[pick]

    result = evaluate_prompts(draw, rgba, indices, tags, names, n=4)
    rows = {r.prompt: r for r in result.rows}
    assert rows["red"].ceiling == 1.0 and rows["red"].recognised == 1.0
    assert rows["red"].scores["memorised"] == 1.0  # drawn straight from the data
    assert rows["blue, wide"].kind == "novel pair" and rows["blue, wide"].ceiling is None
    assert result.summary()["prompts/tag/recognised"] == 1.0


def test_a_prompt_with_enough_real_sprites_gets_a_pixel_verdict_that_sees_specks():
    """Real sprites drawn back pass their prompt's verdict; the same with two specks off
    the shape fail it on floating pixels; a tag with under MIN_JUDGED real sprites is
    not judged (its halves would be too few to give a spread)."""
    from pixelgen_core.evaluation.prompts import MIN_JUDGED, evaluate_prompts, markdown

    rng = np.random.default_rng(0)
    names = ("crate", "gem")
    tags = np.array([[1, 0]] * (MIN_JUDGED + 20) + [[0, 1]] * (MIN_JUDGED - 8))
    indices = np.zeros((len(tags), 8, 8), np.int64)
    for i, row in enumerate(tags):  # one colour each: crates blocks, gems small diamonds
        if row[0]:
            h, w = rng.integers(3, 6, 2)
            indices[i, 1 : 1 + h, 1 : 1 + w] = 1
        else:
            indices[i, 3:5, 2:6] = 2
            indices[i, 2:6, 3:5] = 2
    colours = np.array([[0, 0, 0, 0], [200, 120, 40, 255], [40, 200, 220, 255]], np.uint8)

    def drawer(specks: bool):
        def draw(asked, n, seed):
            rows = np.flatnonzero(np.all([tags[:, names.index(t)] for t in asked], 0))
            picked = indices[np.random.default_rng(seed).choice(rows, n)].copy()
            if specks:  # two pixels in the far corner, touching nothing
                picked[:, 7, 7] = picked[:, 7, 5] = 1
            return colours[picked], picked

        return draw

    clean = evaluate_prompts(drawer(False), colours[indices], indices, tags, names, n=32)
    speckled = evaluate_prompts(drawer(True), colours[indices], indices, tags, names, n=32)
    crate, gem = clean.rows[0], clean.rows[1]
    assert (crate.prompt, gem.prompt) == ("crate", "gem")
    assert crate.clean is True and gem.clean is None and gem.verdict is None
    assert speckled.rows[0].clean is False and "floating" in speckled.rows[0].verdict.failed
    assert clean.summary()["prompts/tag/clean"] == 1.0
    assert speckled.summary()["prompts/tag/clean"] == 0.0
    assert speckled.to_dict()["rows"][0]["pixel_clean"] is False
    table = markdown(speckled)
    assert "| no: " in table and "floating" in table and "pixel-clean 0 of 1 judged" in table
