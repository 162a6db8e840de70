"""A recorded trial -> forces, COP, metrics and events (the one analysis path every caller shares).

``analyze_trial`` is what the CLI, the assessment runner and the reports call. Steps:

1. counts -> per-cell forces with the calibration (argument, else the one stored in the trial);
   COP with the load gate (20 % of body weight, 100 N when the body mass is unknown) and the
   calibration's COP correction when it has one;
2. the trial is cut at recording gaps (disconnects, reboots; any jump in device time longer than
   0.25 s or 5 frame intervals): metrics use the longest gap-free stretch with a defined COP;
3. metrics per preset (:func:`station.core.metrics.compute_metrics`);
4. events: step on / off always; free-foot touchdowns and time to stabilisation when the trial's
   ``meta`` says single-leg (or any one-sided stance); RDL repetitions when ``meta["task"] == "rdl"``.

The calibration package is imported lazily here, so the core stays importable on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from station.core.cop import G_N_PER_KG, default_threshold_n
from station.core.events import detect_step_on_off, detect_touchdowns, rep_events, segment_rdl_reps, time_to_stabilisation
from station.core.metrics import compute_metrics, get_preset, longest_finite_run
from station.core.resample import resample_uniform

log = logging.getLogger(__name__)

#: device-time jumps longer than this (or 5 frame intervals) split a trial
GAP_MIN_S = 0.25


@dataclass
class AnalysisResult:
    """Everything the analysis of one trial produced.

    Attributes
    ----------
    fs_hz : float
        Rate of the uniform series below (the trial's effective rate).
    t_s : ndarray (m,)
        Uniform time grid, device time base (s from the trial's first frame).
    forces_n : ndarray (m, 4)
        Per-cell forces fl, fr, bl, br (N) on that grid (unfiltered).
    total_n, cop_ml_mm, cop_ap_mm : ndarray (m,)
        Total force and COP (NaN below the load threshold) on that grid (unfiltered).
    metrics : dict
        :func:`~station.core.metrics.compute_metrics` result (+ ``right_share_pct``, ``mean_total_force_n``),
        or ``{}`` when no stretch could be analysed (``error`` then says why).
    events : list of dict
        Detected events ``{"t_s", "kind", ...}`` in time order (device time base).
    reps : list of dict
        RDL repetitions (:func:`~station.core.events.segment_rdl_reps`), empty for other tasks.
    preset : str
    threshold_n : float
        Load gate used for the COP.
    body_mass_kg : float or None
    window_s : tuple (t_start_s, t_end_s)
        The stretch the metrics describe (before the preset's exclusion of its first seconds).
    error : str or None
        Why there are no metrics (e.g. nobody on the board), when that is the case.
    tts_s : float
        Time to stabilisation after the first step on (COP method), NaN when there is none.
    """

    fs_hz: float
    t_s: np.ndarray
    forces_n: np.ndarray
    total_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray
    metrics: dict
    events: list = field(default_factory=list)
    reps: list = field(default_factory=list)
    preset: str = "clinical"
    threshold_n: float = 100.0
    body_mass_kg: float | None = None
    window_s: tuple = (float("nan"), float("nan"))
    error: str | None = None
    tts_s: float = float("nan")


def _calibration_of(trial, calibration):
    from station.calibration import Calibration
    from station.errors import CalibrationError

    cal = calibration if calibration is not None else trial.calibration
    if cal is None:
        raise CalibrationError("This trial has no calibration: forces, COP and metrics need one (pass a calibration file).")
    if isinstance(cal, dict):
        cal = Calibration.from_dict(cal, source="the trial's calibration")
    return cal


def segments_between_gaps(t_s, *, nominal_rate_hz: float | None = None, gaps=()) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` sample ranges of ``t_s`` with no recording gap inside."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 2:
        return [(0, t.size)]
    dt = np.diff(t)
    typical = 1.0 / nominal_rate_hz if nominal_rate_hz else float(np.median(dt))
    cut = dt > max(GAP_MIN_S, 5.0 * typical)
    for start, _end in gaps or ():
        cut |= (t[:-1] <= start) & (t[1:] > start)  # the interval in which the recording stopped
    edges = np.flatnonzero(cut) + 1
    bounds = np.concatenate([[0], edges, [t.size]])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def analyze_trial(trial, *, calibration=None, preset="clinical", body_mass_kg: float | None = None) -> AnalysisResult:
    """Analyse a recorded trial.

    Parameters
    ----------
    trial : station.board.trialfile.TrialFile
    calibration : Calibration or dict, optional, keyword-only
        Overrides the calibration stored in the trial.
    preset : str or Preset, keyword-only
        "clinical" (default) or "raw".
    body_mass_kg : float, optional, keyword-only
        Sets the load gate (20 % of body weight) and the touchdown level; default ``trial.meta["body_mass_kg"]``.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    CalibrationError
        Neither an argument nor the trial provides a calibration.
    """
    p = get_preset(preset)
    cal = _calibration_of(trial, calibration)
    meta = trial.meta or {}
    if body_mass_kg is None and meta.get("body_mass_kg"):
        body_mass_kg = float(meta["body_mass_kg"])
    threshold = default_threshold_n(body_mass_kg)
    counts = np.asarray(trial.counts)
    t_dev = np.asarray(trial.device_time_s, dtype=np.float64)
    forces = cal.forces_n(counts)
    ml, ap, total = cal.cop_mm(counts, threshold_n=threshold)

    segs = segments_between_gaps(t_dev, nominal_rate_hz=trial.nominal_rate_hz, gaps=trial.gaps)
    # the stretch for metrics: the gap-free segment holding the longest run of defined COP
    best, best_len = None, 0
    for a, b in segs:
        lo, hi = longest_finite_run(np.isfinite(ml[a:b]) & np.isfinite(ap[a:b]))
        if hi - lo > best_len:
            best, best_len = (a + lo, a + hi), hi - lo
    # uniform series of the longest gap-free segment, for events and plots
    a, b = max(segs, key=lambda s: s[1] - s[0])
    fs = (b - a - 1) / (t_dev[b - 1] - t_dev[a]) if b - a > 1 and t_dev[b - 1] > t_dev[a] else (trial.nominal_rate_hz or 1.0)
    if b - a > 1:
        grid, y = resample_uniform(t_dev[a:b], np.column_stack([forces[a:b], ml[a:b], ap[a:b]]), fs_hz=fs)
    else:
        grid, y = t_dev[a:b], np.column_stack([forces[a:b], ml[a:b], ap[a:b]])
    u_forces, u_ml, u_ap = y[:, :4], y[:, 4], y[:, 5]
    u_total = u_forces.sum(axis=1)

    result = AnalysisResult(fs_hz=float(fs), t_s=grid, forces_n=u_forces, total_n=u_total, cop_ml_mm=u_ml, cop_ap_mm=u_ap,
                            metrics={}, preset=p.name, threshold_n=threshold, body_mass_kg=body_mass_kg)
    from station.errors import StationError

    if best is None:
        result.error = "Every sample is below the load threshold: nobody stood on the board."
    else:
        lo, hi = best
        result.window_s = (float(t_dev[lo]), float(t_dev[hi - 1]))
        try:
            result.metrics = compute_metrics(ml[lo:hi], ap[lo:hi], t_s=t_dev[lo:hi], preset=p, forces_n=forces[lo:hi])
        except StationError as exc:
            result.error = str(exc)
            log.info("no metrics for this trial: %s", exc)

    if u_total.size > 2 * fs:
        result.events = _events(result, meta, body_mass_kg, fs)
    return result


def _events(result: AnalysisResult, meta: dict, body_mass_kg, fs: float) -> list[dict]:
    t0 = float(result.t_s[0])
    events = detect_step_on_off(result.total_n, fs_hz=fs, threshold_n=result.threshold_n, t0_s=t0)
    stance = meta.get("side") or meta.get("stance")
    task = meta.get("task")
    weight = body_mass_kg * G_N_PER_KG if body_mass_kg else None
    if stance in ("left", "right") and task != "rdl":
        events += detect_touchdowns(result.total_n, result.cop_ml_mm, fs_hz=fs, body_weight_n=weight, stance=stance, t0_s=t0)
    ons = [e["t_s"] for e in events if e["kind"] == "step_on"]
    if ons:
        result.tts_s = time_to_stabilisation(result.total_n, result.cop_ml_mm, result.cop_ap_mm, fs_hz=fs, t_on_s=ons[0], t0_s=t0)
        if np.isfinite(result.tts_s):
            events.append({"t_s": ons[0] + result.tts_s, "kind": "stabilised", "tts_s": result.tts_s})
    if task == "rdl":
        result.reps = segment_rdl_reps(result.total_n, result.cop_ml_mm, result.cop_ap_mm, fs_hz=fs, t0_s=t0, threshold_n=result.threshold_n)
        events += rep_events(result.reps, side=stance if stance in ("left", "right", "both") else None)
    events.sort(key=lambda e: e["t_s"])
    return events
