"""Core's training step (contract 2): a strategy gives a loss, core does everything else."""

import warnings

import pytest
import torch
from torch import nn

from pixelgen_core import Average, PixelgenError, PixelgenWarning, Strategy, StrategySpec
from pixelgen_core.config import resolve
from pixelgen_core.optimisation import Modules, is_legacy, legacy_step
from pixelgen_core.strategy import Batch, DataInfo
from pixelgen_core.testing import PALETTE

BATCH = Batch(torch.ones(4, 4, 2, 2), torch.zeros(4, 2, 2, dtype=torch.long))


class Line(Strategy):
    """loss = (w . x - 10)^2 for a 2-weight linear map, with plain SGD at lr 1."""

    seen_dtype = None

    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        line = nn.Linear(2, 1, bias=False)
        nn.init.zeros_(line.weight)
        self.modules = {"line": line, "average": nn.Linear(2, 1, bias=False)}
        nn.init.zeros_(self.modules["average"].weight)
        self.optimizers = {"line": lambda: torch.optim.SGD(line.parameters(), lr=1.0)}

    def loss(self, batch, step):
        out = self.modules["line"](torch.ones(1, 2))
        Line.seen_dtype = out.dtype
        return {"loss": ((out - 10) ** 2).sum(), "step_index": step.index}


def make(cls=Line, *overrides):
    spec = StrategySpec("line", "A test strategy.", cls)
    config = resolve(spec, overrides=["tracking.enabled=false", *overrides])
    strategy = cls(config, DataInfo(2, PALETTE, 0, 8), torch.device("cpu"))
    strategy.spec = spec
    return strategy


def test_core_runs_backward_and_the_optimizer():
    strategy = make()
    metrics = strategy.train_step(BATCH, "main")
    # d/dw (w.x - 10)^2 at w = 0, x = (1, 1) is -20 per weight; SGD at lr 1 adds 20.
    assert torch.equal(strategy.modules["line"].weight, torch.full((1, 2), 20.0))
    assert metrics == {"loss": 100.0, "step_index": 0.0}
    assert strategy.train_step(BATCH, "main")["step_index"] == 1.0  # steps count in the stage


def test_core_clips_the_gradient_norm():
    strategy = make(Line, "training.grad_clip=2.0")
    metrics = strategy.train_step(BATCH, "main")
    assert metrics["grad_norm"] == pytest.approx(20 * 2**0.5)  # the norm before clipping
    assert float(torch.linalg.norm(strategy.modules["line"].weight.detach())) == pytest.approx(2.0)


def test_core_steps_and_checkpoints_the_scheduler():
    strategy = make()
    strategy.schedulers = {"line": lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)}
    strategy.train_step(BATCH, "main")
    strategy.train_step(BATCH, "main")
    assert strategy.optimizers["line"].param_groups[0]["lr"] == 0.25
    again = make()
    again.schedulers = {"line": lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)}
    again.load_state_dict(strategy.state_dict())
    assert again.scheduler("line").last_epoch == 2
    assert again.optimizers["line"].param_groups[0]["lr"] == 0.25


def test_core_keeps_averages_with_warmup_and_counts_them_in_the_checkpoint():
    strategy = make()
    strategy.averages = {"average": Average("line", decay=0.999, warmup=True)}
    strategy.train_step(BATCH, "main")
    first = Average("line", 0.999, warmup=True).decay_after(1)
    assert first == pytest.approx(2 / 11)  # (1 + n) / (10 + n), below 0.999
    expected = torch.full((1, 2), 20.0 * (1 - first))
    assert torch.allclose(strategy.modules["average"].weight, expected)
    assert Average("line", 0.999, warmup=True).decay_after(10**6) == 0.999
    assert Average("line", 0.9).decay_after(1) == 0.9  # no warmup
    assert strategy.state_dict()["averages"] == {"average": 1}
    again = make()
    again.load_state_dict(strategy.state_dict())
    assert again.average_updates == {"average": 1}


