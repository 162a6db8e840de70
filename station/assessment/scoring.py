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
- Before/after: change = post mean - baseline mean; MDC95 = 1.96 * s_w * sqrt(1/n_pre + 1/n_post)
  with s_w the pooled within-session trial SD (= SEM * 1.96 * sqrt 2 with SEM = s_w / sqrt(n) for
  equal blocks of n trials); with fewer than two trials in both blocks, a default MDC of
  ``DEFAULT_MDC_PCT`` % of the baseline mean is used and flagged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

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

#: per-repetition RDL metrics; "lateral_shift_mm" is the peak-to-peak ML COP excursion within a rep
RDL_REP_METRICS = ("lateral_shift_mm", "ml_sd_mm", "duration_s")
RDL_ASYMMETRY_METRICS = ("lateral_shift_mm",)

#: before/after comparison metrics (stance), with the composite first
BEFORE_AFTER_METRICS = ("sway_index", "mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2", "mean_velocity_mm_s")

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


def stability_score(index: float) -> float:
    """Stability score 0-100 from a sway index: ``100 / (1 + index)`` (50 = reference, higher = steadier)."""
    return float(100.0 / (1.0 + index)) if np.isfinite(index) else math.nan


def asymmetry(
    left: Summary, right: Summary, *, larger_is_worse: bool = True, confidence: float = CONFIDENCE
) -> dict:
    """Asymmetry index of one metric with its trial-to-trial uncertainty and a verdict.

    Returns
    -------
    dict
        ``si_pct`` (200 (R-L)/(R+L)), ``se_pct``, ``ci_low_pct``, ``ci_high_pct``, ``df``,
        ``less_stable`` ("left" / "right" / None) and ``verdict`` (a sentence fragment:
        "right less stable", "no detectable asymmetry", "not enough trials").
    """
    from scipy import stats

    out = {"si_pct": math.nan, "se_pct": math.nan, "ci_low_pct": math.nan, "ci_high_pct": math.nan,
           "df": math.nan, "less_stable": None, "verdict": "not enough trials",
           "left_mean": left.mean, "right_mean": right.mean, "n_left": left.n, "n_right": right.n}
    if left.n == 0 or right.n == 0:
        return out
    total = left.mean + right.mean
    if total == 0:
        out.update(si_pct=0.0, se_pct=0.0, ci_low_pct=0.0, ci_high_pct=0.0, verdict="no detectable asymmetry")
        return out
    si = 200.0 * (right.mean - left.mean) / total
    out["si_pct"] = si
    if left.n < 2 or right.n < 2:
        return out
    # Delta method: dSI/dR = 400 L / (R+L)^2, dSI/dL = -400 R / (R+L)^2.
    a = (400.0 * left.mean / total**2) ** 2 * right.se**2
    b = (400.0 * right.mean / total**2) ** 2 * left.se**2
    se = math.sqrt(a + b)
    if se == 0.0:
        df = math.inf
    else:
        df = (a + b) ** 2 / ((a**2 / (right.n - 1) if a else 0.0) + (b**2 / (left.n - 1) if b else 0.0))
    t = float(stats.t.ppf(0.5 + confidence / 2.0, df)) if np.isfinite(df) else float(stats.norm.ppf(0.5 + confidence / 2.0))
    low, high = si - t * se, si + t * se
    out.update(se_pct=se, ci_low_pct=low, ci_high_pct=high, df=df)
    if low > 0 or high < 0:
        worse = "right" if (si > 0) == larger_is_worse else "left"
        out.update(less_stable=worse, verdict=f"{worse} less stable")
    else:
        out["verdict"] = "no detectable asymmetry"
    return out


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


def score_stance(rows: Sequence[dict], *, phase: str = "baseline", condition: str = "eyes_open") -> dict:
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
            name: asymmetry(summaries["left"][name], summaries["right"][name]) for name in ASYMMETRY_METRICS
        },
    }
    overall = asymmetry(summaries["left"]["sway_index"], summaries["right"]["sway_index"])
    result["verdict"] = overall
    result["less_stable"] = overall["less_stable"]
    result["summary"] = verdict_sentence(overall, what="single-leg stance")
    return result


def score_rdl(rows: Sequence[dict], *, phase: str = "baseline", task: str = "rdl") -> dict:
    """Per-side RDL repetition statistics and the asymmetry of the per-rep lateral weight shift.

    Each repetition is one sample (reps of all valid sets of a side pooled).
    """
    valid = _valid(rows, task=task, phase=phase)
    reps: dict[str, list[dict]] = {"left": [], "right": []}
    for r in valid:
        if r.get("side") in reps:
            reps[r["side"]].extend(r.get("reps") or [])
    summaries = {
        side: {name: summarise(rep.get(name) for rep in rr) for name in RDL_REP_METRICS} for side, rr in reps.items()
    }
    result = {
        "phase": phase,
        "task": task,
        "sides": {side: {k: asdict(v) for k, v in s.items()} | {"reps": len(reps[side])} for side, s in summaries.items()},
        "asymmetry": {
            name: asymmetry(summaries["left"][name], summaries["right"][name]) for name in RDL_ASYMMETRY_METRICS
        },
    }
    overall = result["asymmetry"]["lateral_shift_mm"]
    result["verdict"] = overall
    result["less_stable"] = overall["less_stable"]
    result["summary"] = verdict_sentence(overall, what="single-leg RDL lateral weight shift")
    return result


def change(
    before: Summary, after: Summary, *, larger_is_worse: bool = True, default_mdc_pct: float = DEFAULT_MDC_PCT
) -> dict:
    """Before/after change of one metric on one side with its MDC95 and verdict.

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
        s_w = math.sqrt(pooled_var)
        factor = math.sqrt(1.0 / before.n + 1.0 / after.n)
        out["sem"] = s_w * factor / math.sqrt(2.0)  # SEM of a block mean (exact for equal blocks)
        out["mdc95"] = 1.96 * s_w * factor
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
            per_metric[name] = change(values["baseline"], values["post_primer"])
        result["sides"][side] = {"metrics": per_metric, "verdict": per_metric[metrics[0]]["verdict"]}
    return result


def verdict_sentence(asym: dict, *, what: str) -> str:
    """One line for a clinician, e.g. "single-leg stance: right less stable (SI +31 %, 95 % CI +12 to +50 %)"."""
    if asym["verdict"] == "not enough trials":
        return f"{what}: not enough valid trials on both sides for a left/right verdict"
    if not np.isfinite(asym["ci_low_pct"]):
        return f"{what}: {asym['verdict']} (SI {asym['si_pct']:+.0f} %)"
    return (
        f"{what}: {asym['verdict']} (SI {asym['si_pct']:+.0f} %, 95 % CI {asym['ci_low_pct']:+.0f} "
        f"to {asym['ci_high_pct']:+.0f} %)"
    )


def score_session(rows: Sequence[dict]) -> dict:
    """Everything a session's table supports: stance L/R per phase and condition, RDL L/R, before/after.

    Sections are present only when the session has the trials for them.
    """
    out: dict = {}
    combos = sorted({(r.get("phase"), r.get("condition")) for r in _valid(rows, task="single_leg")})
    stance = {f"{phase}/{condition}": score_stance(rows, phase=phase, condition=condition) for phase, condition in combos}
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
    return out
