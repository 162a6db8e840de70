"""Assessment rules on top of the one analysis path (:func:`station.core.pipeline.analyze_trial`).

The core finds the stance, the analysed window and the metrics; this module only adds what an
assessment decides (docs/ASSESSMENT.md §6):

- a single-leg trial **fails** (and is repeated) when no stance on the cued leg was detected, the
  patient stepped off before the trial's end, the recording stopped early, the link was lost inside the
  window, another board answered, a cell is bad or the recording lost too much (``problems`` of
  severity ``error``);
- a calibration that does not fit the board (``calibration_*`` problems) fails the trial with
  ``Failure.CALIBRATION``: repeating cannot help, so the runner stops the assessment with that message;
- an RDL set fails when fewer repetitions than asked were recognised.

The runner's live loop uses the same detectors (:mod:`station.core.stance`) on the newest frames only
to decide when to stop; what is stored comes from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from station.core.cop import default_threshold_n
from station.core.pipeline import Bound, Failure, TrialProtocol, analyze_trial, rep_metrics, segment_reps  # noqa: F401
from station.core.stance import (  # noqa: F401  (the runner's live loop uses these names)
    HOLD_S,
    MIN_SHIFT_MM,
    REFERENCE_S,
    STEP_OFF_FRACTION,
    STEP_OFF_S,
    detect_stance_start,
    detect_step_off,
    min_load_n,
    reference_ml,
    stance_mask,
)

log = logging.getLogger(__name__)

__all__ = ["Failure", "TrialAnalysis", "analyze_rdl", "analyze_stance", "min_load_n", "reference_ml", "stance_mask"]

def cop_gate_n(body_mass_kg: float | None) -> float:
    """The one load gate for live views (20 % of body weight, 100 N unknown): the core's."""
    return default_threshold_n(body_mass_kg)


#: problem codes that make a trial's numbers unusable in an assessment (the core's health checks)
BLOCKING_PREFIXES = ("cell_", "calibration_", "quality_", "link_", "rate_")


@dataclass
class TrialAnalysis:
    """Outcome of analysing one recorded trial for an assessment.

    ``status`` is "finished" or "failed" (then ``failure`` and ``reason`` say why); ``metrics`` are
    the window's metrics (also for a failed trial when it has a window: descriptive, never scored);
    ``rep_metrics`` one dict per repetition (RDL); ``events`` as plain dicts in the trial's
    ``device_time_s``, including the ``window`` event that carries the analysis inputs.
    """

    status: str
    reason: str = ""
    failure: Failure | None = None
    stance_start_s: float | None = None
    window_start_s: float | None = None
    window_end_s: float | None = None
    window_reason: str = ""
    weight_n: float | None = None
    metrics: dict = field(default_factory=dict)
    rep_metrics: list = field(default_factory=list)
    events: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def _blocking(problems: list[dict]) -> list[dict]:
    return [p for p in problems if str(p.get("code", "")).startswith(BLOCKING_PREFIXES) and p.get("severity", "error") == "error"]


def _from_result(res, *, duration_s: float | None = None) -> TrialAnalysis:
    out = TrialAnalysis("finished", metrics=dict(res.metrics), events=res.events.as_dicts(), problems=list(res.problems),
                        window_reason=res.window_reason)
    if np.isfinite(res.stance_start_s):
        out.stance_start_s = float(res.stance_start_s)
        out.weight_n = float(res.weight_n)
    if np.isfinite(res.window_s[0]):
        out.window_start_s, out.window_end_s = float(res.window_s[0]), float(res.window_s[1])
    bad = _blocking(res.problems)
    cells = [p for p in bad if str(p["code"]).startswith("cell_")]
    if cells:  # a dead, saturated or silent cell explains everything else (a wrong total, a lost stance)
        return _failed(out, Failure.BAD_SIGNAL, cells[0]["message"].rstrip("."))
    calibration = [p for p in bad if str(p["code"]).startswith("calibration_")]
    if calibration:  # the numbers cannot be trusted at all: the assessment stops (the runner's rule)
        return _failed(out, Failure.CALIBRATION, calibration[0]["message"].rstrip("."))
    link = [p for p in bad if str(p["code"]).startswith("link_")]
    if link:  # another board or firmware answered: say so, not "the recording stopped"
        return _failed(out, Failure.QUALITY, link[0]["message"].rstrip("."))
    if res.failure is not None:
        out.status, out.failure, out.reason = "failed", res.failure, _reason(res)
        return out
    bounds = res.window_bounds or (None, None)
    start = res.stance_start_s
    if duration_s is not None and bounds[1] is Bound.STEP_OFF:
        return _failed(out, Failure.STEPPED_OFF, f"stepped off the board {res.step_off_s - start:.1f} s into the trial")
    if duration_s is not None and bounds[1] is Bound.GAP:
        return _failed(out, Failure.LINK_LOST, f"the board's link was lost {res.window_s[1] - start:.1f} s into the trial")
    if duration_s is not None and bounds[1] is Bound.RECORDING_END and res.window_s[1] < start + duration_s - 1.5 / max(res.fs_hz, 1.0):
        return _failed(out, Failure.RECORDING_SHORT,
                       f"the recording stopped {res.window_s[1] - start:.1f} s into a {duration_s:g} s trial")
    if bad:
        return _failed(out, Failure.QUALITY, bad[0]["message"].rstrip("."))
    return out


