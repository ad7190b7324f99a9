"""The contract suite catches broken strategies, and says what the contract expects."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pixelgen_core import Draw, Option, Strategy, StrategySpec
from pixelgen_core.config import resolve
from pixelgen_core.plugins import StrategyRecord
from pixelgen_core.request import Options
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

    def sample(self, draw):
        labels = torch.full((draw.n,), draw.label or 0)
        probs = torch.softmax(self.logits(labels) / draw.options.temperature, 1)
        flat = probs.permute(0, 2, 3, 1).reshape(-1, len(PALETTE))
        return torch.multinomial(flat, 1, generator=draw.generator).view(draw.n, 16, 16)


class IgnoresGenerator(PixelTable):
    def sample(self, draw):
        return super().sample(replace(draw, generator=torch.Generator().manual_seed(torch.seed())))


class IgnoresLabel(PixelTable):
    def sample(self, draw):
        return super().sample(replace(draw, label=None))


class NoStep(PixelTable):
    def loss(self, batch, step):
        return self.modules["m"].weight.sum() * 0  # a loss with gradients that teaches nothing


class LosesState(PixelTable):
    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        self.bias = torch.randn(16, 16)  # matters for sampling, but is not saved

    def sample(self, draw):
        return (super().sample(draw) + (self.bias > 0)) % 4


class IgnoresOption(PixelTable):
    def sample(self, draw):
        labels = torch.full((draw.n,), draw.label or 0)
        flat = torch.softmax(self.logits(labels), 1).permute(0, 2, 3, 1).reshape(-1, len(PALETTE))
        return torch.multinomial(flat, 1, generator=draw.generator).view(draw.n, 16, 16)


class OldSignature(PixelTable):
    """A strategy written before contract 2: sample(n, generator, label, **options)."""

    def sample(self, n, generator, label=None, temperature=1.0):
        return super().sample(Draw(n, generator, Options({"temperature": temperature}), label))


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
        (IgnoresOption, "test_sample_options_reach_sample", "neither sample() nor edit() reads"),
        (OldSignature, "test_declared_capabilities_are_implemented", "it takes one Draw"),
    ],
)
def test_broken_strategies_fail_with_what_the_contract_expects(cls, check, message, tmp_path):
    suite, args = contract_for(cls)
    if check.endswith("checkpoint"):
        args = (*args, tmp_path)
    if check == "test_declared_capabilities_are_implemented":
        args = args[:3]
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        getattr(suite, check)(*args)


def test_a_strategy_with_the_old_sample_signature_still_draws_with_one_warning():
    from pixelgen_core import PixelgenWarning
    from pixelgen_core.testing import sample

    _, (record, config, info, _batch) = contract_for(OldSignature)
    strategy = OldSignature(config, info, torch.device("cpu"))
    strategy.spec = record.spec
    with pytest.warns(PixelgenWarning, match="since contract 2 they take one Draw"):
        old = sample(strategy, 3, torch.Generator().manual_seed(5), 1, temperature=0.5)
    draw = Draw(3, torch.Generator().manual_seed(5), {"temperature": 0.5}, 1)
    new = PixelTable.sample(strategy, draw)
    assert torch.equal(old, new)


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
