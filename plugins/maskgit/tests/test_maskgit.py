"""The maskgit strategy against the contract, plus its schedule, decoding and network."""

import math

import pytest
import torch
from pixelgen_maskgit.decoding import decode, mask_ratio, masked_counts, random_mask
from pixelgen_maskgit.model import MaskedPixelTransformer

from pixelgen_core import Batch, ConfigError, DataInfo, PixelgenWarning
from pixelgen_core.testing import PALETTE, StrategyContract, blocky_batch, make_strategy, sample

SMALL = ["model.network=transformer", "model.width=32", "model.layers=1", "model.heads=2",
         "sampling.steps=4"]  # fmt: skip
SMALL_UNET = ["model.network=unet", "model.unet_channels=[8,16]", "sampling.steps=4"]


class TestMaskGITContract(StrategyContract):
    strategy_name = "maskgit"
    overrides = SMALL


class TestMaskGITUNetContract(StrategyContract):
    strategy_name = "maskgit"
    overrides = SMALL_UNET


def make(*overrides, classes=3):
    """A small maskgit: the transformer, or the U-Net where the overrides ask for it."""
    small = SMALL_UNET if "model.network=unet" in overrides else SMALL
    return make_strategy("maskgit", [*small, *overrides], DataInfo(16, PALETTE, classes, 8))


def test_mask_schedule_runs_from_all_to_none():
    assert mask_ratio(torch.tensor(0.0)) == 1 and abs(mask_ratio(torch.tensor(1.0))) < 1e-7
    assert masked_counts(4, 256) == [236, 181, 97, 0]  # floor(cos(pi/2 * t/4) * 256)
    assert masked_counts(1, 256) == [0]


def test_random_mask_hides_at_least_one_pixel_per_sprite():
    g = torch.Generator().manual_seed(0)
    mask = random_mask((500, 16, 16), g, "cpu")
    counts = mask.flatten(1).sum(1).float()
    assert counts.min() >= 1 and counts.max() <= 256
    # E[cos(pi/2 r)] = 2/pi of the pixels, on average
    assert abs(counts.mean().item() / 256 - 2 / math.pi) < 0.03


def test_decoding_fixes_every_pixel_and_keeps_what_is_fixed():
    calls = []

    def logits_fn(pixels):
        calls.append(pixels.clone())
        logits = torch.zeros(len(pixels), 4, 16, 16)
        logits[:, 2] = 5.0  # colour 2 is always the likeliest
        return logits

    out = decode(logits_fn, 3, (16, 16), mask_index=4, steps=4, generator=torch.Generator())
    assert len(calls) == 4 and (out < 4).all()
    masked = [(c == 4).flatten(1).sum(1).tolist() for c in calls]
    assert masked == [[256] * 3, [236] * 3, [181] * 3, [97] * 3]
    for before, after in zip(calls, calls[1:], strict=False):
        fixed = before != 4
        assert torch.equal(after[fixed], before[fixed])  # a fixed pixel never changes


def test_network_maps_patches_back_to_pixels():
    """A pixel's logits must sit at that pixel: change one input pixel, and with
    attention removed only its own patch's outputs change."""
    torch.manual_seed(0)
    net = MaskedPixelTransformer((16, 16), 4, 0, 2, 16, 1, 2, 0.0).eval()
    net.blocks = torch.nn.Identity()  # no mixing between tokens
    net.position.data.zero_()
    pixels = torch.randint(0, 4, (1, 16, 16))
    changed = pixels.clone()
    changed[0, 5, 9] = (changed[0, 5, 9] + 1) % 4
    diff = (net(pixels, torch.zeros(1).long()) - net(changed, torch.zeros(1).long())).abs()
    touched = diff.sum(1)[0] > 1e-6
    expected = torch.zeros(16, 16, dtype=torch.bool)
    expected[4:6, 8:10] = True
    assert torch.equal(touched, expected)


@pytest.mark.parametrize(
    "overrides, steps",
    [
        (["model.width=64", "model.layers=2", "model.dropout=0.0"], 200),
        (["model.network=unet", "model.unet_channels=[16,32]"], 150),
    ],
    ids=["transformer", "unet"],
)
def test_overfits_three_sprites_and_draws_them_back(overrides, steps):
    strategy = make(*overrides, "model.p_uncond=0.0", "training.lr=0.003")
    batch = blocky_batch(16, 3, n=3)  # one sprite per class
    strategy.train()
    losses = [strategy.train_step(batch, "main")["loss"] for _ in range(steps)]
    assert sum(losses[-10:]) / 10 < 0.05
    strategy.eval()
    with torch.inference_mode():
        for k in range(3):
            drawn = sample(strategy, 2, torch.Generator().manual_seed(k), label=k, steps=8)
            assert (drawn == batch.indices[k]).float().mean() > 0.97


def test_the_unet_gives_logits_for_each_pixel_of_any_size():
    """`model.network=unet`: palette logits per pixel from one-hot indices, at 16x16 and
    at a rectangular size (no patch has to divide it)."""
    for size in ((16, 16), (12, 20)):
        data = DataInfo(size[0], PALETTE, 3, 8, image_width=size[1])
        net = make_strategy("maskgit", SMALL_UNET[:2], data).modules["net"]
        assert type(net).__name__ == "PixelUNet" and net.patch == 1
        pixels = torch.randint(0, len(PALETTE) + 1, (2, *size))
        assert net(pixels, torch.tensor([0, 2])).shape == (2, len(PALETTE), *size)


def test_a_setting_of_the_other_network_is_said_to_be_unused():
    with pytest.warns(PixelgenWarning, match=r"model.network=unet does not use model.patch"):
        make(*SMALL_UNET, "model.patch=1")
    with pytest.warns(PixelgenWarning, match=r"network=transformer does not use model.unet_ch"):
        make("model.unet_channels=[8,16]")


