"""Where the station keeps its data: one private directory per user.

``STATION_DATA_DIR`` (set by ``station --data-dir``) wins; otherwise the platform's user data
directory (``platformdirs``). Layout::

    <data_dir>/                 0700
        station.sqlite3         0600 (and its -wal / -shm files): the database, unless a server is used
        outbox.sqlite3          0600: with a server, what this station recorded while it was away
        journals/               recording journals of trials in progress (crash recovery)
        journals/recovered/     journals already recovered into the database
        backups/                copies made with the SQLite backup API
"""

from __future__ import annotations

from pathlib import Path

from station.paths import FILE_MODE, data_dir, ensure_private_dir, ensure_private_file

DB_NAME = "station.sqlite3"

__all__ = ["DB_NAME", "FILE_MODE", "data_dir", "ensure_private_dir", "ensure_private_file", "journals_dir"]


def journals_dir(base: Path) -> Path:
    """The private directory where recordings in progress are journaled."""
    return ensure_private_dir(base / "journals")
