"""KINVENT Physio CSV exports (K-Force plates): one :class:`~station.readers.Recording` per trial block.

An export holds one block per trial, one after the other (docs/METRICS.md §11.10):

- a metadata block, one ``key,value`` per line: the app and device serials (first line, starting with
  ``KINVENT``), ``Eyes Condition``, ``Side`` (Left/Right), ``Repetition``, then the vendor's own summary
  metrics (mean COP, standard deviations, ellipse surface, total displacement, mean velocity,
  amplitudes, phase plane, max distances, heel/toe weight distribution);
- a line naming the plate (``,K-Plate Left,...``) and the header
  ``Time (sec),CHANNEL_1,CHANNEL_2,CHANNEL_3,CHANNEL_4,,AP COP (y),ML COP (x)``;
- the samples: the four load channels in kg (their sum is the load), the COP in plate-normalised units
  (0.5 = the plate's centre), AP growing backwards;
- a row of empty cells ends the block.

The COP is converted to mm with the plate's size (:data:`PLATE_ML_MM` × :data:`PLATE_AP_MM`, AP sign
flipped to the station's "+ forward"), the load to newtons. With that scale the vendor's standard
deviations are reproduced to the 4th digit (tests/readers/test_kinvent.py).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from station.core.cop import G_N_PER_KG
from station.errors import InputFileError
from station.readers import MAX_SAMPLES, Recording
from station.readers.tables import finite_number, read_lines, timing_quality

log = logging.getLogger(__name__)

#: what a KINVENT export's first line starts with
SIGNATURE = "KINVENT"
#: the sample header of a trial block
SAMPLE_HEADER = ("Time (sec)", "CHANNEL_1", "CHANNEL_2", "CHANNEL_3", "CHANNEL_4", "", "AP COP (y)", "ML COP (x)")
#: K-Force plate: the span of the normalised COP (mm), medio-lateral and antero-posterior
PLATE_ML_MM = 191.0
PLATE_AP_MM = 346.0
#: the vendor's summary labels -> the station's metric key of the same quantity (docs/METRICS.md §11.10
#: says where the definitions differ). "Amplitude" is labelled mm/s by the vendor but is the range in mm.
VENDOR_KEYS = {
    "Longitudinal Mean Cop Position (mm)": "mean_cop_ap_mm",
    "Lateral Mean Cop Position (mm)": "mean_cop_ml_mm",
    "Longitudinal Standard Deviation (mm)": "rms_ap_mm",
    "Lateral Standard Deviation (mm)": "rms_ml_mm",
    "Ellipse Surface (mm²)": "ellipse95_area_mm2",
    "Total Displacement (mm)": "path_length_mm",
    "Total Displacement AP (mm)": "path_length_ap_mm",
    "Total Displacement ML (mm)": "path_length_ml_mm",
    "Mean Velocity (mm/s)": "mean_velocity_mm_s",
    "Mean Velocity AP (mm/s)": "mean_velocity_ap_mm_s",
    "Mean Velocity ML (mm/s)": "mean_velocity_ml_mm_s",
    "Longitudinal Amplitude (mm/s)": "range_ap_mm",
    "Lateral Amplitude (mm/s)": "range_ml_mm",
    "Amplitude Ratio": "range_ratio_ml_ap",
    "Phase Plane AP (mm)": "phase_plane_parameter_ap",
    "Phase Plane ML (mm)": "phase_plane_parameter_ml",
    "Max Distance AP (mm)": "max_distance_ap_mm",
    "Max Distance ML (mm)": "max_distance_ml_mm",
}
_SIDES = {"left": "left", "right": "right", "l": "left", "r": "right"}
#: a block on both feet (or none named) has no stance leg
_NO_SIDE = ("", "both", "bilateral", "none")
_EYES = {"open": "eyes_open", "closed": "eyes_closed"}


def looks_like(head: str) -> bool:
    """True when the text ``head`` of a file starts like a KINVENT export."""
    return head.lstrip().startswith(SIGNATURE)


def snake_key(label: str) -> str:
    """A vendor label as a snake-case key with its unit: ``"Mean Velocity (mm/s)"`` -> ``mean_velocity_mm_s``."""
    text = label.replace("²", "2").replace("%", "pct").replace("/", "_")
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def read_kinvent(path: Path, *, plate_ml_mm: float = PLATE_ML_MM, plate_ap_mm: float = PLATE_AP_MM) -> list[Recording]:
    """Every trial block of a KINVENT Physio export.

    Parameters
    ----------
    path : Path
    plate_ml_mm, plate_ap_mm : float, keyword-only
        Span of the plate-normalised COP (mm).

    Returns
    -------
    list of Recording
        One per trial block, in file order: ``fz_n`` the load (N), ``forces_n`` the four channels (N, in
        the file's order, their positions unknown), the COP (mm), ``side``, ``condition`` and ``vendor``
        (the block's summary metrics under the station's keys, :data:`VENDOR_KEYS`, others in snake case).

    Raises
    ------
    InputFileError
        One line: the file, the line number and what is wrong.
    """
    path = Path(path)
    lines = read_lines(path, kind="a KINVENT export")
    recs: list[Recording] = []
    meta: dict = {}
    k = 0
    while k < len(lines):
        number = k + 1
        cells = [c.strip() for c in lines[k].split(",")]
        k += 1
        if not any(cells):
            continue
        key = cells[0].rstrip(":").strip()
        if key == "Time (sec)":
            columns = _sample_columns(path, cells, number)
            k, block = _samples(path, lines, k, columns)
            t, kg, y, x = block[:, 0], block[:, 1:5], block[:, 5], block[:, 6]
            if t.size < 2:
                raise InputFileError(f"{path} line {number}: a trial block with fewer than 2 samples.")
            forces = kg * G_N_PER_KG
            side = meta.get("side")
            rec = Recording(input=str(path), kind="KINVENT export", t_s=t, fz_n=forces.sum(axis=1),
                            cop_ml_mm=(x - 0.5) * plate_ml_mm, cop_ap_mm=-(y - 0.5) * plate_ap_mm, quality=timing_quality(t),
                            trial=len(recs) + 1, side=side, condition=meta.get("condition"), vendor=meta.get("vendor") or None)
            rec.quality["plate"] = meta.get("plate")
            rec.quality["plate_size_mm"] = [plate_ml_mm, plate_ap_mm]
            if meta.get("repetition") is not None:
                rec.quality["repetition"] = meta["repetition"]
            recs.append(rec)
            meta = {}
            continue
        if cells[0] == "" and len(cells) > 1 and cells[1].startswith("K-Plate"):
            meta["plate"] = cells[1]
            continue
        if cells[0] == "" and cells[1:3] == ["Heel", "Tip"]:
            meta["_distribution"] = ("heel_pct", "toe_pct")
            continue
        value = cells[1] if len(cells) > 1 else ""
        if key == "Side":
            side = _SIDES.get(value.lower())
            if side is None and value.lower() not in _NO_SIDE:
                raise InputFileError(f"{path} line {number}: side {value[:40]!r} is neither Left, Right nor Both.")
            meta["side"] = side
        elif key == "Eyes Condition":
            meta["condition"] = _EYES.get(value.lower(), snake_key(value) or None)
        elif key == "Repetition":
            meta["repetition"] = int(finite_number(value) or 0) or None
        elif key.startswith(SIGNATURE):
            continue
        elif key.startswith("Weight Distribution") and "_distribution" in meta:
            vendor = meta.setdefault("vendor", {})
            for name, cell in zip(meta.pop("_distribution"), cells[1:3]):
                v = finite_number(cell)
                if v is not None:
                    vendor[name] = v
        else:
            v = finite_number(value)
            if v is None:
                log.info("%s line %d: %r is not a number; kept out of the vendor metrics", path, number, value[:40])
                continue
            meta.setdefault("vendor", {})[VENDOR_KEYS.get(key, snake_key(key))] = v
    if not recs:
        raise InputFileError(f"{path}: a KINVENT export without a trial block (no 'Time (sec),CHANNEL_1,...' header).")
    return recs


def _sample_columns(path: Path, header: list[str], number: int) -> list[tuple[int, str]]:
    """``[(index, name), ...]`` of time, the four channels, AP and ML COP in a block's sample header."""
    wanted = [n for n in SAMPLE_HEADER if n]
    missing = [n for n in wanted if n not in header]
    if missing:
        raise InputFileError(f"{path} line {number}: unexpected sample header {','.join(header)[:120]!r}: no "
                             f"{', '.join(missing)} (expected {','.join(SAMPLE_HEADER)!r}).")
    return [(header.index(n), n) for n in wanted]


def _samples(path: Path, lines: list[str], k: int, columns: list[tuple[int, str]]) -> tuple[int, np.ndarray]:
    """The sample rows from line index ``k`` to the first empty row: ``(next index, (n, 7) array)`` with time,
    the four channels, AP and ML COP."""
    rows = []
    start = k
    width = max(i for i, _ in columns) + 1
    while k < len(lines):
        cells = lines[k].split(",")
        if not any(c.strip() for c in cells):
            break
        if len(cells) < width:
            raise InputFileError(f"{path} line {k + 1}: {len(cells)} values, but the sample header needs {width} columns.")
        try:
            rows.append([float(cells[i]) for i, _ in columns])
        except ValueError:
            i, name = next((i, n) for i, n in columns if finite_number(cells[i]) is None and not _is_nan(cells[i]))
            raise InputFileError(f"{path} line {k + 1}: {cells[i].strip()[:40]!r} in column {name} is not a number.") from None
        if len(rows) > MAX_SAMPLES:
            raise InputFileError(f"{path} has a trial block of more than {MAX_SAMPLES} samples.")
        k += 1
    block = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    t = block[:, 0]
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputFileError(f"{path} line {start + i + 1}: time goes backwards (or repeats): {t[i]:g} s after {t[i - 1]:g} s.")
    if not np.all(np.isfinite(block[:, :5])):
        i = int(np.flatnonzero(~np.all(np.isfinite(block[:, :5]), axis=1))[0])
        raise InputFileError(f"{path} line {start + i + 1}: time and load channels must be numbers.")
    return k, block


def _is_nan(cell: str) -> bool:
    return cell.strip().lower() == "nan"
