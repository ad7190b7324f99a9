"""The contract suite catches broken strategies, and says what the contract expects."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pixelgen_core import Option, Strategy, StrategySpec
from pixelgen_core.config import resolve
from pixelgen_core.plugins import StrategyRecord
from pixelgen_core.strategy import DataInfo
from pixelgen_core.testing import PALETTE, StrategyContract, blocky_batch


class PixelTable(Strategy):
    """A correct little strategy: per-class palette logits for every pixel."""

    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        self.modules = {"m": nn.Embedding(max(data.num_classes, 1), len(PALETTE) * 256)}
        self.optimizers = {"m": torch.optim.Adam(self.modules["m"].parameters(), lr=0.1)}

    def logits(self, labels):
        return self.modules["m"](labels).view(-1, len(PALETTE), 16, 16)

    def loss(self, batch, step):
        return F.cross_entropy(self.logits(batch.labels), batch.indices)

    def sample(self, n, generator, label=None, temperature=1.0):
        labels = torch.full((n,), label or 0)
        probs = torch.softmax(self.logits(labels) / temperature, 1).permute(0, 2, 3, 1)
        return torch.multinomial(probs.reshape(-1, len(PALETTE)), 1, generator=generator).view(
            n, 16, 16
        )


class IgnoresGenerator(PixelTable):
    def sample(self, n, generator, label=None, temperature=1.0):
        return super().sample(n, torch.Generator().manual_seed(torch.seed()), label, temperature)


class IgnoresLabel(PixelTable):
    def sample(self, n, generator, label=None, temperature=1.0):
        return super().sample(n, generator, None, temperature)


class NoStep(PixelTable):
    def loss(self, batch, step):
        return self.modules["m"].weight.sum() * 0  # a loss with gradients that teaches nothing


class LosesState(PixelTable):
    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        self.bias = torch.randn(16, 16)  # matters for sampling, but is not saved

    def sample(self, n, generator, label=None, temperature=1.0):
        return (super().sample(n, generator, label, temperature) + (self.bias > 0)) % 4


class NoOptionParameter(PixelTable):
    def sample(self, n, generator, label=None):
        return super().sample(n, generator, label)


TEMPERATURE = Option("temperature", float, 1.0, "t")


def contract_for(cls):
    spec = StrategySpec(
        "table", "A test strategy.", cls, conditional=True, sample_options=(TEMPERATURE,)
    )
    record = StrategyRecord(spec, "test-dist", "1.0")
    config = resolve(spec, overrides=["tracking.enabled=false"])
    info = DataInfo(16, PALETTE, 3, 8)
    return StrategyContract(), (record, config, info, blocky_batch(16, 3))


def test_a_correct_strategy_passes_every_check(tmp_path):
    suite, (record, config, info, batch) = contract_for(PixelTable)
    suite.strategy_name = "table"
    suite.test_spec_is_valid(record)
    suite.test_sample_options_reach_sample(record, config, info, batch)
    suite.test_train_step_returns_finite_loss_and_updates(record, config, info, batch)
    suite.test_loss_decreases_on_a_fixed_batch(record, config, info, batch)
    suite.test_sample_shape_and_range(record, config, info, batch)
    suite.test_sample_is_seeded_by_the_generator(record, config, info, batch)
    suite.test_conditional_samples_depend_on_the_class(record, config, info, batch)
    suite.test_state_round_trips_through_a_checkpoint(record, config, info, batch, tmp_path)


@pytest.mark.parametrize(
    ("cls", "check", "message"),
    [
        (IgnoresGenerator, "test_sample_is_seeded_by_the_generator", "from its `generator`"),
        (IgnoresLabel, "test_conditional_samples_depend_on_the_class", "must use `label`"),
        (NoStep, "test_train_step_returns_finite_loss_and_updates", "no parameter changed"),
        (NoStep, "test_loss_decreases_on_a_fixed_batch", "did not lower the loss"),
        (LosesState, "test_state_round_trips_through_a_checkpoint", "extra_state()"),
        (NoOptionParameter, "test_sample_options_reach_sample", "has no parameter 'temperature'"),
    ],
)
def test_broken_strategies_fail_with_what_the_contract_expects(cls, check, message, tmp_path):
    suite, args = contract_for(cls)
    if check.endswith("checkpoint"):
        args = (*args, tmp_path)
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        getattr(suite, check)(*args)


class StepsItself(PixelTable):
    def loss(self, batch, step):
        loss = super().loss(batch, step)
        loss.backward()
        self.optimizers["m"].step()
        return loss.detach().requires_grad_()


def test_a_loss_that_runs_its_own_step_is_caught():
    suite, (record, config, info, batch) = contract_for(StepsItself)
    with pytest.raises(AssertionError, match="ran backward\\(\\) or an optimizer step"):
        suite.test_loss_leaves_the_step_to_core(record, config, info, batch)
