"""The strategy-agnostic training loop.

The strategy owns its losses; the Trainer owns everything around them: data order,
augmentation, devices, the optimisation step (pixelgen_core.optimisation), progress,
sample grids, checkpoints and tracking. It is rank-aware, so
`torchrun --nproc-per-node N pixelgen train NAME` trains data-parallel (gloo on CPU,
NCCL on GPUs) with one data shard per rank and only rank 0 writing checkpoints, grids
and MLflow records.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import BatchSampler, DistributedSampler

from pixelgen_core import __version__, checkpoint, runs
from pixelgen_core.config import dotted, to_yaml
from pixelgen_core.data.prepare import prepare
from pixelgen_core.errors import ConfigError, NotReady, PixelgenError, first_line
from pixelgen_core.files import new_folder, remove_stale_temps, write_text
from pixelgen_core.images import grid, upscale, write_png
from pixelgen_core.optimisation import Step, batch_size_for, is_legacy, legacy_step
from pixelgen_core.palette import Palette
from pixelgen_core.plugins import StrategyRecord
from pixelgen_core.sampling import build, choose_device, draw
from pixelgen_core.settings import core_config
from pixelgen_core.strategy import DataInfo, Stage, Strategy
from pixelgen_core.tracking import Tracker, make_tracker

clock = time.monotonic  # when checkpoints are due; a name of its own, so tests can move it


@dataclass
class Position:
    """Where training is: stage index, epoch within it, batches done in that epoch, step."""

    stage: int = 0
    epoch: int = 0
    batch: int = 0
    step: int = 0


class TrainingInterrupted(PixelgenError):
    exit_code = 130


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path | None
    run_id: str | None
    steps: int
    seconds: float
    images: int = 0  # sprites trained on in this call, over all ranks
    strategy: Strategy | None = None  # the live strategy, bare modules, ready to sample
    info: DataInfo | None = None

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def distributed_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world, int(os.environ.get("LOCAL_RANK", "0"))


class Trainer:
    """One training run: `fit()` prepares, checks, starts the run, trains each stage and
    ends the run; the pieces below are those steps."""

    def __init__(
        self,
        record: StrategyRecord,
        settings: dict,
        quiet: bool = False,
        resume: checkpoint.Checkpoint | dict | None = None,
    ) -> None:
        self.record = record
        # As in Run and Strategy: `settings` is plain data (what the checkpoint,
        # config.yaml and MLflow hold), `config` the typed view (core's sections).
        self.settings = settings
        self.config = core_config(settings)
        self.quiet = quiet
        self.resume = checkpoint.as_checkpoint(resume) if resume is not None else None
        self.rank, self.world, self.local_rank = distributed_env()
        self.main = self.rank == 0
        self.seed = self.config.training.seed
        self.position = Position()
        self.images = 0  # sprites trained on in this call, over all ranks
        self._last_grid = -1
        self.total_steps = 0  # of all stages, set when training starts (the progress log)
        self._saved_at: float | None = None  # clock() at this call's last checkpoint

    # -- the run ------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        device = self._device()
        self._init_distributed(device)
        torch.manual_seed(self.seed)
        self._prepare(device)
        self._check_stages()
        self.tracker = make_tracker(self.settings, self.rank)  # an unreachable server stops here
        self.run_dir = self._run_dir()
        self.ckpt_path = self.run_dir / runs.CHECKPOINT
        self.run_record = runs.start(self.run_dir, self.record.spec.name) if self.main else None
        self.started = time.perf_counter()
        try:  # from here on, the run ends FINISHED, KILLED (Ctrl-C) or FAILED, never RUNNING
            self._start_run()
            self._train_stages()
            self._choose_sampling()
            self._grid()
            self._save(finished=True)
            if self.main:
                self.tracker.log_artifact(self.ckpt_path, "checkpoint")
                self.tracker.set_tags({"pixelgen.steps": str(self.position.step)})
        except KeyboardInterrupt:
            try:
                self._save()
            finally:
                _end(self.run_record, self.tracker, runs.KILLED)
            raise TrainingInterrupted(
                f"interrupted at step {self.position.step}; checkpoint saved to "
                f"{self.ckpt_path}; continue with: pixelgen train {self.record.spec.name} "
                f"--resume {self.ckpt_path}"
            ) from None
        except BaseException:
            _end(self.run_record, self.tracker, runs.FAILED)
            raise
        _end(self.run_record, self.tracker, runs.FINISHED)
        if self.world > 1:
            torch.distributed.barrier()
        self.strategy.modules.drop_wrappers()
        self.strategy.eval()
        return TrainResult(
            self.run_dir,
            self.ckpt_path if self.main else None,
            self.tracker.run_id,
            self.position.step,
            time.perf_counter() - self.started,
            self.images,
            self.strategy,
            self.data.info,
        )

    # -- setup ------------------------------------------------------------------------
    def _device(self) -> torch.device:
        device = choose_device(self.config.training.device)
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def _init_distributed(self, device: torch.device) -> None:
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)

    def _prepare(self, device: torch.device) -> None:
        """The data (with the checkpoint's palette on resume), the strategy and where
        training stands, and a data order per rank."""
        palette = vocabulary = None
        if self.resume is not None:
            palette = Palette.from_tuples(self.resume.data["palette"])
            vocabulary = tuple(self.resume.data.get("tags", ()))  # () for none
        spec = self.record.spec
        self.data = prepare(self.settings, spec.conditional, palette, spec, vocabulary)
        self.device = device
        self.strategy = build(self.record, self.settings, self.data.info, device)
        if self.resume is not None:
            self.strategy.load_state_dict(self.resume.state)
            self.position = Position(**self.resume.position)
        self.strategy.begin_training()  # before any run folder: its refusals leave none
        self.stages = self.strategy.stages()
        if self.stages:
            self.position.stage = min(self.position.stage, len(self.stages) - 1)
        if self.world > 1:
            self._wrap_ddp(self.strategy, device)
        self.sampler = DistributedSampler(
            self.data, num_replicas=self.world, rank=self.rank, shuffle=True, seed=self.seed
        )
        self.batch_size = batch_size_for(self.config.training.batch_size, *self.data.info.shape)
        self.batches = BatchSampler(self.sampler, self.batch_size, drop_last=False)

    def _check_stages(self) -> None:
        if not self.stages:
            raise PixelgenError(f"strategy {self.record.spec.name!r} has no training stages")
        if sum(max(s.epochs, 0) for s in self.stages) < 1:  # a stage of 0 epochs is skipped
            shown = ", ".join(f"{s.name} {s.epochs}" for s in self.stages)
            raise ConfigError(f"this run would train no steps (epochs: {shown}); ask for 1 or more")
        if self.resume is not None and self.resume.finished and not self._epochs_left():
            epochs = self.config.training.epochs
            raise PixelgenError(  # before anything is written: the run stays as it was
                f"run {self.resume.path.parent.name} already trained all its "
                f"{epochs} epochs; to train on, resume with a larger training.epochs "
                f"(e.g. training.epochs={2 * epochs})"
            )

    def _epochs_left(self) -> int:
        """Epochs still to train from where a resumed run stands, in all stages."""
        now = self.position.stage
        left = max(self.stages[now].epochs - self.position.epoch, 0)
        return left + sum(max(s.epochs, 0) for s in self.stages[now + 1 :])

    def _run_dir(self) -> Path:
        """The run's own folder: the checkpoint's on resume, else a new one made exclusively
        (rank 0 only; the other ranks write nothing). Temporary files that killed writes
        left in this strategy's runs are removed first."""
        root = Path(self.config.training.output_dir) / self.record.spec.name
        remove_stale_temps(root)
        if self.resume is not None:
            return self.resume.path.parent
        return new_folder(root) if self.main else root / "rank-unused"

    def _start_run(self) -> None:
        """The run's config file and MLflow run (a resumed run continues its own)."""
        resume_id = self.resume.mlflow_run_id if self.resume else None
        if self.main:
            write_text(self.run_dir / "config.yaml", to_yaml(self.settings))
        self.tracker.start(self.record.spec.name, self.run_dir.name, self._tags(), resume_id)
        if self.run_record is not None:
            self.run_record.mlflow_run_id = self.tracker.run_id
            self.run_record.tracking_uri = self.tracker.uri
            self.run_record.save()
        if resume_id is None:
            facts = {
                "data.num_sprites": len(self.data),
                "training.batch_size": self.batch_size,  # null in the config: from the size
                "data.palette": ",".join(self.data.palette.hex()),
            }
            self.tracker.log_params({**dotted(self.settings), **facts})
            self.tracker.log_artifact(self.run_dir / "config.yaml")

    # -- training -------------------------------------------------------------------------
    def _train_stages(self) -> None:
        """Each stage's epochs from where training stands, with a progress bar; stops
        early (finishing the run) when the time budget is spent."""
        stages, position = self.stages, self.position
        per_epoch = len(self.batches)
        self.progress = _progress(self.quiet or not self.main)
        if self.main and not self.quiet:
            self.progress.console.print(self.data.dataset.describe())
            for note in self.data.notes:
                self.progress.console.print(note)
        total = sum(s.epochs for s in stages) * per_epoch
        self.total_steps = total
        done = sum(s.epochs for s in stages[: position.stage]) * per_epoch
        done += position.epoch * per_epoch + position.batch
        self.task = self.progress.add_task("training", total=total, loss=float("nan"), speed=0.0)
        self.progress.update(self.task, completed=done)
        self.strategy.train()
        with self.progress:
            while True:
                self.strategy.begin_stage(stages[position.stage].name)
                if not self._train_stage(stages[position.stage]) and self._out_of_time(None):
                    return  # out of the whole run's time
                if position.stage + 1 == len(stages):
                    return  # stay on the last stage, so a resume can add epochs to it
                position.stage += 1
                position.epoch = position.batch = 0

    def _train_stage(self, stage: Stage) -> bool:
        """The stage's remaining epochs; False when its share of the time budget ran out."""
        position = self.position
        every = self.config.training.sample_every
        while position.epoch < stage.epochs:
            label = "epoch"
            if len(self.stages) > 1:
                label = f"stage {position.stage + 1}/{len(self.stages)}: {stage.name}, epoch"
            self.progress.update(
                self.task, description=f"{label} {position.epoch + 1}/{stage.epochs}"
            )
            if not self._train_epoch(stage):
                return False  # mid-epoch: the final checkpoint records the batch
            position.epoch += 1
            position.batch = 0
            self.strategy.end_epoch(stage.name)
            if every and position.epoch % every == 0:
                self._grid()
            if self._checkpoint_due(last_epoch=position.epoch == stage.epochs):
                self._save()
        return True

    def _checkpoint_due(self, last_epoch: bool) -> bool:
        """Whether this epoch's end writes a checkpoint: the first of the call, a stage's
        last, and then once `training.checkpoint_seconds` passed since the last save.
        Saving after each of the default diffusion model's short epochs took about 6% of
        its training time in a profile (a 29-39 MB save per 1.1 s epoch); a kill -9
        loses at most that long and an epoch (Ctrl-C and the end still save)."""
        if self._saved_at is None or last_epoch:
            return True
        return clock() - self._saved_at >= self.config.training.checkpoint_seconds

    def _train_epoch(self, stage: Stage) -> bool:
        """One pass over this rank's shard, from the batch training stands at."""
        position = self.position
        self.sampler.set_epoch(position.stage * 100_003 + position.epoch)
        log_every = self.config.training.log_every
        prefix = f"{stage.name}/" if len(self.stages) > 1 else ""
        for i, rows in enumerate(self.batches):
            if i < position.batch:
                continue
            tick = time.perf_counter()
            metrics = self._step(rows, stage)
            position.batch = i + 1
            position.step += 1
            self.images += len(rows) * self.world
            speed = len(rows) * self.world / max(time.perf_counter() - tick, 1e-9)
            self.progress.update(self.task, advance=1, loss=metrics["loss"], speed=speed)
            if position.step % log_every == 0:
                logged = {prefix + k: v for k, v in metrics.items()}
                logged["images_per_sec"] = speed
                self.tracker.log_metrics(logged, position.step)
                self._log_progress(stage, metrics["loss"], speed)
            if self._out_of_time(stage):
                return False
        return True

    def _log_progress(self, stage: Stage, loss: float, speed: float) -> None:
        """A line of the run folder's progress log, which `pixelgen studio` draws its loss
        curve from (any tool may read it; MLflow keeps the full metrics)."""
        if not self.main:
            return
        budget = self.config.training.time_budget_minutes * 60
        entry = {
            "step": self.position.step,
            "total_steps": self.total_steps,
            "stage": stage.name,
            "epoch": self.position.epoch,
            "loss": loss,
            "images_per_sec": speed,
            "seconds": time.perf_counter() - self.started,
            "budget_seconds": budget or None,
        }
        runs.log_progress(self.run_dir, entry)

    def _out_of_time(self, stage: Stage | None) -> bool:
        """Whether `stage`'s share of the time budget (None: all of it) has passed."""
        budget = self.config.training.time_budget_minutes * 60
        if budget <= 0:
            return False
        share = 1.0 if stage is None or stage is self.stages[-1] else stage.time_share
        over = torch.tensor(int(time.perf_counter() - self.started > budget * share))
        if self.world > 1:  # rank 0's clock decides, so all ranks stop at the same step
            torch.distributed.broadcast(over, 0)
        return bool(over)

    def _save(self, finished: bool = False) -> None:
        if not self.main:
            return
        checkpoint.save(self._payload(finished), self.ckpt_path)
        self._saved_at = clock()
        record = self.run_record
        record.steps, record.checkpoint = self.position.step, self.ckpt_path.name
        record.checkpoint_stamp = runs.stamp(self.ckpt_path)
        record.save()

    def _choose_sampling(self) -> None:
        """Score the strategy's candidate samplers on its data, each as it draws and through
        a pixel filter fitted on its draws, and keep the best pixel-clean row for `auto`
        sampling (pixelgen_core.evaluation.choice); rank 0 alone, since only it saves. A
        single candidate is scored too, for its filter. A dataset too small to evaluate
        keeps the strategy's own rule."""
        from pixelgen_core.evaluation.choice import choose_sampling

        n = self.config.training.choose_sampler
        strategy = self.strategy
        if not self.main or n == 0:
            return
        try:
            candidates = strategy.sampler_candidates()
            if not candidates:
                return
            names = ", ".join(candidates)
            self._say(f"choosing the default sampler: {names}, each with a pixel filter ...")
            how = (strategy, self.data.palette, self.settings, self.record.spec.conditional)
            choice = choose_sampling(*how, candidates, n, seed=self.seed)
        except PixelgenError as exc:  # e.g. fewer sprites than evaluation needs
            self._say(f"default sampler not measured: {first_line(exc)}")
            return
        finally:
            strategy.train()
        # choose_sampling left the choice as the strategy's chosen_sampling;
        # run.json keeps what was chosen and why; the filter's table stays in the checkpoint
        self.run_record.sampling = {k: v for k, v in choice.to_dict().items() if k != "filter"}
        self.tracker.set_tags({"pixelgen.auto_sampler": choice.name})  # a resume may change it
        scores = {}
        for row in choice.rows:
            slug = row.name.replace(" ", "_").replace("+", "p")
            scores[f"choice/{slug}/fd"] = row.metrics["fd"]
            scores[f"choice/{slug}/pixel_clean"] = row.metrics["pixel_clean"]
        self.tracker.log_metrics(scores, step=self.position.step)

    def _say(self, text: str) -> None:
        """A line for the user on stderr (with progress on), beside the progress bar."""
        if not self.quiet:
            self.progress.console.print(text, markup=False, highlight=False)

    def _grid(self) -> None:
        """A sample grid of the current step (once per step), into the run and MLflow."""
        step = self.position.step
        if not self.main or self._last_grid == step:
            return
        self._last_grid = step
        strategy = self.strategy
        try:
            n = self.config.training.grid_size
            sprites = draw(strategy, self.data.palette, n, seed=self.seed)
        except NotReady:
            return  # e.g. a VQ-VAE before its prior stage: nothing to draw yet
        finally:
            strategy.train()
        sheet = upscale(grid(sprites), 4)
        path = write_png(sheet, self.run_dir / "samples" / f"step_{step:06d}.png")
        self.tracker.log_artifact(path, "samples")
        self.tracker.log_image(sheet, key="samples", step=step)  # the UI's slider over training

    def _step(self, rows: list[int], stage: Stage) -> dict[str, float]:
        """One training step on `rows`, augmented by a generator of (seed, step, rank)."""
        generator = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + self.position.step) * max(self.world, 1) + self.rank
        )
        batch = self.data.batch(torch.tensor(rows), generator, self.config.data, self.device)
        if is_legacy(self.strategy):
            metrics = legacy_step(self.strategy, batch, stage.name)
        else:
            per_epoch, position = len(self.batches), self.position
            index = position.epoch * per_epoch + position.batch
            step = Step(stage.name, index, stage.epochs * per_epoch, position.epoch, self.world)
            metrics = self.strategy.train_step(batch, stage.name, step)
        if "loss" not in metrics:
            raise PixelgenError(f"strategy {self.record.spec.name!r} returned no 'loss' metric")
        return {k: float(v) for k, v in metrics.items()}

    def _wrap_ddp(self, strategy: Strategy, device: torch.device) -> None:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        for key, module in strategy.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                strategy.modules.wrap(key, DistributedDataParallel(module, device_ids=ids))

    def _tags(self) -> dict[str, str]:
        return {
            "pixelgen.strategy": self.record.spec.name,
            "pixelgen.distribution": self.record.distribution,
            "pixelgen.distribution_version": self.record.version,
            "pixelgen.version": __version__,
        }

    def _payload(self, finished: bool) -> dict:
        return checkpoint.Checkpoint(
            strategy=self.record.spec.name,
            config=self.settings,
            data=self.data.info.to_dict(),
            state=self.strategy.state_dict(),
            position=asdict(self.position),
            finished=finished,
            mlflow_run_id=self.tracker.run_id,
            plugin={"distribution": self.record.distribution, "version": self.record.version},
            pixelgen_version=__version__,
        ).to_payload()


def _end(record: runs.RunRecord | None, tracker: Tracker, status: str) -> None:
    """Record how the run ended, in the run index and in MLflow. A failure to tell MLflow
    (a server gone away) must not hide the error that ended the run, so it is a warning."""
    if record is not None:
        record.status, record.ended = status, runs.now()
        with contextlib.suppress(PixelgenError):
            record.save()
    try:
        tracker.finish(status)
    except Exception as exc:
        if status == runs.FINISHED:
            raise PixelgenError(f"cannot end the MLflow run: {first_line(exc)}") from None
        print(f"Warning: cannot mark the MLflow run {status}: {first_line(exc)}", file=sys.stderr)


def _progress(disabled: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[speed]:.0f} img/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=disabled,
    )
