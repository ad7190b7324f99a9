"""The bad-input matrix: one case per input a user can get wrong.

Each case asserts the exit code, that the refusal is one line naming the problem (never a
traceback), and that nothing was lost: the trained run's checkpoint is byte for byte as it
was, and no partial or temporary file is left behind.
"""

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from pixelgen_core.cli import cli

TINY = ["data.dataset=kenney-mono", "data.focused=true", "training.epochs=1"]
TINY += ["training.batch_size=128", "training.grid_size=4", "model.channels=[8,16]"]
UNTRACKED = [*TINY, "tracking.enabled=false"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny VAE run, trained once; each test gets its own copy of the run folder."""
    home = tmp_path_factory.mktemp("trained")
    before = Path.cwd()
    os.chdir(home)
    try:
        result = run("train", "vae", "-q", *UNTRACKED)
        assert result.exit_code == 0, result.output
    finally:
        os.chdir(before)
    return home / "runs"


@pytest.fixture
def ckpt(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "runs")
    [path] = list((tmp_path / "runs" / "vae").glob("*/checkpoint.pt"))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(result, message: str, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("Error")] == [lines[-1]], result.output
    if not lines[0].startswith("Usage:"):  # click's own usage errors show the usage first
        assert len(lines) == 1, result.output
    assert message in result.output, result.output


def assert_nothing_lost(root: Path, ckpt: Path | None, kept: str | None) -> None:
    if ckpt is not None:
        assert digest(ckpt) == kept
        assert run("sample", "vae", "--checkpoint", ckpt, "-n", 1, "--out", "check").exit_code == 0
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


# -- training settings: refused before a run folder or MLflow run exists (exit 2) -------------
CONFIG_CASES = [
    ("vae", "training.batch_size=0", "'training.batch_size' must be between 1 and 65536, got 0"),
    ("vae", "training.log_every=0", "'training.log_every' must be at least 1, got 0"),
    ("vae", "data.max_colors=0", "'data.max_colors' must be between 1 and 255, got 0"),
    ("vae", "training.epochs=-1", "'training.epochs' must be at least 1, got -1"),
    ("vae", "training.epochs=0", "'training.epochs' must be at least 1, got 0"),
    ("vae", "training.grid_size=0", "'training.grid_size' must be between 1 and 1024, got 0"),
    ("vae", "training.sample_every=-1", "'training.sample_every' must be at least 0"),
    ("vae", "training.time_budget_minutes=-2", "'training.time_budget_minutes' must be at least 0"),
    ("vae", "training.seed=-1", "'training.seed' must be between 0 and"),
    ("vae", "data.palette_swap=1.5", "'data.palette_swap' must be between 0 and 1, got 1.5"),
    ("vae", "data.num_classes=-3", "'data.num_classes' must be between 0 and 1000"),
    ("vae", "model.channels=[0,16]", "'model.channels' must be between 1 and 4096, got [0, 16]"),
    ("vae", "model.latent_dim=100000", "'model.latent_dim' must be between 1 and 4096"),
    ("vae", "model.kl_weight=-1.0", "'model.kl_weight' must be at least 0"),
    ("vae", "training.lr=-0.1", "'training.lr' must be at least 0"),
    ("diffusion", "diffusion.timesteps=1", "'diffusion.timesteps' must be between 2 and 100000"),
    ("diffusion", "model.dropout=2.0", "'model.dropout' must be between 0 and 1, got 2.0"),
    ("diffusion", "diffusion.p_uncond=-0.5", "'diffusion.p_uncond' must be between 0 and 1"),
    ("diffusion", "sampling.steps=-1", "'sampling.steps' must be between 0 and 100000"),
    ("diffusion", "training.batch_size=0", "'training.batch_size' must be between 1 and 65536"),
    ("diffusion", "training.batch_size=abc", "'training.batch_size': Value 'abc' of type 'str'"),
    ("diffusion", "training.batch_size=1.5", "'training.batch_size': Value '1.5' of type"),
    ("vqvae", "prior.share=0", "'prior.share' must be between 0.05 and 0.95, got 0"),
    ("vqvae", "model.codebook_size=0", "'model.codebook_size' must be between 1 and 65536"),
    ("maskgit", "model.patch=-1", "'model.patch' must be between 0 and 64, got -1"),
    ("maskgit", "model.heads=1000", "'model.heads' must be between 1 and 256, got 1000"),
]


@pytest.mark.parametrize(("strategy", "override", "message"), CONFIG_CASES)
def test_bad_settings_are_refused_before_anything_starts(tmp_path, strategy, override, message):
    result = run("train", strategy, "-q", *TINY[:2], override)
    assert_refused(result, message, 2)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


# -- where outputs go: a file in the way, a full disk (exit 1) --------------------------------
def test_output_dir_that_is_a_file(tmp_path, ckpt):
    kept = digest(ckpt)
    Path("taken").write_text("mine")
    result = run("train", "vae", "-q", *UNTRACKED, "training.output_dir=taken")
    assert_refused(result, "cannot write taken", 1)
    assert Path("taken").read_text() == "mine"
    assert_nothing_lost(tmp_path, ckpt, kept)


@pytest.mark.parametrize("out", ["taken", "taken/inside"])
def test_sample_out_that_is_a_file(tmp_path, ckpt, out):
    kept = digest(ckpt)
    Path("taken").write_text("mine")
    result = run("sample", "vae", "--checkpoint", ckpt, "-n", 2, "--out", out)
    assert_refused(result, "cannot write taken", 1)
    assert Path("taken").read_text() == "mine"
    assert_nothing_lost(tmp_path, ckpt, kept)


def full_disk(monkeypatch, after: int) -> None:
    """The write after `after` successful ones fails with ENOSPC, as a large file does on a
    nearly full disk (smaller ones, once its temporary file is gone, fit again)."""
    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == after + 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_while_sampling_leaves_no_partial_png(tmp_path, ckpt, monkeypatch):
    kept = digest(ckpt)
    full_disk(monkeypatch, after=3)
    result = run("sample", "vae", "--checkpoint", ckpt, "-n", 8, "--out", "s")
    assert_refused(result, "no space left on the device", 1)
    written = sorted(p.name for p in Path("s").iterdir())
    assert written == ["sprite_0000.png", "sprite_0001.png", "sprite_0002.png"]
    assert_nothing_lost(tmp_path, ckpt, kept)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (errno.EACCES, "not writable (permission denied or read-only file system)"),
        (errno.EROFS, "not writable (permission denied or read-only file system)"),
        (errno.EDQUOT, "no space left on the device"),
    ],
)
def test_an_unwritable_output_folder_is_one_line(tmp_path, ckpt, monkeypatch, error, message):
    """As for a user without write permission (the tests run as root, who has it anyway)."""
    import pixelgen_core.files as files

    kept = digest(ckpt)

    def refuse(path, mode="r", *args, **kwargs):
        if "w" in mode:
            raise OSError(error, os.strerror(error), str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(files, "open", refuse, raising=False)
    result = run("sample", "vae", "--checkpoint", ckpt, "-n", 2, "--out", "s")
    assert_refused(result, f"cannot write s/sprite_0000.png: {message}", 1)
    monkeypatch.delattr(files, "open")
    assert_nothing_lost(tmp_path, ckpt, kept)


def test_a_full_disk_while_training_fails_the_run_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch
):
    from pixelgen_core import runs

    # run.json, config.yaml, run.json, then epoch 1: checkpoint and run.json; epoch 2 fails
    full_disk(monkeypatch, after=5)
    result = run("train", "vae", "-q", *UNTRACKED, "training.epochs=3", "training.sample_every=0")
    assert result.exit_code == 1 and "no space left on the device" in result.output
    [record] = runs.all_runs(tmp_path / "runs", "vae")
    assert record.status == runs.FAILED and record.steps == 7
    assert torch.load(record.checkpoint_path, weights_only=True)["position"]["epoch"] == 1
    assert not list(tmp_path.rglob("*.tmp"))


# -- sampling options (exit 1, or 2 for click's own range checks) -------------------------
SAMPLE_CASES = [
    (["-n", 0], "-n must be at least 1", 1),
    (["--scale", 0], "--scale must be a positive integer", 1),
    (["--scale", 100_000], "needs about", 1),
    (["-n", 1_000_000_000], "needs about", 1),
    (["--seed", -1], "Invalid value for '--seed'", 2),
    (["--seed", 2**64], "Invalid value for '--seed'", 2),
    (["--class", 1], "was not trained with classes", 1),
    (["--background", "blue"], "bad colour 'blue'", 1),
    (["--device", "tpu"], "unknown device 'tpu'", 1),
    (["--run", "nope"], "no run nope in runs", 1),
    (["--temperature", "nan"], "--temperature must be a finite number, got nan", 2),
    (["--temperature", "inf"], "--temperature must be a finite number, got inf", 2),
]


@pytest.mark.parametrize(("args", "message", "code"), SAMPLE_CASES)
def test_bad_sample_options(tmp_path, ckpt, args, message, code):
    kept = digest(ckpt)
    source = [] if "--run" in args else ["--checkpoint", ckpt]
    result = run("sample", "vae", *source, *args, "--out", "s")
    assert_refused(result, message, code)
    assert not Path("s").exists()
    assert_nothing_lost(tmp_path, ckpt, kept)


def test_evaluate_with_too_few_samples(tmp_path, ckpt):
    assert_refused(run("evaluate", "vae", "--checkpoint", ckpt, "-n", 10), "at least 16", 1)


def test_evaluate_with_absurd_repeats_is_refused_before_memory_fills(tmp_path, ckpt):
    # The data splits are made per repeat when needed, so a hundred million repeats are
    # refused by the output-size check, in the user's own options, not by the kernel.
    result = run("evaluate", "vae", "--checkpoint", ckpt, "-n", 16, "--repeats", 10**8)
    assert_refused(result, "-n 16 (at most half the data) x --repeats 100000000 needs about", 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompts", "-n", 64], "-n does not apply with --prompts"),
        (["--prompts", "--repeats", 2, "-n", 64], "-n and --repeats do not apply with --prompts"),
        (["--per-prompt", 8], "--per-prompt applies only with --prompts"),
    ],
)
def test_evaluate_refuses_an_option_its_mode_would_ignore(tmp_path, ckpt, args, message):
    assert_refused(run("evaluate", "vae", "--checkpoint", ckpt, *args), message, 2)


# -- checkpoints: damaged, hand-edited or absurd, checked before any model is built -------------
def edited(ckpt: Path, change) -> Path:
    payload = torch.load(ckpt, weights_only=True)
    change(payload)
    path = ckpt.parent.parent / "edited.pt"
    torch.save(payload, path)
    return path


CHECKPOINT_CASES = [
    (lambda p: p.pop("config"), "is damaged: its config is missing"),
    (lambda p: p.update(config=[1, 2]), "is damaged: its config is missing"),
    (lambda p: p["data"].update(image_size=10**6), "is damaged: image_size 1000000"),
    (lambda p: p["data"].update(palette=[]), "is damaged: its palette must list"),
    (lambda p: p["data"].update(palette=[[2, 0, 0, 1]]), "is not in [0, 1]"),
    (lambda p: p.update(state=None), "is damaged: its model state is missing"),
    (lambda p: p.update(position={"epoch": -1}), "is damaged: its training position"),
    (lambda p: p["config"]["model"].update(channels=[100_000, 16]), "'model.channels' must be"),
    (lambda p: p["config"]["model"].update(latent_dim=4000), "does not fit"),
    (lambda p: p["config"]["training"].update(batch_size="many"), "must be int"),
]


@pytest.mark.parametrize(("change", "message"), CHECKPOINT_CASES)
def test_a_bad_checkpoint_is_one_line(tmp_path, ckpt, change, message):
    kept = digest(ckpt)
    bad = edited(ckpt, change)
    result = run("sample", "vae", "--checkpoint", bad, "--out", "s")
    assert_refused(result, message, result.exit_code if result.exit_code in (1, 2) else 1)
    assert result.exit_code in (1, 2)
    assert not Path("s").exists()
    assert_nothing_lost(tmp_path, ckpt, kept)


def test_a_truncated_checkpoint_is_one_line(tmp_path, ckpt):
    kept = digest(ckpt)
    (ckpt.parent.parent / "cut.pt").write_bytes(ckpt.read_bytes()[:4000])
    result = run("sample", "vae", "--checkpoint", ckpt.parent.parent / "cut.pt")
    assert_refused(result, "cut.pt", 1)
    assert_nothing_lost(tmp_path, ckpt, kept)


def test_weights_are_fitted_on_the_meta_device_unless_the_trainer_wrote_them(
    tmp_path, ckpt, monkeypatch
):
    """A hand-edited checkpoint is tried on torch's meta device (no memory) first, so one
    whose config asks for a far bigger model than its weights never allocates it; a
    checkpoint as the Trainer left it (size and mtime in run.json) skips that step."""
    from pixelgen_core import sampling

    devices = []
    real_build = sampling.build

    def build(record, config, info, device):
        made_on = torch.empty(0).device.type  # where the strategy's modules are made
        assert made_on == device.type or device.type == "cpu", (made_on, device)
        devices.append(device.type)
        return real_build(record, config, info, device)

    monkeypatch.setattr(sampling, "build", build)
    big = edited(ckpt, lambda p: p["config"]["model"].update(channels=[4096, 4096]))
    assert_refused(run("sample", "vae", "--checkpoint", big), "does not fit", 1)
    assert devices == ["meta"]
    devices.clear()
    assert run("sample", "vae", "--checkpoint", ckpt, "-n", 1, "--out", "s").exit_code == 0
    assert devices == ["cpu"]
    ckpt.touch()  # no longer as the Trainer left it
    devices.clear()
    assert run("sample", "vae", "--checkpoint", ckpt, "-n", 1, "--out", "s").exit_code == 0
    assert devices == ["meta", "cpu"]


@pytest.mark.parametrize(
    ("strategy", "size", "message", "overrides"),
    [
        (
            "diffusion",
            (15, 15),
            "strategy 'diffusion' cannot train on 15x15 sprites; it takes sprites of 8 to "
            "128 pixels a side, multiples of 4 (height and width may differ)",
            [],
        ),
        ("vqvae", (4, 4), "'vqvae' cannot train on 4x4 sprites; it takes sprites of 8", []),
        ("maskgit", (72, 72), "'maskgit' cannot train on 72x72 sprites; it takes", []),
        ("pixel-prior", (16, 24), "'pixel-prior' cannot train on sprites that are not square", []),
        # A size the strategy takes, with a setting that does not fit it.
        (
            "diffusion",
            (20, 20),
            "20x20 sprites are not divisible by 8",
            ["model.channels=[8,8,8,8]"],
        ),
        (
            "maskgit",
            (20, 20),
            "20x20 sprites are not divisible by model.patch 3",
            ["model.network=transformer", "model.patch=3"],
        ),
        ("vae", (12, 12), "12x12 sprites are not divisible by 2^3", ["model.channels=[8,8,8]"]),
    ],
)
def test_a_sprite_size_a_strategy_cannot_take(tmp_path, strategy, size, message, overrides):
    from pixelgen_core.images import write_png

    sprite = torch.zeros(*size, 4, dtype=torch.uint8)
    sprite[1:-1, 1:-1] = torch.tensor([200, 50, 50, 255], dtype=torch.uint8)
    for i in range(4):
        write_png(torch.roll(sprite, i, 1).numpy(), tmp_path / "sprites" / f"{i}.png")
    result = run(
        "train", strategy, "-q", "data.dataset=sprites/", "tracking.enabled=false", *overrides
    )
    assert result.exit_code in (1, 2)
    assert_refused(result, message, result.exit_code)
    assert not (tmp_path / "runs").exists()


def test_side_by_side_samples_get_their_own_folders_and_refusals_leave_none(tmp_path, ckpt):
    for _ in range(3):  # within one second: the default folders must still differ
        assert run("sample", "vae", "--checkpoint", ckpt, "-n", 2, "--seed", 1).exit_code == 0
    folders = list((tmp_path / "samples").iterdir())
    assert len(folders) == 3 and all(len(list(f.iterdir())) == 3 for f in folders)
    result = run("sample", "diffusion", "--checkpoint", ckpt)
    assert result.exit_code == 1 and len(list((tmp_path / "samples").iterdir())) == 3
    result = run("sample", "vae", "--checkpoint", ckpt, "--reconstruct", "--class", 1)
    assert result.exit_code == 1 and len(list((tmp_path / "samples").iterdir())) == 3


# -- data a user can point at by mistake ------------------------------------------------------
def sprite_folder(folder: Path, colour: tuple[int, int, int, int], count: int = 4) -> Path:
    from pixelgen_core.images import write_png

    sprite = torch.zeros(16, 16, 4, dtype=torch.uint8)
    sprite[4:12, 4:12] = torch.tensor(colour, dtype=torch.uint8)
    for i in range(count):
        write_png(torch.roll(sprite, i, 1).numpy(), folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("command", [["train", "vae", "-q"], ["data", "palette"]])
def test_a_folder_of_fully_transparent_sprites_is_one_line(tmp_path, command):
    sprite_folder(tmp_path / "clear", (200, 50, 50, 0))
    if command[0] == "train":
        args = [*command, "data.dataset=clear", "tracking.enabled=false"]
    else:
        args = [*command, "clear", "--out", "p.gpl"]
    result = run(*args)
    assert_refused(result, "every pixel of the sprites in clear is transparent", 1)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "p.gpl").exists()


def test_a_png_that_is_a_symlink_loop_is_skipped(tmp_path):
    """`a.png -> b.png -> a.png` cannot be read; the real sprites beside it train."""
    folder = sprite_folder(tmp_path / "sprites", (200, 50, 50, 255))
    (folder / "a.png").symlink_to("b.png")
    (folder / "b.png").symlink_to("a.png")
    result = run("train", "vae", "-q", "data.dataset=sprites", "tracking.enabled=false")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    shown = run("data", "show", "sprites", "--out", "preview.png")
    assert shown.exit_code == 0 and "4 sprites" in shown.output, shown.output


def fills_up(monkeypatch, after_bytes: int) -> None:
    """A file written through pixelgen_core.files fails with ENOSPC once it grows past
    `after_bytes`: a disk with that much room fills during the write itself (not at its
    fsync), and small files fit again once the large one's temporary file is gone."""
    import pixelgen_core.files as files

    class Filling:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            self.written += len(data)
            if self.written > after_bytes:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    def filling_open(path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)  # noqa: SIM115 (the caller closes it)
        return Filling(handle) if "w" in mode else handle

    monkeypatch.setattr(files, "open", filling_open, raising=False)


def test_a_disk_that_fills_while_the_trainer_writes_a_checkpoint(tmp_path, monkeypatch):
    """The first checkpoint (about 1 MB) does not fit: the run fails in one line, marked
    FAILED, and leaves no partial file."""
    from pixelgen_core import runs

    fills_up(monkeypatch, after_bytes=200_000)
    result = run("train", "vae", "-q", *UNTRACKED)
    assert_refused(result, "no space left on the device", 1)
    [record] = runs.all_runs(tmp_path / "runs", "vae")
    assert record.status == runs.FAILED
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("checkpoint.pt"))


def test_runs_of_a_strategy_that_does_not_exist(tmp_path, ckpt):
    result = run("runs", "NO-SUCH")
    assert_refused(result, "unknown strategy 'NO-SUCH' (installed:", 1)
    assert run("runs", "vae").exit_code == 0
