"""Wii Balance Board recorder files: tab-separated corner forces, one :class:`~station.readers.Recording`.

Layout (docs/METRICS.md §11.11): one header line
``Time CpX CpY BottomLeft BottomRight TopLeft TopRight Weight RAWBottomLeft RAWBottomRight RAWTopLeft RAWTopRight``
(tab separated), then one sample per line at about 40 Hz with jitter: the recorder's COP ``CpX``/``CpY``
(cm), the four corner forces (N), their sum ``Weight`` and the board's raw sensor values.

The station uses the corner forces with the board's geometry (:data:`SENSOR_SPACING_MM`, sensor
spacing 433 mm ML × 238 mm AP): ``TopLeft``/``TopRight`` are the front cells (the recorder's +CpY),
``BottomLeft``/``BottomRight`` the back cells, so the COP goes through the station's one load gate like
any corner-force table. The recorder's own CpX/CpY are kept as ``quality["recorder_cop_check_mm"]``:
the largest difference between them and the station's COP.

The time column's unit is not written in the file. It is recognised from the sample interval: seconds
(about 0.025 s between samples), milliseconds (about 25) or .NET ticks of 100 ns (about 250 000), or a
clock time ``HH:MM:SS.fff``; anything else is refused rather than guessed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from station.errors import InputFileError
from station.readers import MAX_ABS_FORCE_N, MAX_SAMPLES, Recording
from station.readers.tables import finite_number, read_lines, timing_quality

log = logging.getLogger(__name__)

HEADER = ("Time", "CpX", "CpY", "BottomLeft", "BottomRight", "TopLeft", "TopRight", "Weight",
          "RAWBottomLeft", "RAWBottomRight", "RAWTopLeft", "RAWTopRight")
#: sensor spacing of the Wii Balance Board (mm): medio-lateral, antero-posterior
SENSOR_SPACING_MM = (433.0, 238.0)
#: the station's corner order fl, fr, bl, br in the recorder's names
CORNERS = ("TopLeft", "TopRight", "BottomLeft", "BottomRight")
#: (unit, seconds per unit, plausible median sample interval in that unit)
TIME_UNITS = (("s", 1.0, (0.002, 0.5)), ("ms", 1e-3, (2.0, 500.0)), ("100 ns ticks", 1e-7, (5e4, 5e6)))


def looks_like(head: str) -> bool:
    """True when the text ``head`` of a file starts with the recorder's tab-separated header."""
    first = next((line for line in head.splitlines() if line.strip()), "")
    names = [c.strip() for c in first.split("\t")]
    return names[:3] == ["Time", "CpX", "CpY"]


def positions_mm() -> np.ndarray:
    """Cell positions fl, fr, bl, br (mm) of the Wii Balance Board, origin at the sensors' centre."""
    from station.core.recording import rectangle_positions_mm

    return rectangle_positions_mm(*SENSOR_SPACING_MM)


def _clock_s(text: str) -> float | None:
    parts = text.split(":")
    if len(parts) != 3:
        return None
    try:
        h, m, s = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    return 3600.0 * h + 60.0 * m + s


