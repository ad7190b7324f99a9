"""The VQ-VAE against the strategy contract, plus its quantiser, prior and stages."""

import shutil

import pytest
import torch
from pixelgen_vqvae.prior import CodePrior
from pixelgen_vqvae.quantiser import VectorQuantiser

from pixelgen_core import Batch, ConfigError, DataInfo, NotReady, PixelgenError, open_run
from pixelgen_core.testing import PALETTE, StrategyContract, invoke, make_strategy, sample

SMALL = [
    "model.channels=[8,16]",
    "model.codebook_size=16",
    "model.code_dim=8",
    "prior.width=16",
    "prior.heads=2",
    "prior.layers=1",
]
TINY_RUN = [
    "data.dataset=kenney-mono",
    "data.focused=true",
    "training.batch_size=128",
    "training.grid_size=4",
    "tracking.enabled=false",
    "data.num_classes=3",
    *SMALL,
]


class TestVQVAEContract(StrategyContract):
    strategy_name = "vqvae"
    overrides = SMALL


class TestVQVAEWithRGBALossContract(StrategyContract):
    strategy_name = "vqvae"
    overrides = [*SMALL, "model.loss=bce", "model.ema=false"]


def make(*overrides, classes=3):
    return make_strategy("vqvae", [*SMALL, *overrides], DataInfo(16, PALETTE, classes, 8))


def blocks(n=8, seed=0):
    """Sprites made of a few solid 4x4 blocks: easy to code on a 4x4 grid."""
    g = torch.Generator().manual_seed(seed)
    cells = torch.randint(0, len(PALETTE), (n, 4, 4), generator=g)
    indices = cells.repeat_interleave(4, 1).repeat_interleave(4, 2)
    images = torch.tensor(PALETTE, dtype=torch.float32)[indices].permute(0, 3, 1, 2)
    return Batch(images.contiguous(), indices, torch.arange(n) % 3)


run = invoke  # `pixelgen ARGS` in this process


# -- the quantiser --------------------------------------------------------------------------
@pytest.mark.parametrize("ema", [True, False])
def test_straight_through_gradients_reach_the_encoder(ema):
    strategy = make(f"model.ema={ema}")
    vqvae = strategy.modules["vqvae"]
    logits, q = vqvae(blocks().images)
    (logits.sum() + q.commitment_loss).backward()
    first = vqvae.encoder[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    if not ema:  # the codebook term trains the codebook by gradient
        vqvae.zero_grad()
        q = vqvae(blocks().images)[1]
        q.codebook_loss.backward()
        assert vqvae.quantiser.codebook.grad.abs().sum() > 0


def test_quantiser_picks_the_nearest_code_and_its_losses():
    vq = VectorQuantiser(3, 2, ema=False, restart_threshold=0.0).eval()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    z = torch.tensor([[0.9, 0.1], [0.1, 0.2], [0.2, 0.7]]).view(1, 3, 1, 2).permute(0, 3, 1, 2)
    q = vq(z)  # z is (1, 2, 1, 3): three vectors
    assert q.codes.flatten().tolist() == [1, 0, 2]
    expected = torch.tensor([[0.1, 0.1], [0.1, 0.2], [0.2, 0.3]]).pow(2).mean()
    assert torch.isclose(q.commitment_loss, expected) and torch.isclose(q.codebook_loss, expected)
    assert torch.isclose(q.perplexity, torch.tensor(3.0))


@pytest.mark.parametrize("ema", [True, False])
def test_restarts_keep_the_codebook_in_use(ema):
    """A codebook initialised far from the data collapses without restarts."""
    torch.manual_seed(0)
    data = torch.randn(64, 4, 4, 4) + 3.0

    def usage(restart_threshold):
        vq = VectorQuantiser(32, 4, ema=ema, restart_threshold=restart_threshold)
        with torch.no_grad():
            vq.codebook.copy_(torch.randn(32, 4) - 3.0)
            if ema:
                vq.ema_sum.copy_(vq.codebook)
        vq.train()
        for _ in range(50):
            vq(data)
        vq.eval()
        return (torch.bincount(vq(data).codes.flatten(), minlength=32) > 0).float().mean()

    assert usage(1.0) >= 0.75
    assert usage(0.0) <= 0.1


# -- the prior -----------------------------------------------------------------------------
def test_prior_is_causal():
    prior = CodePrior(8, 6, 2, 16, 2, 2, 0.0).eval()
    codes = torch.randint(0, 8, (2, 5))
    changed = codes.clone()
    changed[:, 3] = (changed[:, 3] + 1) % 8
    a, b = prior(codes, torch.ones(2, dtype=torch.long)), prior(changed, torch.ones(2).long())
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-6)  # positions up to 3 cannot see code 3
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_prior_overfits_a_handful_of_code_grids():
    torch.manual_seed(0)
    prior = CodePrior(16, 16, 2, 32, 2, 2, 0.0)
    grids = torch.randint(0, 16, (4, 16))
    classes = torch.tensor([1, 2, 1, 2])
    optimizer = torch.optim.Adam(prior.parameters(), lr=3e-3)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(
            prior(grids[:, :-1], classes).reshape(-1, 16), grids.reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    prior.eval()
    drawn = prior.sample(classes, torch.Generator().manual_seed(0), top_k=1)
    assert {tuple(row) for row in drawn.tolist()} <= {tuple(row) for row in grids.tolist()}


def test_top_k_one_is_greedy_and_temperature_is_checked():
    strategy = make()
    batch = blocks()
    for stage in ("autoencoder", "prior"):
        strategy.train_step(batch, stage)
    strategy.eval()
    a = sample(strategy, 3, torch.Generator().manual_seed(0), top_k=1)
    b = sample(strategy, 3, torch.Generator().manual_seed(9), top_k=1)
    assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="temperature must be positive"):
        sample(strategy, 1, torch.Generator(), temperature=0.0)


