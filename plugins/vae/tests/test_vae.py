"""The VAE against the strategy contract, plus what is particular to it."""

import pytest
import torch

from pixelgen_core import Batch, ConfigError
from pixelgen_core.testing import StrategyContract, make_strategy, sample


class TestVAEContract(StrategyContract):
    strategy_name = "vae"
    overrides = ["model.channels=[8,16]", "model.latent_dim=4"]


def _make(config_overrides):
    return make_strategy("vae", ["model.channels=[8,16]", *config_overrides])


def test_bce_and_mse_losses_both_train():
    for loss in ("bce", "mse"):
        strategy = _make([f"model.loss={loss}"])
        images = torch.rand(4, 4, 16, 16).round()
        metrics = strategy.train_step(Batch(images, images[:, 0].long()), "main")
        assert {"loss", "recon", "kl"} <= metrics.keys()


def test_unknown_loss_is_rejected():
    with pytest.raises(ConfigError, match="'model.loss' must be one of bce, mse, got 'l1'"):
        _make(["model.loss=l1"])


def test_image_side_must_fit_the_levels():
    with pytest.raises(ConfigError, match="not divisible"):
        make_strategy("vae", ["model.channels=[8,8,8,8,8]"])


def test_decoder_maps_latents_to_rgba_logits():
    strategy = _make([])
    assert strategy.modules["vae"].decode(torch.zeros(2, 32)).shape == (2, 4, 16, 16)


def test_temperature_zero_gives_the_decoded_prior_mean():
    strategy = _make([])
    g = torch.Generator().manual_seed(0)
    a = sample(strategy, 3, g, temperature=0.0)
    assert torch.allclose(a[0], a[1]) and torch.allclose(a[1], a[2])
