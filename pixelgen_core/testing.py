"""The strategy contract suite: pytest checks any strategy, shipped or third-party, can run.

In your plugin's tests::

    from pixelgen_core.testing import StrategyContract

    class TestMyStrategy(StrategyContract):
        strategy_name = "my-strategy"
        overrides = ["model.width=8"]   # keep the model tiny so the suite is fast

The suite builds the strategy on a small synthetic dataset, trains a few steps,
samples, and round-trips its state through a real checkpoint file.
"""

from __future__ import annotations

import math

import pytest
import torch

from pixelgen_core import checkpoint
from pixelgen_core.config import resolve
from pixelgen_core.palette import Palette
from pixelgen_core.plugins import StrategyRecord, discover
from pixelgen_core.sampling import build, draw
from pixelgen_core.strategy import Batch, DataInfo, Strategy

PALETTE = ((0, 0, 0, 0), (0.1, 0.1, 0.2, 1), (0.9, 0.3, 0.2, 1), (0.95, 0.95, 0.9, 1))


class StrategyContract:
    strategy_name: str = ""
    overrides: list[str] = []
    image_size: int = 16
    num_classes: int = 3
    learn_steps: int = 30

    # -- fixtures a plugin may override ----------------------------------------------
    @pytest.fixture
    def record(self) -> StrategyRecord:
        found = discover()
        if self.strategy_name not in found.strategies:
            pytest.fail(f"strategy {self.strategy_name!r} is not installed ({found.failures})")
        return found.strategies[self.strategy_name]

    @pytest.fixture
    def config(self, record: StrategyRecord) -> dict:
        return resolve(record.spec, overrides=[*self.overrides, "tracking.enabled=false"])

    @pytest.fixture
    def info(self, record: StrategyRecord) -> DataInfo:
        classes = self.num_classes if record.spec.conditional else 0
        return DataInfo(self.image_size, PALETTE, classes, 8)

    @pytest.fixture
    def batch(self, info: DataInfo) -> Batch:
        g = torch.Generator().manual_seed(0)
        s = self.image_size
        # Blocky sprites: a random opaque colour on a random rectangle over transparency.
        indices = torch.zeros(8, s, s, dtype=torch.long)
        for i in range(8):
            y0, x0 = torch.randint(0, s // 2, (2,), generator=g).tolist()
            colour = int(torch.randint(1, len(PALETTE), (1,), generator=g))
            indices[i, y0 : y0 + s // 2, x0 : x0 + s // 2] = colour
        table = torch.tensor(PALETTE, dtype=torch.float32)
        images = table[indices].permute(0, 3, 1, 2).contiguous()
        labels = torch.arange(8) % info.num_classes if info.num_classes else None
        return Batch(images, indices, labels)

    def make(self, record: StrategyRecord, config: dict, info: DataInfo) -> Strategy:
        torch.manual_seed(0)
        return build(record, config, info, torch.device("cpu"))

    def trained(self, record, config, info, batch) -> Strategy:
        """A strategy after one training step per stage: some strategies (a VQ-VAE,
        whose prior is its second stage) cannot sample before they have trained."""
        strategy = self.make(record, config, info)
        strategy.train()
        for stage in strategy.stages():
            strategy.train_step(batch, stage.name)
        return strategy

    # -- the contract ------------------------------------------------------------------
    def test_spec_is_valid(self, record: StrategyRecord) -> None:
        record.spec.validate()
        assert record.spec.name == self.strategy_name
        assert record.distribution and record.version

    def test_train_options_name_config_keys(self, record: StrategyRecord, config: dict) -> None:
        for option in record.spec.train_options:
            node = config
            for part in option.config_key.split("."):
                assert part in node, f"{option.flag} sets unknown key {option.config_key}"
                node = node[part]

    def test_stages(self, record, config, info) -> None:
        stages = self.make(record, config, info).stages()
        assert stages, "a strategy needs at least one stage"
        assert len({s.name for s in stages}) == len(stages)
        assert all(s.epochs >= 0 for s in stages)

    def test_train_step_returns_finite_loss_and_updates(self, record, config, info, batch) -> None:
        strategy = self.make(record, config, info)
        before = {k: v.clone() for k, v in _params(strategy).items()}
        strategy.train()
        for stage in strategy.stages():
            metrics = strategy.train_step(batch, stage.name)
            assert "loss" in metrics
            assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
        after = _params(strategy)
        assert any(not torch.equal(before[k], after[k]) for k in before), "no parameter changed"

    def test_loss_decreases_on_a_fixed_batch(self, record, config, info, batch) -> None:
        strategy = self.make(record, config, info)
        strategy.train()
        stage = strategy.stages()[0].name
        losses = [strategy.train_step(batch, stage)["loss"] for _ in range(self.learn_steps)]
        assert sum(losses[-5:]) / 5 < losses[0]

    def test_metrics_are_finite_floats(self, record, config, info, batch) -> None:
        metrics = self.make(record, config, info).metrics(batch)
        assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())

    def test_sample_shape_and_range(self, record, config, info, batch) -> None:
        strategy = self.trained(record, config, info, batch)
        strategy.eval()
        generator = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            out = strategy.sample(3, generator)
        s = self.image_size
        if out.dtype.is_floating_point:
            assert out.shape == (3, 4, s, s)
            assert out.min() >= 0 and out.max() <= 1
        else:
            assert out.shape == (3, s, s)
            assert out.min() >= 0 and out.max() < len(PALETTE)

    def test_sample_is_seeded_by_the_generator(self, record, config, info, batch) -> None:
        strategy = self.trained(record, config, info, batch)
        palette = Palette.from_tuples(PALETTE)
        first = draw(strategy, palette, 4, seed=1)
        assert (first == draw(strategy, palette, 4, seed=1)).all()
        assert first.shape == (4, self.image_size, self.image_size, 4)

    def test_sample_with_class_label(self, record, config, info, batch) -> None:
        if not record.spec.conditional:
            pytest.skip("strategy is not class-conditional")
        strategy = self.trained(record, config, info, batch)
        palette = Palette.from_tuples(PALETTE)
        for label in range(info.num_classes):
            assert draw(strategy, palette, 2, seed=0, label=label).shape[0] == 2

    def test_state_round_trips_through_a_checkpoint(self, record, config, info, batch, tmp_path):
        strategy = self.trained(record, config, info, batch)
        path = checkpoint.save({"state": strategy.state_dict()}, tmp_path / "c.pt")
        loaded = checkpoint.load(path)  # weights_only=True inside
        torch.manual_seed(123)  # a fresh strategy must not depend on the init seed
        restored = build(record, config, info, torch.device("cpu"))
        restored.load_state_dict(loaded["state"])
        palette = Palette.from_tuples(PALETTE)
        assert (draw(strategy, palette, 4, seed=7) == draw(restored, palette, 4, seed=7)).all()
        for key, optimizer in strategy.optimizers.items():
            assert restored.optimizers[key].state_dict()["state"].keys() == (
                optimizer.state_dict()["state"].keys()
            )


def _params(strategy: Strategy) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": value
        for name, module in strategy.modules.items()
        for key, value in module.state_dict().items()
    }
