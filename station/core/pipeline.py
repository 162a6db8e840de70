"""A recorded trial -> forces, COP, events, the analysed window and metrics: the one analysis path.

Every consumer calls :func:`analyze_trial`: the assessment (``station.assessment.analysis``, whose
results the runner stores), ``station analyze``, the report, the exports and the dashboard's results.
So the stored metrics of a trial equal a re-analysis of its stored raw counts. Steps:

1. counts -> per-cell forces -> total force and COP with **one load gate** (20 % of body weight, 100 N
   when the body mass is unknown) and the calibration's COP correction
   (:class:`station.core.forces.CountsModel`);
2. the trial is cut at recording gaps (disconnects, reboots; a device-time jump longer than 0.25 s
   or 5 frame intervals);
3. events: stance start (single-leg: the cued side; otherwise the standing load), step-on/step-off,
   touchdowns of the free foot, time to stabilisation, RDL repetitions (:mod:`station.core.stance`,
   :mod:`station.core.events`);
4. **the analysed window** is the detected stance: from the stance start plus the protocol's exclusion
   (the preset's ``exclude_s`` without a protocol) to the first of: the protocol's duration, the
   step-off (minus a margin, so its transient stays out), a recording gap, the end of the recording.
   ``window_s`` and ``window_reason`` say where and why;
5. metrics of that window (:func:`station.core.metrics.compute_metrics`, with the exclusion already
   applied), plus the task's own (touchdowns; RDL repetitions);
6. problems that make the numbers untrustworthy (:mod:`station.core.health`).

What the window needs (task, side, duration, exclusion, repetitions, body mass, preset) is a
:class:`TrialProtocol` plus two numbers; it is written into the trial's ``window`` event, so a trial file
exported from the store carries it and re-analyses to the same numbers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from enum import Enum

import numpy as np

from station.core import health, stance
from station.core.cop import default_threshold_n
from station.core.errors import SignalError
from station.core.events import detect_step_on_off, detect_touchdowns, rep_events, segment_rdl_reps, time_to_stabilisation
from station.core.forces import CountsModel
from station.core.metrics import compute_metrics, get_preset, with_overrides
from station.core.resample import effective_rate_hz, resample_uniform
from station.core.runs import runs
from station.core.timeline import Events, Kind
from station.errors import CalibrationError

log = logging.getLogger(__name__)

#: device-time jumps longer than this (or 5 frame intervals) split a trial
GAP_MIN_S = 0.25
#: during an RDL, a drop of the total force by more than this fraction of body weight is a touchdown
#: (the hinge itself modulates the force by ~15 %); it is bridged, with this margin, before segmenting
TOUCHDOWN_DROP_FRACTION = 0.25
TOUCHDOWN_MARGIN_S = 0.06
#: a longer drop is a step off the board, not a touchdown
TOUCHDOWN_MAX_S = 3.0
RDL_TASKS = ("rdl", "rfe_rdl")
#: calibration problems that no person on the board can cause (a wrong body mass can cause the others)
MISFIT_CODES = ("calibration_negative_cell", "calibration_total_implausible")


class Failure(str, Enum):
    """Why a trial has no usable window (or why an assessment fails it)."""

    NOTHING_RECORDED = "nothing_recorded"
    NO_LOAD = "no_load"
    NO_STANCE = "no_stance"
    STEPPED_OFF = "stepped_off"
    RECORDING_SHORT = "recording_short"
    LINK_LOST = "link_lost"
    TOO_FEW_REPS = "too_few_reps"
    BAD_SIGNAL = "bad_signal"
    QUALITY = "quality"
    CALIBRATION = "calibration"


class Bound(str, Enum):
    """What set a bound of the analysed window."""

    RECORDING_START = "recording_start"
    STANCE_START = "stance_start"
    DURATION = "duration"
    STEP_OFF = "step_off"
    GAP = "gap"
    RECORDING_END = "recording_end"


@dataclass(frozen=True)
class TrialProtocol:
    """What a trial was meant to be, as far as finding its window is concerned.

    Attributes
    ----------
    task : str
        ``"stance"`` (any standing trial: from the standing load to the step-off or the end),
        ``"single_leg"``, ``"rdl"`` or ``"rfe_rdl"``.
    side : {"left", "right", "both"} or None
        Stance leg (single-leg stance and RDL).
    duration_s : float or None
        Trial length from the stance start (None: to the end of the recording).
    exclude_s : float or None
        Settling time after the stance start left out of the metrics (None: the preset's).
    reps : int or None
        Repetitions asked for (RDL): the set ends after the last of them.
    """

    task: str = "stance"
    side: str | None = None
    duration_s: float | None = None
    exclude_s: float | None = None
    reps: int | None = None

    @property
    def is_rdl(self) -> bool:
        return self.task in RDL_TASKS

    @property
    def single_leg(self) -> bool:
        return self.side in ("left", "right") and not self.is_rdl

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "TrialProtocol":
        d = d if isinstance(d, dict) else {}

        def num(key, kind=float):
            v = d.get(key)
            try:
                return None if v is None else kind(v)
            except (TypeError, ValueError):
                raise SignalError(f"The trial's protocol has a malformed {key!r}: {v!r}.") from None

        task = str(d.get("task") or "stance")
        side = d.get("side") if d.get("side") in ("left", "right", "both") else None
        return cls(task=task, side=side, duration_s=num("duration_s"), exclude_s=num("exclude_s"), reps=num("reps", int))


@dataclass(frozen=True)
class FrameSeries:
    """Per recorded frame (device time, unequal steps across gaps): forces, total force and COP."""

    t_s: np.ndarray
    forces_n: np.ndarray
    total_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray


@dataclass
class AnalysisResult:
    """Everything the analysis of one trial produced.

    Attributes
    ----------
    fs_hz : float
        Rate of the uniform series below (the effective rate of the analysed segment).
    t_s : ndarray (m,)
        Uniform time grid of the gap-free segment holding the window (device time, s).
    forces_n : ndarray (m, 4)
        Per-cell forces fl, fr, bl, br (N) on that grid (unfiltered).
    total_n, cop_ml_mm, cop_ap_mm : ndarray (m,)
        Total force and COP (NaN below the load gate) on that grid (unfiltered).
    metrics : dict
        Metrics of the analysed window, ``{}`` when there is none (``failure`` and ``error`` say why).
    events : Events
        Detected events (stance start, step on/off, touchdowns, window, repetitions), time-sorted.
    reps : list of dict
        RDL repetitions inside the window (:func:`station.core.events.segment_rdl_reps`).
    preset : str
    threshold_n : float
        The load gate used for every COP sample.
    body_mass_kg : float or None
    protocol : TrialProtocol
    window_s : tuple (start_s, end_s)
        The analysed window, device time; NaN when there is none.
    window_bounds : tuple (Bound, Bound) or None
    window_reason : str
        The window and why its bounds are where they are, in words.
    stance_start_s, step_off_s : float
        Detected stance start and step-off (NaN when none).
    weight_n : float
        Load in the first 0.5 s of the stance (N).
    failure : Failure or None
    error : str or None
        Why there are no metrics, in words.
    problems : list of dict
        ``{"code", "message", ...}`` problems that make the numbers untrustworthy (bad cells,
        calibration that does not fit, data loss in the window).
    notes : list of dict
        ``{"code", "message"}`` about single measures left NaN (diffusion critical point, ...).
    tts_s : float
        Time to stabilisation after the first step on (NaN when none).
    frames : FrameSeries or None
        The same quantities for every recorded frame (for sample exports).
    """

    fs_hz: float
    t_s: np.ndarray
    forces_n: np.ndarray
    total_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray
    metrics: dict = field(default_factory=dict)
    events: Events = field(default_factory=Events)
    reps: list = field(default_factory=list)
    preset: str = "clinical"
    threshold_n: float = 100.0
    body_mass_kg: float | None = None
    protocol: TrialProtocol = field(default_factory=TrialProtocol)
    window_s: tuple = (math.nan, math.nan)
    window_bounds: tuple | None = None
    window_reason: str = ""
    stance_start_s: float = math.nan
    step_off_s: float = math.nan
    weight_n: float = math.nan
    failure: Failure | None = None
    error: str | None = None
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    tts_s: float = math.nan
    frames: FrameSeries | None = None

    def window_dict(self) -> dict:
        """``{"start_s", "end_s", "start_bound", "end_bound", "reason"}`` for JSON and storage."""
        b = self.window_bounds or (None, None)
        return {"start_s": _num(self.window_s[0]), "end_s": _num(self.window_s[1]),
                "start_bound": b[0].value if b[0] else None, "end_bound": b[1].value if b[1] else None,
                "reason": self.window_reason}


def _num(v):
    return float(v) if v is not None and math.isfinite(v) else None


def segments_between_gaps(t_s, *, nominal_rate_hz: float | None = None, gaps=()) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` sample ranges of ``t_s`` with no recording gap inside."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 2:
        return [(0, t.size)]
    dt = np.diff(t)
    typical = 1.0 / nominal_rate_hz if nominal_rate_hz else float(np.median(dt))
    cut = dt > max(GAP_MIN_S, 5.0 * typical)
    for g in gaps or ():
        start = g[0] if not isinstance(g, dict) else g.get("t_start_s", math.nan)
        cut |= (t[:-1] <= start) & (t[1:] > start)  # the interval in which the recording stopped
    edges = np.flatnonzero(cut) + 1
    bounds = np.concatenate([[0], edges, [t.size]])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def stored_inputs(trial) -> dict:
    """What a stored trial was analysed with: ``{"protocol", "body_mass_kg", "preset"}`` (may be empty).

    Read from the trial's ``meta["analysis"]`` or, for a trial as the runner stored it, from its
    ``window`` event.
    """
    meta = getattr(trial, "meta", None) or {}
    if isinstance(meta.get("analysis"), dict):
        return dict(meta["analysis"])
    for e in getattr(trial, "events", None) or ():
        if isinstance(e, dict) and e.get("kind") == Kind.WINDOW.value and isinstance(e.get("inputs"), dict):
            return dict(e["inputs"])
    return {}


def analyze_trial(trial, *, calibration=None, preset=None, body_mass_kg: float | None = None,
                  protocol: TrialProtocol | None = None) -> AnalysisResult:
    """Analyse a recorded trial (module docstring).

    Parameters
    ----------
    trial : station.board.trialfile.TrialFile
        Raw frames (counts, status), device times, gaps, calibration dict, meta.
    calibration : Calibration, CountsModel or dict, optional, keyword-only
        Overrides the calibration stored in the trial.
    preset : str or Preset, optional, keyword-only
        "clinical" or "raw"; default the one the trial was analysed with, else "clinical".
    body_mass_kg : float, optional, keyword-only
        Sets the load gate and the standing load; default the trial's stored inputs, then
        ``trial.meta["body_mass_kg"]``.
    protocol : TrialProtocol, optional, keyword-only
        Default the trial's stored inputs, then its ``meta`` (task, side).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    CalibrationError
        Neither an argument nor the trial provides a calibration, or it is malformed.
    """
    meta = getattr(trial, "meta", None) or {}
    inputs = stored_inputs(trial)
    p = get_preset(preset if preset is not None else inputs.get("preset") or "clinical")
    if protocol is None:
        protocol = TrialProtocol.from_dict(inputs.get("protocol") or {"task": meta.get("task"), "side": meta.get("side")})
    body_mass_step_kg = 0.0  # a pseudonymised export's inputs carry the rounding of their body mass
    if body_mass_kg is None:
        for source in (inputs, meta):
            mass, step = source.get("body_mass_kg"), source.get("body_mass_step_kg")
            if isinstance(mass, (int, float)) and mass > 0:
                body_mass_kg = float(mass)
                if isinstance(step, (int, float)) and math.isfinite(step) and step > 0:
                    body_mass_step_kg = float(step)
                break
    cal = calibration if calibration is not None else getattr(trial, "calibration", None)
    if cal is None:
        raise CalibrationError("This trial has no calibration: forces, COP and metrics need one (pass a calibration file).")
    try:
        model = CountsModel.of(cal)
    except ValueError as exc:
        raise CalibrationError(str(exc)) from None

    gate = default_threshold_n(body_mass_kg)
    frames = trial.frames
    counts = np.asarray(frames["counts"])
    t = np.asarray(trial.device_time_s, dtype=np.float64)
    forces = model.forces_n(counts) if len(counts) else np.zeros((0, 4))
    ml, ap, total = model.cop_mm(threshold_n=gate, forces_n=forces) if len(counts) else (np.zeros(0),) * 3

    empty = np.zeros(0)
    result = AnalysisResult(fs_hz=math.nan, t_s=empty, forces_n=np.zeros((0, 4)), total_n=empty, cop_ml_mm=empty,
                            cop_ap_mm=empty, preset=p.name, threshold_n=gate, body_mass_kg=body_mass_kg, protocol=protocol,
                            frames=FrameSeries(t, forces, total, ml, ap))
    exclude_s = protocol.exclude_s if protocol.exclude_s is not None else p.exclude_s
    inputs_out = {"protocol": protocol.to_dict(), "body_mass_kg": body_mass_kg, "preset": p.name}
    if body_mass_step_kg:
        inputs_out["body_mass_step_kg"] = body_mass_step_kg
    if len(t) < 2:
        return _fail(result, Failure.NOTHING_RECORDED, "Nothing was recorded.")
    fs_nominal = getattr(trial, "nominal_rate_hz", None)
    rate = effective_rate_hz(t)
    if math.isfinite(rate) and rate > 0:
        status = np.asarray(frames["status"]) if "status" in (frames.dtype.names or ()) else np.zeros(len(t), np.uint8)
        result.problems += health.cell_problems(counts, status, fs_hz=rate)

    # -- stance start, in the gap-free segment where it happens
    segs = segments_between_gaps(t, nominal_rate_hz=fs_nominal, gaps=getattr(trial, "gaps", None))
    min_load = stance.min_load_n(body_mass_kg)
    pre = t <= t[0] + stance.REFERENCE_S
    reference = stance.reference_ml(total[pre], ml[pre], min_load=min_load) if protocol.single_leg or protocol.is_rdl else 0.0
    side = protocol.side if protocol.side in ("left", "right") else None
    start = None
    seg = None
    for a, b in segs:
        s = stance.detect_stance_start(t[a:b], total[a:b], ml[a:b], side=side, min_load=min_load, reference_ml_mm=reference)
        if s is not None:
            start, seg = s, (a, b)
            break
    if start is None and not (protocol.single_leg or protocol.is_rdl):
        # no standing load held: fall back to the longest loaded stretch (unknown weight, light loads)
        seg, start = _longest_loaded(segs, t, total, gate)
    if seg is None:
        seg = max(segs, key=lambda s: s[1] - s[0])
    a, b = seg
    _uniform_series(result, t[a:b], forces[a:b], ml[a:b], ap[a:b])
    if start is None:
        # A calibration that does not fit the board (another board's, wrong signs) can make a person look
        # absent: check it on every sample that carries a load of either sign, so the real cause is named.
        heavy = np.abs(total) >= gate
        if np.any(heavy):
            result.problems += health.calibration_problems(forces[heavy], body_mass_kg=body_mass_kg,
                                                           body_mass_step_kg=body_mass_step_kg)
        misfit = [p for p in result.problems if p.get("code") in MISFIT_CODES]
        if misfit:  # a load of that size or sign is impossible: the calibration is the cause, not an empty board
            return _fail(result, Failure.CALIBRATION, _misfit_message(cal, model, float(np.median(total[heavy]))))
        if not np.any(total >= gate):
            return _fail(result, Failure.NO_LOAD, "Every sample is below the load threshold: nobody stood on the board.")
        where = f" on the {side} leg" if side else ""
        return _fail(result, Failure.NO_STANCE, f"No single-leg stance{where} was detected." if side else
                     "Nobody stood on the board long enough to analyse.")
    result.stance_start_s = start
    first = (t >= start) & (t < start + stance.HOLD_S)
    weight = float(np.median(total[first])) if first.any() else float(total[a])
    result.weight_n = weight
    result.events.new(start, Kind.STANCE_START, **({"side": side} if side else {}))

    # -- the window's end: duration, step-off, gap, end of recording
    t_seg_end = float(t[b - 1])
    until = start + protocol.duration_s if protocol.duration_s is not None else math.inf
    off = stance.detect_step_off(t[a:b], total[a:b], weight_n=weight, after_s=start, until_s=min(until, t_seg_end))
    ends = []
    if protocol.duration_s is not None:
        ends.append((until, Bound.DURATION))
    if off is not None:
        onset = stance.unloading_onset(t[a:b], total[a:b], weight_n=weight, at_s=off)
        result.step_off_s = off
        result.events.new(onset, Kind.STEP_OFF)
        ends.append((onset - stance.STEP_OFF_MARGIN_S, Bound.STEP_OFF))
    gap_end = b < len(t)
    ends.append((t_seg_end, Bound.GAP if gap_end else Bound.RECORDING_END))
    end, end_bound = min(ends, key=lambda e: e[0])
    start_bound = Bound.STANCE_START if start > t[a] or side else Bound.RECORDING_START
    w0 = start + (0.0 if protocol.is_rdl else exclude_s)
    result.window_s = (w0, end)
    result.window_bounds = (start_bound, end_bound)
    result.window_reason = _window_reason(result, exclude_s=0.0 if protocol.is_rdl else exclude_s, t_first=float(t[a]))
    result.events.new(w0, Kind.WINDOW, t_end_s=float(end), start_bound=start_bound.value, end_bound=end_bound.value,
                      reason=result.window_reason, inputs=inputs_out)
    if end_bound is Bound.GAP:
        result.events.new(t_seg_end, Kind.GAP, t_end_s=float(t[b]))
    if end <= w0:
        if end_bound is Bound.STEP_OFF:
            return _fail(result, Failure.STEPPED_OFF, f"stepped off the board {off - start:.1f} s into the trial")
        return _fail(result, Failure.RECORDING_SHORT,
                     f"The stance lasted {max(end - start, 0.0):.1f} s: nothing is left after the {exclude_s:g} s settling time.")

    sel = (t >= w0) & (t <= end)
    sel[:a] = False
    sel[b:] = False
    result.problems += health.calibration_problems(forces[sel], body_mass_kg=body_mass_kg,
                                                   body_mass_step_kg=body_mass_step_kg)
    names = frames.dtype.names or ()  # per-frame arrays count losses inside the window exactly
    result.problems += health.quality_problems(getattr(trial, "quality", None) or {}, getattr(trial, "gaps", None) or [],
                                               window_s=(w0, end), nominal_rate_hz=fs_nominal, device_time_s=t,
                                               seq=frames["seq"] if "seq" in names else None,
                                               missed=frames["missed"] if "missed" in names else None)
    if protocol.is_rdl:
        _rdl(result, t[sel], total[sel], ml[sel], ap[sel], weight=weight)
    else:
        _stance_metrics(result, t[sel], forces[sel], total[sel], ml[sel], ap[sel], preset=p, weight=weight)
    if not (protocol.single_leg or protocol.is_rdl):
        _step_events(result)
    return result


def _misfit_message(cal, model: CountsModel, total_n: float) -> str:
    """One line naming the calibration whose forces no person can produce (``total_n``: the typical total)."""
    d = cal.to_dict() if hasattr(cal, "to_dict") else cal if isinstance(cal, dict) else {}
    what = f"the calibration of board {model.board_id or '(no id)'}"
    if d.get("created"):
        what += f" made {str(d['created'])[:10]}"
    return (f"The total force reads {total_n:.0f} N, a load no person puts on a board: {what} "
            "does not fit this board's counts (another board's calibration with the same id, or a tare taken with "
            "someone on the board). Tare and calibrate this board again.")


def _fail(result: AnalysisResult, failure: Failure, message: str) -> AnalysisResult:
    result.failure = failure
    result.error = message
    return result


def _longest_loaded(segs, t, total, gate):
    best, best_len = None, 0
    for a, b in segs:
        for lo, hi in runs(total[a:b] >= gate):
            if hi - lo > best_len and t[a + hi - 1] - t[a + lo] >= stance.HOLD_S:
                best, best_len = (a, b, a + lo), hi - lo
    if best is None:
        return None, None
    a, b, i = best
    return (a, b), float(t[i])


def _uniform_series(result: AnalysisResult, t, forces, ml, ap) -> None:
    fs = effective_rate_hz(t)
    if not (math.isfinite(fs) and fs > 0) or len(t) < 2:
        return
    grid, y = resample_uniform(t, np.column_stack([forces, ml, ap]), fs_hz=fs)
    result.fs_hz, result.t_s = float(fs), grid
    result.forces_n, result.cop_ml_mm, result.cop_ap_mm = y[:, :4], y[:, 4], y[:, 5]
    result.total_n = y[:, :4].sum(axis=1)


def _window_reason(result: AnalysisResult, *, exclude_s: float, t_first: float) -> str:
    w0, w1 = result.window_s
    sb, eb = result.window_bounds
    side = result.protocol.side if result.protocol.side in ("left", "right") else None
    if sb is Bound.RECORDING_START:
        begin = f"the start of the recording ({t_first:.2f} s; already standing)"
    elif side:
        begin = f"the {side}-leg stance start at {result.stance_start_s:.2f} s"
    else:
        begin = f"the stance start at {result.stance_start_s:.2f} s"
    if exclude_s > 0:
        begin += f" + {exclude_s:g} s settling"
    if eb is Bound.DURATION:
        finish = f"the trial's end ({result.protocol.duration_s:g} s after the stance start)"
    elif eb is Bound.STEP_OFF:
        finish = f"{stance.STEP_OFF_MARGIN_S:g} s before the step-off began"
    elif eb is Bound.GAP:
        finish = "a gap in the recording (link lost)"
    else:
        finish = "the end of the recording"
    return f"{w0:.2f}–{w1:.2f} s: from {begin} to {finish}."


def _stance_metrics(result: AnalysisResult, t, forces, total, ml, ap, *, preset, weight: float) -> None:
    try:
        m = compute_metrics(ml, ap, t_s=t, preset=with_overrides(preset, exclude_s=0.0), forces_n=forces, notes=result.notes)
    except SignalError as exc:
        _fail(result, Failure.BAD_SIGNAL, str(exc))
        return
    if result.protocol.single_leg and len(t) > 2:
        fs = effective_rate_hz(t)
        grid, y = resample_uniform(t, np.column_stack([total, ml]), fs_hz=fs)
        tds = detect_touchdowns(y[:, 0], y[:, 1], fs_hz=fs, body_weight_n=weight, stance=result.protocol.side,
                                t0_s=float(grid[0]))
        for td in tds:
            result.events.new(td["t_s"], Kind.TOUCHDOWN, **{k: v for k, v in td.items() if k not in ("t_s", "kind")})
        span = float(t[-1] - t[0])
        m["touchdowns"] = float(len(tds))
        m["touchdowns_per_30s"] = 30.0 * len(tds) / span if span > 0 else math.nan
    m["stance_start_s"] = result.stance_start_s
    m["weight_n"] = weight
    result.metrics = m


def segment_reps(t_s, total_n, cop_ml_mm, cop_ap_mm, *, weight_n: float, max_reps: int | None = None,
                 rejected: list | None = None) -> list[dict]:
    """RDL repetitions of a stretch of stance (times ``t_s`` may be irregular): at most ``max_reps``.

    The samples go on a uniform grid. A free-foot touchdown takes more than ``TOUCHDOWN_DROP_FRACTION``
    (25 %) of the body weight off the board (the hinge itself modulates the force by ~15 %); those samples,
    widened by ``TOUCHDOWN_MARGIN_S``, are bridged by a straight line of the force, and of the COP where the
    board fell below the COP's load gate (undefined there: it would cut the set in two, and only the longer
    part was segmented -- a set of ten read as one); a drop at either end, or longer than ``TOUCHDOWN_MAX_S``,
    is stepping on or off. Only the touchdown itself is bridged: a bridge at body
    weight out to where the force had left it (93.75 %) also erased the repetition's own dip and merged it
    with the next (10 % of a weak leg's sets read short, ASSESSMENT.md §5). Then
    :func:`station.core.events.segment_rdl_reps`; a repetition that overlaps a bridge has ``touchdown`` True.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 4:
        return []
    fs = effective_rate_hz(t)
    grid, y = resample_uniform(t, np.column_stack([total_n, cop_ml_mm, cop_ap_mm]), fs_hz=fs)
    force, cop = y[:, 0].copy(), y[:, 1:3].copy()
    n = grid.size
    pad = max(1, int(round(TOUCHDOWN_MARGIN_S * fs)))
    bridged = np.zeros(n, dtype=bool)
    for a, b in runs(force < (1.0 - TOUCHDOWN_DROP_FRACTION) * weight_n):
        if a > pad and b < n - pad and b - a <= TOUCHDOWN_MAX_S * fs:  # not stepping on or off the board
            bridged[a - pad : b + pad] = True
    k = np.arange(n)
    if bridged.any() and not bridged.all():
        force[bridged] = np.interp(k[bridged], k[~bridged], force[~bridged])
        defined = np.isfinite(cop).all(axis=1)
        gap = bridged & ~defined
        if gap.any() and defined.any():
            for c in range(2):
                cop[gap, c] = np.interp(k[gap], k[defined], cop[defined, c])
    reps = segment_rdl_reps(force, cop[:, 0], cop[:, 1], fs_hz=fs, t0_s=float(grid[0]), threshold_n=0.5 * weight_n,
                            max_reps=max_reps, rejected=rejected)
    spans = [(grid[a], grid[b - 1]) for a, b in runs(bridged)]
    for r in reps:
        r["touchdown"] = bool(r["touchdown"] or any(a <= r["t_end_s"] and b >= r["t_start_s"] for a, b in spans))
    return reps[:max_reps] if max_reps else reps


def _rdl(result: AnalysisResult, t, total, ml, ap, *, weight: float) -> None:
    target = result.protocol.reps
    rejected: list[dict] = []
    reps = segment_reps(t, total, ml, ap, weight_n=weight, max_reps=target, rejected=rejected)
    for cand in rejected:  # candidates that were not repetitions, with the reason (shown in the report)
        t_rej = cand.get("t_start_s", cand.get("t_s"))
        if t_rej is not None and math.isfinite(float(t_rej)):
            result.events.new(float(t_rej), Kind.REP_REJECTED, reason=str(cand.get("reason", "")),
                              **{k: float(cand[k]) for k in ("t_end_s", "depth_m", "duration_s") if k in cand
                                 and isinstance(cand[k], (int, float))})
    side = result.protocol.side
    sign = 1.0 if side == "right" else -1.0
    for r in reps:
        # lateral weight shift, signed outwards over the stance leg (+ml on the right leg, -ml on the left)
        r["lateral_shift_mm"] = sign * float(r["ml_shift_mm"])
    result.reps = reps
    for e in rep_events(reps, side=side if side in ("left", "right", "both") else None):
        result.events.add(e)
    m = {"reps_counted": float(len(reps)), "reps_target": float(target) if target else math.nan,
         "stance_start_s": result.stance_start_s, "weight_n": weight}
    for name in ("lateral_shift_mm", "ml_max_dev_mm", "depth_m", "duration_s"):
        vals = [float(r[name]) for r in reps if math.isfinite(float(r.get(name, math.nan)))]
        m[f"rep_{name}_mean"] = float(np.mean(vals)) if vals else math.nan
    result.metrics = m


def rep_metrics(reps: list[dict]) -> list[dict]:
    """Per-repetition numbers as stored (numbers only; ``touchdown`` as 0/1)."""
    out = []
    for rep in reps:
        d = {k: float(v) for k, v in rep.items()
             if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) and k != "rep"}
        d["touchdown"] = float(bool(rep.get("touchdown", False)))
        out.append(d)
    return out


def _step_events(result: AnalysisResult) -> None:
    """Step on/off and time to stabilisation on the uniform series (any standing trial)."""
    fs = result.fs_hz
    if not (math.isfinite(fs) and result.total_n.size > 2 * fs):
        return
    t0 = float(result.t_s[0])
    for e in detect_step_on_off(result.total_n, fs_hz=fs, threshold_n=result.threshold_n, t0_s=t0):
        kind = Kind.STEP_ON if e["kind"] == "step_on" else Kind.STEP_OFF
        if kind is Kind.STEP_OFF and result.events.first(Kind.STEP_OFF) is not None:
            continue
        result.events.new(e["t_s"], kind, level_n=e["level_n"])
    on = result.events.first(Kind.STEP_ON)
    if on is not None:
        result.tts_s = time_to_stabilisation(result.total_n, result.cop_ml_mm, result.cop_ap_mm, fs_hz=fs, t_on_s=on.t_s, t0_s=t0)
        if math.isfinite(result.tts_s):
            result.events.new(on.t_s + result.tts_s, Kind.STABILISED, tts_s=result.tts_s)
