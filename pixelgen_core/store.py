"""The local MLflow store (./mlflow.db): created, upgraded and repaired safely.

MLflow creates and migrates a SQLite store on first use, with no lock: two trainings
started at once in a fresh folder race on it, and a process killed half-way leaves tables
that every later command trips over ("table ... already exists"). Here the store is made
under a file lock, built under a temporary name and renamed into place, so `mlflow.db`
is always either absent or complete. A store some other way left half-made (no runs in
it) is rebuilt with a notice; one from an older MLflow is upgraded on a copy, keeping a
backup. SQLite's busy timeout lets side-by-side runs write to it in turn.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from pixelgen_core.errors import PixelgenError, first_line
from pixelgen_core.files import make_dir, temp_name, user_cache, write_atomic

BUSY_TIMEOUT_S = 60  # how long a writer waits for another process's transaction
LOCK_TIMEOUT_S = 300  # creating or upgrading takes seconds; waiting longer means trouble


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (query string dropped), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


def with_busy_timeout(uri: str) -> str:
    """The URI with SQLite's busy timeout set, unless it already names one."""
    if sqlite_path(uri) is None or "timeout=" in uri:
        return uri
    return uri + ("&" if "?" in uri else "?") + f"timeout={BUSY_TIMEOUT_S}"


def _tables(db: Path) -> tuple[set[str], str | None, int]:
    """Table names, the alembic revision and the number of runs, read without MLflow."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        names = {
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        revision = None
        if "alembic_version" in names:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        runs = (
            connection.execute("SELECT count(*) FROM runs").fetchone()[0] if "runs" in names else 0
        )
        return names, revision, runs
    finally:
        connection.close()


def _head_revision() -> str:
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def _expected_tables() -> set[str]:
    import mlflow.store.tracking.dbmodels.models  # noqa: F401  (registers the tables)
    from mlflow.store.db.base_sql_model import Base

    return set(Base.metadata.tables)


def _build(target: Path, artifact_root: str, upgrade_from: Path | None = None) -> None:
    """Create a complete store at `target` (a copy of `upgrade_from`, upgraded, if given).

    A new store is a copy of this user's pristine store for this MLflow schema, kept in
    the cache (MLflow takes about 4 s to run its migrations; a copy takes milliseconds),
    with the Default experiment's artifact location set for this folder."""
    from mlflow.store.db.utils import _upgrade_db, create_sqlalchemy_engine
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{target}"
    if upgrade_from is not None:
        shutil.copyfile(upgrade_from, target)
        engine = create_sqlalchemy_engine(uri)
        try:
            _upgrade_db(engine)
        finally:
            engine.dispose()
        return
    head = _head_revision()
    template = user_cache() / "mlflow-stores" / f"{head}.db"
    if template.is_file():
        shutil.copyfile(template, target)
        if _is_complete(target, head):
            _place_default_experiment(target, artifact_root)
            return
        target.unlink()  # not a store this MLflow can use: build one as MLflow does
    store = SqlAlchemyStore(uri, artifact_root)
    store.engine.dispose()
    SqlAlchemyStore._engine_map.pop(uri, None)
    # a read-only cache only costs time
    with contextlib.suppress(OSError, PixelgenError), open(target, "rb") as source:
        write_atomic(template, lambda handle: shutil.copyfileobj(source, handle))


def _is_complete(db: Path, head: str) -> bool:
    try:
        tables, revision, _ = _tables(db)
    except sqlite3.DatabaseError:
        return False
    return _schema_ok(tables, revision, head)


def _schema_ok(tables: set[str], revision: str | None, head: str) -> bool:
    """All of this MLflow's tables, at its latest schema revision."""
    return revision == head and _expected_tables() <= tables


def _place_default_experiment(db: Path, artifact_root: str) -> None:
    """Point the Default experiment (id 0) at this folder's artifact root, as MLflow does
    when it creates a store, and date it now."""
    stamp = int(time.time() * 1000)
    connection = sqlite3.connect(db)
    try:
        with connection:
            connection.execute(
                "UPDATE experiments SET artifact_location = ?, creation_time = ?, "
                "last_update_time = ? WHERE experiment_id = 0",
                (artifact_root.rstrip("/") + "/0", stamp, stamp),
            )
    finally:
        connection.close()


