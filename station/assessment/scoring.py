"""Left/right scoring and before/after comparison on per-trial metric tables (docs/ASSESSMENT.md §4-5).

Input everywhere is a *metrics table*: a list of rows, one per trial, as returned by
``Store.metrics_table(session_id)``::

    {"trial_id": 7, "task": "single_leg", "side": "left", "condition": "eyes_open",
     "phase": "baseline", "status": "finished", "metrics": {name: value, ...},
     "reps": [{name: value, ...}, ...]}          # per repetition (RDL), else []

Only ``finished`` trials count. Everything here is plain numpy/scipy on a handful of numbers (the
statistics in :mod:`station.assessment.stats`); every result is a typed object of
:mod:`station.assessment.results` whose ``to_dict`` is the stored form. No text for people is made here.

Conventions
-----------
- Asymmetry (symmetry) index, in %: ``SI = 200 (R - L) / (R + L)`` (Robinson et al. 1987) on the
  per-side means. For sway metrics (larger = less stable) ``SI > 0`` means the *right* side sways more.
- Its uncertainty comes from the trial-to-trial variability: standard errors ``s/sqrt(n)`` of each
  side's mean, propagated to SI (delta method), Welch-Satterthwaite degrees of freedom, Student-t
  95 % interval. A side is named less stable only when that interval excludes 0, so the cut-off
  follows the patient's own noise instead of a fixed 10 % (healthy |SI| reaches ~18 %).
- A side's SD is never taken below the metric's resolution (``RESOLUTION``): three identical trials
  do not make a mean certain, so no interval is ever zero-wide.
- SI is a ratio: it is only used when both side means are clearly above 0 (at least twice their
  standard error and the resolution). Otherwise the sides are compared by the difference ``R - L``
  (same unit as the metric) with a Welch t interval (``Comparison.DIFFERENCE``, SI undefined).
- Event counts (``COUNT_METRICS``: touchdowns) are never compared by SI: the difference in events per
  trial, with each side's per-trial variance at least the pooled rate (Poisson), Welch t interval;
  with fewer than ``MIN_EVENTS`` events on both sides together: ``Outcome.TOO_FEW_EVENTS``.
- Before/after (descriptive, per metric): change = post mean - baseline mean; MDC95 = t(0.975, df) *
  s_w * sqrt(1/n_pre + 1/n_post) with s_w the pooled within-session trial SD and df = n_pre + n_post - 2
  (a Student-t quantile: s_w is estimated on a handful of trials); with fewer than two trials in both
  blocks, a default MDC of ``DEFAULT_MDC_PCT`` % of the baseline mean is used and flagged.
- Headline verdicts (one per block, with their error rates and resolutions) come from
  :mod:`station.assessment.verdicts`; the per-metric asymmetries and changes here are descriptive
  differences with their own 95 % intervals (the headline's interval is never copied into them).
  ``score(rows).verdicts`` is the headline list; ``score_session(rows)`` its stored (dict) form.
- familiarisation (practice) trials have their own task, ``single_leg_practice``: stored, never scored.
"""

from __future__ import annotations

import logging
import math
from typing import Iterable, Sequence

import numpy as np

from station.assessment import verdicts as vd
from station.assessment.results import (
    DESCRIPTIVE_BLOCKS,
    DESCRIPTIVE_LEVEL,
    Asymmetry,
    BeforeAfterScores,
    Change,
    Comparison,
    Interval,
    MdcSource,
    Outcome,
    RdlScores,
    ScoreMeaning,
    SessionScores,
    StanceScores,
    Summary,
)
from station.assessment.stats import finite, mdc, si_delta_terms, si_pct, t_quantile, welch

log = logging.getLogger(__name__)

#: metrics summarised per side for single-leg stance; larger = less stable for all of them
STANCE_METRICS = (
    "mean_velocity_ml_mm_s",
    "mean_velocity_mm_s",
    "range_ml_mm",
    "rms_ml_mm",
    "ellipse95_area_mm2",
    "touchdowns",
)
#: metrics with a descriptive asymmetry row (ML velocity, ML range, ellipse area, touchdowns)
ASYMMETRY_METRICS = ("mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2", "touchdowns")

