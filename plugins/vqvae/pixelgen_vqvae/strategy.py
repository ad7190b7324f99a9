"""The VQ-VAE as a pixelgen strategy: stage "autoencoder", then stage "prior".

The prior trains on the codes of the frozen autoencoder, computed batch by batch, so
it sees the same augmented data as the autoencoder did. Sampling draws a code grid
from the prior (or uniformly, as a baseline) and decodes it.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from pixelgen_core import (
    Batch,
    ConfigError,
    DataInfo,
    Draw,
    NotReady,
    PixelgenError,
    SettingError,
    Stage,
    Step,
    Strategy,
    drop_labels,
    read_checkpoint,
    stage_plan,
)
from pixelgen_vqvae.config import VQVAEConfig
from pixelgen_vqvae.model import VQVAE
from pixelgen_vqvae.prior import CodePrior
from pixelgen_vqvae.quantiser import perplexity


class VQVAEStrategy(Strategy):
    config: VQVAEConfig

    def __init__(self, config: VQVAEConfig, data: DataInfo, device: torch.device) -> None:
        super().__init__(config, data, device)
        model_cfg, prior_cfg = config.model, config.prior
        self.num_codes = model_cfg.codebook_size
        vqvae = VQVAE.from_config(model_cfg, data).to(device)
        self.grid = vqvae.grid
        self.num_classes = data.num_classes if prior_cfg.conditional else 0
        length = self.grid[0] * self.grid[1]
        prior = CodePrior.from_config(prior_cfg, self.num_codes, length, self.num_classes)
        prior = prior.to(device)
        self.modules = {"vqvae": vqvae, "prior": prior}
        self.optimizers = {
            "vqvae": lambda: torch.optim.Adam(vqvae.parameters(), lr=config.training.lr),
            "prior": lambda: torch.optim.AdamW(prior.parameters(), lr=prior_cfg.lr),
        }
        # Steps each stage has trained, and code counts over the epoch in progress.
        self.autoencoder_steps = 0
        self.prior_steps = 0
        self.epoch_counts = torch.zeros(self.num_codes)
        self.epoch_usage = float("nan")
        self.epoch_perplexity = float("nan")

    def begin_training(self) -> None:
        """With `model.autoencoder`, a new run copies that run's trained autoencoder into
        its own state (its checkpoint then holds it, so opening this run never opens
        the other one again)."""
        path = self.config.model.autoencoder
        if not path or self.autoencoder_steps:
            if self.config.training.stage == "prior":
                self._require_autoencoder()  # refused before the run has a folder
            return  # none asked for, or already copied (a resumed run)
        try:
            other = read_checkpoint(path, "vqvae")
        except PixelgenError as exc:
            raise ConfigError(f"model.autoencoder: {exc}") from None
        theirs = {k: v for k, v in other.config["model"].items() if k != "autoencoder"}
        ours = {
            k: v for k, v in dataclasses.asdict(self.config.model).items() if k != "autoencoder"
        }
        if theirs != ours:
            raise ConfigError(f"model.* settings differ from those of {path}")
        if DataInfo.from_dict(other.data).shape != self.data.shape:
            raise ConfigError(f"the sprite size differs from that of {path}")
        steps = int(other.extra.get("autoencoder_steps", 0))
        if steps == 0:
            raise ConfigError(f"{path} has no trained autoencoder")
        self.modules["vqvae"].load_state_dict(other.modules["vqvae"])
        self.autoencoder_steps = steps

    def stages(self) -> list[Stage]:
        """The autoencoder, then the prior: `training.epochs` and the time budget are
        split between them by `prior.share`; `training.stage` picks one of them."""
        which, share = self.config.training.stage, self.config.prior.share
        plan = [
            ("autoencoder", 1 - share, which != "prior"),
            ("prior", share, which != "autoencoder"),
        ]
        return stage_plan(plan, self.config.training.epochs)

    # -- training -----------------------------------------------------------------------
    def _autoencoder_losses(
        self, batch: Batch, vqvae
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The losses and batch metrics, and how often each code was used."""
        images = batch.images
        logits, q = vqvae(images)
        if self.config.model.loss == "palette":
            recon = F.cross_entropy(logits, batch.indices)
        elif self.config.model.loss == "bce":
            recon = F.binary_cross_entropy_with_logits(logits, images)
        else:
            recon = F.mse_loss(torch.sigmoid(logits), images)
        loss = recon + self.config.model.beta * q.commitment_loss
        if not self.config.model.ema:
            loss = loss + q.codebook_loss  # with EMA the codebook is not trained by gradient
        losses = {
            "loss": loss,
            "recon": recon,
            "codebook": q.codebook_loss,
            "commitment": q.commitment_loss,
            "perplexity": q.perplexity,
            "usage": (q.counts > 0).float().mean(),
        }
        return losses, q.counts

    def _prior_loss(self, batch: Batch, dropout: bool) -> torch.Tensor:
        vqvae = self.modules["vqvae"]  # not trained in this stage: never wrapped here
        vqvae.eval()  # frozen: no EMA updates, no restarts
        with torch.no_grad():
            codes = vqvae.encode(batch.images).flatten(1)
        classes = torch.zeros(len(codes), dtype=torch.long, device=codes.device)
        if self.num_classes and batch.labels is not None:
            classes = batch.labels + 1
            if dropout:  # class 0 is "no class"
                classes = drop_labels(classes, self.config.prior.p_uncond, 0)
        logits = self.modules["prior"](codes[:, :-1], classes)
        return F.cross_entropy(logits.reshape(-1, self.num_codes), codes.reshape(-1))

    def optimizer_for(self, stage: str) -> str:
        return "vqvae" if stage == "autoencoder" else "prior"

    def loss(self, batch: Batch, step: Step) -> dict[str, torch.Tensor | float]:
        if step.stage == "autoencoder":
            losses, counts = self._autoencoder_losses(batch, self.modules["vqvae"])
            self.autoencoder_steps += 1
            self.epoch_counts += counts.detach().cpu()
            if self.epoch_usage == self.epoch_usage:  # not NaN: a whole epoch is counted
                return {
                    **losses,
                    "epoch_usage": self.epoch_usage,
                    "epoch_perplexity": self.epoch_perplexity,
                }
            return losses
        self._require_autoencoder()
        self.prior_steps += 1
        return self._prior_loss(batch, dropout=True)

    def _require_autoencoder(self) -> None:
        if self.autoencoder_steps == 0:
            raise SettingError(
                "the prior stage needs a trained autoencoder: resume a vqvae run with "
                "{training.stage}=prior, or give {model.autoencoder} (a checkpoint)",
                exit_code=1,
            )

    def end_epoch(self, stage: str) -> None:
        """Codebook usage over the whole epoch (what one batch shows can be far lower)."""
        if stage != "autoencoder":
            return
        self.epoch_usage = float((self.epoch_counts > 0).float().mean())
        self.epoch_perplexity = float(perplexity(self.epoch_counts))
        self.epoch_counts.zero_()

    def metrics(self, batch: Batch) -> dict[str, float]:
        was_training = [m.training for m in self.modules.values()]
        self.eval()
        with torch.no_grad():
            losses, _ = self._autoencoder_losses(batch, self.modules["vqvae"])
            out = {k: v.item() for k, v in losses.items()}
            if self.prior_steps:
                out["prior_nll"] = self._prior_loss(batch, dropout=False).item()
        for module, training in zip(self.modules.values(), was_training, strict=True):
            module.train(training)
        return out

    # -- sampling -------------------------------------------------------------------------
    def sample(self, draw: Draw) -> torch.Tensor:
        """Every option is the user's value or its `sampling.*` default."""
        n, generator, label = draw.n, draw.generator, draw.label
        temperature, top_k, codes = draw.options.temperature, draw.options.top_k, draw.options.codes
        if temperature <= 0:
            raise SettingError("{temperature} must be positive")
        if codes == "uniform":
            shape = (n, *self.grid)
            grid = torch.randint(0, self.num_codes, shape, generator=generator, device=self.device)
        else:
            if self.prior_steps == 0:
                raise NotReady(
                    "this vqvae run has no trained prior; train one with "
                    "{training.stage}=prior and {resume} (this run)"
                )
            classes = torch.zeros(n, dtype=torch.long, device=self.device)
            if label is not None:
                if not self.num_classes:
                    raise ConfigError("this prior was trained without classes")
                classes += int(label) + 1
            grid = self.modules["prior"].sample(classes, generator, temperature, top_k)
            grid = grid.view(n, *self.grid)
        return self._pixels(self.modules["vqvae"].decode(grid))

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        vqvae = self.modules["vqvae"]
        return self._pixels(vqvae.decode(vqvae.encode(images)))

    def _pixels(self, logits: torch.Tensor) -> torch.Tensor:
        """Decoder logits -> palette indices (the likeliest entry per pixel) or RGBA."""
        if self.config.model.loss == "palette":
            return logits.argmax(1)
        return torch.sigmoid(logits)

    # -- checkpoint -----------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {
            "autoencoder_steps": self.autoencoder_steps,
            "prior_steps": self.prior_steps,
            "epoch_counts": self.epoch_counts.clone(),
            "epoch_usage": self.epoch_usage,
            "epoch_perplexity": self.epoch_perplexity,
        }

    def load_extra_state(self, state: dict) -> None:
        self.autoencoder_steps = int(state.get("autoencoder_steps", 0))
        self.prior_steps = int(state.get("prior_steps", 0))
        if "epoch_counts" in state:
            self.epoch_counts = state["epoch_counts"].clone().float()
        self.epoch_usage = float(state.get("epoch_usage", float("nan")))
        self.epoch_perplexity = float(state.get("epoch_perplexity", float("nan")))
