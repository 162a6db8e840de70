"""From a recorded trial to its verdict and metrics: stance start, step-off, analysed window, RDL reps.

Everything here works on the recorded raw counts and the board's own clock (``device_time_s``), so the
result does not depend on how fast the data arrived (real time, or a virtual board running ahead).
The runner uses the same detectors live (on the newest frames) only to decide when to stop.

Definitions (docs/ASSESSMENT.md §6):

- **single-leg stance start**: the first time from which, for ``hold_s`` (0.5 s), the total force is at
  least ``min_load_n`` and the ML COP sits at least ``min_shift_mm`` (30 mm) towards the cued side of
  where it was at the cue (both feet) — or of the board centre when nobody was on the board;
- **step-off**: after the stance start, the total force stays below ``step_off_fraction`` (50 %) of
  the weight measured in the first ``hold_s`` of the stance for ``step_off_s`` (1.5 s). Touchdowns of
  the free foot (shorter unloading) are counted, not failures;
- **analysed window**: ``[start + exclude_s, start + duration_s]``; a link gap (disconnect, reboot)
  between the stance start and the window's end fails the trial.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from station.core.cop import G_N_PER_KG

log = logging.getLogger(__name__)

HOLD_S = 0.5
#: the first seconds of a recording, before the cue, give the COP reference (patient at rest)
REFERENCE_S = 0.25
MIN_SHIFT_MM = 30.0
MIN_LOAD_N = 200.0
MIN_LOAD_FRACTION = 0.8
STEP_OFF_FRACTION = 0.5
STEP_OFF_S = 1.5
#: during an RDL, a drop of the total force by more than this fraction of body weight is a touchdown
#: (the hinge itself modulates the force by ~15 %); it is bridged, with this margin, before segmenting
TOUCHDOWN_DROP_FRACTION = 0.25
TOUCHDOWN_MARGIN_S = 0.15
#: COP load gate during analysis, as a fraction of the measured weight: low enough that a touchdown
#: of the free foot (which unloads the board by up to ~80 %) does not cut the trajectory in pieces
COP_GATE_FRACTION = 0.1


@dataclass
class TrialAnalysis:
    """Outcome of analysing one recorded trial.

    ``status`` is "finished" or "failed" (with ``reason``); ``metrics`` are whole-trial metrics,
    ``rep_metrics`` one dict per repetition (RDL), ``events`` timed in the trial's ``device_time_s``.
    """

    status: str
    reason: str = ""
    stance_start_s: float | None = None
    window_start_s: float | None = None
    window_end_s: float | None = None
    weight_n: float | None = None
    metrics: dict = field(default_factory=dict)
    rep_metrics: list = field(default_factory=list)
    events: list = field(default_factory=list)


def min_load_n(body_mass_kg: float | None) -> float:
    """Load that counts as the patient standing on the board: 80 % of body weight, or 200 N if unknown."""
    if body_mass_kg and body_mass_kg > 0:
        return MIN_LOAD_FRACTION * body_mass_kg * G_N_PER_KG
    return MIN_LOAD_N


def first_run(t_s: np.ndarray, mask: np.ndarray, *, hold_s: float) -> int | None:
    """Index where ``mask`` first becomes True and stays True for at least ``hold_s`` seconds."""
    from station.core.events import runs

    t = np.asarray(t_s, dtype=float)
    for a, b in runs(mask):
        if b < len(t) and t[b] - t[a] >= hold_s:
            return int(a)
        if b == len(t) and t[b - 1] - t[a] >= hold_s:
            return int(a)
    return None


def stance_mask(total_n, cop_ml_mm, *, side: str, min_load: float, reference_ml_mm: float) -> np.ndarray:
    """True where the patient stands loaded with the COP towards ``side`` of ``reference_ml_mm``."""
    sign = 1.0 if side == "right" else -1.0
    with np.errstate(invalid="ignore"):
        shifted = sign * (np.asarray(cop_ml_mm) - reference_ml_mm) >= MIN_SHIFT_MM
    return (np.asarray(total_n) >= min_load) & shifted


def reference_ml(total_n, cop_ml_mm, *, min_load: float) -> float:
    """Where the COP was before the cue (median over loaded samples), or the board centre (0)."""
    loaded = (np.asarray(total_n) >= min_load) & np.isfinite(cop_ml_mm)
    return float(np.median(np.asarray(cop_ml_mm)[loaded])) if np.count_nonzero(loaded) >= 5 else 0.0


def detect_stance_start(t_s, total_n, cop_ml_mm, *, side: str, min_load: float, reference_ml_mm: float,
                        hold_s: float = HOLD_S) -> float | None:
    """Time (s) the single-leg stance on ``side`` began, or None."""
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


def loads(trial, calibration, *, gate_n: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(t_s, total_n, cop_ml_mm, cop_ap_mm)`` of a recorded trial on its device time axis."""
    ml, ap, total = calibration.cop_mm(np.asarray(trial.frames["counts"]), threshold_n=gate_n)
    return np.asarray(trial.device_time_s, dtype=float), total, ml, ap