def quiet_mlflow() -> None:
    """Import MLflow, then keep its and alembic's INFO lines (store creation, migrations)
    off the user's terminal; MLflow sets its own level when first imported."""
    import mlflow  # noqa: F401

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _notice(text: str) -> None:
    print(f"Notice: {text}", file=sys.stderr)


def prepare(db: Path, artifact_root: str) -> None:
    """Make sure `db` is a complete store of this MLflow's schema; safe to call from
    several processes at once, and after any of them was killed mid-way."""
    from filelock import FileLock, Timeout

    quiet_mlflow()
    db = Path(db).absolute()
    make_dir(db.parent)
    if not os.access(db.parent, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
        raise PixelgenError(f"cannot write the MLflow store {db}: not writable")
    try:
        with FileLock(str(db.with_name(f".{db.name}.lock")), timeout=LOCK_TIMEOUT_S):
            _prepare_locked(db, artifact_root)
    except Timeout:
        raise PixelgenError(
            f"another process has held the lock on {db} for {LOCK_TIMEOUT_S} s; "
            f"if none is running, delete {db.with_name('.' + db.name + '.lock')}"
        ) from None
    except OSError as exc:
        raise PixelgenError(f"cannot prepare the MLflow store {db}: {first_line(exc)}") from None


def _prepare_locked(db: Path, artifact_root: str) -> None:
    for leftover in db.parent.glob(f".{db.name}.*.tmp*"):  # from a creator that was killed
        with contextlib.suppress(OSError):
            leftover.unlink()
    if not db.exists() or db.stat().st_size == 0:
        _replace(db, artifact_root)
        return
    try:
        tables, revision, runs = _tables(db)
    except sqlite3.DatabaseError as exc:
        raise PixelgenError(
            f"{db} is not a readable MLflow store ({first_line(exc)}); move it away"
        ) from None
    head = _head_revision()
    if _schema_ok(tables, revision, head):
        return
    half_made = f"{db} was left half-created by an interrupted process; rebuilding it"
    if runs == 0 and revision is None:
        _notice(half_made)
        _replace(db, artifact_root)
        return
    backup = None
    if runs:
        backup = db.with_name(f"{db.name}.backup-{revision}")
        if not backup.exists():
            shutil.copyfile(db, backup)
    try:
        _replace(db, artifact_root, upgrade_from=db)
    except PixelgenError:
        if runs:
            raise PixelgenError(
                f"cannot upgrade {db} from MLflow schema {revision} (backup: {backup.name}); "
                f"try: mlflow db upgrade sqlite:///{db}"
            ) from None
        _notice(half_made)  # a creation killed between two migrations: nothing to keep
        _replace(db, artifact_root)
        return
    if runs:
        _notice(f"upgraded {db} from MLflow schema {revision} to {head} (backup: {backup.name})")


def _replace(db: Path, artifact_root: str, upgrade_from: Path | None = None) -> None:
    """Build the store under a temporary name, then rename it over `db`."""
    tmp = temp_name(db)
    try:
        _build(tmp, artifact_root, upgrade_from)
        for suffix in ("-journal", "-wal", "-shm"):  # the old file's, not the new one's
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.replace(tmp, db)
        _forget_open_stores(db)
    except Exception as exc:
        raise PixelgenError(f"cannot create the MLflow store {db}: {first_line(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _forget_open_stores(db: Path) -> None:
    """Drop this process's cached MLflow engines and stores for `db`: they hold the file
    that was just replaced (SQLite then calls it read-only). Matters where one process
    trains more than once, as tests and notebooks do."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking._tracking_service import utils

    for uri in list(SqlAlchemyStore._engine_map):
        if sqlite_path(uri) is not None and sqlite_path(uri).absolute() == db:
            SqlAlchemyStore._engine_map.pop(uri).dispose()
    type(utils._tracking_store_registry)._get_store_with_resolved_uri.cache_clear()
