"""The ``calibration/`` data folder: board geometries (``boards/``) and procedures (``protocols/``).

Both are TOML files named by what they describe; a command-line argument may give either such a
name (``reference-400x300``, ``quick``) or a path to a file of one's own.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from station.errors import InputFileError


def calibration_data_dir() -> Path:
    """The project's ``calibration/`` data folder.

    ``$STATION_CALIBRATION_DIR`` overrides it; otherwise it is the ``calibration/`` folder next to
    the ``station`` package (the repository root in a source checkout or editable install).
    """
    env = os.environ.get("STATION_CALIBRATION_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "calibration"


def available(folder: str) -> list[str]:
    """Names of the TOML files in ``calibration/<folder>``."""
    return sorted(p.stem for p in (calibration_data_dir() / folder).glob("*.toml"))


def read_toml(name_or_path, *, folder: str, what: str) -> tuple[Path, dict]:
    """Find ``name_or_path`` (a name in ``calibration/<folder>`` or a file path) and parse it.

    ``what`` names the kind of file in messages ("board geometry", "calibration procedure").

    Raises
    ------
    InputFileError
        Unknown name, missing file, or invalid TOML.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix == ".toml" or os.sep in text or path.exists()):
        path = calibration_data_dir() / folder / f"{text}.toml"
        if not path.exists():
            known = ", ".join(available(folder)) or "none found"
            raise InputFileError(f"Unknown {what} '{text}' (known: {known}).")
    try:
        with open(path, "rb") as fh:
            return path, tomllib.load(fh)
    except FileNotFoundError:
        raise InputFileError(f"{what.capitalize()} file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{what.capitalize()} file {path} is not valid TOML: {exc}.") from None