#: the composite sway index: geometric mean of value / reference over these metrics, each taken to
#: ``power`` so every term scales linearly with sway amplitude (area ~ amplitude^2 -> power 0.5).
#: References: typical healthy single-leg stance, eyes open (order of magnitude, not norms).
SWAY_INDEX_TERMS: dict[str, tuple[float, float]] = {
    "mean_velocity_ml_mm_s": (35.0, 1.0),
    "range_ml_mm": (35.0, 1.0),
    "ellipse95_area_mm2": (800.0, 0.5),
}

#: per-repetition RDL metrics (docs/METRICS.md §9): the lateral weight shift over the whole hinge, the largest
#: ML COP excursion within the rep, and its duration
RDL_REP_METRICS = ("lateral_shift_mm", "ml_max_dev_mm", "duration_s")
RDL_ASYMMETRY_METRICS = ("lateral_shift_mm",)

#: before/after comparison metrics (stance), with the composite first
BEFORE_AFTER_METRICS = ("sway_index", "mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2", "mean_velocity_mm_s")

#: metrics that count events per trial: compared as rates (difference per trial), never by SI
COUNT_METRICS = ("touchdowns",)
#: fewer events than this on both sides together are too few to compare
MIN_EVENTS = 5

#: resolution of each metric: the smallest difference the station resolves (from ~0.5 mm of COP noise
#: on the board, one frame at 80 Hz...). A side's trial-to-trial SD is never taken below it, and a side
#: mean below it counts as ~0. Metrics not listed use 1 % of the larger side mean.
RESOLUTION: dict[str, float] = {
    "mean_velocity_ml_mm_s": 0.5,
    "mean_velocity_mm_s": 0.5,
    "range_ml_mm": 0.5,
    "rms_ml_mm": 0.2,
    "ellipse95_area_mm2": 10.0,
    "sway_index": 0.01,
    "stability_score": 0.5,
    "lateral_shift_mm": 0.5,
    "ml_max_dev_mm": 0.5,
    "duration_s": 0.0125,
}
#: SI is used only when each side mean is at least this many standard errors above 0 (else the
#: ratio's linearisation -- and the ratio itself -- is dominated by noise)
SI_MIN_MEAN_SE = 2.0

#: MDC95 used, as % of the baseline mean, when the within-session variability cannot be estimated
DEFAULT_MDC_PCT = 30.0

#: coverage of the descriptive intervals (per-metric asymmetries, MDC)
CONFIDENCE = DESCRIPTIVE_LEVEL

#: a sway index up to this counts as healthy single-leg sway (healthy adults: about 0.6-1.3 x the reference)
HEALTHY_INDEX_UPPER = 1.25
#: the balance score's definition, stored with every session's scores (the report words it)
SCORE_MEANING = ScoreMeaning(key="stability_score", low=0.0, high=100.0, healthy_low=80.0,
                             healthy_index_upper=HEALTHY_INDEX_UPPER)


def summarise(values: Iterable[float]) -> Summary:
    """Summary of the finite values (NaN mean when there are none)."""
    v = finite(values)
    if v.size == 0:
        return Summary(math.nan, math.nan, 0)
    return Summary(float(v.mean()), float(v.std(ddof=1)) if v.size >= 2 else math.nan, int(v.size))


def sway_index(metrics: dict) -> float:
    """Composite sway index of one trial: geometric mean of ``(value / reference) ** power``.

    1.0 = sways like the reference; 2.0 = twice the reference sway. NaN if a term is missing.
    """
    logs = []
    for name, (reference, power) in SWAY_INDEX_TERMS.items():
        value = metrics.get(name)
        if value is None or not np.isfinite(value) or value <= 0:
            return math.nan
        logs.append(power * math.log(value / reference))
    return float(math.exp(sum(logs) / len(logs)))


