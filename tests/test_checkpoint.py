"""Checkpoints are atomic and cannot run code."""

import errno
import os
import pickle

import pytest
import torch

from pixelgen_core import checkpoint
from pixelgen_core.errors import PixelgenError


def test_save_then_load(tmp_path):
    path = checkpoint.save({"state": {"w": torch.ones(2)}, "step": 3}, tmp_path / "c.pt")
    loaded = checkpoint.load(path)
    assert loaded["step"] == 3 and torch.equal(loaded["state"]["w"], torch.ones(2))
    path.rename(tmp_path / "checkpoint.pt")
    assert checkpoint.load(tmp_path)["step"] == 3  # a run folder works too
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = checkpoint.save({"step": 1}, tmp_path / "c.pt")

    def explode(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", explode)
    with pytest.raises(PixelgenError, match="cannot write"):
        checkpoint.save({"step": 2}, path)
    monkeypatch.undo()
    assert checkpoint.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "x": Payload()}, path, pickle_module=pickle)
    with pytest.raises(PixelgenError, match="cannot read checkpoint"):
        checkpoint.load(path)
    assert "must never run" not in capsys.readouterr().out


def test_other_files_are_clear_errors(tmp_path):
    with pytest.raises(PixelgenError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(PixelgenError, match="not a pixelgen checkpoint"):
        checkpoint.load(tmp_path / "text.pt")
    torch.save({"something": 1}, tmp_path / "foreign.pt")
    with pytest.raises(PixelgenError, match="not a pixelgen checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
