"""A backup of the station database: one self-contained, private SQLite file, complete or absent.

A SQLite database is copied with SQLite's backup API (consistent even while a trial records); a
server database (or, while it is away, what the station's outbox holds) row by row with
:func:`station.store.copying.copy_database`. Either way the copy is written 0600 under a unique
temporary name beside the target and moved into place only when complete (never through a symlink,
never over an existing file unless asked), and leaves WAL mode, so no ``-wal``/``-shm`` file is
needed beside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from station.privatefiles import private_temp_path
from station.store import engine as dbengine
from station.store import paths
from station.store.copying import copy_database

log = logging.getLogger(__name__)


def default_backup_path(data_dir: Path) -> Path:
    """``<data_dir>/backups/station-<UTC time>.sqlite3`` (the folder created 0700)."""
    folder = paths.ensure_private_dir(data_dir / "backups")
    return folder / f"station-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}.sqlite3"


def write_backup(source: Engine, dest: str | os.PathLike, *, force: bool = False, by_rows: bool = False,
                 lock=None) -> Path:
    """Copy the whole database behind ``source`` into the SQLite file ``dest``, created 0600.

    Parameters
    ----------
    source
        The database to copy: a SQLite engine is copied with the backup API, a server row by row.
    dest
        The backup file.
    force : bool, keyword-only
        Replace an existing file at ``dest`` (atomically; a symlink there is replaced, never followed).
    by_rows : bool, keyword-only
        Copy a SQLite database row by row too (an outbox: its own bookkeeping is left out).
    lock : keyword-only
        Held while the backup API reads ``source`` (the store's write lock), if given.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    OutputExistsError
        ``dest`` exists and ``force`` is False.
    """
    dest = Path(dest)
    with private_temp_path(dest, force=force) as tmp:
        tmp.unlink()  # the copy creates its own database file at this name
        if by_rows or source.dialect.name != "sqlite":
            _row_copy(source, tmp)
        else:
            _sqlite_backup(source, tmp, lock=lock)
        _leave_wal_mode(tmp)
    log.info("database backed up to %s", dest)
    return dest


def _sqlite_backup(source: Engine, tmp: Path, *, lock) -> None:
    target = sqlite3.connect(tmp)
    try:
        with lock if lock is not None else contextlib.nullcontext(), source.connect() as conn:
            conn.connection.driver_connection.backup(target)
    finally:
        target.close()


def _row_copy(source: Engine, tmp: Path) -> None:
    target_url = sa.URL.create("sqlite", database=str(tmp))
    target = dbengine.make_engine(target_url)
    try:
        copy_database(source, target, target_url=target_url)
    finally:
        target.dispose()


def _leave_wal_mode(tmp: Path) -> None:
    # one self-contained file: out of WAL mode, so opening the copy leaves no -wal/-shm beside it
    copy = sqlite3.connect(tmp)
    try:
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
    for side in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        side.unlink(missing_ok=True)
