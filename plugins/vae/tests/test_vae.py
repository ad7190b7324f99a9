"""The VAE against the strategy contract, plus what is particular to it."""

import pytest
import torch

from pixelgen_core.errors import ConfigError
from pixelgen_core.strategy import Batch, DataInfo
from pixelgen_core.testing import PALETTE, StrategyContract


class TestVAEContract(StrategyContract):
    strategy_name = "vae"
    overrides = ["model.channels=[8,16]", "model.latent_dim=4"]


def _make(config_overrides):
    from pixelgen_core.config import resolve
    from pixelgen_core.plugins import discover
    from pixelgen_core.sampling import build

    record = discover().get("vae")
    config = resolve(record.spec, overrides=["model.channels=[8,16]", *config_overrides])
    return build(record, config, DataInfo(16, PALETTE), torch.device("cpu"))


def test_bce_and_mse_losses_both_train():
    for loss in ("bce", "mse"):
        strategy = _make([f"model.loss={loss}"])
        images = torch.rand(4, 4, 16, 16).round()
        metrics = strategy.train_step(Batch(images, images[:, 0].long()), "main")
        assert {"loss", "recon", "kl"} <= metrics.keys()


def test_unknown_loss_is_rejected():
    with pytest.raises(ConfigError, match="model.loss"):
        _make(["model.loss=l1"])


def test_image_side_must_fit_the_levels():
    from pixelgen_core.config import resolve
    from pixelgen_core.plugins import discover
    from pixelgen_core.sampling import build

    record = discover().get("vae")
    config = resolve(record.spec, overrides=["model.channels=[8,8,8,8,8]"])
    with pytest.raises(ConfigError, match="not divisible"):
        build(record, config, DataInfo(16, PALETTE), torch.device("cpu"))


def test_decoder_maps_latents_to_rgba_logits():
    strategy = _make([])
    assert strategy.modules["vae"].decode(torch.zeros(2, 32)).shape == (2, 4, 16, 16)


def test_temperature_zero_gives_the_decoded_prior_mean():
    strategy = _make([])
    g = torch.Generator().manual_seed(0)
    a = strategy.sample(3, g, temperature=0.0)
    assert torch.allclose(a[0], a[1]) and torch.allclose(a[1], a[2])