def stability_score(index: float) -> float:
    """Balance score 0-100 from a sway index: ``100 * min(1, 1.25 / index)`` (see :data:`SCORE_MEANING`).

    Healthy single-leg sway (index up to 1.25) scores 100 and healthy people about 80-100; twice the
    healthy upper sway scores 50. Higher = steadier.
    """
    if not np.isfinite(index) or index <= 0:
        return math.nan
    return float(100.0 * min(1.0, HEALTHY_INDEX_UPPER / index))


def _sd0(s: Summary) -> float:
    """The SD, 0 when undefined (one trial)."""
    return s.sd if np.isfinite(s.sd) else 0.0


def asymmetry(
    left: Summary, right: Summary, *, larger_is_worse: bool = True, confidence: float = CONFIDENCE,
    resolution: float | None = None, count: bool = False, unit: str = "", min_events: int = MIN_EVENTS,
) -> Asymmetry:
    """Left/right asymmetry of one metric with its trial-to-trial uncertainty and an outcome.

    Three comparisons, chosen from the data:

    - ``Comparison.SI``: ``SI = 200 (R-L)/(R+L)`` % with a delta-method Welch t interval, when both side
      means are clearly positive (each at least ``SI_MIN_MEAN_SE`` standard errors and ``resolution`` above 0);
    - ``Comparison.DIFFERENCE``: otherwise ``R - L`` (in ``unit``) with a Welch t interval; SI is undefined
      (NaN) because a ratio on a mean near 0 (or a signed metric) is meaningless (``near_zero`` says which);
    - ``Comparison.RATE`` (``count=True``, e.g. touchdowns): the difference in events per trial, each side's
      per-trial variance at least the pooled rate (Poisson under equal rates), Welch t interval; with
      fewer than ``min_events`` events in all, ``Outcome.TOO_FEW_EVENTS``.

    Each side's SD is floored at ``resolution`` (default 1 % of the larger side mean), so a side
    whose trials happen to be identical never yields a zero-width interval. Intervals are
    ``confidence`` intervals (95 %: a descriptive row, not a headline test).
    """
    nan = math.nan
    undefined = Interval.undefined(confidence)
    base = dict(left=left, right=right, unit=unit, si_interval=undefined, diff_interval=undefined)
    if left.n == 0 or right.n == 0:
        return Asymmetry(comparison=None, outcome=Outcome.NOT_ENOUGH_DATA, **base)
    diff = right.mean - left.mean
    enough = left.n >= 2 and right.n >= 2
    si, se_si, df_si, near_zero = nan, nan, nan, ()
    if count:
        events = round(left.mean * left.n + right.mean * right.n)
        base |= dict(comparison=Comparison.RATE, events=events, diff=diff)
        if events < min_events:
            return Asymmetry(outcome=Outcome.TOO_FEW_EVENTS, **base)
        if not enough:
            return Asymmetry(outcome=Outcome.NOT_ENOUGH_DATA, **base)
        pooled_rate = events / (left.n + right.n)  # Poisson variance of a count under equal rates
        var_l, var_r = max(_sd0(left) ** 2, pooled_rate), max(_sd0(right) ** 2, pooled_rate)
    else:
        if resolution is None:
            resolution = 0.01 * max(abs(left.mean), abs(right.mean))
        floor = max(float(resolution), 0.0)
        var_l, var_r = max(_sd0(left), floor) ** 2, max(_sd0(right), floor) ** 2
        near_zero = tuple(side for side, s, v in (("left", left, var_l), ("right", right, var_r))
                          if not s.mean > max(floor, SI_MIN_MEAN_SE * math.sqrt(v / s.n)))
        comparison = Comparison.DIFFERENCE if near_zero else Comparison.SI
        if comparison is Comparison.SI:
            si = si_pct(left.mean, right.mean)
        base |= dict(comparison=comparison, near_zero=near_zero, diff=diff, si_pct=si)
        if not enough:
            return Asymmetry(outcome=Outcome.NOT_ENOUGH_DATA, **base)
        if comparison is Comparison.SI:
            a, b = si_delta_terms(left.mean, right.mean, var_l / left.n, var_r / right.n)
            se_si, df_si = welch(a, b, right.n, left.n)
            t = t_quantile(1.0 - confidence, df_si)
            base |= dict(se_pct=se_si, df=df_si, si_interval=Interval(si - t * se_si, si + t * se_si, confidence))
    se_d, df_d = welch(var_r / right.n, var_l / left.n, right.n, left.n)
    if se_d == 0.0:  # no variability and no resolution (all values 0): nothing to tell the sides apart
        return Asymmetry(outcome=Outcome.NO_ASYMMETRY, diff_se=0.0, **(base | dict(si_interval=undefined)))
    t = t_quantile(1.0 - confidence, df_d)
    base |= dict(diff_se=se_d, diff_interval=Interval(diff - t * se_d, diff + t * se_d, confidence))
    decisive = base["si_interval"] if base["comparison"] is Comparison.SI else base["diff_interval"]
    if decisive.excludes_zero():
        outcome = Outcome.less_stable("right" if (diff > 0) == larger_is_worse else "left")
    else:
        outcome = Outcome.NO_ASYMMETRY
    return Asymmetry(outcome=outcome, **base)


