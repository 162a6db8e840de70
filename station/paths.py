"""Where the station keeps its data: one private directory per user (the bottom layer with
:mod:`station.errors` and :mod:`station.privatefiles`).

``STATION_DATA_DIR`` (set by ``station --data-dir``) wins; otherwise the platform's user data directory
(``platformdirs``). Layout::

    <data_dir>/                 0700
        station.sqlite3         0600 (and its -wal / -shm files)       station.store
        journals/               recordings in progress (crash recovery) station.store, station.board.journal
        calibrations/           one active calibration per board        station.calibration
        backups/                copies made with the SQLite backup API  station.store
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "balance-station"
DIR_MODE = 0o700
FILE_MODE = 0o600


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory (not created): argument, ``$STATION_DATA_DIR``, platform default."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("STATION_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` if needed and make it readable by the user only (0700).

    Every level the call creates is 0700 too (``<data dir>/calibrations`` on a fresh machine makes the
    data dir 0700, not the umask's 0755), whichever command happens to create it first.
    """
    from station.privatefiles import make_private_dir

    return make_private_dir(Path(path))


def ensure_data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data directory (:func:`data_dir`), created if missing, 0700."""
    return ensure_private_dir(data_dir(override))


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, with 0600, and tighten it to 0600 if it already exists."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