def read_wii_recorder(path: Path) -> Recording:
    """Read a Wii Balance Board recorder file.

    Returns
    -------
    Recording
        Corner forces ``forces_n`` (fl, fr, bl, br in N) with the board's cell positions, times in
        seconds from the first sample; ``quality["time_unit"]`` says how the time column was read.

    Raises
    ------
    InputFileError
        A malformed file: one line naming it, the line number and the problem.
    """
    lines = read_lines(Path(path), kind="a Wii Balance Board recorder file")
    path = Path(path)
    header_k = next((k for k, line in enumerate(lines) if line.strip()), None)
    if header_k is None:
        raise InputFileError(f"{path} is empty.")
    names = [c.strip() for c in lines[header_k].split("\t")]
    missing = [n for n in HEADER[:8] if n not in names]
    if missing:
        raise InputFileError(f"{path} line {header_k + 1}: the recorder header lacks {', '.join(missing)}.")
    cols = {n: names.index(n) for n in HEADER[:8]}
    times, values, numbers = [], [], []
    clock = None
    for k in range(header_k + 1, len(lines)):
        line = lines[k]
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < len(names):
            raise InputFileError(f"{path} line {k + 1}: {len(cells)} values, but the header has {len(names)} columns.")
        if len(values) >= MAX_SAMPLES:
            raise InputFileError(f"{path} has more than {MAX_SAMPLES} samples; split the recording.")
        raw_t = cells[cols["Time"]].strip()
        if clock is None:
            clock = ":" in raw_t
        t = _clock_s(raw_t) if clock else (int(raw_t) if raw_t.isdigit() else finite_number(raw_t))
        if t is None:
            raise InputFileError(f"{path} line {k + 1}: the time {raw_t[:40]!r} is not a number"
                                 f"{' or a clock time HH:MM:SS.fff' if not clock else ' in the HH:MM:SS.fff form of the first sample'}.")
        row = []
        for name in HEADER[1:8]:
            v = finite_number(cells[cols[name]])
            if v is None:
                raise InputFileError(f"{path} line {k + 1}: {cells[cols[name]].strip()[:40]!r} in column {name} is not a number.")
            if name not in ("CpX", "CpY") and abs(v) > MAX_ABS_FORCE_N:
                raise InputFileError(f"{path} line {k + 1}: {name} is {v:g}, beyond ±{MAX_ABS_FORCE_N:g} N (1 MN).")
            row.append(v)
        times.append(t)
        values.append(row)
        numbers.append(k + 1)
    if len(times) < 2:
        raise InputFileError(f"{path} has fewer than 2 samples.")
    # integer stamps (ticks since year 1 are ~6e17) lose digits as floats: subtract the first one exactly
    t = np.asarray([v - times[0] for v in times], dtype=np.float64)
    if clock:
        t = np.where(t < 0, t + 86400.0, t)  # a recording across midnight
        unit = "clock time"
    else:
        unit, scale = _time_unit(path, t, numbers)
        t = t * scale
    t = t - t[0]
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputFileError(f"{path} line {numbers[i]}: time goes backwards (or repeats) after line {numbers[i - 1]}.")
    v = np.asarray(values, dtype=np.float64)
    named = dict(zip(HEADER[1:8], v.T))
    forces = np.column_stack([named[c] for c in CORNERS])
    rec = Recording(input=str(path), kind="Wii Balance Board recorder", t_s=t, forces_n=forces, quality=timing_quality(t))
    rec.quality["positions_mm"] = positions_mm().tolist()
    rec.quality["time_unit"] = unit
    rec.quality["recorder_cop_check_mm"] = _cop_check(forces, named["CpX"] * 10.0, named["CpY"] * 10.0)
    return rec


def _time_unit(path: Path, t: np.ndarray, numbers: list) -> tuple[str, float]:
    """The unit of a numeric time column from its median sample interval."""
    dt = float(np.median(np.diff(t)))
    for unit, scale, (lo, hi) in TIME_UNITS:
        if lo <= dt <= hi:
            return unit, scale
    raise InputFileError(f"{path} line {numbers[1]}: cannot tell the unit of the Time column: the median interval between "
                         f"samples is {dt:g}, neither seconds (~0.025), milliseconds (~25) nor 100 ns ticks (~250000).")


def _cop_check(forces: np.ndarray, cpx_mm: np.ndarray, cpy_mm: np.ndarray) -> float | None:
    """Largest |station COP − recorder COP| (mm) over the loaded samples (None when nobody stood on it)."""
    from station.core.cop import cop_from_forces

    ml, ap, total = cop_from_forces(forces, positions_mm(), threshold_n=100.0)
    ok = np.isfinite(ml) & np.isfinite(ap)
    if not ok.any():
        return None
    return float(np.max(np.hypot(ml[ok] - cpx_mm[ok], ap[ok] - cpy_mm[ok])))
