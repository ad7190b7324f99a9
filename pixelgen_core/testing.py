"""The strategy contract suite: pytest checks any strategy, shipped or third-party, can run.

In your plugin's tests::

    from pixelgen_core.testing import StrategyContract

    class TestMyStrategy(StrategyContract):
        strategy_name = "my-strategy"
        overrides = ["model.width=8"]   # keep the model tiny so the suite is fast

The suite builds the strategy on a small synthetic dataset, trains a few steps,
samples, and round-trips its state through a real checkpoint file.

`make_strategy`, `sample` and `invoke` are the same pieces for a plugin's own tests: a
strategy built the way core builds it, sampling with core's option handling, and the
`pixelgen` command run in-process.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from pixelgen_core import checkpoint
from pixelgen_core.config import resolve
from pixelgen_core.optimisation import Step, is_legacy
from pixelgen_core.palette import Palette
from pixelgen_core.plugins import StrategyRecord, registry
from pixelgen_core.request import Draw, DrawRequest, Options
from pixelgen_core.sampling import (
    build,
    call_strategy,
    draw,
    draw_request,
    edit_raw,
    options_for,
    sample_raw,
    takes_draw,
)
from pixelgen_core.strategy import Batch, DataInfo, Strategy

PALETTE = ((0, 0, 0, 0), (0.1, 0.1, 0.2, 1), (0.9, 0.3, 0.2, 1), (0.95, 0.95, 0.9, 1))


# Sizes every strategy's contract tries, where its spec declares them: PICO-8 and Game
# Boy tiles, the bundled size, and two larger ones, plus a rectangular one.
SIZES = [(8, 8), (16, 16), (24, 24), (32, 32), (16, 24)]


class StrategyContract:
    strategy_name: str = ""
    overrides: list[str] = []
    image_size: int = 16
    num_classes: int = 3
    learn_steps: int = 30

    # -- fixtures a plugin may override ----------------------------------------------
    @pytest.fixture
    def record(self) -> StrategyRecord:
        found = registry()
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
        return blocky_batch(self.image_size, info.num_classes)

    def make(self, record: StrategyRecord, config: dict, info: DataInfo) -> Strategy:
        torch.manual_seed(0)
        return build(record, config, info, torch.device("cpu"))

    def trained(self, record, config, info, batch, steps: int = 1) -> Strategy:
        """A strategy after `steps` training steps per stage: some strategies (a VQ-VAE,
        whose prior is its second stage) cannot sample before they have trained."""
        strategy = self.make(record, config, info)
        strategy.train()
        for stage in strategy.stages():
            for _ in range(steps):
                strategy.train_step(batch, stage.name)
        strategy.eval()
        return strategy

    # -- the contract ------------------------------------------------------------------
    def test_spec_is_valid(self, record: StrategyRecord) -> None:
        try:
            record.spec.validate()
        except ValueError as exc:
            pytest.fail(f"the StrategySpec is invalid: {exc}")
        assert record.spec.name == self.strategy_name, (
            f"the spec registers {record.spec.name!r}, but strategy_name is {self.strategy_name!r}"
        )
        assert record.distribution and record.version, (
            "the strategy must come from an installed distribution with a version "
            "(is the plugin installed, e.g. pip install -e .?)"
        )

    def test_options_name_config_keys(self, record: StrategyRecord, config: dict) -> None:
        keyed = [o for o in (*record.spec.train_options, *record.spec.sample_options)]
        for option in [o for o in keyed if o.config_key]:
            node = config
            for part in option.config_key.split("."):
                assert isinstance(node, dict) and part in node, (
                    f"option {option.flag} names config key {option.config_key!r}, "
                    "which is not in the defaults: add it to the strategy's default config"
                )
                node = node[part]

    def test_sample_options_reach_sample(self, record, config, info, batch) -> None:
        strategy = self.trained(record, config, info, batch)
        read: set[str] = set()
        for option in record.spec.sample_options:
            values = option.type if isinstance(option.type, tuple) else (None,)
            for value in values:
                given = {} if value is None else {option.name: value}
                options = Options(options_for(strategy, given))
                try:
                    _sample(strategy, Draw(2, torch.Generator().manual_seed(0), options))
                except Exception as exc:
                    pytest.fail(f"sample({option.name}={value!r}) raised {exc!r}")
                read |= options.read
        if "edit" in record.spec.capabilities:
            read |= self._options_edit_reads(strategy)
        for option in record.spec.sample_options:
            assert option.name in read, (
                f"sample option {option.flag} is declared, but neither sample() nor edit() "
                f"reads it: core passes it as draw.options.{option.name}"
            )

    def _options_edit_reads(self, strategy: Strategy) -> set[str]:
        """The options one edit reads (an option may steer only edits: `resample`)."""
        options = Options(options_for(strategy, {}))
        size = strategy.data.shape
        images = torch.zeros(1, 4, *size)
        keep = torch.zeros(1, *size, dtype=torch.bool)
        draw = Draw(1, torch.Generator().manual_seed(0), options, images=images, keep=keep)
        _sample(strategy, draw)
        return options.read

    def test_stages(self, record, config, info) -> None:
        stages = self.make(record, config, info).stages()
        assert stages, "stages() returned no stage: a strategy needs at least one"
        assert len({s.name for s in stages}) == len(stages), "stage names must be unique"
        assert all(s.epochs >= 0 for s in stages), "a stage cannot have negative epochs"

    def test_train_step_returns_finite_loss_and_updates(self, record, config, info, batch) -> None:
        strategy = self.make(record, config, info)
        before = {k: v.clone() for k, v in _params(strategy).items()}
        strategy.train()
        for stage in strategy.stages():
            metrics = strategy.train_step(batch, stage.name)
            assert "loss" in metrics, f"train_step(stage={stage.name!r}) returned no 'loss'"
            for key, value in metrics.items():
                assert isinstance(value, float) and math.isfinite(value), (
                    f"train_step metric {key!r} is {value!r}: metrics must be finite floats "
                    "(use tensor.item())"
                )
        after = _params(strategy)
        assert any(not torch.equal(before[k], after[k]) for k in before), (
            "no parameter changed: the loss must depend on the models' parameters (called "
            "through self.modules), and every model must be in self.modules"
        )

    def test_loss_leaves_the_step_to_core(self, record, config, info, batch) -> None:
        """Contract 2: `loss` computes and returns; core runs backward and the optimizer."""
        strategy = self.make(record, config, info)
        assert not is_legacy(strategy), (
            "the strategy overrides train_step(); implement loss(batch, step) instead and "
            "core runs backward, clipping, the optimizer, averages and bf16"
        )
        stepped = []
        strategy.train()
        for stage in strategy.stages():
            for key, optimizer in strategy.optimizers.items():
                optimizer.step = lambda *a, key=key, **k: stepped.append(key)
            strategy.begin_stage(stage.name)
            out = strategy.loss(batch, Step(stage.name))
            loss = out.get("loss") if isinstance(out, dict) else out
            assert isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1, (
                f"loss(stage={stage.name!r}) must return a one-element tensor with gradients, "
                "or a dict with one under 'loss'"
            )
            grads = [p.grad for m in strategy.modules.values() for p in m.parameters()]
            assert not stepped and all(g is None for g in grads), (
                f"loss(stage={stage.name!r}) ran backward() or an optimizer step: leave "
                "both to core"
            )
            self._advance(strategy, batch, stage.name)  # so a later stage has what it needs

    @staticmethod
    def _advance(strategy: Strategy, batch: Batch, stage: str) -> None:
        """One real step, with the optimizers' own `step` back."""
        for optimizer in strategy.optimizers.values():
            vars(optimizer).pop("step", None)
        strategy.train_step(batch, stage)
        for optimizer in strategy.optimizers.values():
            optimizer.zero_grad(set_to_none=True)

    def test_stages_name_their_optimizer_and_averages_their_modules(
        self, record, config, info, batch
    ) -> None:
        strategy = self.make(record, config, info)
        for stage in strategy.stages():
            for key in _keys(strategy.optimizer_for(stage.name)):
                assert key in strategy.optimizers and key in strategy.modules, (
                    f"stage {stage.name!r} steps optimizer {key!r}, which must train the "
                    "module of the same name (core wraps that one for data-parallel training)"
                )
        for name, average in strategy.averages.items():
            assert name in strategy.modules and average.of in strategy.modules, (
                f"average {name!r} of {average.of!r}: both must be in self.modules"
            )
            assert 0 <= average.decay < 1, f"average {name!r} needs a decay in [0, 1)"
        strategy.train()
        for stage in strategy.stages():
            key = _keys(strategy.optimizer_for(stage.name))
            followers = [n for n, a in strategy.averages.items() if a.of in key]
            before = {n: _state(strategy.modules[n]) for n in followers}
            strategy.train_step(batch, stage.name)
            for n in followers:
                now = _state(strategy.modules[n])
                assert any(not torch.equal(before[n][k], now[k]) for k in now), (
                    f"average {n!r} did not follow {key!r} after a step of stage {stage.name!r}"
                )

    def test_loss_decreases_on_a_fixed_batch(self, record, config, info, batch) -> None:
        strategy = self.make(record, config, info)
        strategy.train()
        stage = strategy.stages()[0].name
        losses = [strategy.train_step(batch, stage)["loss"] for _ in range(self.learn_steps)]
        assert sum(losses[-5:]) / 5 < losses[0], (
            f"{self.learn_steps} steps on one batch did not lower the loss "
            f"({losses[0]:.4g} -> {losses[-1]:.4g}); check the learning rate and the sign "
            "of the loss, or raise learn_steps"
        )

    def test_metrics_are_finite_floats(self, record, config, info, batch) -> None:
        metrics = self.make(record, config, info).metrics(batch)
        for key, value in metrics.items():
            assert isinstance(value, float) and math.isfinite(value), (
                f"metrics() value {key!r} is {value!r}: metrics must be finite floats"
            )

    def test_sample_shape_and_range(self, record, config, info, batch) -> None:
        strategy = self.trained(record, config, info, batch)
        out = sample(strategy, 3, torch.Generator().manual_seed(0))
        s = self.image_size
        if out.dtype.is_floating_point:
            assert tuple(out.shape) == (3, 4, s, s), (
                f"sample(3) returned float shape {tuple(out.shape)}; RGBA must be (n, 4, H, W)"
            )
            assert out.min() >= 0 and out.max() <= 1, "RGBA samples must lie in [0, 1]"
        else:
            assert tuple(out.shape) == (3, s, s), (
                f"sample(3) returned integer shape {tuple(out.shape)}; indices must be (n, H, W)"
            )
            assert out.min() >= 0 and out.max() < len(PALETTE), (
                f"palette indices must lie in 0..{len(PALETTE) - 1} (len(data.palette) - 1)"
            )

    def test_sampler_candidates_are_sample_options_that_draw(self, record, config, info, batch):
        strategy = self.trained(record, config, info, batch)
        candidates = strategy.sampler_candidates()
        assert isinstance(candidates, dict), "sampler_candidates() must return a dict"
        for name, options in candidates.items():
            assert isinstance(name, str) and isinstance(options, dict), (
                f"sampler_candidates() must map names to option dicts, got {name!r}: {options!r}"
            )
            out = sample(strategy, 2, torch.Generator().manual_seed(0), **options)
            assert len(out) == 2, f"candidate {name!r} did not draw 2 sprites"

    def test_sample_is_seeded_by_the_generator(self, record, config, info, batch) -> None:
        strategy = self.trained(record, config, info, batch)
        palette = Palette.from_tuples(PALETTE)
        torch.manual_seed(1)
        first = draw(strategy, palette, 4, seed=1)
        torch.manual_seed(2)  # a strategy must not read the global random state
        assert (first == draw(strategy, palette, 4, seed=1)).all(), (
            "the same seed gave different sprites: draw every random number in sample() "
            "from its `generator` argument (e.g. torch.randn(..., generator=generator))"
        )
        assert first.shape == (4, self.image_size, self.image_size, 4)

    def test_sample_with_class_label(self, record, config, info, batch) -> None:
        if not record.spec.conditional:
            pytest.skip("strategy is not class-conditional")
        strategy = self.trained(record, config, info, batch)
        palette = Palette.from_tuples(PALETTE)
        for label in range(info.num_classes):
            assert draw(strategy, palette, 2, seed=0, label=label).shape[0] == 2

    def test_conditional_samples_depend_on_the_class(self, record, config, info, batch) -> None:
        if not record.spec.conditional:
            pytest.skip("strategy is not class-conditional")
        strategy = self.trained(record, config, info, batch, steps=self.learn_steps)
        outs = [
            sample(strategy, 8, torch.Generator().manual_seed(0), label=k)
            for k in range(info.num_classes)
        ]
        assert any(not torch.equal(outs[0], other) for other in outs[1:]), (
            "every class gave the same samples from the same seed: a conditional strategy "
            "must use `label` in sample() (and batch.labels in train_step)"
        )

    def test_state_round_trips_through_a_checkpoint(self, record, config, info, batch, tmp_path):
        strategy = self.trained(record, config, info, batch)
        path = checkpoint.save({"state": strategy.state_dict()}, tmp_path / "c.pt")
        try:
            loaded = checkpoint.load(path)  # weights_only=True inside
        except Exception as exc:
            pytest.fail(
                f"the checkpoint does not load with weights_only=True ({exc}); keep "
                "extra_state() to tensors, numbers, strings, lists and dicts"
            )
        torch.manual_seed(123)  # a fresh strategy must not depend on the init seed
        restored = build(record, config, info, torch.device("cpu"))
        restored.load_state_dict(loaded["state"])
        palette = Palette.from_tuples(PALETTE)
        assert (draw(strategy, palette, 4, seed=7) == draw(restored, palette, 4, seed=7)).all(), (
            "a strategy restored from its state_dict samples differently: put every model "
            "in self.modules and anything else that matters in extra_state()"
        )
        for key, optimizer in strategy.optimizers.items():
            assert restored.optimizers[key].state_dict()["state"].keys() == (
                optimizer.state_dict()["state"].keys()
            ), f"optimizer {key!r} lost its state in the round trip"

    @pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for h, w in SIZES])
    def test_every_declared_size_trains_samples_and_restores(self, record, config, size, tmp_path):
        """At each size the spec declares among SIZES: a step per stage, a sample of
        that size, and the same sample from a restored checkpoint. A size it does not
        declare must be refused by the spec (core then refuses it in one line)."""
        height, width = size
        if record.spec.sizes.problem(height, width):
            pytest.skip(f"the spec does not take {width}x{height} sprites")
        classes = self.num_classes if record.spec.conditional else 0
        info = DataInfo(height, PALETTE, classes, 8, width)
        strategy = self.trained(record, config, info, blocky_batch(size, classes))
        palette = Palette.from_tuples(PALETTE)
        first = draw(strategy, palette, 2, seed=3)
        assert first.shape == (2, height, width, 4), (
            f"at {width}x{height} sample() gave sprites of shape {first.shape[1:3]}: use "
            "data.height and data.width (data.shape), not data.image_size twice"
        )
        path = checkpoint.save({"state": strategy.state_dict()}, tmp_path / "c.pt")
        restored = build(record, config, info, torch.device("cpu"))
        restored.load_state_dict(checkpoint.load(path)["state"])
        assert (draw(restored, palette, 2, seed=3) == first).all(), (
            f"at {width}x{height} a restored strategy samples differently"
        )

    # -- optional capabilities (each test skips unless the spec declares it) -----------
    def test_declared_capabilities_are_implemented(self, record, config, info) -> None:
        strategy = self.make(record, config, info)
        if "edit" in record.spec.capabilities:
            assert type(strategy).edit is not Strategy.edit, (
                'the spec declares the "edit" capability, but the strategy has no edit()'
            )
        for method in (strategy.sample, strategy.edit):
            assert takes_draw(method) or method.__func__ is getattr(Strategy, method.__name__), (
                f"{method.__name__}() takes {list(inspect.signature(method).parameters)}; "
                "since contract 2 it takes one Draw: def "
                f"{method.__name__}(self, draw)"
            )

    def _edit_input(self, record, config, info, batch):
        if "edit" not in record.spec.capabilities:
            pytest.skip("strategy does not declare the edit capability")
        strategy = self.trained(record, config, info, batch)
        indices = batch.indices[0].numpy()
        keep = np.zeros(indices.shape, dtype=bool)
        keep[:, : indices.shape[1] // 2] = True  # keep the left half, redraw the right
        return strategy, Palette.from_tuples(PALETTE), indices, keep

    def test_edit_keeps_the_unmasked_pixels(self, record, config, info, batch) -> None:
        strategy, palette, indices, keep = self._edit_input(record, config, info, batch)
        out = _raw_edit(strategy, palette, indices, keep, 1.0, 3, seed=0)
        assert out.shape == (3, *indices.shape)
        assert (out[:, keep] == indices[keep]).all(), (
            "edit() changed pixels where keep is True: they must come back exactly"
        )

    def test_edit_with_strength_zero_returns_the_input(self, record, config, info, batch) -> None:
        strategy, palette, indices, _ = self._edit_input(record, config, info, batch)
        nothing_kept = np.zeros(indices.shape, dtype=bool)
        out = _raw_edit(strategy, palette, indices, nothing_kept, 0.0, 2, seed=0)
        assert (out == indices[None]).all(), "edit(strength=0) must return its input unchanged"

    def test_edit_is_seeded_by_the_generator(self, record, config, info, batch) -> None:
        strategy, palette, indices, keep = self._edit_input(record, config, info, batch)
        torch.manual_seed(1)
        first = _raw_edit(strategy, palette, indices, keep, 0.7, 3, seed=4)
        torch.manual_seed(2)  # a strategy must not read the global random state
        again = _raw_edit(strategy, palette, indices, keep, 0.7, 3, seed=4)
        assert (first == again).all(), "the same seed gave different edits"

    def test_tileable_sample_is_seeded(self, record, config, info, batch) -> None:
        if "tileable" not in record.spec.capabilities:
            pytest.skip("strategy does not declare the tileable capability")
        strategy = self.trained(record, config, info, batch)
        palette = Palette.from_tuples(PALETTE)
        first = draw(strategy, palette, 3, seed=2, tileable=True)
        assert first.shape == (3, self.image_size, self.image_size, 4)
        assert (first == draw(strategy, palette, 3, seed=2, tileable=True)).all()


def make_strategy(
    name: str,
    overrides: list[str] = (),
    info: DataInfo | None = None,
    device: str = "cpu",
) -> Strategy:
    """Strategy `name` built as core builds it, from its defaults plus `overrides`, for a
    synthetic dataset (`info`, default: 16x16 sprites over PALETTE, 3 classes if
    conditional); seeded, so the same call gives the same weights."""
    record = registry().get(name)
    config = resolve(record.spec, overrides=[*overrides, "tracking.enabled=false"])
    if info is None:
        info = DataInfo(16, PALETTE, 3 if record.spec.conditional else 0, 8)
    torch.manual_seed(0)
    return build(record, config, info, torch.device(device))


def _raw_edit(strategy, palette, indices, keep, strength, n, seed) -> np.ndarray:
    """What the strategy's edit() returns, snapped: core's `edit_raw`, which leaves out
    `Run.edit`'s final compositing of the kept pixels (that would hide a strategy that
    breaks the promise)."""
    return edit_raw(strategy, palette, indices, keep, strength, n, seed)[0]


def sample(
    strategy: Strategy, n: int, generator: torch.Generator, label: int | None = None, **given
) -> torch.Tensor:
    """`strategy.sample` as core calls it: a `Draw` whose sample options not given take
    their config value or default, given ones checked first."""
    return _sample(strategy, Draw(n, generator, Options(options_for(strategy, given)), label))


def _sample(strategy: Strategy, draw: Draw) -> torch.Tensor:
    strategy.eval()
    with torch.inference_mode():
        return call_strategy(strategy, draw)


def invoke(*args):
    """Run ``pixelgen ARGS...`` in this process (click's test runner) and return the result
    (`exit_code`, `output`): for a plugin's tests of its command-line options."""
    from click.testing import CliRunner

    from pixelgen_core.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def blocky_batch(size: int | tuple[int, int], num_classes: int, n: int = 8) -> Batch:
    """Sprites (`size` a side, or (height, width)) of a random opaque colour on a random
    rectangle over transparency."""
    g = torch.Generator().manual_seed(0)
    height, width = (size, size) if isinstance(size, int) else size
    indices = torch.zeros(n, height, width, dtype=torch.long)
    for i in range(n):
        y0 = int(torch.randint(0, height // 2, (1,), generator=g))
        x0 = int(torch.randint(0, width // 2, (1,), generator=g))
        colour = int(torch.randint(1, len(PALETTE), (1,), generator=g))
        indices[i, y0 : y0 + height // 2, x0 : x0 + width // 2] = colour
    table = torch.tensor(PALETTE, dtype=torch.float32)
    images = table[indices].permute(0, 3, 1, 2).contiguous()
    labels = torch.arange(n) % num_classes if num_classes else None
    return Batch(images, indices, labels)


def _keys(named: str | tuple[str, ...]) -> tuple[str, ...]:
    return (named,) if isinstance(named, str) else tuple(named)


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _params(strategy: Strategy) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": value
        for name, module in strategy.modules.items()
        for key, value in module.state_dict().items()
    }


def gradient_batch(size: int = 16, num_classes: int = 3, n: int = 8) -> Batch:
    """Opaque sprites whose colour steps up from the left edge to the right: they do not
    tile (a strong seam where the right edge meets the left), so a model trained on them
    shows whether `tileable` sampling removes the seam."""
    columns = (torch.arange(size) * (len(PALETTE) - 1)) // size + 1
    indices = columns[None, None, :].expand(n, size, size).contiguous()
    table = torch.tensor(PALETTE, dtype=torch.float32)
    images = table[indices].permute(0, 3, 1, 2).contiguous()
    labels = torch.arange(n) % num_classes if num_classes else None
    return Batch(images, indices, labels)


def seam_difference(rgba) -> tuple[float, float]:
    """Mean absolute colour difference (RGBA, 0-255) across the wrap-around edges (last
    column to first, last row to first) and across the middle (column H/2-1 to H/2, and
    row likewise), over sprites (N, H, W, 4): a tileable sprite's first is no larger."""
    x = np.asarray(rgba).astype(np.float64)
    h, w = x.shape[1:3]
    wrap = (np.abs(x[:, :, -1] - x[:, :, 0]).mean() + np.abs(x[:, -1] - x[:, 0]).mean()) / 2
    mid_x, mid_y = w // 2, h // 2
    middle = (
        np.abs(x[:, :, mid_x - 1] - x[:, :, mid_x]).mean()
        + np.abs(x[:, mid_y - 1] - x[:, mid_y]).mean()
    ) / 2
    return float(wrap), float(middle)


def resolve_config(name: str, config=None, overrides: tuple[str, ...] = ()) -> dict:
    """Strategy `name`'s config as the Trainer resolves it: core's and the strategy's
    defaults, then `config` (a YAML path or a dict), then `overrides`, all checked."""
    return resolve(registry().get(name).spec, config, list(overrides))


__all__ = [
    "DrawRequest",
    "PALETTE",
    "SIZES",
    "StrategyContract",
    "draw",
    "draw_request",
    "edit_raw",
    "resolve_config",
    "sample_raw",
    "blocky_batch",
    "gradient_batch",
    "invoke",
    "make_strategy",
    "sample",
    "seam_difference",
]