def _stance_start(trial, calibration, *, side: str, body_mass_kg: float | None):
    min_load = min_load_n(body_mass_kg)
    t, total, ml, ap = loads(trial, calibration, gate_n=min_load / 4.0)
    pre = t <= t[0] + REFERENCE_S if len(t) else np.zeros(0, bool)
    ref = reference_ml(total[pre], ml[pre], min_load=min_load)
    start = detect_stance_start(t, total, ml, side=side, min_load=min_load, reference_ml_mm=ref)
    return t, total, start, min_load


def analyze_stance(trial, calibration, *, side: str, duration_s: float, exclude_s: float,
                   body_mass_kg: float | None = None, preset: str = "clinical") -> TrialAnalysis:
    """Detect the stance, check for a step-off, and compute the sway metrics of the analysed window.

    Parameters
    ----------
    trial : TrialFile
        The recording, starting at the cue.
    calibration : Calibration
        Turns counts into forces (``calibration.cop_mm``).
    side : {"left", "right"}
        The cued stance leg.
    duration_s, exclude_s : float
        Trial length from the stance start, and the settling time excluded from the metrics.
    body_mass_kg : float, optional
        Sets the load that counts as standing (80 % of body weight; 200 N when unknown).
    """
    from station.core.metrics import compute_metrics, with_overrides

    if len(trial.frames) < 2:
        return TrialAnalysis("failed", "nothing was recorded")
    t, total, start, min_load = _stance_start(trial, calibration, side=side, body_mass_kg=body_mass_kg)
    if start is None:
        return TrialAnalysis("failed", f"no single-leg stance on the {side} leg was detected")
    events = [{"t_s": start, "kind": "stance_start", "side": side}]
    first = (t >= start) & (t < start + HOLD_S)
    weight = float(np.median(total[first]))
    end = start + duration_s
    off = detect_step_off(t, total, weight_n=weight, after_s=start, until_s=end)
    if off is not None:
        events.append({"t_s": off, "kind": "step_off"})
        return TrialAnalysis("failed", f"stepped off the board {off - start:.1f} s into the trial",
                             stance_start_s=start, weight_n=weight, events=events)
    if t[-1] < end - 1.5 / max(_rate(t), 1.0):
        return TrialAnalysis("failed", f"the recording stopped {t[-1] - start:.1f} s into a {duration_s:g} s trial",
                             stance_start_s=start, weight_n=weight, events=events)
    w0, w1 = start + exclude_s, end
    for g0, g1 in trial.gaps or []:
        if g0 < w1 and g1 > start:
            events.append({"t_s": float(g0), "kind": "gap", "t_end_s": float(g1)})
            return TrialAnalysis("failed", f"the board's link was lost {g0 - start:.1f} s into the trial",
                                 stance_start_s=start, weight_n=weight, events=events)
    _, tot, ml, ap = loads(trial, calibration, gate_n=COP_GATE_FRACTION * weight)
    sel = (t >= w0) & (t <= w1)
    metrics = compute_metrics(ml[sel], ap[sel], t_s=t[sel], preset=with_overrides(preset, exclude_s=0.0))
    touchdowns = _touchdowns(t[sel], tot[sel], weight_n=weight)
    metrics.update(
        touchdowns=float(len(touchdowns)),
        touchdowns_per_30s=30.0 * len(touchdowns) / max(w1 - w0, 1e-9),
        mean_total_force_n=float(np.mean(tot[sel])),
        stance_start_s=start,
        weight_n=weight,
    )
    events += [{"t_s": w0, "kind": "window_start"}, {"t_s": w1, "kind": "window_end"}]
    events += [dict(e, kind="touchdown") for e in touchdowns]
    return TrialAnalysis("finished", "", stance_start_s=start, window_start_s=w0, window_end_s=w1,
                         weight_n=weight, metrics=metrics, events=sorted(events, key=lambda e: e["t_s"]))


def _rate(t: np.ndarray) -> float:
    dt = np.diff(t)
    dt = dt[dt > 0]
    return float(1.0 / np.median(dt)) if dt.size else 0.0


def uniform(t_s, *series, fs_hz: float | None = None):
    """Put series sampled at ``t_s`` on a uniform grid (the event detectors need one): ``(fs_hz, t, *series)``.

    ``fs_hz`` defaults to the median-interval rate of ``t_s``. Frames repeated in time (none expected)
    are dropped first.
    """
    from station.core.resample import resample_uniform

    t = np.asarray(t_s, dtype=float)
    keep = np.concatenate([[True], np.diff(t) > 0])
    rate = fs_hz or _rate(t[keep])
    grid, y = resample_uniform(t[keep], np.column_stack([np.asarray(x, dtype=float)[keep] for x in series]), fs_hz=rate)
    return (rate, grid, *[y[:, k] for k in range(len(series))])