@pytest.mark.parametrize(
    "override",
    [
        "model.codebook_size=0",
        "model.code_dim=0",
        "prior.width=0",
        "prior.layers=0",
        "prior.heads=0",
    ],
)
def test_sizes_below_one_are_refused(override):
    with pytest.raises(ConfigError, match=f"'{override.split('=')[0]}' must be between 1 and"):
        make(override)


# -- stages ----------------------------------------------------------------------------------
def test_stages_follow_training_stage():
    def epochs(stage):
        return [(s.name, s.epochs) for s in make(f"training.stage={stage}").stages()]

    assert epochs("both") == [("autoencoder", 150), ("prior", 120)]  # 270 split by 0.444
    assert epochs("autoencoder") == [("autoencoder", 150), ("prior", 0)]
    assert epochs("prior") == [("autoencoder", 0), ("prior", 120)]
    short = make("training.epochs=1").stages()  # every stage trains at least one epoch
    assert [(s.name, s.epochs) for s in short] == [("autoencoder", 1), ("prior", 1)]
    # The time budget is split like the epochs: the autoencoder ends at 55.6% of it.
    assert [s.time_share for s in make().stages()] == [pytest.approx(0.556), 1.0]
    assert [s.time_share for s in make("training.stage=autoencoder").stages()] == [1.0, 1.0]
    with pytest.raises(ConfigError, match="training.stage"):
        make("training.stage=decoder")


def test_no_prior_means_a_clear_error_not_random_codes():
    strategy = make()
    strategy.train_step(blocks(), "autoencoder")
    with pytest.raises(NotReady, match="no trained prior; train one with training.stage=prior"):
        sample(strategy, 2, torch.Generator())
    uniform = sample(strategy, 2, torch.Generator(), codes="uniform")
    assert uniform.shape == (2, 16, 16) and uniform.max() < len(PALETTE)  # palette indices
    with pytest.raises(PixelgenError, match="needs a trained autoencoder"):
        make().train_step(blocks(), "prior")


def test_prior_stage_leaves_the_autoencoder_alone():
    strategy = make()
    batch = blocks()
    strategy.train_step(batch, "autoencoder")
    before = {k: v.clone() for k, v in strategy.modules["vqvae"].state_dict().items()}
    strategy.train()
    strategy.train_step(batch, "prior")
    after = strategy.modules["vqvae"].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_epoch_usage_counts_a_whole_epoch():
    """Codes are counted over every batch until core says the epoch ended (`end_epoch`);
    the steps after it report that epoch's usage."""
    strategy = make()
    batch = blocks()
    halves = [Batch(batch.images[i : i + 4], batch.indices[i : i + 4]) for i in (0, 4)]
    for half in halves:
        assert "epoch_usage" not in strategy.train_step(half, "autoencoder")
    counted = strategy.epoch_counts.clone()
    strategy.end_epoch("autoencoder")
    assert float((counted > 0).float().mean()) == strategy.epoch_usage
    assert strategy.epoch_counts.sum() == 0  # the next epoch counts afresh
    metrics = strategy.train_step(halves[0], "autoencoder")
    assert 0 < metrics["epoch_usage"] <= 1 and metrics["epoch_perplexity"] >= 1


def test_metrics_include_codebook_usage_and_perplexity():
    strategy = make()
    metrics = strategy.metrics(blocks())
    assert {"recon", "perplexity", "usage", "codebook", "commitment"} <= metrics.keys()
    assert "prior_nll" not in metrics
    strategy.train_step(blocks(), "autoencoder")
    strategy.train_step(blocks(), "prior")
    assert "prior_nll" in strategy.metrics(blocks())