def metric_asymmetry(name: str, left: Summary, right: Summary, **kwargs) -> Asymmetry:
    """:func:`asymmetry` with the metric's own rules: counts as rates, its ``RESOLUTION`` as SD floor."""
    if name in COUNT_METRICS:
        return asymmetry(left, right, count=True, unit=f"{name} per trial", **kwargs)
    return asymmetry(left, right, resolution=RESOLUTION.get(name), unit=_unit(name), **kwargs)


def _unit(name: str) -> str:
    for suffix, unit in (("_mm_s", "mm/s"), ("_mm2", "mm²"), ("_mm", "mm"), ("_s", "s")):
        if name.endswith(suffix):
            return unit
    return ""


def _valid(rows: Sequence[dict], *, task: str, phase: str | None = None, condition: str | None = None) -> list[dict]:
    return [
        r for r in rows
        if r.get("status") == "finished" and r.get("task") == task
        and (phase is None or r.get("phase") == phase) and (condition is None or r.get("condition") == condition)
    ]


def _with_index(metrics: dict) -> dict:
    m = dict(metrics)
    m["sway_index"] = sway_index(m)
    m["stability_score"] = stability_score(m["sway_index"])
    return m


def stance_scores(rows: Sequence[dict], *, phase: str = "baseline", condition: str = "eyes_open",
                  alpha: float = vd.ALPHA, family_alpha: float = vd.ALPHA) -> StanceScores:
    """Left/right summaries, descriptive asymmetries and the headline verdict of single-leg stance.

    Per side the metrics include ``sway_index`` and ``stability_score`` (mean and SD over trials). The
    headline (:func:`verdicts.stance_asymmetry`) tests at ``alpha``; the descriptive asymmetries, the
    sway index's included, keep their own :data:`CONFIDENCE` intervals.
    """
    valid = _valid(rows, task="single_leg", phase=phase, condition=condition)
    per_side: dict[str, list[dict]] = {"left": [], "right": []}
    for r in valid:
        if r.get("side") in per_side:
            per_side[r["side"]].append(_with_index(r.get("metrics") or {}))
    names = STANCE_METRICS + ("sway_index", "stability_score")
    summaries = {side: {name: summarise(m.get(name) for m in trials) for name in names}
                 for side, trials in per_side.items()}
    asym = {name: metric_asymmetry(name, summaries["left"][name], summaries["right"][name])
            for name in ASYMMETRY_METRICS + ("sway_index",)}
    headline = vd.stance_asymmetry([m.get("sway_index") for m in per_side["left"]],
                                   [m.get("sway_index") for m in per_side["right"]],
                                   block=f"stance/{phase}/{condition}", alpha=alpha, family_alpha=family_alpha)
    return StanceScores(phase=phase, condition=condition, sides=summaries, asymmetry=asym, headline=headline)


