"""Board geometries (``boards/``) and calibration procedures (``protocols/``) as TOML data.

The station ships its own: they live in the repository's ``calibration/<folder>/*.toml`` and the package
reaches them as ``station/calibration/data`` (a link to that folder, which setuptools follows, so a
wheel carries real copies; read with :mod:`importlib.resources`); a user folder may add more or replace one
by name. Search order for a name: ``$STATION_CALIBRATION_DIR/<folder>`` (when set), then the user
folder ``<data dir>/calibration/<folder>`` (see :mod:`station.paths`), then the shipped files. A
command-line argument may give either such a name (``reference-400x300``, ``quick``) or a path to a
file of one's own.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path

from station.errors import InputFileError

#: the package that holds the shipped data folder
_PACKAGE = "station.calibration"


def shipped_dir(folder: str):
    """The shipped ``data/<folder>`` as an :mod:`importlib.resources` traversable."""
    return resources.files(_PACKAGE).joinpath("data", folder)


def user_dirs(folder: str) -> list[Path]:
    """Folders whose TOML files add to (or replace by name) the shipped ones, most important first."""
    dirs = []
    env = os.environ.get("STATION_CALIBRATION_DIR")
    if env:
        dirs.append(Path(env) / folder)
    from station.paths import data_dir

    dirs.append(data_dir() / "calibration" / folder)
    return dirs


def calibration_data_dir() -> Path:
    """The shipped data folder as a path (``station/calibration/data``), or ``$STATION_CALIBRATION_DIR``."""
    env = os.environ.get("STATION_CALIBRATION_DIR")
    if env:
        return Path(env)
    return Path(str(resources.files(_PACKAGE).joinpath("data")))


def _candidates(folder: str) -> dict[str, object]:
    """name -> file (Path or traversable); earlier folders win."""
    found: dict[str, object] = {}
    for d in user_dirs(folder):
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                found.setdefault(p.stem, p)
    shipped = shipped_dir(folder)
    if shipped.is_dir():
        for p in sorted(shipped.iterdir(), key=lambda q: q.name):
            if p.name.endswith(".toml"):
                found.setdefault(p.name[:-5], p)
    return found


def available(folder: str) -> list[str]:
    """Names of the TOML files known in ``<folder>`` (shipped and user-added)."""
    return sorted(_candidates(folder))


def read_toml(name_or_path, *, folder: str, what: str) -> tuple[Path, dict]:
    """Find ``name_or_path`` (a known name or a file path) and parse it.

    ``what`` names the kind of file in messages ("board geometry", "calibration procedure").

    Raises
    ------
    InputFileError
        Unknown name, missing file, or invalid TOML.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix == ".toml" or os.sep in text or path.exists()):
        found = _candidates(folder).get(text)
        if found is None:
            known = ", ".join(available(folder)) or "none found"
            raise InputFileError(f"Unknown {what} '{text}' (known: {known}).")
        try:
            return Path(str(found)), tomllib.loads(found.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputFileError(f"{what.capitalize()} file {found} is not valid TOML: {exc}.") from None
    try:
        with open(path, "rb") as fh:
            return path, tomllib.load(fh)
    except FileNotFoundError:
        raise InputFileError(f"{what.capitalize()} file {path} does not exist.") from None
    except IsADirectoryError:
        raise InputFileError(f"{what.capitalize()} file {path} is a directory.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{what.capitalize()} file {path} is not valid TOML: {exc}.") from None
