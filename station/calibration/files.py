"""Calibration files: versioned JSON, keyed by board id, with date, operator, masses and residuals.

Format (JSON, one object; ``format`` is bumped on incompatible changes)::

    {"format": 1, "kind": "balance-station-calibration",
     "board_id": "5B000001", "version": 3, "created": "2026-11-25T18:30:00+00:00",
     "operator": "jd", "validity_days": 180, "protocol": "standard",
     "geometry": {"name": ..., "sensors_mm": {"fl": [x, y], ...}},
     "offsets_counts": [4 floats], "noise_counts": [4 floats],
     "gains_n_per_count": [4 floats] | [[4 x 4 floats]],
     "cop_correction": null | {"kind": "affine"|"bilinear", "ml": [...], "ap": [...]},
     "masses": [{"mass_kg":, "x_mm":, "y_mm":}, ...], "residuals": {...}, "verification": {...} | null,
     "drift": {...} | null, "creep": {...} | null}

The station keeps the *active* calibration of each board in
``$STATION_DATA_DIR/calibrations/<board_id>.json`` (folder 0700, file 0600); ``version`` counts the
calibrations saved there for that board.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from station.calibration.geometry import BoardGeometry, load_geometry
from station.errors import CalibrationError, InputFileError
from station.paths import data_dir, ensure_private_dir
from station.privatefiles import write_private

logger = logging.getLogger(__name__)

FILE_FORMAT = 1
FILE_KIND = "balance-station-calibration"
DEFAULT_VALIDITY_DAYS = 180


def normalize_board_id(board_id) -> str:
    """Board id as the 8-digit upper-case hex string used in file names (``0x5B000001`` -> ``"5B000001"``)."""
    if isinstance(board_id, (int, np.integer)):
        value = int(board_id)
    else:
        text = str(board_id).strip()
        try:
            value = int(text[2:] if text.lower().startswith("0x") else text, 16)
        except ValueError:
            raise CalibrationError(f"'{board_id}' is not a board id (expected 8 hex digits, e.g. 5B000001).") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise CalibrationError(f"Board id {board_id} does not fit in 32 bits.")
    return f"{value:08X}"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Calibration:
    """One board's calibration: counts -> per-cell forces (N), with its provenance.

    ``forces_n(counts) = (counts - offsets_counts) * gains_n_per_count`` for per-cell gains, or
    ``(counts - offsets_counts) @ gains_n_per_count.T`` for a 4 x 4 matrix (crosstalk).
    """

    board_id: str
    geometry: BoardGeometry
    offsets_counts: np.ndarray
    gains_n_per_count: np.ndarray
    created: str = field(default_factory=lambda: _utc_now().isoformat(timespec="seconds"))
    operator: str = ""
    masses: list = field(default_factory=list)
    residuals: dict = field(default_factory=dict)
    validity_days: float = DEFAULT_VALIDITY_DAYS
    version: int = 1
    noise_counts: np.ndarray | None = None
    cop_correction: dict | None = None
    protocol: str = ""
    verification: dict | None = None
    drift: dict | None = None
    creep: dict | None = None

    def __post_init__(self):
        self.board_id = normalize_board_id(self.board_id)
        self.geometry = load_geometry(self.geometry) if not isinstance(self.geometry, BoardGeometry) else self.geometry
        self.offsets_counts = np.asarray(self.offsets_counts, dtype=np.float64).reshape(4)
        gains = np.asarray(self.gains_n_per_count, dtype=np.float64)
        if gains.shape not in ((4,), (4, 4)) or not np.all(np.isfinite(gains)):
            raise CalibrationError("Calibration gains must be 4 finite per-cell gains or a finite 4 x 4 matrix.")
        self.gains_n_per_count = gains
        if not np.all(np.isfinite(self.offsets_counts)):
            raise CalibrationError("Calibration offsets must be 4 finite numbers (counts).")
        try:
            self.created_datetime  # noqa: B018 - staleness checks parse it later; refuse a bad one now
        except (TypeError, ValueError):
            raise CalibrationError(f"Calibration 'created' must be an ISO date and time, got {str(self.created)[:40]!r}.") from None
        if self.noise_counts is not None:
            self.noise_counts = np.asarray(self.noise_counts, dtype=np.float64).reshape(4)

    # -- applying it -------------------------------------------------------------------------
    def forces_n(self, counts) -> np.ndarray:
        """Per-cell vertical forces (N), shape (n, 4), from raw counts, shape (n, 4)."""
        from station.core.forces import counts_to_forces  # numba loads on first use, not on import

        return counts_to_forces(np.atleast_2d(counts), self.offsets_counts, self.gains_n_per_count)

    def cop_mm(self, counts, *, threshold_n: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """COP (ML, AP) in mm, corrected when the calibration carries a COP correction, and total force.

        Returns ``(cop_ml_mm, cop_ap_mm, total_n)``; COP is NaN where ``total_n < threshold_n``. The
        core's :class:`~station.core.forces.CountsModel` does it: one counts -> COP path for every caller.
        """
        from station.core.forces import CountsModel

        return CountsModel.of(self).cop_mm(counts, threshold_n=threshold_n)

    def retared(self, empty_counts) -> "Calibration":
        """A copy zeroed on a new empty-board window (the per-session tare); gains unchanged.

        Parameters
        ----------
        empty_counts : array (n, 4)
            Raw counts with nobody on the board (a second or two is plenty).
        """
        from station.calibration.fit import tare

        zero = tare(empty_counts)
        return dataclasses.replace(
            self, offsets_counts=zero.offsets_counts, noise_counts=zero.noise_counts,
            residuals=dict(self.residuals), masses=list(self.masses),
        )

    # -- validity ----------------------------------------------------------------------------
    @property
    def created_datetime(self) -> dt.datetime:
        when = dt.datetime.fromisoformat(self.created)
        return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)

    def age_days(self, *, now: dt.datetime | None = None) -> float:
        now = now or _utc_now()
        return (now - self.created_datetime).total_seconds() / 86400.0

    def is_stale(self, *, now: dt.datetime | None = None) -> bool:
        """True when the calibration is older than its ``validity_days``."""
        return self.age_days(now=now) > self.validity_days

    def summary(self) -> str:
        """One line for logs, reports and the dashboard."""
        return (
            f"board {self.board_id}, calibration v{self.version} of {self.created[:10]}"
            f" by {self.operator or 'unknown operator'}"
            f" ({self.age_days():.0f} of {self.validity_days:g} valid days used)"
        )

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict:
        def arr(a):
            return None if a is None else np.asarray(a, dtype=np.float64).tolist()

        return {
            "format": FILE_FORMAT,
            "kind": FILE_KIND,
            "board_id": self.board_id,
            "version": int(self.version),
            "created": self.created,
            "operator": self.operator,
            "validity_days": float(self.validity_days),
            "protocol": self.protocol,
            "geometry": self.geometry.to_dict(),
            "offsets_counts": arr(self.offsets_counts),
            "noise_counts": arr(self.noise_counts),
            "gains_n_per_count": arr(self.gains_n_per_count),
            "cop_correction": self.cop_correction,
            "masses": list(self.masses),
            "residuals": dict(self.residuals),
            "verification": self.verification,
            "drift": self.drift,
            "creep": self.creep,
        }

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "calibration") -> "Calibration":
        if not isinstance(d, dict) or d.get("kind", FILE_KIND) != FILE_KIND:
            raise CalibrationError(f"{source} is not a Balance Station calibration file.")
        fmt = d.get("format", FILE_FORMAT)
        if not isinstance(fmt, int) or fmt > FILE_FORMAT:
            raise CalibrationError(
                f"{source} has calibration format {fmt}; this station reads format {FILE_FORMAT} or older. Update the station."
            )
        try:
            return cls(
                board_id=d["board_id"],
                geometry=BoardGeometry.from_dict(d["geometry"], source=source),
                offsets_counts=d["offsets_counts"],
                gains_n_per_count=d["gains_n_per_count"],
                created=str(d["created"]),
                operator=str(d.get("operator", "")),
                masses=list(d.get("masses") or []),
                residuals=dict(d.get("residuals") or {}),
                validity_days=float(d.get("validity_days", DEFAULT_VALIDITY_DAYS)),
                version=int(d.get("version", 1)),
                noise_counts=d.get("noise_counts"),
                cop_correction=d.get("cop_correction"),
                protocol=str(d.get("protocol", "")),
                verification=d.get("verification"),
                drift=d.get("drift"),
                creep=d.get("creep"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{source} is missing or has a malformed field ({exc!s}).") from None


# -- files -------------------------------------------------------------------------------------
def calibrations_dir() -> Path:
    """``<data dir>/calibrations``: one active calibration per board, private to the user."""
    return data_dir() / "calibrations"


def active_calibration_path(board_id) -> Path:
    return calibrations_dir() / f"{normalize_board_id(board_id)}.json"


#: the id an unprogrammed board reports (erased EEPROM reads 0xFF)
UNSET_BOARD_ID = "FFFFFFFF"


def refuse_unset_board_id(board_id) -> None:
    """Raise :class:`CalibrationError` (saying how to set an id) for the unset board id FFFFFFFF.

    ``save_calibration`` calls it; a calibration procedure can call it first, before any mass is placed.
    """
    if normalize_board_id(board_id) == UNSET_BOARD_ID:
        raise CalibrationError(
            "this board has no id yet (it reports FFFFFFFF, an erased EEPROM), so a calibration stored for it "
            "would fit every new board: give it one with `station board set-id HEX --port DEV` "
            "(8 hex digits, unique per board), then calibrate again."
        )


def save_calibration(calibration: Calibration, path: str | os.PathLike | None = None, *, force: bool = True) -> Path:
    """Write a calibration as JSON. Without ``path`` it becomes the board's active calibration.

    Saving as active numbers it: ``version`` = previous active version + 1. The previous active file
    is kept beside it as ``<board_id>.v<N>.json``. Files are written 0600 with an atomic, private write
    (:mod:`station.privatefiles`); an explicit ``path`` that exists is replaced only with ``force``.

    Raises
    ------
    CalibrationError
        The board has no id (FFFFFFFF): the message says how to set one.
    OutputExistsError
        ``path`` exists and ``force`` is False.
    """
    refuse_unset_board_id(calibration.board_id)
    if path is None:
        force = True  # the active file is replaced on purpose (the previous one is kept as .v<N>)
        target = active_calibration_path(calibration.board_id)
        ensure_private_dir(target.parent)
        if target.exists():
            try:
                previous = load_calibration(target, board_id=calibration.board_id, check_stale=False)
            except CalibrationError:
                previous = None
            if previous is not None:
                calibration.version = max(calibration.version, previous.version + 1)
                os.replace(target, target.with_name(f"{calibration.board_id}.v{previous.version}.json"))
    else:
        target = Path(path)
    write_private(target, json.dumps(calibration.to_dict(), indent=2) + "\n", force=force)
    logger.info("saved calibration v%d of board %s to %s", calibration.version, calibration.board_id, target)
    return target


def load_calibration(path: str | os.PathLike, *, board_id=None, check_stale: bool = True) -> Calibration:
    """Read a calibration file; refuse it if it belongs to another board; warn when stale.

    Parameters
    ----------
    path : path-like
        A calibration JSON file.
    board_id : int or str, optional
        The board it is meant for (``0x5B000001`` or ``"5B000001"``).
    check_stale : bool
        Log a warning when the calibration is past its validity.

    Raises
    ------
    InputFileError
        The file is missing or not JSON.
    CalibrationError
        The file is not a calibration, or belongs to another board.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(f"Calibration file {path} does not exist.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"Calibration file {path} is not valid JSON ({exc}).") from None
    except RecursionError:
        raise InputFileError(f"Calibration file {path} is not a calibration (JSON nested too deeply).") from None
    except OSError as exc:
        raise InputFileError(f"Calibration file {path} cannot be read: {exc.strerror or exc}.") from None
    cal = Calibration.from_dict(data, source=f"calibration file {path}")
    if board_id is not None:
        wanted = normalize_board_id(board_id)
        if cal.board_id != wanted:
            raise CalibrationError(
                f"calibration file {path} belongs to board {cal.board_id}, this board is {wanted}."
            )
    if check_stale and cal.is_stale():
        logger.warning(
            "calibration file %s of board %s is %.0f days old (valid for %g days): recalibrate the board.",
            path, cal.board_id, cal.age_days(), cal.validity_days,
        )
    return cal


def active_calibration(board_id) -> Calibration | None:
    """The board's active calibration from ``$STATION_DATA_DIR/calibrations``, or ``None`` if it has none."""
    path = active_calibration_path(board_id)
    if not path.exists():
        logger.info("board %s has no active calibration (%s)", normalize_board_id(board_id), path)
        return None
    return load_calibration(path, board_id=board_id)