def score_stance(rows: Sequence[dict], **kwargs) -> dict:
    """The stored (dict) form of :func:`stance_scores` (the adaptive protocol's looks read its ``headline``)."""
    return stance_scores(rows, **kwargs).to_dict()


def rdl_scores(rows: Sequence[dict], *, phase: str = "baseline", task: str = "rdl", alpha: float = vd.ALPHA,
               family_alpha: float | None = None, adaptive: bool = False) -> RdlScores:
    """Per-side RDL repetition statistics, the descriptive asymmetry of the lateral shift, and the headline.

    The per-metric rows pool the repetitions of all valid sets of a side (descriptive); the headline
    verdict (:func:`verdicts.rdl_asymmetry`) keeps the sets apart (set means are the units when each
    side has three or more sets).
    """
    valid = _valid(rows, task=task, phase=phase)
    reps: dict[str, list[dict]] = {"left": [], "right": []}
    sets: dict[str, list[list]] = {"left": [], "right": []}
    for r in valid:
        if r.get("side") in reps:
            reps[r["side"]].extend(r.get("reps") or [])
            sets[r["side"]].append([rep.get("lateral_shift_mm") for rep in r.get("reps") or []])
    summaries = {side: {name: summarise(rep.get(name) for rep in rr) for name in RDL_REP_METRICS}
                 for side, rr in reps.items()}
    block = "primer_rdl" if task == "rfe_rdl" else "rdl"
    # the primer's rear-foot-elevated RDL is described (each leg's shift with its 95 % interval), not tested:
    # its left/right test found the weak leg in 58 % of sessions, too few for a headline verdict
    descriptive = block in DESCRIPTIVE_BLOCKS
    return RdlScores(
        block=block, phase=phase, task=task, sides=summaries, reps={side: len(rr) for side, rr in reps.items()},
        # a described block compares nothing: no per-metric row may name a side either
        asymmetry={} if descriptive else {name: metric_asymmetry(name, summaries["left"][name], summaries["right"][name])
                                          for name in RDL_ASYMMETRY_METRICS},
        headline=None if descriptive else vd.rdl_asymmetry(
            sets["left"], sets["right"], block=block, alpha=alpha, family_alpha=family_alpha,
            set_means=False if adaptive else None),
        description=vd.rdl_description(sets["left"], sets["right"], block=block) if descriptive else None)


def change(
    before: Summary, after: Summary, *, larger_is_worse: bool = True, default_mdc_pct: float = DEFAULT_MDC_PCT,
    resolution: float | None = None, confidence: float = CONFIDENCE,
) -> Change:
    """Before/after change of one metric on one side against its minimal detectable change.

    MDC = ``t(confidence, df) s_w sqrt(1/n_pre + 1/n_post)`` (:func:`stats.mdc`); the pooled
    within-session SD ``s_w`` is never taken below ``resolution`` (default 1 % of the baseline mean):
    blocks of identical trials do not make every change detectable. With fewer than two trials in a
    block, ``default_mdc_pct`` % of the baseline mean (``MdcSource.DEFAULT``).
    """
    if before.n == 0 or after.n == 0:
        return Change(before, after, Outcome.NOT_ENOUGH_DATA, mdc_level=confidence)
    delta = after.mean - before.mean
    change_pct = 100.0 * delta / before.mean if before.mean else math.nan
    dof = (before.n - 1) + (after.n - 1)
    if before.n >= 2 and after.n >= 2 and dof >= 2:
        pooled_var = ((before.n - 1) * before.sd**2 + (after.n - 1) * after.sd**2) / dof
        if resolution is None:
            resolution = 0.01 * abs(before.mean)
        s_w = max(math.sqrt(pooled_var), resolution)
        factor = math.sqrt(1.0 / before.n + 1.0 / after.n)
        sem = s_w * factor / math.sqrt(2.0)  # SEM of a block mean (exact for equal blocks)
        mdc_value, mdc_df = mdc(s_w, before.n, after.n, level=confidence)
        source = MdcSource.TRIALS
    else:
        mdc_value, mdc_df = abs(before.mean) * default_mdc_pct / 100.0, math.nan
        sem = mdc_value / (t_quantile(1.0 - confidence, math.inf) * math.sqrt(2.0))
        source = MdcSource.DEFAULT
    if abs(delta) <= mdc_value:
        outcome = Outcome.NO_CHANGE
    else:
        outcome = Outcome.IMPROVED if (delta < 0) == larger_is_worse else Outcome.WORSE
    return Change(before, after, outcome, change=delta, change_pct=change_pct, sem=sem, mdc=mdc_value,
                  mdc_level=confidence, mdc_df=mdc_df, mdc_source=source)


