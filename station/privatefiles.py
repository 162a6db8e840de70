"""Private, atomic, in-place file writes (the base layer, like :mod:`station.errors`; imports nothing else).

Every file the station hands to a user or keeps for them — exports, reports, backups, calibration
files, trial files — is written the same way:

1. the content goes to a *unique* temporary name in the target folder (``mkstemp``: ``O_EXCL``, so a
   planted file or symlink at the temporary name is never opened), created ``0600``;
2. it is flushed and ``fsync``'ed;
3. it is moved to the final name. Without ``force`` this is ``link(2)``, which fails when *anything*
   (a file, a directory, a symlink, even a dangling one) is at the final name, so an existing file is
   never overwritten and there is no check-then-write race. With ``force`` it is ``rename(2)``, which
   replaces a symlink at the final name by the new file and never writes through it: a file outside
   the target folder that a planted symlink points at stays untouched;
4. the folder is ``fsync``'ed so the new name survives a power cut.

Folders the station creates are ``0700`` (every missing level, not only the last one).

A reader never sees a half-written file, and a crash leaves at worst a ``.<name>.*.part<suffix>`` file beside
the target, never a truncated target.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from pathlib import Path

from station.errors import StationError

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
TEMP_SUFFIX = ".part"


class OutputExistsError(StationError):
    """The output file already exists and overwriting it was not asked for (``--force``)."""


class OutputError(StationError):
    """The output file or its folder cannot be written."""


def make_private_dirs(path: str | os.PathLike) -> Path:
    """Create ``path`` and every missing parent with mode 0700; return it.

    Folders that already exist keep their mode (the user's own output folder is theirs to set).

    Raises
    ------
    OutputError
        A component exists and is not a folder, or cannot be created.
    """
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and not p.is_symlink():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            pass
        except OSError as exc:
            raise OutputError(f"cannot create the folder {d}: {exc.strerror or exc}.") from None
        os.chmod(d, DIR_MODE)  # mkdir's mode is reduced by the umask; 0700 is the point
    if not path.is_dir():
        raise OutputError(f"{path} is not a folder.")
    return path


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and missing parents) 0700 and tighten ``path`` itself to 0700 if it exists."""
    path = make_private_dirs(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != DIR_MODE:
        os.chmod(path, DIR_MODE)
        log.info("made %s private (was %o)", path, mode)
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def refuse_existing(path: str | os.PathLike, *, force: bool = False) -> Path:
    """Fail early (before any expensive work) when ``path`` exists and ``force`` is False.

    The final move re-checks atomically; this only spares building a report that cannot be written.
    """
    path = Path(path)
    if not force and (path.exists() or path.is_symlink()):
        raise OutputExistsError(f"{path} already exists; use --force to overwrite it.")
    if path.is_dir() and not path.is_symlink():
        raise OutputError(f"{path} is a folder; give a file name.")
    return path


def _commit(tmp: Path, path: Path, *, force: bool) -> None:
    if force:
        if path.is_dir() and not path.is_symlink():
            raise OutputError(f"{path} is a folder; give a file name.")
        os.replace(tmp, path)  # replaces a symlink itself; never writes through it
        return
    try:
        os.link(tmp, path)  # fails on anything at the final name, dangling symlinks included
    except FileExistsError:
        raise OutputExistsError(f"{path} already exists; use --force to overwrite it.") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
            raise
        # A filesystem without hard links (FAT, some network shares): check, then rename.
        if path.exists() or path.is_symlink():
            raise OutputExistsError(f"{path} already exists; use --force to overwrite it.") from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def private_temp_path(path: str | os.PathLike, *, force: bool = False):
    """Yield a private temporary path beside ``path``; on success move it to ``path`` (see module doc).

    For writers that want a file name (reportlab, ezc3d, zipfile, SQLite's backup). The temporary
    file exists (empty, 0600) when the block starts; the writer may replace or rewrite it. If the
    block raises, the temporary file is removed and ``path`` is untouched.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    OutputError
        The folder cannot be created or written.
    """
    path = Path(path)
    refuse_existing(path, force=force)
    folder = make_private_dirs(path.parent if str(path.parent) else Path("."))
    try:
        # the final suffix is kept last: some writers (ezc3d) append their own when it is missing
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX + path.suffix, dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}.") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)  # a writer that recreated the file got the umask's mode
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        _commit(tmp, path, force=force)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    log.info("wrote %s", path)


@contextlib.contextmanager
def private_open(path: str | os.PathLike, mode: str = "w", *, force: bool = False, **open_kw):
    """``open()`` for writing a private file atomically: yields the temporary file object.

    ``mode`` is ``"w"`` (text; ``encoding`` defaults to UTF-8) or ``"wb"``. The file appears at ``path``
    only when the block completes.
    """
    if mode not in ("w", "wb"):
        raise ValueError("private_open writes new files: mode 'w' or 'wb'")
    if mode == "w":
        open_kw.setdefault("encoding", "utf-8")
    with private_temp_path(path, force=force) as tmp:
        # O_NOFOLLOW: the temporary name is ours (mkstemp), and stays so
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
        with os.fdopen(fd, mode, **open_kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_private(path: str | os.PathLike, data: bytes | str, *, force: bool = False) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` privately and atomically; return ``path``.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    OutputError
        The folder cannot be created or written.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        with private_open(path, "wb", force=force) as fh:
            fh.write(payload)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}.") from None
    return Path(path)