def test_a_run_from_before_the_unet_loads_its_transformer():
    """A checkpoint saved before `model.network` existed reads as the default (the U-Net);
    its weights are a transformer's, and they load into one and sample as before."""
    old = make()
    settings = [s for s in SMALL if not s.startswith("model.network")]
    with pytest.warns(PixelgenWarning, match="does not use"):
        now = make_strategy("maskgit", settings, DataInfo(16, PALETTE, 3, 8))
    now.load_state_dict(old.state_dict())
    assert now.config.model.network == "transformer"
    assert isinstance(now.modules["net"], MaskedPixelTransformer)
    old.eval(), now.eval()
    with torch.inference_mode():
        drawn = [sample(s, 2, torch.Generator().manual_seed(0), label=1) for s in (old, now)]
    assert torch.equal(*drawn)


def test_guidance_and_options_are_checked():
    strategy = make()
    strategy.eval()
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        a = sample(strategy, 2, g, label=1, guidance_scale=3.0)
    assert a.shape == (2, 16, 16) and a.dtype == torch.long
    with pytest.raises(ConfigError, match="^steps must be between 1 and"):
        sample(strategy, 1, g, steps=0)
    with pytest.raises(ConfigError, match="temperature must be positive"):
        sample(strategy, 1, g, temperature=0)
    with pytest.raises(ConfigError, match="^temperature must be float, got 'hot'"):
        sample(strategy, 1, g, temperature="hot")
    with pytest.raises(ConfigError, match="no sample option 'stepz'"):
        sample(strategy, 1, g, stepz=3)
    with pytest.raises(ConfigError, match="without classes"):
        sample(make(classes=0), 1, g, label=0)


def test_shapes_that_cannot_work_are_refused():
    with pytest.raises(ConfigError, match="not divisible by model.patch"):
        make("model.patch=3")
    with pytest.raises(ConfigError, match="model.unet_channels entry 12 is not divisible by 8"):
        make("model.network=unet", "model.unet_channels=[8,12]")
    with pytest.raises(ConfigError, match="model.unet_channels has 6 levels"):
        make("model.network=unet", "model.unet_channels=[8,8,8,8,8,8]")
    with pytest.raises(ConfigError, match="model.heads"):
        make("model.width=30", "model.heads=4")
    for key in ("width", "layers", "heads"):
        with pytest.raises(ConfigError, match=f"'model.{key}' must be between 1 and"):
            make(f"model.{key}=0")


def test_tileable_sprites_wrap_around_without_a_seam():
    from pixelgen_core import Palette
    from pixelgen_core.testing import draw, gradient_batch, seam_difference

    strategy = make()
    batch = gradient_batch()
    torch.manual_seed(0)
    strategy.train()
    for _ in range(120):
        strategy.train_step(batch, "main")
    palette = Palette.from_tuples(PALETTE)
    plain_wrap, plain_middle = seam_difference(draw(strategy, palette, 64, seed=0))
    wrap, middle = seam_difference(draw(strategy, palette, 64, seed=0, tileable=True))
    assert plain_wrap > 2 * plain_middle  # the data's seam, learned
    assert wrap <= middle, (wrap, middle)


def test_edit_decodes_only_the_masked_pixels():
    strategy = make()
    indices = blocky_batch(16, 3).indices[:2]
    start = indices.clone()
    start[:, 4:8, 4:8] = strategy.mask_index
    out = decode(
        lambda p: strategy.modules["net"](p, torch.zeros(2, dtype=torch.long)),
        2,
        (16, 16),
        strategy.mask_index,
        4,
        torch.Generator().manual_seed(0),
        start=start,
    )
    kept = start != strategy.mask_index
    assert torch.equal(out[kept], indices[kept])
    assert (out < strategy.mask_index).all()  # every masked pixel was drawn


def test_tags_condition_it_through_the_same_hook_as_diffusion():
    """Trained on red and blue bars tagged so, a prompt of "blue" draws colour 2, and a
    negative prompt steers away from a tag (the "tags" capability's keywords)."""
    from pixelgen_core import Palette, Prompt
    from pixelgen_core.testing import sample_raw

    tags = ("red", "blue")
    info = DataInfo(16, PALETTE, 0, 8, tags=tags, tag_counts=(4, 4))
    strategy = make_strategy(
        "maskgit",
        [*SMALL, "model.width=64", "model.layers=2", "model.dropout=0.0", "training.lr=0.003"],
        info,
    )
    indices = torch.zeros(8, 16, 16, dtype=torch.long)
    marks = torch.zeros(8, 2)
    for i in range(8):
        indices[i, 4 + i % 4 : 12, 6:10] = 1 + i % 2
        marks[i, i % 2] = 1
    images = torch.tensor(PALETTE, dtype=torch.float32)[indices].permute(0, 3, 1, 2)
    batch = Batch(images.contiguous(), indices, None, marks)
    torch.manual_seed(0)
    strategy.train()
    for _ in range(150):
        strategy.train_step(batch, "main")
    palette = Palette.from_tuples(PALETTE)
    options = {"steps": 8}
    blue, _ = sample_raw(strategy, palette, 8, 0, None, options, prompt=Prompt("b", ("blue",)))
    assert (blue == 2).sum() > 4 * (blue == 1).sum()
    away, _ = sample_raw(
        strategy, palette, 8, 0, None, {**options, "guidance_scale": 3.0},
        prompt=Prompt("b", (), ("blue",)),
    )  # fmt: skip
    assert (away == 1).sum() > (away == 2).sum()
