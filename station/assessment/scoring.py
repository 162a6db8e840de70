"""Left/right scoring and before/after comparison on per-trial metric tables (docs/ASSESSMENT.md §4-5).

Input everywhere is a *metrics table*: a list of rows, one per trial, as returned by
``Store.metrics_table(session_id)``::

    {"trial_id": 7, "task": "single_leg", "side": "left", "condition": "eyes_open",
     "phase": "baseline", "status": "finished", "metrics": {name: value, ...},
     "reps": [{name: value, ...}, ...]}          # per repetition (RDL), else []

Only ``finished`` trials count. Everything here is plain numpy/scipy on a handful of numbers, and
every result is a JSON-able dict, so the session's scores can be stored and shown as they are.

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
  (same unit as the metric) with a Welch t interval (``method = "difference"``, SI undefined).
- Event counts (``COUNT_METRICS``: touchdowns) are never compared by SI: the difference in events per
  trial, with each side's per-trial variance at least the pooled rate (Poisson), Welch t interval;
  with fewer than ``MIN_EVENTS`` events on both sides together: "too few touchdowns to compare".
- Before/after (descriptive, per metric): change = post mean - baseline mean; MDC95 = t(0.975, df) *
  s_w * sqrt(1/n_pre + 1/n_post) with s_w the pooled within-session trial SD and df = n_pre + n_post - 2
  (a Student-t quantile: s_w is estimated on a handful of trials); with fewer than two trials in both
  blocks, a default MDC of ``DEFAULT_MDC_PCT`` % of the baseline mean is used and flagged.
- Headline verdicts (one per block, with their error rates and resolutions) come from
  :mod:`station.assessment.verdicts`; the per-metric asymmetries and changes here are descriptive
  differences with intervals. ``score_session(rows)["verdicts"]`` is the headline list.
- familiarisation (practice) trials have their own task, ``single_leg_practice``: stored, never scored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from station.core.registry import label

from station.assessment import verdicts as vd

#: metrics summarised per side for single-leg stance; larger = less stable for all of them
STANCE_METRICS = (
    "mean_velocity_ml_mm_s",
    "mean_velocity_mm_s",
    "range_ml_mm",
    "rms_ml_mm",
    "ellipse95_area_mm2",
    "touchdowns",
)
#: metrics with an asymmetry index and a verdict (issue 6: ML velocity, ML range, ellipse area, touchdowns)
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

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean, sample SD (ddof=1; NaN when n < 2) and count of one metric over valid trials."""

    mean: float
    sd: float
    n: int

    @property
    def se(self) -> float:
        return self.sd / math.sqrt(self.n) if self.n >= 2 else math.nan