def _touchdowns(t_s, total_n, *, weight_n: float) -> list[dict]:
    """Touchdowns of the free foot off the board (the core's detector on the total force)."""
    from station.core.events import detect_touchdowns

    rate, grid, total = uniform(t_s, total_n)
    return detect_touchdowns(total, fs_hz=rate, body_weight_n=weight_n, t0_s=float(grid[0]))


def analyze_rdl(trial, calibration, *, side: str, reps: int, body_mass_kg: float | None = None) -> TrialAnalysis:
    """Count and measure single-leg RDL repetitions.

    Per repetition (``rep_metrics``): the core's repetition measures (``t_start_s``, ``t_bottom_s``,
    ``t_end_s``, ``descent_s``, ``bottom_s``, ``ascent_s``, ``duration_s``, ``depth_m``,
    ``ap_shift_mm``, ``ml_shift_mm`` (signed, + right), ``ml_max_dev_mm``, ``force_range_pct``,
    ``touchdown`` 0/1) plus ``lateral_shift_mm``, the lateral weight shift at the bottom of the hinge
    towards the stance leg's side (outwards: ``+ml_shift_mm`` on the right leg, ``-ml_shift_mm`` on
    the left; signed, so sway noise averages out instead of biasing it upwards). Trial metrics: ``reps_counted``, ``reps_target``, means of the per-rep values.
    """
    if len(trial.frames) < 2:
        return TrialAnalysis("failed", "nothing was recorded")
    t, total, start, min_load = _stance_start(trial, calibration, side=side, body_mass_kg=body_mass_kg)
    if start is None:
        return TrialAnalysis("failed", f"no single-leg stance on the {side} leg was detected")
    first = (t >= start) & (t < start + HOLD_S)
    weight = float(np.median(total[first]))
    events = [{"t_s": start, "kind": "stance_start", "side": side}]
    _, tot, ml, ap = loads(trial, calibration, gate_n=COP_GATE_FRACTION * weight)
    sel = t >= start
    found = segment_reps(t[sel], tot[sel], ml[sel], ap[sel], weight_n=weight)
    rep_metrics = []
    for rep in found:
        rep_metrics.append({k: float(v) for k, v in rep.items() if isinstance(v, (int, float, np.number))
                            and not isinstance(v, bool) and k != "rep"} | {
            "lateral_shift_mm": (1.0 if side == "right" else -1.0) * float(rep["ml_shift_mm"]),
            "touchdown": float(bool(rep.get("touchdown", False))),
        })
    from station.core.events import rep_events

    events += rep_events(found, side=side)
    metrics = {"reps_counted": float(len(found)), "reps_target": float(reps), "stance_start_s": start, "weight_n": weight}
    for name in ("lateral_shift_mm", "ml_max_dev_mm", "depth_m", "duration_s"):
        vals = [r[name] for r in rep_metrics if np.isfinite(r.get(name, math.nan))]
        metrics[f"rep_{name}_mean"] = float(np.mean(vals)) if vals else math.nan
    status, reason = "finished", ""
    if len(found) < reps:
        status, reason = "failed", f"{len(found)} of {reps} repetitions were recognised"
    return TrialAnalysis(status, reason, stance_start_s=start, weight_n=weight, metrics=metrics,
                         rep_metrics=rep_metrics, events=sorted(events, key=lambda e: e["t_s"]))


def segment_reps(t_s, total_n, cop_ml_mm, cop_ap_mm, *, weight_n: float) -> list[dict]:
    """RDL repetitions (the core's segmentation, on a uniform grid); times in the ``t_s`` base."""
    from station.core.events import segment_rdl_reps

    from station.core.events import detect_touchdowns

    if len(t_s) < 4:
        return []
    rate, grid, total, ml, ap = uniform(t_s, total_n, cop_ml_mm, cop_ap_mm)
    # A free-foot touchdown unloads the board far more than the hinge does (<= ~15 %); its whole dip,
    # edges included, would read as a vertical acceleration: bridge it at body weight first.
    total = total.copy()
    for td in detect_touchdowns(total, fs_hz=rate, body_weight_n=weight_n, t0_s=float(grid[0]),
                                drop_fraction=TOUCHDOWN_DROP_FRACTION):
        total[(grid >= td["t_s"] - TOUCHDOWN_MARGIN_S) & (grid <= td["t_end_s"] + TOUCHDOWN_MARGIN_S)] = weight_n
    return segment_rdl_reps(total, ml, ap, fs_hz=rate, t0_s=float(grid[0]), threshold_n=0.5 * weight_n)