def _failed(out: TrialAnalysis, failure: Failure, reason: str) -> TrialAnalysis:
    out.status, out.failure, out.reason = "failed", failure, reason
    return out


def _reason(res) -> str:
    side = res.protocol.side
    if res.failure is Failure.NO_STANCE and side in ("left", "right"):
        return f"no single-leg stance on the {side} leg was detected"
    if res.failure is Failure.NOTHING_RECORDED:
        return "nothing was recorded"
    return (res.error or res.failure.value).rstrip(".")


def analyze_stance(trial, calibration, *, side: str, duration_s: float, exclude_s: float,
                   body_mass_kg: float | None = None, preset: str = "clinical") -> TrialAnalysis:
    """Single-leg stance trial: the core's window and metrics, and the protocol's pass/fail rules.

    Parameters
    ----------
    trial : TrialFile
        The recording, starting at the cue.
    calibration : Calibration
    side : {"left", "right"}
        The cued stance leg.
    duration_s, exclude_s : float
        Trial length from the stance start, and the settling time excluded from the metrics.
    body_mass_kg : float, optional
        Sets the load gate (20 % of body weight) and the standing load (80 %).
    """
    protocol = TrialProtocol(task="single_leg", side=side, duration_s=float(duration_s), exclude_s=float(exclude_s))
    res = analyze_trial(trial, calibration=calibration, preset=preset, body_mass_kg=body_mass_kg, protocol=protocol)
    return _from_result(res, duration_s=float(duration_s))


def analyze_rdl(trial, calibration, *, side: str, reps: int, body_mass_kg: float | None = None,
                task: str = "rdl", keep_short: bool = False) -> TrialAnalysis:
    """Single-leg RDL set: the core's repetitions (at most ``reps``), failed when fewer were recognised --
    unless ``keep_short`` (a primer exercise set): then it is finished with those recognised, and ``reason``
    says how many.

    Per repetition (``rep_metrics``): the core's measures (``t_start_s``, ``t_bottom_s``, ``t_end_s``,
    ``descent_s``, ``bottom_s``, ``ascent_s``, ``duration_s``, ``depth_m``, ``ap_shift_mm``,
    ``ml_shift_mm`` (signed, + right), ``ml_max_dev_mm``, ``force_range_pct``, ``touchdown`` 0/1) plus
    ``lateral_shift_mm``, signed outwards over the stance leg. Trial metrics: ``reps_counted``,
    ``reps_target``, the means of the per-rep values.
    """
    protocol = TrialProtocol(task=task, side=side, reps=int(reps))
    res = analyze_trial(trial, calibration=calibration, body_mass_kg=body_mass_kg, protocol=protocol)
    out = _from_result(res)
    out.rep_metrics = rep_metrics(res.reps)
    if out.status == "finished" and len(res.reps) < reps:
        reason = f"{len(res.reps)} of {reps} repetitions were recognised"
        if keep_short and res.reps:
            out.reason = reason
        else:
            _failed(out, Failure.TOO_FEW_REPS, reason)
    return out
