"""Diffusion as a pixelgen strategy: v/eps-prediction training with label dropout, EMA weights,
and DDPM / DDIM / DPM-Solver++ sampling with batched classifier-free guidance."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from pixelgen_core import (
    Average,
    Batch,
    ConfigError,
    DataInfo,
    Draw,
    NotReady,
    Palette,
    PixelgenWarning,
    SettingError,
    Stage,
    Step,
    Strategy,
    autocast,
    drop_labels,
    drop_tags,
    stage_plan,
    uses_bf16,
)
from pixelgen_core.evaluation import opaque_colours
from pixelgen_diffusion import consistency, editing
from pixelgen_diffusion.cleaner import OutlineCleaner, clean, cleaner_loss
from pixelgen_diffusion.colours import fewest_colours
from pixelgen_diffusion.config import (
    ALONE_MID_SHARE,
    DEFAULT_STEPS,
    LARGE_SPRITE_DPM_STEPS,
    LARGE_SPRITE_PIXELS,
    PROMPT_STEPS,
    DiffusionConfig,
)
from pixelgen_diffusion.detail import (
    LEVELS,
    PATIENCE,
    REDRAWS,
    REDRAWS_MENDED,
    detail_levels,
    uses_detail,
)
from pixelgen_diffusion.samplers import (
    SAMPLERS,
    ConsistencySampler,
    LowNoiseStep,
    Restart,
)
from pixelgen_diffusion.schedule import NoiseSchedule
from pixelgen_diffusion.tag_sets import TagSetCounts
from pixelgen_diffusion.unet import UNet

Guidance = tuple[float, int, int]  # classifier-free guidance: (scale, min_t, max_t)

LONG_WITHOUT_FLIPS = 400  # epochs past which a run without flips copies (_warn_of_copying)
# The outline cleaner's stage, the first (it learns from the data alone), ends once this
# share of a time budget has passed, leaving the rest to the model's stages.
CLEANER_TIME_SHARE = 0.25


def bf16_weights(net: nn.Module) -> nn.Module:
    """A copy of `net` whose convolution and linear weights are already bfloat16.

    Autocast would cast them again at every call (it caches casts only for weights that
    need gradients); once per sampling run saves about 7% on a CPU. The values are the same
    ones autocast makes, so the samples are too."""
    net = copy.deepcopy(net)
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            module.to(torch.bfloat16)
    return net


def weights_stamp(net: nn.Module) -> tuple:
    """Each parameter's and buffer's identity and in-place version counter: it changes
    when an EMA update, `load_state_dict` or other in-place arithmetic writes to the
    weights. (Not when the fused AdamW kernel does: it leaves the counters alone.)"""
    tensors = itertools.chain(net.parameters(), net.buffers())
    return tuple((id(t), t._version) for t in tensors)


def adamw(params, lr: float) -> torch.optim.AdamW:
    """AdamW with torch's fused kernel where it has one (CPU and CUDA since torch 2.4): one
    call per step instead of a loop over every tensor, 13 -> 4 ms a step for the 8.2M U-Net."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # older torch, or a device without the kernel
        return torch.optim.AdamW(params, lr=lr)


def circular(net: nn.Module) -> nn.Module:
    """A copy of `net` whose padded convolutions wrap around (circular padding), so the
    left edge's neighbours are the right edge's pixels: a tileable sprite's seams."""
    net = copy.deepcopy(net)
    for module in net.modules():
        if isinstance(module, nn.Conv2d) and any(p > 0 for p in module.padding):
            module.padding_mode = "circular"
    return net


def guided(net: nn.Module, x, t, labels, unconditioned, scale: float) -> tuple:
    """Classifier-free guidance: the conditional and unconditional predictions in one
    batched pass over 2n, returned as (conditional, guided) with
    guided = uncond + scale * (cond - uncond)  (Ho & Salimans 2022, eq. 6).
    `unconditioned` is what the second pass is conditioned on: the null class, no tags,
    or a negative prompt's tags (so guidance steers away from them)."""
    both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, unconditioned]))
    cond, uncond = both.float().chunk(2)
    return cond, uncond + scale * (cond - uncond)


