"""Stance detection on the total force and ML COP: where a trial's analysed window can begin and end.

Definitions (docs/METRICS.md §1; the assessment protocols add their own durations on top):

- **standing load** ``min_load_n``: 80 % of body weight, or 200 N when the body mass is unknown;
- **stance start** (single-leg, cued side): the first time from which, for ``HOLD_S`` (0.5 s), the
  total force is at least the standing load and the ML COP sits at least ``MIN_SHIFT_MM`` (30 mm)
  towards the cued side of where it was before the cue (both feet) — or of the board centre when
  nobody was on the board. Without a side (any stance): the first time the standing load holds 0.5 s;
- **step-off**: after the stance start, the total force stays below ``STEP_OFF_FRACTION`` (50 %) of the
  weight measured in the first ``HOLD_S`` of the stance for ``STEP_OFF_S`` (1.5 s). Touchdowns of the
  free foot (shorter unloading) are not step-offs. The analysed window ends ``STEP_OFF_MARGIN_S``
  before the unloading began, so the transient of stepping off never enters the metrics.
"""

from __future__ import annotations

import math

import numpy as np

from station.core.cop import G_N_PER_KG
from station.core.runs import runs

HOLD_S = 0.5
#: the first seconds of a recording, before the cue, give the COP reference (patient at rest)
REFERENCE_S = 0.25
MIN_SHIFT_MM = 30.0
MIN_LOAD_N = 200.0
MIN_LOAD_FRACTION = 0.8
STEP_OFF_FRACTION = 0.5
STEP_OFF_S = 1.5
#: the window ends this long before the unloading of a step-off began
STEP_OFF_MARGIN_S = 0.5


def min_load_n(body_mass_kg: float | None) -> float:
    """Load that counts as the patient standing on the board: 80 % of body weight, or 200 N if unknown."""
    if body_mass_kg and body_mass_kg > 0:
        return MIN_LOAD_FRACTION * body_mass_kg * G_N_PER_KG
    return MIN_LOAD_N


def first_run(t_s: np.ndarray, mask: np.ndarray, *, hold_s: float) -> int | None:
    """Index where ``mask`` first becomes True and stays True for at least ``hold_s`` seconds."""
    t = np.asarray(t_s, dtype=float)
    for a, b in runs(mask):
        last = b if b < len(t) else b - 1
        if t[last] - t[a] >= hold_s:
            return int(a)
    return None


def stance_mask(total_n, cop_ml_mm, *, side: str | None, min_load: float, reference_ml_mm: float = 0.0) -> np.ndarray:
    """True where the patient stands loaded (and, with a ``side``, with the COP towards that side)."""
    loaded = np.asarray(total_n) >= min_load
    if side not in ("left", "right"):
        return loaded
    sign = 1.0 if side == "right" else -1.0
    with np.errstate(invalid="ignore"):
        shifted = sign * (np.asarray(cop_ml_mm) - reference_ml_mm) >= MIN_SHIFT_MM
    return loaded & shifted


def reference_ml(total_n, cop_ml_mm, *, min_load: float) -> float:
    """Where the COP was before the cue (median over loaded samples), or the board centre (0)."""
    loaded = (np.asarray(total_n) >= min_load) & np.isfinite(cop_ml_mm)
    return float(np.median(np.asarray(cop_ml_mm)[loaded])) if np.count_nonzero(loaded) >= 5 else 0.0


def detect_stance_start(t_s, total_n, cop_ml_mm, *, side: str | None, min_load: float, reference_ml_mm: float = 0.0,
                        hold_s: float = HOLD_S) -> float | None:
    """Time (s) the stance (on ``side``, or any) began, or None."""
    mask = stance_mask(total_n, cop_ml_mm, side=side, min_load=min_load, reference_ml_mm=reference_ml_mm)
    i = first_run(t_s, mask, hold_s=hold_s)
    return None if i is None else float(np.asarray(t_s)[i])


def detect_step_off(t_s, total_n, *, weight_n: float, after_s: float, until_s: float = math.inf,
                    fraction: float = STEP_OFF_FRACTION, hold_s: float = STEP_OFF_S) -> float | None:
    """Time (s) the patient stepped off (load below ``fraction`` of weight for ``hold_s``), or None."""
    t = np.asarray(t_s, dtype=float)
    sel = (t >= after_s) & (t <= until_s)
    if not sel.any():
        return None
    low = np.asarray(total_n)[sel] < fraction * weight_n
    i = first_run(t[sel], low, hold_s=hold_s)
    return None if i is None else float(t[sel][i])


def unloading_onset(t_s, total_n, *, weight_n: float, at_s: float, fraction: float = 0.9) -> float:
    """Last time at or before ``at_s`` that the load was still at least ``fraction`` of ``weight_n``."""
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(total_n, dtype=float)
    idx = np.flatnonzero((t <= at_s) & (y >= fraction * weight_n))
    return float(t[idx[-1]]) if idx.size else float(at_s)
