"""The strategy-agnostic training loop.

The strategy owns its losses and optimizer steps; the Trainer owns everything around
them: data order, augmentation, devices, progress, sample grids, checkpoints and
tracking. It is rank-aware, so `torchrun --nproc-per-node N pixelgen train NAME`
trains data-parallel (gloo on CPU, NCCL on GPUs) with one data shard per rank and
only rank 0 writing checkpoints, grids and MLflow records.
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
from pixelgen_core.config import flatten, to_yaml
from pixelgen_core.data.prepare import TrainingData, prepare
from pixelgen_core.errors import ConfigError, NotReady, PixelgenError, first_line
from pixelgen_core.files import new_folder, remove_stale_temps, write_text
from pixelgen_core.images import grid, upscale, write_png
from pixelgen_core.palette import Palette
from pixelgen_core.plugins import StrategyRecord
from pixelgen_core.sampling import build, choose_device, draw
from pixelgen_core.strategy import Strategy, unwrap
from pixelgen_core.tracking import Tracker, make_tracker


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

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def distributed_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world, int(os.environ.get("LOCAL_RANK", "0"))


class Trainer:
    def __init__(
        self,
        record: StrategyRecord,
        config: dict,
        quiet: bool = False,
        resume: dict | None = None,
    ) -> None:
        self.record = record
        self.config = config
        self.quiet = quiet
        self.resume = resume
        self.rank, self.world, self.local_rank = distributed_env()

    # -- setup ------------------------------------------------------------------------
    def _device(self) -> torch.device:
        device = choose_device(str(self.config["training"]["device"]))
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def _run_dir(self) -> Path:
        """The run's own folder: the checkpoint's on resume, else a new one made exclusively
        (rank 0 only; the other ranks write nothing). Temporary files that killed writes
        left in this strategy's runs are removed first."""
        root = Path(self.config["training"]["output_dir"]) / self.record.spec.name
        remove_stale_temps(root)
        if self.resume is not None:
            return Path(self.resume["path"]).parent
        return new_folder(root) if self.rank == 0 else root / "rank-unused"

    def _init_distributed(self, device: torch.device) -> None:
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)

    # -- the loop -----------------------------------------------------------------------
    def fit(self) -> TrainResult:
        cfg = self.config
        train_cfg = cfg["training"]
        seed = int(train_cfg["seed"])
        device = self._device()
        self._init_distributed(device)
        torch.manual_seed(seed)

        palette = None
        if self.resume is not None:
            palette = Palette.from_tuples(self.resume["data"]["palette"])
        data = prepare(cfg, self.record.spec.conditional, palette=palette)
        strategy = build(self.record, cfg, data.info, device)
        position = Position()
        if self.resume is not None:
            strategy.load_state_dict(self.resume["state"])
            position = Position(**self.resume["position"])
            position.stage = min(position.stage, len(strategy.stages()) - 1)
        if self.world > 1:
            self._wrap_ddp(strategy, device)

        stages = strategy.stages()
        if not stages:
            raise PixelgenError(f"strategy {self.record.spec.name!r} has no training stages")
        if sum(max(s.epochs, 0) for s in stages) < 1:  # a stage of 0 epochs is skipped
            shown = ", ".join(f"{s.name} {s.epochs}" for s in stages)
            raise ConfigError(f"this run would train no steps (epochs: {shown}); ask for 1 or more")
        main = self.rank == 0
        tracker = make_tracker(cfg, self.rank)  # an unreachable server stops us here, at once
        run_dir = self._run_dir()
        record = runs.start(run_dir, self.record.spec.name) if main else None
        resume_id = self.resume.get("mlflow_run_id") if self.resume else None
        sampler = DistributedSampler(
            data, num_replicas=self.world, rank=self.rank, shuffle=True, seed=seed
        )
        batches = BatchSampler(sampler, int(train_cfg["batch_size"]), drop_last=False)
        total = sum(s.epochs for s in stages) * len(batches)
        started = time.perf_counter()
        ckpt_path = run_dir / runs.CHECKPOINT

        def save(finished: bool = False) -> None:
            if main:
                checkpoint.save(
                    self._payload(strategy, data, position, tracker, finished), ckpt_path
                )
                record.steps, record.checkpoint = position.step, ckpt_path.name
                record.checkpoint_stamp = runs.stamp(ckpt_path)
                record.save()

        last_grid = [-1]

        def grid_now() -> None:
            if main and last_grid[0] != position.step:
                self._sample_grid(strategy, data.palette, run_dir, position.step, tracker)
                last_grid[0] = position.step

        progress = _progress(self.quiet or not main)
        if main and not self.quiet:
            progress.console.print(data.dataset.describe())
        task = progress.add_task("training", total=total, loss=float("nan"), speed=0.0)
        done_before = sum(s.epochs for s in stages[: position.stage]) * len(batches)
        done_before += position.epoch * len(batches) + position.batch
        progress.update(task, completed=done_before)
        strategy.train()
        budget = float(train_cfg["time_budget_minutes"]) * 60
        images = 0

        def out_of_time() -> bool:
            if budget <= 0:
                return False
            over = torch.tensor(int(time.perf_counter() - started > budget))
            if self.world > 1:  # rank 0's clock decides, so all ranks stop at the same step
                torch.distributed.broadcast(over, 0)
            return bool(over)

        try:  # from here on, the run ends FINISHED, KILLED (Ctrl-C) or FAILED, never RUNNING
            if main:
                write_text(run_dir / "config.yaml", to_yaml(cfg))
            tracker.start(self.record.spec.name, run_dir.name, self._tags(), resume_id)
            if record is not None:
                record.mlflow_run_id, record.tracking_uri = tracker.run_id, tracker.uri
                record.save()
            if resume_id is None:
                facts = {
                    "data.num_sprites": len(data),
                    "data.palette": ",".join(data.palette.hex()),
                }
                tracker.log_params({**flatten(cfg), **facts})
                tracker.log_artifact(run_dir / "config.yaml")
            with progress:
                stopped = False
                while not stopped:
                    stage = stages[position.stage]
                    while position.epoch < stage.epochs and not stopped:
                        label = stage.name if len(stages) > 1 else "epoch"
                        progress.update(
                            task, description=f"{label} {position.epoch + 1}/{stage.epochs}"
                        )
                        sampler.set_epoch(position.stage * 100_003 + position.epoch)
                        for i, rows in enumerate(batches):
                            if i < position.batch:
                                continue
                            tick = time.perf_counter()
                            metrics = self._step(strategy, data, rows, stage.name, position, device)
                            position.batch = i + 1
                            position.step += 1
                            images += len(rows) * self.world
                            speed = len(rows) * self.world / max(time.perf_counter() - tick, 1e-9)
                            progress.update(task, advance=1, loss=metrics["loss"], speed=speed)
                            if position.step % int(train_cfg["log_every"]) == 0:
                                prefix = f"{stage.name}/" if len(stages) > 1 else ""
                                logged = {prefix + k: v for k, v in metrics.items()}
                                logged["images_per_sec"] = speed
                                tracker.log_metrics(logged, position.step)
                            if out_of_time():
                                stopped = True
                                break
                        if stopped:
                            break  # mid-epoch: the final checkpoint records the batch
                        position.epoch += 1
                        position.batch = 0
                        every = int(train_cfg["sample_every"])
                        if every and position.epoch % every == 0:
                            grid_now()
                        save()
                    if stopped or position.stage + 1 == len(stages):
                        break  # stay on the last stage, so a resume can add epochs to it
                    position.stage += 1
                    position.epoch = 0
            grid_now()
            save(finished=True)
            if main:
                tracker.log_artifact(ckpt_path, "checkpoint")
        except KeyboardInterrupt:
            try:
                save()
            finally:
                _end(record, tracker, runs.KILLED)
            raise TrainingInterrupted(
                f"interrupted at step {position.step}; checkpoint saved to {ckpt_path}; "
                f"continue with: pixelgen train {self.record.spec.name} --resume {ckpt_path}"
            ) from None
        except BaseException:
            _end(record, tracker, runs.FAILED)
            raise
        _end(record, tracker, runs.FINISHED)
        if self.world > 1:
            torch.distributed.barrier()
        return TrainResult(
            run_dir,
            ckpt_path if main else None,
            tracker.run_id,
            position.step,
            time.perf_counter() - started,
            images,
        )

    def _step(
        self,
        strategy: Strategy,
        data: TrainingData,
        rows: list[int],
        stage: str,
        position: Position,
        device: torch.device,
    ) -> dict[str, float]:
        seed = int(self.config["training"]["seed"])
        generator = torch.Generator().manual_seed(
            (seed * 1_000_003 + position.step) * max(self.world, 1) + self.rank
        )
        batch = data.batch(torch.tensor(rows), generator, self.config["data"], device)
        metrics = strategy.train_step(batch, stage)
        if "loss" not in metrics:
            raise PixelgenError(f"strategy {self.record.spec.name!r} returned no 'loss' metric")
        return {k: float(v) for k, v in metrics.items()}

    def _wrap_ddp(self, strategy: Strategy, device: torch.device) -> None:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        for key, module in strategy.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                strategy.modules[key] = DistributedDataParallel(module, device_ids=ids)

    def _sample_grid(
        self, strategy: Strategy, palette: Palette, run_dir: Path, step: int, tracker: Tracker
    ) -> None:
        n = int(self.config["training"]["grid_size"])
        wrapped = strategy.modules
        strategy.modules = {k: unwrap(m) for k, m in wrapped.items()}  # bare modules under DDP
        try:
            sprites = draw(strategy, palette, n, seed=int(self.config["training"]["seed"]))
        except NotReady:
            return  # e.g. a VQ-VAE before its prior stage: nothing to draw yet
        finally:
            strategy.modules = wrapped
            strategy.train()
        sheet = upscale(grid(sprites), 4)
        path = write_png(sheet, run_dir / "samples" / f"step_{step:06d}.png")
        tracker.log_artifact(path, "samples")
        tracker.log_image(sheet, key="samples", step=step)  # the UI's slider over training

    def _tags(self) -> dict[str, str]:
        return {
            "pixelgen.strategy": self.record.spec.name,
            "pixelgen.distribution": self.record.distribution,
            "pixelgen.distribution_version": self.record.version,
            "pixelgen.version": __version__,
        }

    def _payload(
        self,
        strategy: Strategy,
        data: TrainingData,
        position: Position,
        tracker: Tracker,
        finished: bool,
    ) -> dict:
        return {
            "strategy": self.record.spec.name,
            "plugin": {"distribution": self.record.distribution, "version": self.record.version},
            "pixelgen_version": __version__,
            "config": self.config,
            "data": data.info.to_dict(),
            "state": strategy.state_dict(),
            "position": asdict(position),
            "finished": finished,
            "mlflow_run_id": tracker.run_id,
        }


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