# -- end to end ------------------------------------------------------------------------------
def test_train_stages_separately_and_resume_between_them(tmp_path):
    result = run("train", "vqvae", "-q", "--stage", "autoencoder", "training.epochs=2", *TINY_RUN)
    assert result.exit_code == 0, result.output
    [ckpt] = list((tmp_path / "runs" / "vqvae").glob("*/checkpoint.pt"))
    assert not list(ckpt.parent.glob("samples/*.png"))  # no prior, so no sample grids
    result = run("sample", "vqvae", "--checkpoint", ckpt, "-n", 2)
    assert result.exit_code == 1 and "no trained prior" in result.output
    assert "train one with --stage=prior and --resume (this run)" in result.output
    result = run("sample", "vqvae", "--checkpoint", ckpt, "-n", 4, "--reconstruct", "--out", "r")
    assert result.exit_code == 0 and (tmp_path / "r" / "reconstructions.png").is_file()
    ae = open_run(checkpoint=ckpt).strategy.modules["vqvae"].state_dict()

    result = run("train", "vqvae", "-q", "--stage", "prior", "--resume", ckpt, "training.epochs=4")
    assert result.exit_code == 0, result.output
    resumed = open_run(checkpoint=ckpt)
    assert resumed.steps > 0 and resumed.strategy.prior_steps > 0
    after = resumed.strategy.modules["vqvae"].state_dict()
    for key, value in ae.items():  # the frozen autoencoder is unchanged
        assert torch.equal(value, after[key])
    result = run("sample", "vqvae", "--checkpoint", ckpt, "-n", 4, "--class", 2, "--top-k", 5)
    assert result.exit_code == 0, result.output

    # A new prior on the same autoencoder, in a run of its own.
    result = run(
        "train", "vqvae", "-q", "--stage", "prior", "--autoencoder", ckpt, "training.epochs=2",
        *TINY_RUN,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [new] = set((tmp_path / "runs" / "vqvae").glob("*/checkpoint.pt")) - {ckpt}
    # The autoencoder was copied in at training time: the new run opens without the old.
    ckpt.rename(tmp_path / "elsewhere.pt")
    copied = open_run(checkpoint=new).strategy
    assert copied.autoencoder_steps > 0 and copied.prior_steps > 0
    for key, value in ae.items():
        assert torch.equal(value, copied.modules["vqvae"].state_dict()[key])


def test_one_epoch_means_the_whole_run_and_trains_both_stages(tmp_path):
    """`training.epochs` bounds the whole run: with 1, each stage trains one epoch."""
    result = run("train", "vqvae", "-q", "training.epochs=1", *TINY_RUN)
    assert result.exit_code == 0, result.output
    [ckpt] = list((tmp_path / "runs" / "vqvae").glob("*/checkpoint.pt"))
    trained = open_run(checkpoint=ckpt).strategy
    assert trained.autoencoder_steps == trained.prior_steps > 0  # one epoch of each


def test_a_prior_without_an_autoencoder_is_refused(tmp_path):
    result = run("train", "vqvae", "-q", "--stage", "prior", *TINY_RUN)
    assert result.exit_code == 1 and "needs a trained autoencoder" in result.output
    result = run("train", "vqvae", "-q", "--autoencoder", "missing.pt", *TINY_RUN)
    assert result.exit_code == 2 and "model.autoencoder" in result.output
    assert not list(tmp_path.glob("runs/vqvae/*/run.json"))  # both refused before a run began


@pytest.mark.skipif(shutil.which("pixelgen") is None, reason="pixelgen script not on PATH")
def test_torchrun_keeps_the_codebook_identical_on_every_rank(tmp_path):
    """EMA statistics are summed over ranks and restarts broadcast from rank 0, so the
    codebook (a buffer, not a gradient-synchronised parameter) agrees everywhere."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
    cmd += ["2", "--no-python", "pixelgen", "train", "vqvae", "-q", *TINY_RUN]
    cmd += ["training.epochs=2", "training.device=cpu"]
    # Each rank saves its own codebook beside the run, to compare them.
    script = tmp_path / "sitecustomize.py"
    script.write_text(
        "import atexit, os, torch\n"
        "from pixelgen_vqvae import strategy\n"
        "made = []\n"
        "init = strategy.VQVAEStrategy.__init__\n"
        "def keep(self, *a, **k):\n"
        "    init(self, *a, **k); made.append(self)\n"
        "strategy.VQVAEStrategy.__init__ = keep\n"
        "@atexit.register\n"
        "def dump():\n"
        "    if made:\n"
        "        book = made[-1].modules['vqvae'].quantiser.codebook\n"
        "        torch.save(book, f\"book{os.environ['RANK']}.pt\")\n"
    )
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("trained vqvae") == 2
    books = [torch.load(tmp_path / f"book{r}.pt") for r in (0, 1)]
    assert torch.equal(books[0], books[1])
