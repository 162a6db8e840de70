"""Trial files: raw frames + times + quality + metadata in one self-describing, versioned file.

Format ``balance-station-trial`` version 1 is a ZIP archive (stored, not compressed, so it can be
inspected with any zip tool) holding:

- ``header.json``: ``{"format": "balance-station-trial", "version": 1, "n_frames": n,
  "board": {...BoardInfo.to_dict()...}, "source": {"kind", "name", "geometry", "value_unit",
  "nominal_rate_hz"}, "quality": {...}, "gaps": [[t_start_s, t_end_s], ...],
  "calibration": {...} | null, "meta": {...}, "events": [...], "time_base": ...}``
- ``frames.npy``: the raw data frames, :data:`~station.board.protocol.FRAME_DTYPE` (seq, t_us,
  counts[4], status, missed) exactly as received;
- ``device_time_s.npy``: float64 (n,), the board's clock unwrapped across u32 wraps, reboots and
  reconnects, in seconds from the first frame of the trial (so ``device_time_s[0] == 0``);
- ``host_time_s.npy``: float64 (n,), each frame's device time mapped to the host's clock by the
  running linear fit, as Unix time in seconds.

``source`` names where the samples came from (:class:`~station.board.source.SourceInfo`): the kind
of board (``arduino-hx711``, ``virtual-arduino``, ``wii-balance-board``, ``virtual-wii``), its geometry
and what the per-corner values are (``adc_counts`` or ``wii_10g``). A file written before sources
were recorded has no ``source``; it reads as :data:`LEGACY_SOURCE` (the station's HX711 board).

Gaps are in the ``device_time_s`` time base. Readers accept any version 1 file and ignore header
keys they do not know (a newer writer may add some); a different major format version is refused.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from station.board.protocol import FRAME_DTYPE
from station.errors import InputFileError
from station.jsonsafe import dumps

log = logging.getLogger(__name__)

FORMAT_NAME = "balance-station-trial"
FORMAT_VERSION = 1
TRIAL_SUFFIX = ".trial"
#: largest trial file read (a day at 1 kHz is ~2.5 GB of frames; a clinic trial is a few MB)
MAX_TRIAL_BYTES = 1024 * 1024 * 1024
#: largest header.json unpacked (a header is a few kB; events and a calibration stay far below this)
MAX_HEADER_BYTES = 64 * 1024 * 1024
#: what a trial file without a ``source`` came from: the station's own HX711 board, raw ADC counts
LEGACY_SOURCE = {"kind": "arduino-hx711", "geometry": "reference-400x300", "value_unit": "adc_counts"}


def legacy_source() -> dict:
    """A fresh copy of :data:`LEGACY_SOURCE`."""
    return dict(LEGACY_SOURCE)


@dataclass
class TrialFile:
    """A recorded trial: raw frames with their times, link quality and metadata.

    Attributes
    ----------
    frames : FRAME_DTYPE array (n,)
    device_time_s : float64 (n,)
        Unwrapped board time, seconds from the first frame.
    host_time_s : float64 (n,)
        Host (Unix) time of each frame from the device-to-host clock fit.
    board : dict
        ``BoardInfo.to_dict()`` of the board that recorded it.
    source : dict
        ``SourceInfo.to_dict()``: kind, name, geometry, value_unit, nominal_rate_hz.
    quality : dict
        ``frames, lost, crc_errors, resyncs, skipped_bytes, gaps, missed_conversions,
        effective_rate_hz, jitter_ms, saturated_frames, timeout_frames, reboots, duration_s``.
    gaps : list of [t_start_s, t_end_s]
        Disconnects and reboots, in the ``device_time_s`` time base.
    calibration : dict or None
        ``Calibration.to_dict()`` stored with the trial, if one was given.
    meta : dict
        Free metadata (patient, side, task, port, started_utc, ...).
    events : list of dict
        Timed events (``{"t_s": ..., "kind": ...}``), in the ``device_time_s`` time base.
    """

    frames: np.ndarray
    device_time_s: np.ndarray
    host_time_s: np.ndarray
    board: dict = field(default_factory=dict)
    source: dict = field(default_factory=legacy_source)
    quality: dict = field(default_factory=dict)
    gaps: list = field(default_factory=list)
    calibration: dict | None = None
    meta: dict = field(default_factory=dict)
    events: list = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def counts(self) -> np.ndarray:
        """Raw counts, int32 (n, 4), channels fl, fr, bl, br."""
        return self.frames["counts"]

    @property
    def nominal_rate_hz(self) -> float | None:
        rate = self.board.get("nominal_rate_hz")
        return float(rate) if rate else None

    @property
    def source_kind(self) -> str:
        return str(self.source.get("kind") or LEGACY_SOURCE["kind"])

    @property
    def value_unit(self) -> str:
        """What the per-corner values are: ``"adc_counts"`` (HX711) or ``"wii_10g"`` (Wii driver, 10 g units)."""
        return str(self.source.get("value_unit") or LEGACY_SOURCE["value_unit"])

    @property
    def geometry(self) -> str:
        """The board geometry name the samples were taken with."""
        return str(self.source.get("geometry") or LEGACY_SOURCE["geometry"])

    @property
    def duration_s(self) -> float:
        return float(self.device_time_s[-1] - self.device_time_s[0]) if self.n_frames > 1 else 0.0


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def write_trial(path, trial: TrialFile, *, force: bool = True) -> Path:
    """Write ``trial`` to ``path`` privately (0600) and atomically (:mod:`station.privatefiles`); return the path.

    With ``force=False`` an existing file at ``path`` is never replaced (``OutputExistsError``).
    """
    from station.privatefiles import private_temp_path

    path = Path(path)
    n = len(trial.frames)
    if len(trial.device_time_s) != n or len(trial.host_time_s) != n:
        raise ValueError("frames, device_time_s and host_time_s must have the same length")
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "n_frames": n,
        "time_base": "device_time_s: unwrapped board clock, s from the first frame; host_time_s: Unix s",
        "board": trial.board,
        "source": trial.source,
        "quality": trial.quality,
        "gaps": [[float(a), float(b)] for a, b in trial.gaps],
        "calibration": trial.calibration,
        "meta": trial.meta,
        "events": trial.events,
    }
    with private_temp_path(path, force=force) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("header.json", dumps(header, indent=1))
            zf.writestr("frames.npy", _npy_bytes(np.ascontiguousarray(trial.frames, dtype=FRAME_DTYPE)))
            zf.writestr("device_time_s.npy", _npy_bytes(np.asarray(trial.device_time_s, dtype=np.float64)))
            zf.writestr("host_time_s.npy", _npy_bytes(np.asarray(trial.host_time_s, dtype=np.float64)))
    log.info("wrote %s (%d frames)", path, n)
    return path


def _check_entry_size(path: Path, zf: zipfile.ZipFile, name: str, *, limit: int) -> None:
    """Refuse an archive member that would unpack to more than ``limit`` bytes (a zip bomb)."""
    size = zf.getinfo(name).file_size
    if size > limit:
        raise InputFileError(f"{path} is damaged: {name} would unpack to {size / 2**20:.0f} MiB.")


def read_trial(path) -> TrialFile:
    """Read a trial file.

    Raises
    ------
    InputFileError
        The file is missing, is not a trial file, is damaged, or has an unknown format version.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"trial file {path} does not exist.")
    if path.is_dir():
        raise InputFileError(f"{path} is a directory, not a trial file.")
    if path.stat().st_size > MAX_TRIAL_BYTES:
        raise InputFileError(f"{path} is larger than {MAX_TRIAL_BYTES // 2**20} MiB; a trial file is not that large.")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputFileError(f"{path} is not a Balance Station trial file (not a trial archive: {exc}).") from None
    with zf:
        names = set(zf.namelist())
        if "header.json" not in names:
            raise InputFileError(f"{path} is not a Balance Station trial file (no header.json inside).")
        try:
            _check_entry_size(path, zf, "header.json", limit=MAX_HEADER_BYTES)
            header = json.loads(zf.read("header.json"))
        except (ValueError, zipfile.BadZipFile, OSError, RecursionError, NotImplementedError, RuntimeError, EOFError) as exc:
            raise InputFileError(f"{path} has a damaged header ({exc}).") from None
        if not isinstance(header, dict):
            raise InputFileError(f"{path} has a damaged header: it is a JSON {type(header).__name__}, not an object.")
        if header.get("format") != FORMAT_NAME:
            raise InputFileError(f"{path} is not a Balance Station trial file (format is {str(header.get('format'))[:60]!r}).")
        version = header.get("version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise InputFileError(
                f"{path} is a trial file of format version {version}; this station reads version {FORMAT_VERSION}."
            )
        arrays = {}
        for name in ("frames", "device_time_s", "host_time_s"):
            if f"{name}.npy" not in names:
                raise InputFileError(f"{path} is damaged: {name}.npy is missing.")
            try:
                _check_entry_size(path, zf, f"{name}.npy", limit=MAX_TRIAL_BYTES)
                arrays[name] = np.load(io.BytesIO(zf.read(f"{name}.npy")), allow_pickle=False)
            except (ValueError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                raise InputFileError(f"{path} is damaged: {name}.npy cannot be read ({exc}).") from None
    frames = arrays["frames"]
    if frames.dtype != FRAME_DTYPE:
        raise InputFileError(f"{path} is damaged: frames have dtype {frames.dtype}, expected the protocol's frame layout.")
    if frames.ndim != 1:
        raise InputFileError(f"{path} is damaged: frames have shape {frames.shape}, expected one row per frame.")
    n = len(frames)
    counts = frames["counts"]
    outside = np.flatnonzero(np.any((counts < -(1 << 23)) | (counts >= (1 << 23)), axis=1)) if n else ()
    if len(outside):  # a 24-bit ADC cannot give them; the decoder rejects such frames live (FrameSanity)
        raise InputFileError(f"{path} is damaged: frame {outside[0]} has counts outside the 24-bit ADC range (±2^23).")
    for name in ("device_time_s", "host_time_s"):
        a = arrays[name]
        if a.ndim != 1 or a.dtype.kind not in "fiu":
            raise InputFileError(f"{path} is damaged: {name} has shape {a.shape} and dtype {a.dtype}, expected {n} numbers.")
    if len(arrays["device_time_s"]) != n or len(arrays["host_time_s"]) != n:
        raise InputFileError(f"{path} is damaged: {n} frames but time arrays of a different length.")
    t = arrays["device_time_s"].astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputFileError(f"{path} is damaged: device time of frame {bad[0]} is not a finite number.")
    if n > 1:
        back = np.flatnonzero(np.diff(t) < 0)
        if back.size:
            raise InputFileError(f"{path} is damaged: device time goes backwards at frame {back[0] + 1}.")
        if t[-1] == t[0]:
            raise InputFileError(f"{path} is damaged: device time does not advance ({n} frames at {t[0]:g} s).")
        if t[-1] - t[0] > 7 * 24 * 3600:
            raise InputFileError(f"{path} is damaged: its device time spans {t[-1] - t[0]:.3g} s (more than a week).")
    fields = _header_fields(path, header, n_frames=n)
    return TrialFile(
        frames=frames,
        device_time_s=t,
        host_time_s=arrays["host_time_s"].astype(np.float64, copy=False),
        **fields,
    )


#: header key -> (expected type(s), description) for :func:`_header_fields`
_HEADER_TYPES = {
    "board": (dict, "an object"),
    "source": (dict, "an object"),
    "quality": (dict, "an object"),
    "gaps": (list, "a list"),
    "calibration": ((dict, type(None)), "an object or null"),
    "meta": (dict, "an object"),
    "events": (list, "a list"),
}


#: quality figures the analysis reads as numbers (``None`` allowed: unknown)
_QUALITY_NUMBERS = ("frames", "lost", "lost_in_gaps", "crc_errors", "resyncs", "skipped_bytes", "implausible_frames",
                    "gaps", "gap_s", "reboots", "missed_conversions", "saturated_frames", "timeout_frames",
                    "effective_rate_hz", "jitter_ms", "duration_s")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _header_fields(path: Path, header: dict, *, n_frames: int | None = None) -> dict:
    """Type-checked header fields (a damaged or hand-edited header gets one clear line)."""
    damaged = f"{path} has a damaged header"
    declared = header.get("n_frames")
    if declared is not None and not (isinstance(declared, int) and not isinstance(declared, bool)):
        raise InputFileError(f"{damaged}: n_frames must be a whole number, not {type(declared).__name__}.")
    if declared is not None and n_frames is not None and declared != n_frames:
        raise InputFileError(f"{damaged}: it announces {declared} frames, frames.npy holds {n_frames}.")
    out = {}
    for key, (types, what) in _HEADER_TYPES.items():
        value = header.get(key)
        if value is None and key != "calibration":
            value = [] if types is list else {}
        if not isinstance(value, types):
            raise InputFileError(f"{path} has a damaged header: {key!r} must be {what}, not {type(value).__name__}.")
        out[key] = value
    out["source"] = {**LEGACY_SOURCE, **out["source"]}  # (a file without one came from the HX711 board)
    for key in ("kind", "geometry", "value_unit"):
        if not isinstance(out["source"][key], str):
            raise InputFileError(f"{damaged}: source.{key} must be a text, not {type(out['source'][key]).__name__}.")
    gaps = []
    for g in out["gaps"]:
        if not (isinstance(g, (list, tuple)) and len(g) == 2 and all(_is_number(v) and math.isfinite(v) for v in g)
                and g[0] <= g[1]):
            raise InputFileError(f"{damaged}: each gap must be [t_start_s, t_end_s] (finite, start <= end), got {str(g)[:60]}.")
        gaps.append([float(g[0]), float(g[1])])
    out["gaps"] = gaps
    for e in out["events"]:
        if not (isinstance(e, dict) and _is_number(e.get("t_s")) and math.isfinite(e["t_s"]) and isinstance(e.get("kind"), str)):
            raise InputFileError(f"{damaged}: each event must be an object with a finite t_s and a kind, got {str(e)[:60]}.")
    for key in _QUALITY_NUMBERS:
        value = out["quality"].get(key)
        if value is not None and not _is_number(value):
            raise InputFileError(f"{damaged}: quality.{key} must be a number, got {str(value)[:40]!r}.")
    analysis = out["meta"].get("analysis")
    if analysis is not None and not isinstance(analysis, dict):
        raise InputFileError(f"{damaged}: meta.analysis must be an object, not {type(analysis).__name__}.")
    for where, d in (("meta", out["meta"]), ("meta.analysis", analysis or {})):
        mass = d.get("body_mass_kg")
        if mass is not None and not (_is_number(mass) and math.isfinite(mass) and mass > 0):
            raise InputFileError(f"{damaged}: {where}.body_mass_kg must be a positive number of kg, got {str(mass)[:40]!r}.")
    protocol = (analysis or {}).get("protocol")
    if protocol is not None and not isinstance(protocol, dict):
        raise InputFileError(f"{damaged}: meta.analysis.protocol must be an object, not {type(protocol).__name__}.")
    rate = out["board"].get("nominal_rate_hz")
    if rate is not None and not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate < 1e6):
        raise InputFileError(f"{path} has a damaged header: board.nominal_rate_hz must be a positive number, got {str(rate)[:40]}.")
    return out