def before_after_scores(rows: Sequence[dict], *, condition: str = "eyes_open",
                        metrics: Sequence[str] = BEFORE_AFTER_METRICS) -> BeforeAfterScores:
    """Per side and metric: baseline vs post-primer single-leg stance, change and MDC; the headline verdicts."""
    blocks = {
        phase: _valid(rows, task="single_leg", phase=phase, condition=condition) for phase in ("baseline", "post_primer")
    }
    sides = {}
    for side in ("left", "right"):
        per_metric = {}
        for name in metrics:
            values = {
                phase: summarise(_with_index(r.get("metrics") or {}).get(name) for r in trials if r.get("side") == side)
                for phase, trials in blocks.items()
            }
            per_metric[name] = change(values["baseline"], values["post_primer"], resolution=RESOLUTION.get(name))
        sides[side] = per_metric
    cells = {
        (phase, side): [_with_index(r.get("metrics") or {}).get("sway_index") for r in trials if r.get("side") == side]
        for phase, trials in blocks.items() for side in ("left", "right")
    }
    return BeforeAfterScores(condition=condition, sides=sides,
                             headline=tuple(vd.before_after(cells, block=f"before_after/{condition}")))


def score(rows: Sequence[dict], *, design: dict | None = None) -> SessionScores:
    """Everything a session's table supports: stance L/R per phase and condition, RDL L/R, before/after.

    Blocks are present only when the session has the trials for them; ``.verdicts`` lists the
    headline verdicts in report order.

    Parameters
    ----------
    design : dict, optional
        Per-block test level from the protocol, ``{"stance/baseline/eyes_open": {"alpha": 0.037,
        "adaptive": True}}`` (an adaptive block tests at the level of the look where it stopped; its
        false-positive rate over all looks is ``verdicts.ADAPTIVE_FAMILY_ALPHA``; default 4 %).
    """
    design = design or {}

    def levels(block: str) -> dict:
        d = design.get(block) or {}
        return {"alpha": d.get("alpha", vd.ALPHA),
                "family_alpha": vd.ADAPTIVE_FAMILY_ALPHA if d.get("adaptive") else d.get("alpha", vd.ALPHA)}

    combos = sorted({(r.get("phase"), r.get("condition")) for r in _valid(rows, task="single_leg")})
    stance = {f"{phase}/{condition}": stance_scores(rows, phase=phase, condition=condition,
                                                    **levels(f"stance/{phase}/{condition}"))
              for phase, condition in combos}
    phases = {p for p, _ in combos}
    before_after = {}
    if {"baseline", "post_primer"} <= phases:
        before_after = {condition: before_after_scores(rows, condition=condition)
                        for condition in sorted({c for p, c in combos if p == "post_primer"})}
    rdl_design = design.get("rdl") or {}
    return SessionScores(
        stance=stance, rdl=rdl_scores(rows, task="rdl", adaptive=bool(rdl_design.get("adaptive")), **levels("rdl"))
        if _valid(rows, task="rdl") else None,
        primer_rdl=rdl_scores(rows, task="rfe_rdl", phase="primer") if _valid(rows, task="rfe_rdl") else None,
        before_after=before_after, score_meaning=SCORE_MEANING)


def score_session(rows: Sequence[dict], *, design: dict | None = None) -> dict:
    """The stored (JSON) form of :func:`score`: what the store keeps with a finished session."""
    return score(rows, design=design).to_dict()
