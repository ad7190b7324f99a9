"""The local MLflow store is created, repaired and upgraded safely (see pixelgen_core.store)."""

import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from pixelgen_core.cli import cli
from pixelgen_core.errors import PixelgenError
from pixelgen_core.files import user_cache
from pixelgen_core.store import prepare

TINY = ["data.dataset=kenney-mono", "data.focused=true", "training.epochs=1"]
TINY += ["training.batch_size=128", "training.grid_size=4", "model.channels=[8,16]"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def revision(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def finished_runs(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT count(*) FROM runs WHERE status='FINISHED'").fetchone()[0]


def test_a_half_created_store_is_rebuilt_with_a_notice(tmp_path):
    """What MLflow leaves when killed between creating its first tables and migrating them."""
    import sqlalchemy
    from mlflow.store.tracking.dbmodels.initial_models import Base

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'mlflow.db'}")
    Base.metadata.create_all(engine)
    engine.dispose()
    result = run("train", "vae", "-q", *TINY)
    assert result.exit_code == 0, result.output
    assert "was left half-created by an interrupted process; rebuilding it" in result.output
    assert finished_runs(tmp_path / "mlflow.db") == 1
    result = run("train", "vae", "-q", *TINY)  # and it stays usable, with no notice
    assert result.exit_code == 0 and "Notice" not in result.output


@pytest.mark.parametrize("after", [0.5, 2.0])
def test_a_creation_killed_at_any_moment_leaves_a_usable_folder(tmp_path, after):
    db = tmp_path / "mlflow.db"
    code = f"from pixelgen_core.store import prepare; prepare({str(db)!r}, 'file:///tmp/a')"
    proc = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # mlflow.db is absent or complete, never half-made: the temporary build is what dies
    assert not db.exists() or finished_runs(db) == 0
    result = run("train", "vae", "-q", *TINY)
    assert result.exit_code == 0, result.output
    assert finished_runs(db) == 1
    assert not list(tmp_path.glob(".mlflow.db.*.tmp*"))


def test_a_store_from_an_older_mlflow_is_upgraded_with_a_backup(tmp_path):
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config, create_sqlalchemy_engine

    db = tmp_path / "mlflow.db"
    assert run("train", "vae", "-q", *TINY).exit_code == 0
    head = revision(db)
    uri = f"sqlite:///{db}"
    engine = create_sqlalchemy_engine(uri)
    config = _get_alembic_config(uri)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    engine.dispose()
    older = revision(db)
    assert older != head
    result = run("train", "vae", "-q", *TINY)
    assert result.exit_code == 0, result.output
    assert f"upgraded {db} from MLflow schema {older} to {head}" in result.output
    assert revision(db) == head and finished_runs(db) == 2
    assert finished_runs(tmp_path / f"mlflow.db.backup-{older}") == 1


def test_a_file_that_is_not_a_store_is_one_line(tmp_path):
    (tmp_path / "mlflow.db").write_text("not a database, but somebody's notes")
    result = run("train", "vae", "-q", *TINY)
    assert result.exit_code == 1 and "is not a readable MLflow store" in result.output
    assert (tmp_path / "mlflow.db").read_text() == "not a database, but somebody's notes"
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("checkpoint.pt"))


def test_an_unwritable_store_location_fails_at_once(tmp_path):
    (tmp_path / "file-in-the-way").write_text("x")
    started = time.monotonic()
    with pytest.raises(PixelgenError, match="cannot write"):
        prepare(tmp_path / "file-in-the-way" / "mlflow.db", "file:///tmp/a")
    assert time.monotonic() - started < 10


def test_a_new_store_is_a_copy_of_the_cached_pristine_one(tmp_path):
    """MLflow's own creation runs once per user and schema; later stores are copies."""
    import mlflow

    shutil.rmtree(user_cache() / "mlflow-stores")
    prepare(tmp_path / "a" / "mlflow.db", (tmp_path / "a" / "art").as_uri())
    [template] = list((user_cache() / "mlflow-stores").glob("*.db"))
    assert template.stem == revision(tmp_path / "a" / "mlflow.db")
    started = time.monotonic()
    prepare(tmp_path / "b" / "mlflow.db", (tmp_path / "b" / "art").as_uri())
    assert time.monotonic() - started < 3  # a copy, not MLflow's migrations
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}")
    assert client.get_experiment("0").artifact_location == (tmp_path / "b" / "art").as_uri() + "/0"
    template.write_bytes(b"damaged")  # a template that is not a store is not used
    prepare(tmp_path / "c" / "mlflow.db", (tmp_path / "c" / "art").as_uri())
    assert revision(tmp_path / "c" / "mlflow.db") == template.stem