class DiffusionStrategy(Strategy):
    config: DiffusionConfig

    def __init__(self, config: DiffusionConfig, data: DataInfo, device: torch.device) -> None:
        super().__init__(config, data, device)
        m, d = config.model, config.diffusion
        self.schedule = NoiseSchedule(d.timesteps, d.schedule, d.prediction)
        self.num_classes = data.num_classes
        self.null_class = data.num_classes  # the extra "no class" embedding
        # With detail levels the network's condition is the pair class * levels + level,
        # the null class paired with a level too: guidance drops the class, not the level.
        # With tags it is the bag of them, and with detail levels the level after them.
        self.levels = LEVELS if uses_detail(m, data) else 1
        self.num_tags = len(data.tags)
        # The palette's colours in the network's [-1, 1] range: what the palette head picks from.
        self.colour_values = torch.tensor(data.palette, dtype=torch.float32, device=device) * 2 - 1
        unet = UNet.from_config(m, data).to(device)
        ema = copy.deepcopy(unet).requires_grad_(False).eval()
        # The consistency stage's student and its EMA (what samples): copies of `ema` when
        # the stage starts.
        student = copy.deepcopy(unet)
        student_ema = copy.deepcopy(ema)
        c = config.cleaner
        cleaner = OutlineCleaner(len(data.palette), c.width, c.depth).to(device)
        self.modules = {
            "unet": unet,
            "ema": ema,
            "consistency": student,
            "consistency_ema": student_ema,
            "cleaner": cleaner,
        }
        self.optimizers = {
            "unet": lambda: adamw(unet.parameters(), config.training.lr),
            "consistency": lambda: adamw(student.parameters(), config.consistency.lr),
            "cleaner": lambda: adamw(cleaner.parameters(), c.lr),
        }
        # Core updates these after each step of the module they average.
        self.averages = {
            "ema": Average("unet", d.ema_decay, warmup=True),
            "consistency_ema": Average("consistency", config.consistency.ema_decay),
        }
        if config.consistency.share and config.diffusion.prediction != "v":
            raise ConfigError("consistency tuning needs diffusion.prediction=v")
        mid_t = config.consistency.mid_t
        second = ConsistencySampler(self.schedule, mid_t).mid_t  # where it really starts
        if config.consistency.share and second != mid_t:
            warnings.warn(
                f"consistency.mid_t={mid_t} is not below the first consistency step's "
                f"timestep ({d.timesteps - 1}): the second step starts at {second} instead",
                PixelgenWarning,
                stacklevel=2,
            )
        self.consistency_steps = 0  # steps of the consistency stage trained so far
        self.cleaner_steps = 0  # steps of the cleaner's stage trained so far (0: not used)
        # False for a run saved before the cleaner: resumed, it keeps its own stages
        self.cleaner_stage = True
        # whether the student's palette head learned its clean end (consistency.palette)
        self.student_palette = False
        self.colours_seen = 0  # the most opaque colours of a training sprite
        self._copying_checked = False
        # how often training saw each condition (class, or class and detail level)
        self.class_counts = torch.zeros(max(self.num_classes * self.levels, 1), dtype=torch.float64)
        self.tag_sets = TagSetCounts(self.num_tags, self.levels)
        # bfloat16 copies of the sampling networks, by (which, ema): (weights_stamp, copy)
        self._bf16_copies: dict[tuple[str, bool], tuple[tuple, nn.Module]] = {}

    @property
    def ema_updates(self) -> int:
        """How many base-stage steps the EMA weights have seen (0: untrained)."""
        return self.average_updates.get("ema", 0)

    @ema_updates.setter
    def ema_updates(self, value: int) -> None:
        self.average_updates["ema"] = value

    def stages(self) -> list[Stage]:
        """The outline cleaner's `cleaner.epochs` (`_with_cleaner`), then the base
        (denoising) stage and consistency tuning, splitting `training.epochs` and the
        time budget by `consistency.share`; `training.stage` picks one of the model's
        (the epochs it has in a whole run, the other's 0), the cleaner going with the base."""
        stages = self._model_stages()
        if not self.cleaner_stage:
            return stages
        return self._with_cleaner(stages)

    def _with_cleaner(self, stages: list[Stage]) -> list[Stage]:
        """The cleaner's stage first: it learns from the data alone, so it is done before
        the model's stages begin, and the last stage stays the model's (a resume with more
        `training.epochs` adds them there). With a time budget it ends at
        CLEANER_TIME_SHARE of it."""
        epochs = self.config.cleaner.epochs if self.config.training.stage != "consistency" else 0
        rest = 1 - CLEANER_TIME_SHARE
        later = [dataclasses.replace(s, time_share=CLEANER_TIME_SHARE + rest * s.time_share)
                 for s in stages]  # fmt: skip
        return [Stage("cleaner", epochs, CLEANER_TIME_SHARE), *later]

    def _model_stages(self) -> list[Stage]:
        which = self.config.training.stage
        share = self.config.consistency.share
        if which == "consistency" and share == 0:
            raise SettingError("{training.stage}=consistency needs {consistency.share} above 0")
        if which == "consistency" and self.ema_updates == 0:
            raise SettingError(
                "{training.stage}=consistency tunes a trained run: give {resume} (a run "
                "folder or checkpoint)"
            )
        if share == 0:
            return [Stage("base", self.config.training.epochs)]
        plan = [
            ("base", 1 - share, which != "consistency"),
            ("consistency", share, which != "base"),
        ]
        return stage_plan(plan, self.config.training.epochs)

    # -- training -------------------------------------------------------------------------
    def _training_labels(self, batch: Batch, n: int, device: torch.device) -> torch.Tensor:
        """Class labels with dropout to the null class, or tags with dropout of the whole
        set and of each tag (classifier-free guidance for prompts and for each tag)."""
        if self.num_tags:
            if batch.tags is None:
                return self._paired(torch.zeros(n, self.num_tags, device=device), batch)
            return self._paired(drop_tags(batch.tags, self.config.diffusion.p_uncond), batch)
        if batch.labels is None or not self.num_classes:
            return torch.full((n,), self.null_class, device=device, dtype=torch.long)
        classes = drop_labels(batch.labels, self.config.diffusion.p_uncond, self.null_class)
        return self._paired(classes, batch)

    def _paired(self, classes: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The network's condition: the class (or tags), or with detail levels the pair
        class * levels + the sprite's level (the tags and a last column of the level)."""
        if self.levels == 1:
            return classes
        if classes.dim() == 1:
            classes = classes * self.levels  # the pair at level 0
        return self._with_levels(classes, detail_levels(batch.indices))

    def _with_levels(self, labels: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        """Conditions `labels` of a run with detail levels (tags with or without their
        level column) asking for `levels` instead."""
        if labels.dim() == 2:
            return torch.cat([labels[:, : self.num_tags], levels.to(labels)[:, None]], dim=1)
        return labels - labels % self.levels + levels.to(labels)

    def _asked_levels(self, labels: torch.Tensor) -> torch.Tensor:
        """The detail level each condition in `labels` asks for, (N,) long on the CPU."""
        if labels.dim() == 2:
            return labels[:, self.num_tags].long().cpu()
        return labels.cpu() % self.levels

    def _loss(self, batch: Batch) -> torch.Tensor:
        x0 = batch.images * 2 - 1  # RGBA in [-1, 1]
        n, d = len(x0), self.config.diffusion
        t = self.schedule.training_timesteps(
            n, x0.device, d.timestep_density, d.logit_mean, d.logit_std
        )
        noise = torch.randn_like(x0)
        x_t = self.schedule.add_noise(x0, noise, t)
        labels = self._training_labels(batch, n, x0.device)
        out = self.modules["unet"](x_t, t, labels).float()  # under core's autocast, if any
        prediction, logits = out[:, :4], out[:, 4:]
        target = self.schedule.target(x0, noise, t)
        if self.config.diffusion.loss_weighting == "none":
            loss = F.mse_loss(prediction, target)
        else:
            per_sample = (prediction - target).pow(2).mean(dim=(1, 2, 3))
            gamma = self.config.diffusion.min_snr_gamma
            loss = (per_sample * self.schedule.min_snr_weights(t, per_sample, gamma)).mean()
        if logits.shape[1] == 0:
            return loss
        return loss + d.palette_loss * self._palette_loss(logits, batch.indices, t)

    def _palette_loss(
        self, logits: torch.Tensor, indices: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """The palette head's cross-entropy against each pixel's palette index, for the
        sprites noised to t < diffusion.palette_max_t (averaged over the whole batch, so
        its weight does not depend on how many there are)."""
        per_pixel = F.cross_entropy(logits, indices.long(), reduction="none")
        taught = (t < self.config.diffusion.palette_max_t).float()
        return (per_pixel.mean(dim=(1, 2)) * taught).mean()

    def _teacher(self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The frozen teacher's v, guided as the sampler guides (conditional and
        unconditional in one batch, for labelled sprites in the guidance interval), so the
        student learns the guided trajectories and samples without guidance passes."""
        scale = self.config.consistency.guidance_scale
        sampling = self.config.sampling
        window = (t >= sampling.guidance_min_t) & (t <= sampling.guidance_max_t)
        guide = self._conditioned(labels) & window
        if scale == 1.0 or not bool(guide.any()):
            return self.modules["ema"](x_t, t, labels)[:, :4].float()
        none = self._unconditioned(labels)
        cond, with_guidance = guided(self.modules["ema"], x_t, t, labels, none, scale)
        return torch.where(guide.view(-1, 1, 1, 1), with_guidance, cond)[:, :4]

    def _consistency_loss(self, batch: Batch, step: Step) -> torch.Tensor:
        """Consistency distillation (see `consistency`): the student's x_0 from x_t must
        match its own stop-gradient x_0 from x_r, one DDIM step of the frozen teacher
        (the base stage's EMA weights) towards the clean end."""
        x0 = batch.images * 2 - 1
        n = len(x0)
        t = torch.randint(0, self.schedule.num_train_timesteps, (n,), device=x0.device)
        phase = consistency.phase_of(step.index, step.total, self.config.consistency.phases)
        r = consistency.gap_start(t, phase)
        labels = self._training_labels(batch, n, x0.device)
        x_t = self.schedule.add_noise(x0, torch.randn_like(x0), t)
        student = self.modules["consistency"]
        self.modules["ema"].eval()  # the teacher, frozen: no dropout
        with torch.no_grad():
            teacher_x0 = consistency.x0_from_v(
                self.schedule, self._teacher(x_t, t, labels), x_t, t
            ).clamp(-1, 1)
            x_r = consistency.ddim_jump(self.schedule, teacher_x0, x_t, t, r)
            at_r = self.modules["consistency_ema"].eval()(x_r, r.clamp(min=0), labels).float()
            target = consistency.x0_from_v(self.schedule, at_r[:, :4], x_r, r.clamp(min=0))
            target = torch.where((r < 0).view(-1, 1, 1, 1), x_r, target.clamp(-1, 1))
        out = student(x_t, t, labels).float()
        f_t = consistency.x0_from_v(self.schedule, out[:, :4], x_t, t)
        loss = consistency.pseudo_huber(f_t - target, self.config.consistency.huber).mean()
        weight, logits = self.config.consistency.palette, out[:, 4:]
        if not weight or logits.shape[1] == 0:
            return loss
        # The palette head learns f's colours as f learns its RGBA: the palette the
        # student's own EMA gives at x_r (at the clean end, x_r read at t = 0).
        self.student_palette = True
        taught = F.cross_entropy(logits, at_r[:, 4:].softmax(dim=1), reduction="none")
        return loss + weight * taught.mean()

    def _warn_of_copying(self) -> None:
        """Without mirror images a long run starts to copy training sprites: on the bundled
        sheet the base stage copied 6.3% of its samples after 214 epochs, 11.7% after
        about 430 and 20.7% after about 640, where real sprites resemble one another 12.0%
        of the time (benchmarks/RESULTS.md, 2026-12-03). Said when training starts."""
        data, epochs = self.config.data, self.config.training.epochs
        if data.hflip or epochs <= LONG_WITHOUT_FLIPS:
            return
        warnings.warn(
            f"training.epochs={epochs} without mirror images: runs this long copy training "
            "sprites more often than real sprites resemble each other; set data.hflip=true "
            f"(or train at most {LONG_WITHOUT_FLIPS} epochs)",
            PixelgenWarning,
            stacklevel=3,
        )

    def optimizer_for(self, stage: str) -> str:
        return stage if stage in ("consistency", "cleaner") else "unet"

    def begin_stage(self, stage: str) -> None:
        """The consistency student starts as the trained model (its EMA weights)."""
        if stage == "consistency" and self.consistency_steps == 0:
            for key in ("consistency", "consistency_ema"):
                self.modules[key].load_state_dict(self.modules["ema"].state_dict())
            self.student_palette = False  # its head is the base model's again

    def loss(self, batch: Batch, step: Step) -> torch.Tensor:
        if step.stage == "cleaner":
            self.cleaner_steps += 1
            return cleaner_loss(self.modules["cleaner"], batch.indices, self.config.cleaner.jitter)
        if not self._copying_checked:  # once per training process, resumes included
            self._copying_checked = True
            self._warn_of_copying()
        if batch.labels is not None and self.num_classes:
            pairs = self._paired(batch.labels, batch).cpu()
            self.class_counts += torch.bincount(pairs, minlength=len(self.class_counts))
        if batch.tags is not None and self.num_tags:
            levels = detail_levels(batch.indices) if self.levels > 1 else None
            self.tag_sets.add(batch.tags, levels)
        seen = opaque_colours(batch.indices.cpu().numpy()).max(initial=0)
        self.colours_seen = max(self.colours_seen, int(seen))
        if step.stage == "consistency":
            self.consistency_steps += 1
            return self._consistency_loss(batch, step)
        return self._loss(batch)

    def metrics(self, batch: Batch) -> dict[str, float]:
        with torch.no_grad(), autocast(self.device, self.config.training.precision):
            return {"loss": self._loss(batch).item()}

    def extra_state(self) -> dict:
        return {
            "class_counts": self.class_counts,
            "tag_sets": self.tag_sets.state(),
            "consistency_steps": self.consistency_steps,
            "cleaner_steps": self.cleaner_steps,
            "student_palette": self.student_palette,
            "colours_seen": self.colours_seen,
        }

    def load_state_dict(self, state: dict, with_optimizers: bool = True) -> None:
        """Runs from before the consistency stage have no student: it starts untrained.
        Runs from before the palette head have none: their networks lose theirs. Runs
        from before detail levels condition on the class alone, as they were trained."""
        modules = state["modules"]
        if "cleaner" not in modules:  # a run from before the cleaner: none, nor its stage
            modules = {**modules, "cleaner": self.modules["cleaner"].state_dict()}
            state = {**state, "modules": modules}
            self.cleaner_stage = False
        if "ema" in modules:
            students = {k: modules["ema"] for k in ("consistency", "consistency_ema")}
            state = {**state, "modules": {**students, **modules}}
            if "palette_out.weight" not in modules["ema"]:
                self.config.model.palette_head = False
                for module in self._unets():
                    module.palette_out = None
            if self._without_detail(modules["ema"]):
                self.config.model.detail = False
                self.levels = self.tag_sets.levels = 1
                for module in self._unets():
                    module.class_emb = nn.Embedding(
                        self.null_class + 1, module.class_emb.weight.shape[1]
                    )
        super().load_state_dict(state, with_optimizers)

    def _unets(self) -> list[nn.Module]:
        """The base model, the student and their averages: the modules that are U-Nets."""
        return [self.modules[k] for k in ("unet", "ema", "consistency", "consistency_ema")]

    def _without_detail(self, weights: dict) -> bool:
        """Whether saved weights are of a run from before detail levels (or without them):
        one class embedding per class, where this strategy expects one per pair."""
        rows = weights["class_emb.weight"].shape[0]
        return self.levels > 1 and rows == self.num_classes + 1

    def load_extra_state(self, state: dict) -> None:
        if "ema_updates" in state:  # a checkpoint from before core kept the count
            self.ema_updates = int(state["ema_updates"])
        self.consistency_steps = int(state.get("consistency_steps", 0))
        self.cleaner_steps = int(state.get("cleaner_steps", 0))
        self.student_palette = bool(state.get("student_palette", False))
        self.colours_seen = int(state.get("colours_seen", 0))
        if "class_counts" in state:
            self.class_counts = state["class_counts"].to(torch.float64)
        if "tag_sets" in state:  # runs from before it sample no prompt unconditionally
            self.tag_sets.load(state["tag_sets"])

    # -- sampling -------------------------------------------------------------------------
    def make_sampler(
        self,
        sampler: str,
        steps: int,
        eta: float = 0.0,
        spacing: str = "trailing",
        mid_t: int | None = None,
    ):
        """The named sampler with its timesteps set, every one built the same way
        (`mid_t`: the consistency sampler's second timestep; None: consistency.mid_t)."""
        if sampler == "consistency" and self.consistency_steps == 0:
            raise NotReady(
                "this diffusion run has no consistency tuning; add it by training with "
                "{training.stage}=consistency and {resume} (this run)"
            )
        mid_t = self.config.consistency.mid_t if mid_t is None else mid_t
        made = SAMPLERS[sampler].create(self.schedule, eta, mid_t)
        most, bound = made.max_steps
        if not 1 <= steps <= most:
            raise SettingError(f"{{steps}} must be between 1 and {most} ({bound}), got {steps}")
        made.set_timesteps(steps, spacing)
        return made

    def sampler_candidates(self) -> dict[str, dict]:
        """What `auto` may choose at the end of training: the base model's DPM-Solver++
        and, once tuned, two consistency steps (core keeps the pixel-clean one with the
        best FD). A student taught its palette (`consistency.palette`) adds its two steps
        alone, without the final base step, held to the training sprites' most colours,
        the second from ALONE_MID_SHARE of the way: half the network evaluations
        (benchmarks/RESULTS.md, 2026-12-06)."""
        found = {}
        if self.consistency_steps:
            steps = self._default_steps("consistency")
            found[f"consistency {steps}"] = {"sampler": "consistency", "steps": steps}
        timesteps = self.schedule.num_train_timesteps
        mid_t = min(round(ALONE_MID_SHARE * timesteps), timesteps - 2)  # below the first
        if self.consistency_steps and self.student_palette and mid_t >= 1:
            found[f"consistency {steps} alone"] = {
                "sampler": "consistency",
                "steps": steps,
                "final_step_t": 0,
                "colours": self.colours_seen,
                "mid_t": mid_t,
            }
        steps = self._default_steps("dpm++")
        found[f"dpm++ {steps}"] = {"sampler": "dpm++", "steps": steps}
        return found

    def _default_steps(self, sampler: str) -> int:
        """A sampler's steps where none are asked for: DEFAULT_STEPS, except DPM-Solver++
        on sprites of LARGE_SPRITE_PIXELS or more, which drew as well in 12 steps as in
        24 there, in half the network calls (benchmarks/RESULTS.md, 2026-12-06)."""
        height, width = self.data.shape
        if sampler == "dpm++" and height * width >= LARGE_SPRITE_PIXELS:
            return LARGE_SPRITE_DPM_STEPS
        return DEFAULT_STEPS[sampler]

    def auto_sampler(self, steps: int, guidance: Guidance | None = None) -> tuple[str, int]:
        """`--sampler auto`: the sampler chosen by measurement at the end of training,
        else (runs from before the choice) consistency once tuned, else dpm++. Steps given
        by the user stay theirs. A prompt's `guidance`, where it is not the run's (which
        the consistency student learned), is drawn by DPM-Solver++ in PROMPT_STEPS."""
        if guidance is not None and guidance != self._learned_guidance():
            return "dpm++", steps or PROMPT_STEPS
        chosen = (self.chosen_sampling or {}).get("options")
        if chosen and chosen["sampler"] in SAMPLERS:
            return chosen["sampler"], steps or int(chosen["steps"])
        return ("consistency" if self.consistency_steps else "dpm++"), steps

    def _chosen_extras(self, sampler: str, *given: int) -> tuple[int, ...]:
        """`auto`'s final_step_t, colours and mid_t (`given` in that order): the chosen
        candidate's, where it has them and it is the sampler drawing, each unless the
        user asked for another value than the config's."""
        chosen = (self.chosen_sampling or {}).get("options") or {}
        if chosen.get("sampler") != sampler:
            return given
        s = self.config.sampling
        configured = (s.final_step_t, s.colours, self.config.consistency.mid_t)
        keys = ("final_step_t", "colours", "mid_t")
        return tuple(
            int(chosen.get(key, value)) if value == default else value
            for key, value, default in zip(keys, given, configured, strict=True)
        )

    def _learned_guidance(self) -> Guidance:
        s = self.config.sampling
        return (s.guidance_scale, s.guidance_min_t, s.guidance_max_t)

    @staticmethod
    def _asked_guidance(draw: Draw) -> Guidance:
        o = draw.options
        return (o.guidance_scale, o.guidance_min_t, o.guidance_max_t)

    def _guidance(self, draw: Draw) -> Guidance:
        """(scale, min_t, max_t) of a draw: the options. With a prompt, each one left at
        the run's value is the prompt's instead: `sampling.prompt_guidance_scale` from
        `prompt_guidance_min_t` to the last timestep. A prompt names fewer tags than the
        sprites the model learned on, and guiding the noisy steps, where a sprite's kind
        is decided, makes samples carry its tags more often; guiding below
        prompt_guidance_min_t adds specks (benchmarks/RESULTS.md, 2026-12-04)."""
        asked = self._asked_guidance(draw)
        last = self.schedule.num_train_timesteps - 1
        if draw.tags is not None:
            s = self.config.sampling
            prompt = (s.prompt_guidance_scale, s.prompt_guidance_min_t, last)
            run = self._learned_guidance()
            asked = tuple(p if a == r else a for a, r, p in zip(asked, run, prompt, strict=True))
        scale, min_t, max_t = asked
        if scale != 1.0 and min_t > min(max_t, last):  # guidance asked for, and never given
            raise SettingError(
                f"guidance from t = {min_t} to {max_t} guides no timestep (they run from "
                f"0 to {last}): lower {{guidance_min_t}}, raise {{guidance_max_t}}, or give "
                "{guidance_scale} 1 to sample unguided"
            )
        return asked

    def _conditioned(self, labels: torch.Tensor) -> torch.Tensor:
        """Which sprites have a condition to guide towards: a class, or any tag."""
        if self.num_tags:
            return labels[:, : self.num_tags].bool().any(dim=1)
        return labels // self.levels != self.null_class

    def _unconditioned(
        self, labels: torch.Tensor, negative: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The condition of guidance's unconditional pass for `labels`: the null class, no
        tags, or the negative prompt's tags; each with the sprite's own detail level."""
        if not self.num_tags:
            return self.null_class * self.levels + labels % self.levels
        none = torch.zeros_like(labels)
        if negative is not None:
            none[:, : self.num_tags] = negative.to(labels)
        if self.levels > 1:
            none[:, self.num_tags] = labels[:, self.num_tags]
        return none

    def _labels(
        self,
        n: int,
        label: int | None,
        generator: torch.Generator,
        tags: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The condition of `n` sprites: the prompt's tags, or tag sets drawn by their
        data frequencies, for a run with tags; else the class asked for, or classes drawn
        by their data frequencies. With detail levels, each sprite's level is drawn by its
        frequency in the class, the tag set, or the sprites holding the prompt's tags."""
        if self.num_tags:
            if tags is None:
                drawn, levels = self.tag_sets.draw(n, generator, self.device)
            else:
                drawn = tags.to(self.device, torch.float32).expand(n, -1).contiguous()
                levels = self.tag_sets.draw_levels(tags, n, generator, self.device)
            return drawn if self.levels == 1 else self._with_levels(drawn, levels)
        if not self.num_classes:
            return torch.full((n,), self.null_class, dtype=torch.long, device=self.device)
        weights = self.class_counts.clamp_min(1).float().to(self.device)  # data frequencies
        if label is None:
            return torch.multinomial(weights, n, replacement=True, generator=generator)
        # the class asked for, with its detail levels drawn by their frequency in it
        levels = weights.view(self.num_classes, self.levels)[int(label)]
        drawn = torch.multinomial(levels, n, replacement=True, generator=generator)
        return int(label) * self.levels + drawn

    def _check_learned_guidance(self, draw: Draw) -> None:
        """A consistency model learned its guidance in tuning; asking for another is an
        error rather than silently ignored."""
        if self._asked_guidance(draw) != self._learned_guidance():
            raise SettingError(
                "the consistency sampler uses the guidance learned in tuning "
                f"(consistency.guidance_scale={self.config.consistency.guidance_scale:g}); "
                "for another {guidance_scale}, {guidance_min_t} or {guidance_max_t} use "
                "{sampler} dpm++"
            )

    def _check_colours(self, colours: int, on_head: bool) -> None:
        """`--colours` decodes the palette head's logits at the draw's end: asked for (a
        value other than the config's) where the draw does not end on a head it is an
        error, not silently ignored. `on_head`: the draw's last network has a taught
        head (the base model, or a student taught one by consistency.palette)."""
        head = self.modules["ema"].palette_out is not None
        if colours != self.config.sampling.colours and not (head and on_head):
            raise SettingError(
                "{colours} picks among the palette head's colours, and this draw does not end "
                "on it: the run has no palette head, or its consistency student was not taught "
                "one (consistency.palette) and {final_step_t} is 0"
            )

    def _check_unused_options(
        self,
        sampler: str,
        eta: float,
        spacing: str,
        final_step_t: int = 0,
        mid_t: int | None = None,
        restarts: int = 0,
    ) -> None:
        """An option the chosen sampler would ignore is not dropped in silence (a value
        other than the config's counts as asked for). `--eta` is refused by the samplers it
        does not steer (DPM-Solver++, DDPM); a spacing only warns, since every choice of a
        sample option must work with the default sampler."""
        if sampler not in ("ddim", "consistency") and eta != self.config.sampling.eta:
            raise SettingError(
                f"{{eta}} is the noise of DDIM and consistency steps; {{sampler}} {sampler} "
                "has none"
            )
        if sampler != "consistency" and final_step_t != self.config.sampling.final_step_t:
            raise SettingError(
                f"{{final_step_t}} ends the consistency sampler's steps; {{sampler}} {sampler} "
                "has none"
            )
        if sampler != "consistency" and mid_t not in (None, self.config.consistency.mid_t):
            raise SettingError(
                f"{{mid_t}} is the consistency sampler's second timestep; {{sampler}} {sampler} "
                "has none"
            )
        if sampler == "consistency" and restarts != self.config.sampling.restarts:
            raise SettingError(
                "{restarts} are the base model's (dpm++, ddim, ddpm); {sampler} consistency "
                "ends with {final_step_t} instead"
            )
        if sampler == "consistency" and spacing != self.config.sampling.spacing:
            warnings.warn(
                "the consistency sampler's timesteps are fixed (T - 1, then "
                "consistency.mid_t and below): --timestep-spacing is ignored",
                PixelgenWarning,
                stacklevel=2,
            )

    def sample(self, draw: Draw) -> torch.Tensor:
        """Every option is the user's value or its `sampling.*` default; `ddim_steps` is
        the shortcut for ``sampler="ddim", steps=ddim_steps``. `resample` is for `edit`
        only; `final_step_t` for the consistency sampler only. `draw.tags` and
        `draw.negative` are a prompt's (runs trained on tags)."""
        o, n, generator, negative = draw.options, draw.n, draw.generator, draw.negative
        sampler, steps, ddim_steps = o.sampler, o.steps, o.ddim_steps
        eta, spacing, final_step_t = o.eta, o.timestep_spacing, o.final_step_t
        guidance = self._guidance(draw)
        ema, precision, tileable = o.ema, o.precision, draw.tileable
        if ddim_steps is not None:
            sampler, steps = "ddim", ddim_steps
        colours, mid_t, mend = o.colours, o.mid_t, o.mend
        if sampler == "auto":
            sampler, steps = self.auto_sampler(steps, guidance if draw.tags is not None else None)
            final_step_t, colours, mid_t = self._chosen_extras(
                sampler, final_step_t, colours, mid_t
            )
        steps = steps or self._default_steps(sampler)
        restarts, restart_t, restart_steps = o.restarts, o.restart_t, o.restart_steps
        self._check_unused_options(sampler, eta, spacing, final_step_t, mid_t, restarts)
        if sampler == "consistency":
            self._check_learned_guidance(draw)
            guidance = self._learned_guidance()  # its final base step too, even for a prompt
            if negative is not None and bool(negative.any()) and not final_step_t:
                raise SettingError(
                    "the consistency sampler learned its guidance in tuning and cannot steer "
                    "away from a negative prompt without its final base step: use "
                    "{sampler} dpm++ or a {final_step_t} above 0"
                )
            last = self.schedule.num_train_timesteps - 1
            if final_step_t > last:
                raise SettingError(
                    f"{{final_step_t}} must be below {last + 1} (diffusion.timesteps), "
                    f"got {final_step_t}"
                )
            if mid_t >= last and mid_t != self.config.consistency.mid_t:
                raise SettingError(
                    f"{{mid_t}} must be below the first step's timestep ({last}), got {mid_t}"
                )
        runner = self.make_sampler(sampler, steps, eta, spacing, mid_t)
        which = "consistency" if sampler == "consistency" else "base"
        rounds = restarts if which == "base" else 0  # a consistency draw has none (checked)
        again = Restart(self.schedule, restart_t, restart_steps) if rounds else None
        on_head = which == "base" or bool(final_step_t) or self.student_palette
        self._check_colours(o.colours, on_head)
        net = self._sampling_net(which, ema, precision)
        labels = self._labels(n, draw.label, generator, draw.tags)

        def make(labels: torch.Tensor) -> torch.Tensor:
            # A consistency model learned its guidance while tuned: no guidance passes.
            passes = (1.0, 0, 0) if sampler == "consistency" else guidance
            predict = self._predictor(net, labels, passes, tileable, generator, negative)
            x = torch.randn(
                len(labels), 4, *self.data.shape, generator=generator, device=self.device
            )
            with autocast(self.device, precision):
                for t in runner.timesteps.tolist():
                    x = runner.step(predict(x, t), t, x, generator)
                if sampler == "consistency" and final_step_t:
                    base = self._sampling_net("base", ema, precision)
                    predict = self._predictor(base, labels, guidance, tileable, generator, negative)
                    finish = LowNoiseStep(self.schedule, final_step_t)
                    x = finish.noise(x.float().clamp(-1, 1), generator)
                    x = finish.step(predict(x, final_step_t), final_step_t, x, generator)
                for _ in range(rounds):
                    x = again.noise(x.float().clamp(-1, 1), generator)
                    for t in again.timesteps.tolist():
                        x = again.step(predict(x, t), t, x, generator)
            if on_head:
                x = self._on_palette(x, predict, colours)
            images = ((x.float().clamp(-1, 1) + 1) / 2).contiguous()
            return self._cleaned(images, tileable) if o.clean else images

        images = make(labels)
        if self.levels == 1:
            return images
        return self._held(images, labels, lambda at: make(labels[at]), mend=mend)

    def _cleaned(
        self, images: torch.Tensor, tileable: bool, kept: torch.Tensor | None = None
    ) -> torch.Tensor:
        """RGBA sprites (N, 4, H, W) in [0, 1] with their outlines redrawn by the run's
        outline cleaner (`pixelgen_diffusion.cleaner`), each pixel then one palette
        colour; where `kept` (an edit's pixels to keep, N x 4 x H x W) they stay as given.
        As they were on a run whose cleaner was not trained."""
        if not self.cleaner_steps:
            return images
        indices = self._snapped(images, Palette.from_tuples(self.data.palette)).to(self.device)
        cleaner = self.modules["cleaner"]
        indices = clean(cleaner, indices, self.config.cleaner.rounds, tileable)
        colour = ((self.colour_values[indices] + 1) / 2).permute(0, 3, 1, 2).to(images)
        return colour if kept is None else torch.where(kept, images, colour)

    @staticmethod
    def _snapped(images: torch.Tensor, palette: Palette) -> torch.Tensor:
        """Palette indices (on the CPU) of RGBA sprites (N, 4, H, W) in [0, 1]."""
        return torch.from_numpy(palette.snap(images.permute(0, 2, 3, 1).cpu().numpy()))

    def _missed(
        self, indices: torch.Tensor, labels: torch.Tensor, colours: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Which sprites (`indices`, snapped) came out off the detail level they were asked
        for, or with more opaque colours than `colours` (an edit's input's, per sprite),
        as indices into them."""
        off = detail_levels(indices) != self._asked_levels(labels)
        if colours is not None:
            off |= torch.from_numpy(opaque_colours(indices.numpy())) > colours
        return torch.nonzero(off).flatten()

    def _held(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        redraw,
        colours: torch.Tensor | None = None,
        mend: bool = True,
    ) -> torch.Tensor:
        """Each sprite held to its asked detail level. With `mend`, one asked for no
        isolated pixel that came with a speck or a few (level 1) has them mended
        (`_mended`). Each sprite that still missed (`_missed`) is drawn again
        (`redraw(rows)` returns the rows' sprites drawn anew), at most REDRAWS_MENDED
        times with `mend`, REDRAWS without, then kept as it is; the redraws stop early
        when PATIENCE rounds in a row bring no sprite in, as for a model too little
        trained to draw what it is asked. The condition alone does not hold the data's
        mix of solid and detailed sprites (asked for no isolated pixel, the default run
        drew one in three of five tries; benchmarks/RESULTS.md, 2026-12-06). On the
        full default, mending those specks instead of drawing the sprites again scored a
        better FD and regions distance, isolated pixels as near the data's, in less than
        half the model time: it keeps the shapes of the sprites that missed, where
        redrawing kept only those that came out solid, simpler than the data's. On a
        run trained five minutes the redraws' choice paid instead (RESULTS, 2026-12-06).
        Colours per sprite are not held when sampling: that trades them for isolated
        pixels and made the end-of-training choice five times as long (RESULTS); an edit,
        a few sprites, is held to its input's `colours`, so that a one-colour sprite's
        variations do not come back with a speck of another."""
        palette = Palette.from_tuples(self.data.palette)

        def checked(images, labels, allowed) -> tuple[torch.Tensor, torch.Tensor]:
            """The sprites, mended where asked, and which of them missed (snapped once)."""
            indices = self._snapped(images, palette)
            if mend:
                images, indices = self._mended(images, indices, labels)
            return images, self._missed(indices, labels, allowed)

        images, missed = checked(images, labels, colours)
        fruitless = 0  # rounds in a row that brought no sprite in
        for _ in range(REDRAWS_MENDED if mend else REDRAWS):
            if not len(missed) or fruitless == PATIENCE:
                break
            at = missed.to(images.device)
            allowed = None if colours is None else colours[missed]
            images[at], missed_again = checked(redraw(at), labels[at], allowed)
            still = missed[missed_again]
            fruitless = fruitless + 1 if len(still) == len(missed) else 0
            missed = still
        return images

    def _mended(
        self, images: torch.Tensor, indices: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`images` and their snapped `indices` with the isolated pixels recoloured
        (`pixelgen_core.mend_specks`) in each sprite asked for none that came with a few
        (level 1); every other pixel stays as the model drew it. A sprite with more is a
        detailed drawing, not a solid one with specks, and is drawn again instead."""
        from pixelgen_core import mend_specks

        asked_solid = self._asked_levels(labels) == 0
        rows = torch.nonzero(asked_solid & (detail_levels(indices) == 1)).flatten()
        if not len(rows):
            return images, indices
        specked = indices[rows].numpy()
        mended = torch.from_numpy(mend_specks(specked))
        changed = (mended != indices[rows])[:, None].to(images.device)
        colour = (self.colour_values[mended.to(self.device)] + 1) / 2
        at = rows.to(images.device)
        out, out_indices = images.clone(), indices.clone()
        out[at] = torch.where(changed, colour.permute(0, 3, 1, 2).to(images), images[at])
        out_indices[rows] = mended
        return out, out_indices

    def edit(self, draw: Draw) -> torch.Tensor:
        """Inpainting and variations with RePaint (`pixelgen_diffusion.editing.edit`)."""
        return editing.edit(self, draw)

    def _repaint(self, runner, timesteps, predict, known, kept, draw: Draw) -> torch.Tensor:
        """`edit`'s RePaint loop (`pixelgen_diffusion.editing.repaint`)."""
        return editing.repaint(self, runner, timesteps, predict, known, kept, draw)

    def _sampling_net(self, which: str, ema: bool, precision: str) -> nn.Module:
        """The network that samples: the base model or the consistency student, its EMA
        weights or raw, with bfloat16 weights where `precision` asks for them."""
        average, raw = (
            ("consistency_ema", "consistency") if which == "consistency" else ("ema", "unet")
        )
        net = self.modules[average] if ema else self.modules[raw]
        if not uses_bf16(self.device, precision):
            return net
        # The copy is kept while the weights are unchanged (no training step since, no
        # write to them): making it was 0.009 of the 0.031 s that 2 consistency steps
        # took for 16 sprites (benchmarks/consistency_speed.py).
        stamp = (self.ema_updates, self.consistency_steps, weights_stamp(net))
        kept = self._bf16_copies.get((which, ema))
        if kept is None or kept[0] != stamp:
            kept = self._bf16_copies[which, ema] = (stamp, bf16_weights(net))
        return kept[1]

    def _on_palette(self, x0: torch.Tensor, predict: Predictor, colours: int = 0) -> torch.Tensor:
        """The sampler's clean result with each pixel replaced by its most likely palette
        colour, by the palette head at the last network evaluation, where that was at a
        timestep the head learned (t < diffusion.palette_max_t). The RGBA x_0 is a mean
        over the sprites the input could become, so an unsure pixel lands between colours
        and snaps to a stray one; the head's choice is one of the colours it could be.
        With `colours`, only each sprite's likeliest that many opaque colours are allowed
        (`fewest_colours`)."""
        logits, t = predict.logits, predict.timestep
        if logits is None or logits.shape[1] == 0 or t >= self.config.diffusion.palette_max_t:
            return x0
        if colours:
            logits = fewest_colours(logits, colours)
        return self.colour_values[logits.argmax(dim=1)].permute(0, 3, 1, 2).to(x0.dtype)

    def _predictor(
        self, net, labels, guidance: Guidance, tileable: bool, generator, negative=None
    ) -> Predictor:
        """`predict(x, t)`: the network's output at timestep t, guided by `guidance`'s
        scale at min_t <= t <= max_t and conditional alone elsewhere (Kynkaenniemi et al.
        2024: at high noise guidance pulls every sprite towards its class average, which
        costs FD; at low noise it adds specks). With `tileable` the
        network pads circularly and sees x rolled by a random offset each call, so the
        sprite's wrap-around edges are drawn like its middle, without a seam."""
        scale, min_t, max_t = guidance
        unconditioned = self._unconditioned(labels, negative)
        guide_any = scale != 1.0 and not torch.equal(labels, unconditioned)
        if tileable:
            net = circular(net)
        height, width = self.data.shape

        def network(x: torch.Tensor, t: int) -> torch.Tensor:
            shift = (0, 0)
            if tileable and height == width:
                shift = tuple(torch.randint(0, height, (2,), generator=generator).tolist())
            elif tileable:
                rows = torch.randint(0, height, (1,), generator=generator).item()
                shift = (rows, torch.randint(0, width, (1,), generator=generator).item())
            if tileable:
                x = torch.roll(x, shift, dims=(2, 3))
            t_in = torch.full((len(x),), t, device=self.device, dtype=torch.long)
            if guide_any and min_t <= t <= max_t:
                _, out = guided(net, x, t_in, labels, unconditioned, scale)
            else:
                out = net(x, t_in, labels).float()
            return torch.roll(out, (-shift[0], -shift[1]), dims=(2, 3)) if tileable else out

        return Predictor(network)


class Predictor:
    """A sampler's model call, `predict(x, t)` -> the RGBA prediction; it keeps the palette
    logits and timestep of its last call for `_on_palette`."""

    def __init__(self, network) -> None:
        self.network = network
        self.logits: torch.Tensor | None = None
        self.timestep = -1

    def __call__(self, x: torch.Tensor, t: int) -> torch.Tensor:
        out = self.network(x, t)
        self.logits, self.timestep = out[:, 4:], t
        return out[:, :4]