def test_core_autocasts_the_loss_in_bf16_when_asked():
    make(Line, "training.precision=bf16").train_step(BATCH, "main")
    assert Line.seen_dtype == torch.bfloat16
    make(Line, "training.precision=fp32").train_step(BATCH, "main")
    assert Line.seen_dtype == torch.float32


def test_the_modules_view_shows_a_wrapper_only_for_the_trained_module_while_training():
    bare, other, wrapper = nn.Linear(1, 1), nn.Linear(1, 1), nn.Sequential()
    modules = Modules({"a": bare, "b": other})
    modules.wrap("a", wrapper)
    assert modules["a"] is bare
    with modules.training("a"):
        assert modules["a"] is wrapper and modules["b"] is other
    with modules.training("b"):
        assert modules["a"] is bare  # a module this stage does not train
    with modules.training("*"):
        assert modules["a"] is wrapper
    assert modules["a"] is bare and dict(modules.items())["a"] is bare


class NoGradient(Line):
    def loss(self, batch, step):
        return 1.0


class TwoOptimizers(Line):
    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        self.optimizers = {**self.optimizers, "average": lambda: None}


def test_a_loss_core_cannot_step_is_a_one_line_error():
    with pytest.raises(PixelgenError, match="loss\\(\\) must return a one-element tensor"):
        make(NoGradient).train_step(BATCH, "main")
    with pytest.raises(PixelgenError, match="override Strategy.optimizer_for"):
        make(TwoOptimizers).train_step(BATCH, "main")


class OldStyle(Line):
    """A strategy written before contract 2: it runs its own step."""

    loss = Strategy.loss

    def train_step(self, batch, stage):
        loss = ((self.modules["line"](torch.ones(1, 2)) - 10) ** 2).sum()
        self.optimizers["line"].zero_grad()
        loss.backward()
        self.optimizers["line"].step()
        return {"loss": loss.item()}


def test_a_strategy_of_the_old_contract_still_trains_with_one_warning():
    strategy = make(OldStyle)
    assert is_legacy(strategy) and not is_legacy(make())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        legacy_step(strategy, BATCH, "main")
        legacy_step(strategy, BATCH, "main")
    assert [type(w.message) for w in caught] == [PixelgenWarning]
    assert "implement loss() instead" in str(caught[0].message)
    assert strategy.modules["line"].weight.abs().sum() > 0


class TwoPlayers(Line):
    """Two optimizers in one stage, as a GAN's generator and discriminator: core steps
    each on its own loss, zeroing its gradients just before its backward."""

    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        other = self.modules["average"]
        self.optimizers = {
            **self.optimizers,
            "average": lambda: torch.optim.SGD(other.parameters(), lr=1.0),
        }

    def optimizer_for(self, stage):
        return ("line", "average")

    def loss(self, batch, step):
        out = self.modules["line"](torch.ones(1, 2))
        # The second loss reads the first module's output too: its gradient must not
        # reach "line"'s step, which has already happened.
        second = ((self.modules["average"](torch.ones(1, 2)) + out.detach() - 4) ** 2).sum()
        return {"line": ((out - 10) ** 2).sum(), "average": second}


def test_a_stage_can_step_two_optimizers_each_on_its_own_loss():
    strategy = make(TwoPlayers)
    metrics = strategy.train_step(BATCH, "main")
    assert torch.equal(strategy.modules["line"].weight, torch.full((1, 2), 20.0))
    # d/dw (w.x + 0 - 4)^2 at w = 0 is -8 per weight: SGD at lr 1 adds 8.
    assert torch.equal(strategy.modules["average"].weight, torch.full((1, 2), 8.0))
    assert metrics["line"] == 100.0 and metrics["average"] == 16.0
    assert metrics["loss"] == 116.0  # the sum, when no "loss" is given