def summarise(values: Iterable[float]) -> Summary:
    """Summary of the finite values (NaN mean when there are none)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
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


#: a sway index up to this counts as healthy single-leg sway (healthy adults: about 0.6-1.3 x the reference)
HEALTHY_INDEX_UPPER = 1.25

#: what the balance score means, stored in every session's scores (report and dashboard show it)
SCORE_MEANING = {
    "key": "stability_score",
    "name": label("stability_score"),
    "range": [0, 100],
    "healthy_range": [80, 100],
    "formula": "100 x min(1, 1.25 / sway index)",
    "text": ("Balance score 0-100, higher = steadier: 100 = sways no more than 1.25 x a typical healthy "
             "single-leg stance (healthy adults score about 80-100); 80 = 1.56 x, 50 = 2.5 x, 25 = 5 x "
             "that sway. It summarises the sway index; the left/right verdict is the headline test."),
}


def stability_score(index: float) -> float:
    """Balance score 0-100 from a sway index: ``100 * min(1, 1.25 / index)`` (see :data:`SCORE_MEANING`).

    Healthy single-leg sway (index up to 1.25) scores 100 and healthy people about 80-100; twice the
    healthy upper sway scores 50. Higher = steadier.
    """
    if not np.isfinite(index) or index <= 0:
        return math.nan
    return float(100.0 * min(1.0, HEALTHY_INDEX_UPPER / index))


def asymmetry(
    left: Summary, right: Summary, *, larger_is_worse: bool = True, confidence: float = CONFIDENCE,
    resolution: float | None = None, count: bool = False, events: str = "events", unit: str = "",
    min_events: int = MIN_EVENTS,
) -> dict:
    """Left/right asymmetry of one metric with its trial-to-trial uncertainty and a verdict.

    Three methods (``method``), chosen from the data:

    - ``"si"``: ``SI = 200 (R-L)/(R+L)`` % with a delta-method Welch t interval, when both side means
      are clearly positive (each at least ``SI_MIN_MEAN_SE`` standard errors and ``resolution`` above 0);
    - ``"difference"``: otherwise ``R - L`` (in ``unit``) with a Welch t interval; SI is undefined (NaN)
      because a ratio on a mean near 0 (or a signed metric) is meaningless;
    - ``"rate"`` (``count=True``, e.g. touchdowns): the difference in events per trial, each side's
      per-trial variance at least the pooled rate (Poisson under equal rates), Welch t interval; with
      fewer than ``min_events`` events in all, the verdict is "too few <events> to compare".

    Each side's SD is floored at ``resolution`` (default 1 % of the larger side mean), so a side
    whose trials happen to be identical never yields a zero-width interval.

    Returns
    -------
    dict
        ``method``, ``si_pct``, ``se_pct``, ``ci_low_pct``, ``ci_high_pct``, ``df`` (SI method; NaN
        otherwise), ``diff``, ``diff_se``, ``diff_ci_low``, ``diff_ci_high`` (R - L; every method),
        ``unit``, ``events`` (total, ``count=True``), ``less_stable`` ("left" / "right" / None),
        ``verdict`` ("right less stable", "no detectable asymmetry", "not enough trials", "too few
        touchdowns to compare"), ``note`` (why SI is undefined, or ""), ``left_mean``, ``right_mean``,
        ``n_left``, ``n_right``.
    """
    nan = math.nan
    out = {"method": None, "si_pct": nan, "se_pct": nan, "ci_low_pct": nan, "ci_high_pct": nan, "df": nan,
           "diff": nan, "diff_se": nan, "diff_ci_low": nan, "diff_ci_high": nan, "unit": unit,
           "less_stable": None, "verdict": "not enough trials", "note": "",
           "left_mean": left.mean, "right_mean": right.mean, "n_left": left.n, "n_right": right.n}
    if left.n == 0 or right.n == 0:
        return out
    out["diff"] = right.mean - left.mean
    enough = left.n >= 2 and right.n >= 2
    if count:
        n_events = round(left.mean * left.n + right.mean * right.n)
        out.update(method="rate", events=n_events, unit=unit or f"{events} per trial",
                   note="counts are compared as events per trial, not by SI")
        if n_events < min_events:
            out["verdict"] = f"too few {events} to compare"
            return out
        if not enough:
            return out
        pooled_rate = n_events / (left.n + right.n)  # Poisson variance of a count under equal rates
        var_l, var_r = max(_sd0(left) ** 2, pooled_rate), max(_sd0(right) ** 2, pooled_rate)
    else:
        if resolution is None:
            resolution = 0.01 * max(abs(left.mean), abs(right.mean))
        floor = max(float(resolution), 0.0)
        var_l, var_r = max(_sd0(left), floor) ** 2, max(_sd0(right), floor) ** 2
        near_zero = [side for side, s, v in (("left", left, var_l), ("right", right, var_r))
                     if not s.mean > max(floor, SI_MIN_MEAN_SE * math.sqrt(v / s.n))]
        if near_zero:
            out["method"] = "difference"
            out["note"] = (f"SI undefined: the {' and '.join(near_zero)} mean "
                           f"{'is' if len(near_zero) == 1 else 'are'} near 0 or below")
        else:
            out["method"] = "si"
            total = left.mean + right.mean
            out["si_pct"] = 200.0 * (right.mean - left.mean) / total
        if not enough:
            return out
        if out["method"] == "si":
            # Delta method: dSI/dR = 400 L / (R+L)^2, dSI/dL = -400 R / (R+L)^2.
            a = (400.0 * left.mean / total**2) ** 2 * var_r / right.n
            b = (400.0 * right.mean / total**2) ** 2 * var_l / left.n
            se, df = _welch(a, b, right.n, left.n)
            t = _t(confidence, df)
            si = out["si_pct"]
            out.update(se_pct=se, ci_low_pct=si - t * se, ci_high_pct=si + t * se, df=df)
    se_d, df_d = _welch(var_r / right.n, var_l / left.n, right.n, left.n)
    t = _t(confidence, df_d)
    low, high = out["diff"] - t * se_d, out["diff"] + t * se_d
    out.update(diff_se=se_d, diff_ci_low=low, diff_ci_high=high)
    if out["method"] == "si":
        low, high = out["ci_low_pct"], out["ci_high_pct"]
    if se_d == 0.0:  # no variability and no resolution (all values 0): nothing to tell the sides apart
        out.update(diff_ci_low=nan, diff_ci_high=nan, ci_low_pct=nan, ci_high_pct=nan,
                   verdict="no detectable asymmetry")
        return out
    if low > 0 or high < 0:
        worse = "right" if (out["diff"] > 0) == larger_is_worse else "left"
        out.update(less_stable=worse, verdict=f"{worse} less stable")
    else:
        out["verdict"] = "no detectable asymmetry"
    return out


def _sd0(s: Summary) -> float:
    """The SD, 0 when undefined (one trial)."""
    return s.sd if np.isfinite(s.sd) else 0.0


def _welch(a: float, b: float, n_a: int, n_b: int) -> tuple[float, float]:
    """SE and Welch-Satterthwaite df of a sum of two variance terms with ``n - 1`` df each."""
    se = math.sqrt(a + b)
    if se == 0.0:
        return 0.0, math.inf
    return se, (a + b) ** 2 / ((a**2 / (n_a - 1) if a else 0.0) + (b**2 / (n_b - 1) if b else 0.0))


def _t(confidence: float, df: float) -> float:
    from scipy import stats

    q = 0.5 + confidence / 2.0
    return float(stats.t.ppf(q, df)) if np.isfinite(df) else float(stats.norm.ppf(q))


def metric_asymmetry(name: str, left: Summary, right: Summary, **kwargs) -> dict:
    """:func:`asymmetry` with the metric's own rules: counts as rates, its ``RESOLUTION`` as SD floor."""
    if name in COUNT_METRICS:
        return asymmetry(left, right, count=True, events=name, **kwargs)
    return asymmetry(left, right, resolution=RESOLUTION.get(name), unit=_unit(name), **kwargs)


def _unit(name: str) -> str:
    for suffix, unit in (("_mm_s", "mm/s"), ("_mm2", "mm²"), ("_mm", "mm"), ("_s", "s")):
        if name.endswith(suffix):
            return unit
    return ""


#: phases that are recorded but never scored (practice trials have their own task instead)
UNSCORED_PHASES: tuple[str, ...] = ()


def _valid(rows: Sequence[dict], *, task: str, phase: str | None = None, condition: str | None = None) -> list[dict]:
    return [
        r for r in rows
        if r.get("status") == "finished" and r.get("task") == task and r.get("phase") not in UNSCORED_PHASES
        and (phase is None or r.get("phase") == phase) and (condition is None or r.get("condition") == condition)
    ]


def _with_index(metrics: dict) -> dict:
    m = dict(metrics)
    m["sway_index"] = sway_index(m)
    m["stability_score"] = stability_score(m["sway_index"])
    return m


def score_stance(rows: Sequence[dict], *, phase: str = "baseline", condition: str = "eyes_open",
                 alpha: float = vd.ALPHA, family_alpha: float = vd.ALPHA) -> dict:
    """Left/right summary, stability scores, asymmetry indices and verdict for single-leg stance.

    Returns
    -------
    dict
        ``{"phase", "condition", "sides": {side: {metric: {mean, sd, n}}}, "asymmetry": {metric: ...},
        "verdict": {...asymmetry of the sway index...}, "less_stable": side | None}``. Per side the
        metrics include ``sway_index`` and ``stability_score`` (mean and SD over trials).
    """
    valid = _valid(rows, task="single_leg", phase=phase, condition=condition)
    per_side: dict[str, list[dict]] = {"left": [], "right": []}
    for r in valid:
        if r.get("side") in per_side:
            per_side[r["side"]].append(_with_index(r.get("metrics") or {}))
    names = STANCE_METRICS + ("sway_index", "stability_score")
    summaries = {
        side: {name: summarise(m.get(name) for m in trials) for name in names} for side, trials in per_side.items()
    }
    result = {
        "phase": phase,
        "condition": condition,
        "sides": {side: {k: asdict(v) for k, v in s.items()} for side, s in summaries.items()},
        "asymmetry": {
            name: metric_asymmetry(name, summaries["left"][name], summaries["right"][name])
            for name in ASYMMETRY_METRICS
        },
    }
    headline = vd.stance_asymmetry([m.get("sway_index") for m in per_side["left"]],
                                   [m.get("sway_index") for m in per_side["right"]],
                                   block=f"stance/{phase}/{condition}", alpha=alpha, family_alpha=family_alpha)
    overall = metric_asymmetry("sway_index", summaries["left"]["sway_index"], summaries["right"]["sway_index"])
    # the sway index row agrees with the headline test (its interval, verdict and side)
    if np.isfinite(headline["estimate"]):
        overall.update(method="si", si_pct=headline["estimate"], ci_low_pct=headline["ci_low"],
                       ci_high_pct=headline["ci_high"], df=headline["df"])
    overall.update(verdict=headline["verdict"], less_stable=headline["less_stable"])
    result["verdict"] = overall
    result["headline"] = headline
    result["less_stable"] = headline["less_stable"]
    result["summary"] = headline["text"]
    return result


def score_rdl(rows: Sequence[dict], *, phase: str = "baseline", task: str = "rdl") -> dict:
    """Per-side RDL repetition statistics and the asymmetry of the per-rep lateral weight shift.

    The per-metric rows pool the repetitions of all valid sets of a side (descriptive); the headline
    verdict (:func:`verdicts.rdl_asymmetry`) keeps the sets apart (set means are the units when each
    side has two or more sets).
    """
    valid = _valid(rows, task=task, phase=phase)
    reps: dict[str, list[dict]] = {"left": [], "right": []}
    sets: dict[str, list[list]] = {"left": [], "right": []}
    for r in valid:
        if r.get("side") in reps:
            reps[r["side"]].extend(r.get("reps") or [])
            sets[r["side"]].append([rep.get("lateral_shift_mm") for rep in r.get("reps") or []])
    summaries = {
        side: {name: summarise(rep.get(name) for rep in rr) for name in RDL_REP_METRICS} for side, rr in reps.items()
    }
    result = {
        "phase": phase,
        "task": task,
        "sides": {side: {k: asdict(v) for k, v in s.items()} | {"reps": len(reps[side])} for side, s in summaries.items()},
        "asymmetry": {
            name: metric_asymmetry(name, summaries["left"][name], summaries["right"][name])
            for name in RDL_ASYMMETRY_METRICS
        },
    }
    headline = vd.rdl_asymmetry(sets["left"], sets["right"], block="primer_rdl" if task == "rfe_rdl" else "rdl")
    overall = result["asymmetry"]["lateral_shift_mm"]
    overall.update(verdict=headline["verdict"], less_stable=headline["less_stable"])
    if np.isfinite(headline["estimate"]):
        overall.update(diff=headline["estimate"], diff_ci_low=headline["ci_low"], diff_ci_high=headline["ci_high"])
    result["verdict"] = overall
    result["headline"] = headline
    result["less_stable"] = headline["less_stable"]
    result["summary"] = headline["text"]
    return result


def change(
    before: Summary, after: Summary, *, larger_is_worse: bool = True, default_mdc_pct: float = DEFAULT_MDC_PCT,
    resolution: float | None = None,
) -> dict:
    """Before/after change of one metric on one side with its MDC95 and verdict.

    The pooled within-session SD is never taken below ``resolution`` (default 1 % of the baseline
    mean): blocks of identical trials do not make every change detectable.

    Returns
    -------
    dict
        ``baseline_mean, post_mean, change, change_pct, sem, mdc95, mdc_source ("trials" | "default"),
        verdict ("improved" | "no detectable change" | "worse" | "not enough trials")``.
    """
    out = {"baseline_mean": before.mean, "post_mean": after.mean, "n_baseline": before.n, "n_post": after.n,
           "change": math.nan, "change_pct": math.nan, "sem": math.nan, "mdc95": math.nan,
           "mdc_source": None, "verdict": "not enough trials"}
    if before.n == 0 or after.n == 0:
        return out
    delta = after.mean - before.mean
    out["change"] = delta
    out["change_pct"] = 100.0 * delta / before.mean if before.mean else math.nan
    dof = (before.n - 1) + (after.n - 1)
    if dof >= 2 and before.n >= 2 and after.n >= 2:
        pooled_var = ((before.n - 1) * before.sd**2 + (after.n - 1) * after.sd**2) / dof
        if resolution is None:
            resolution = 0.01 * abs(before.mean)
        s_w = max(math.sqrt(pooled_var), resolution)
        factor = math.sqrt(1.0 / before.n + 1.0 / after.n)
        out["sem"] = s_w * factor / math.sqrt(2.0)  # SEM of a block mean (exact for equal blocks)
        out["mdc95"] = _t(CONFIDENCE, dof) * s_w * factor  # s_w has only dof degrees of freedom
        out["mdc_source"] = "trials"
    else:
        out["mdc95"] = abs(before.mean) * default_mdc_pct / 100.0
        out["sem"] = out["mdc95"] / (1.96 * math.sqrt(2.0))
        out["mdc_source"] = "default"
    if abs(delta) <= out["mdc95"]:
        out["verdict"] = "no detectable change"
    else:
        out["verdict"] = "improved" if (delta < 0) == larger_is_worse else "worse"
    return out


def before_after(rows: Sequence[dict], *, condition: str = "eyes_open", metrics: Sequence[str] = BEFORE_AFTER_METRICS) -> dict:
    """Per side and metric: baseline vs post-primer single-leg stance, change, MDC95 and verdict.

    Returns
    -------
    dict
        ``{"condition", "sides": {side: {"metrics": {metric: change(...)}, "verdict": <of sway_index>}}}``
    """
    result: dict = {"condition": condition, "sides": {}}
    blocks = {
        phase: _valid(rows, task="single_leg", phase=phase, condition=condition) for phase in ("baseline", "post_primer")
    }
    for side in ("left", "right"):
        per_metric = {}
        for name in metrics:
            values = {
                phase: summarise(_with_index(r.get("metrics") or {}).get(name) for r in trials if r.get("side") == side)
                for phase, trials in blocks.items()
            }
            per_metric[name] = change(values["baseline"], values["post_primer"], resolution=RESOLUTION.get(name))
        result["sides"][side] = {"metrics": per_metric, "verdict": per_metric[metrics[0]]["verdict"]}
    cells = {
        (phase, side): [_with_index(r.get("metrics") or {}).get("sway_index") for r in trials if r.get("side") == side]
        for phase, trials in blocks.items() for side in ("left", "right")
    }
    headline = vd.before_after(cells, block=f"before_after/{condition}")
    result["headline"] = headline
    for v in headline:
        if v["side"] in result["sides"]:
            result["sides"][v["side"]]["verdict"] = v["verdict"]  # the per-side headline decides the side's word
    result["asymmetry_change"] = headline[-1]
    return result


def verdict_sentence(asym: dict, *, what: str) -> str:
    """One line for a clinician, e.g. "single-leg stance: right less stable (SI +31 %, 95 % CI +12 to +50 %)".

    When SI is undefined the difference is given instead: "... (R − L +3.2 mm, 95 % CI -1.0 to +7.4;
    SI undefined: the left mean is near 0 or below)"; counts: "... (R − L +1.7 touchdowns per trial, 95 %
    CI +0.2 to +3.1)" or "...: too few touchdowns to compare (2 in all)".
    """
    if asym["verdict"] == "not enough trials":
        return f"{what}: not enough valid trials on both sides for a left/right verdict"
    if asym["verdict"].startswith("too few"):
        return f"{what}: {asym['verdict']} ({asym.get('events', 0)} in all)"
    if asym.get("method") in ("difference", "rate"):
        unit = f" {asym['unit']}" if asym.get("unit") else ""
        text = f"{what}: {asym['verdict']} (R − L {asym['diff']:+.1f}{unit}"
        if np.isfinite(asym["diff_ci_low"]):
            text += f", 95 % CI {asym['diff_ci_low']:+.1f} to {asym['diff_ci_high']:+.1f}"
        if asym.get("method") == "difference":
            text += f"; {asym['note']}"
        return text + ")"
    if not np.isfinite(asym["ci_low_pct"]):
        return f"{what}: {asym['verdict']} (SI {asym['si_pct']:+.0f} %)"
    return (
        f"{what}: {asym['verdict']} (SI {asym['si_pct']:+.0f} %, 95 % CI {asym['ci_low_pct']:+.0f} "
        f"to {asym['ci_high_pct']:+.0f} %)"
    )


def score_session(rows: Sequence[dict], *, design: dict | None = None) -> dict:
    """Everything a session's table supports: stance L/R per phase and condition, RDL L/R, before/after.

    Sections are present only when the session has the trials for them; ``"verdicts"`` is the list of
    headline verdicts (:func:`verdicts.headline_verdicts`) and ``"score_meaning"`` says what the
    balance score means.

    Parameters
    ----------
    design : dict, optional
        Per-block test level from the protocol, ``{"stance/baseline/eyes_open": {"alpha": 0.0182}}``
        (an adaptive block tests at its per-look level, its false-positive rate over all looks is
        ``verdicts.ADAPTIVE_FAMILY_ALPHA``; default 4 %).
    """
    design = design or {}

    def levels(block: str) -> dict:
        d = design.get(block) or {}
        return {"alpha": d.get("alpha", vd.ALPHA),
                "family_alpha": vd.ADAPTIVE_FAMILY_ALPHA if d.get("adaptive") else d.get("alpha", vd.ALPHA)}

    out: dict = {"score_meaning": dict(SCORE_MEANING)}
    combos = sorted({(r.get("phase"), r.get("condition")) for r in _valid(rows, task="single_leg")})
    stance = {
        f"{phase}/{condition}": score_stance(rows, phase=phase, condition=condition,
                                             **levels(f"stance/{phase}/{condition}"))
        for phase, condition in combos
    }
    if stance:
        out["stance"] = stance
    if _valid(rows, task="rdl"):
        out["rdl"] = score_rdl(rows, task="rdl")
    if _valid(rows, task="rfe_rdl"):
        out["primer_rdl"] = score_rdl(rows, task="rfe_rdl", phase="primer")
    phases = {p for p, _ in combos}
    if {"baseline", "post_primer"} <= phases:
        out["before_after"] = {
            condition: before_after(rows, condition=condition)
            for condition in sorted({c for p, c in combos if p == "post_primer"})
        }
    out["verdicts"] = vd.headline_verdicts(out)
    return out
