"""Headline verdicts: one test per question, each with its error rate and its resolution.

A session answers at most these questions, one headline verdict each (docs/ASSESSMENT.md §4):

=============================  =============================================================  =======
block                          test                                                           unit
=============================  =============================================================  =======
``stance/<phase>/<cond>``      left vs right single-leg sway (sway index), Welch t on logs    SI %
``rdl``, ``primer_rdl``        left vs right outward lateral shift per repetition, pooled t   mm R−L
``before_after/<cond>``        per side: post vs baseline sway index (pooled t on logs), and  %
                               the change of the L/R asymmetry (SI after − SI before)
=============================  =============================================================  =======

Statistics
----------
- **Stance L/R.** Each trial gives ``log(sway_index)``; the sway of a person varies multiplicatively
  from trial to trial (CV 7–15 %), so logs have a constant variance. ``d = mean log R − mean log L``,
  each leg's own SD (Welch SE and Welch–Satterthwaite df: one leg may vary much more than the other),
  Student-t interval. Reported as the
  symmetry index of the two geometric means, ``SI = 200 (R − L)/(R + L) = 200 tanh(d / 2)`` %, with the
  interval transformed the same way. A side is named only when the interval excludes 0. The false-
  positive rate is ``alpha`` (:data:`ALPHA` = 4 % two-sided; the adaptive protocol tests at
  :data:`ADAPTIVE_ALPHA_INTERIM` at its interim looks and :data:`ADAPTIVE_ALPHA_FINAL` at the last one,
  4 % overall, and the verdict's interval is at the level of the look where the block stopped).
- **RDL L/R.** Per repetition, the outward lateral shift (``lateral_shift_mm``). Repetitions within one
  set share that set's conditions, so when each side has :data:`RDL_MIN_SETS_FOR_SET_MEANS` (3) sets or
  more the unit is the *set mean* (pooled t on set means, df = sets − 2); otherwise the repetitions are
  the units (pooled t, df = reps − 2) and each side's variance of the mean is inflated by the design
  effect ``1 + (m − 1) ρ`` of an exchangeable within-set correlation ``ρ`` =
  :data:`RDL_WITHIN_SET_CORRELATION` (``m`` = that side's repetitions per set; measured on the virtual
  board; one set cannot estimate it) — the bench measures the resulting false-positive rate and coverage.
- **Before/after.** Per side, ``Δ = mean log post − mean log baseline`` of the sway index; the noise
  term is that leg's within-session trial-to-trial SD of ``log(sway_index)``, pooled over its two blocks
  (df = n_baseline + n_post − 2), a 95 % Student-t interval (not a normal quantile on an SD with 4 df)
  whose tails are unequal: :data:`ALPHA_IMPROVED` (4 %) above, :data:`ALPHA_WORSE` (1 %) below, reported
  as a % change ``100 (e^Δ − 1)``; "improved" when the interval lies below 0 (one-sided 4 %),
  "worse" only when it lies above +:data:`WORSE_ALLOWANCE_PCT` % (one-sided 1 %; fatigue over a session raises sway a
  little on an unchanged leg; practice, which would lower it, is kept out by the unscored practice
  trials), else "no detectable change". A
  weak leg varies more from trial to trial than the other (touchdowns, hip drop), so the legs do not
  share one SD (a shared SD called the unchanged weak leg "worse" in 10 % of sessions on the bench).
  Between-session variability does not enter: both blocks are in one session. The asymmetry change is
  ``Δd = d_post − d_baseline`` (a time effect shared by both legs cancels in it) with the per-leg SDs
  and Welch–Satterthwaite df, tested at :data:`ALPHA`, reported as SI before →
  after (each with its interval) and their difference in SI points; verdict "reduced" (|asymmetry| shrank), "increased"
  or "no detectable change".
- **Resolution** of a verdict: the smallest effect this session could have called, the interval's
  half-width (in the verdict's unit).

Each verdict is a :class:`station.assessment.results.Verdict` (its interval carries its level, its
outcome is an enum); :mod:`station.report.wording` words it.
"""

from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np

from station.assessment.results import (DESCRIPTIVE_LEVEL, Description, Interval, Kind, Measure, Outcome, Method,
                                        SideFigure, Verdict)
from station.assessment.stats import finite, pooled_sd, si_from_log_ratio, t_quantile, welch

log = logging.getLogger(__name__)

#: two-sided false-positive rate of the left/right headline tests (stance, RDL) and of the asymmetry
#: change: 4 %, so that the bench (bench/verdicts.py, 600 sessions) shows the promised <= 5 % with the
#: upper end of its 95 % binomial interval under 7 % (a test designed at exactly 5 % would need ~1 500
#: sessions per condition to show that); the intervals are 96 % intervals
ALPHA = 0.04
#: the per-leg before/after test spends its 5 % on the two directions unequally: a false "improved"
#: (the claim a primer is meant to earn) at most :data:`ALPHA_IMPROVED`, a false "worse" at most
#: :data:`ALPHA_WORSE` (and only beyond :data:`WORSE_ALLOWANCE_PCT`). Its interval is the 95 % interval
#: with those tails: ``[Δ − t(1 − ALPHA_WORSE) SE, Δ + t(1 − ALPHA_IMPROVED) SE]``. With equal tails
#: (2.5 % each) the bench measured 2.5 % false calls and 74.5 % power at a −25 % primer effect: the error
#: budget went unspent on "worse", which the fatigue allowance already guards.
ALPHA_IMPROVED = 0.04
ALPHA_WORSE = 0.01
#: the per-leg test's overall level (both tails; its interval is a ``1 - ALPHA_CHANGE`` interval)
ALPHA_CHANGE = ALPHA_IMPROVED + ALPHA_WORSE
#: an increase of sway after the primer is called "worse" only beyond this (%): the smallest worthwhile
#: change of single-leg sway (Hopkins' default smallest worthwhile change, 0.2 x the between-person SD,
#: with an assumed between-person CV of ~25 %; Hopkins 2004, Sportscience 8:1) and an allowance for the
#: fatigue a session of single-leg work builds (fatigue raises postural sway: Paillard 2012, Neurosci
#: Biobehav Rev 36:162; single-leg stance: Kozinc et al. 2021, Front Physiol 12:720905). A decrease needs
#: no allowance: the time effects left once the practice trials are discarded (fatigue) work against
#: "improved", so they cannot produce a false "improved".
WORSE_ALLOWANCE_PCT = 5.0
#: levels of the adaptive single-leg protocol (looks after 3 to 11 trials per side, and the final look
#: after 12): a strict interim level and a final level near 4 %, O'Brien-Fleming / Haybittle-Peto style
#: (Haybittle 1971, Br J Radiol 44:793; Peto et al. 1976), so that the block stops early only for a clear
#: asymmetry and the final interval is an ordinary ~96 % interval. A Monte-Carlo of the pooled t at these
#: ten looks gives an overall false-positive rate of 3.9 % (30 000 sessions; 4.0 % with a final 3.8 %);
#: tests/assessment/test_verdicts.py pins the rate through the code's own test, and bench/verdicts.py
#: measures it through the runner.
ADAPTIVE_ALPHA_INTERIM = 0.001
ADAPTIVE_ALPHA_FINAL = 0.037
#: the adaptive block's overall false-positive rate (all looks together)
ADAPTIVE_FAMILY_ALPHA = 0.04
#: final level of the adaptive RDL block (looks after 1, 2 and 3 sets per leg, the first two at
#: :data:`ADAPTIVE_ALPHA_INTERIM`): a Monte-Carlo of the three looks with a known variance gives 3.95 %
RDL_ADAPTIVE_ALPHA_FINAL = 0.039
#: within-set correlation of per-rep lateral-shift estimates (exchangeable), used when a leg has fewer
#: than :data:`RDL_MIN_SETS_FOR_SET_MEANS` sets. Measured by ``bench/verdicts.py`` on the realistic patients
#: (its "within-set correlation" line: the variance of a set's mean shift around the patient's typical
#: shift, over the within-set variance / m): 0.04 on 195 sets of 10 (variance ratio 1.37); the slow sway
#: shared by neighbouring repetitions and the set's own level (trial-to-trial CV) make it. One set cannot
#: estimate it; real data should re-estimate it.
RDL_WITHIN_SET_CORRELATION = 0.05
#: with this many sets per leg or more, the set means are the units (no correlation value needed)
RDL_MIN_SETS_FOR_SET_MEANS = 3


def _not_enough(block: str, kind: Kind, side, *, measure: Measure, unit: str, alpha: float, family_alpha: float,
                method: Method, level: float, n: dict, **extra) -> Verdict:
    return Verdict(block=block, kind=kind, side=side, outcome=Outcome.NOT_ENOUGH_DATA, measure=measure,
                   estimate=math.nan, interval=Interval.undefined(level), unit=unit, resolution=math.nan, alpha=alpha,
                   family_alpha=family_alpha, method=method, n=n, **extra)


def _side_outcome(d: float, interval_excludes_zero: bool) -> Outcome:
    """The side whose value is larger when the interval of ``d = R - L`` excludes 0."""
    if interval_excludes_zero:
        return Outcome.less_stable("right" if d > 0 else "left")
    return Outcome.NO_ASYMMETRY


def stance_asymmetry(left: Sequence[float], right: Sequence[float], *, block: str, alpha: float = ALPHA,
                     family_alpha: float = ALPHA) -> Verdict:
    """Headline L/R verdict of single-leg stance from per-trial sway indices (see the module notes).

    The interval is a ``1 - alpha`` interval of the SI; ``family_alpha`` is the block's false-positive
    rate (an adaptive block's over all its looks).
    """
    lv, rv = finite(left), finite(right)
    lv, rv = np.log(lv[lv > 0]), np.log(rv[rv > 0])
    n = {"left": int(lv.size), "right": int(rv.size)}
    common = dict(kind=Kind.ASYMMETRY, side=None, measure=Measure.SI, unit="%", alpha=alpha,
                  family_alpha=family_alpha, method=Method.STANCE_LOG_WELCH)
    if lv.size < 2 or rv.size < 2:
        return _not_enough(block, level=1.0 - alpha, n=n, **common)
    # Welch: a leg may vary much more than the other (a pooled df let 5.6 % of symmetric patients with
    # trial-to-trial CVs of 5 % and 25 % be called asymmetric; station.assessment.sequential.simulate)
    se, df = welch(float(lv.var(ddof=1)) / lv.size, float(rv.var(ddof=1)) / rv.size, lv.size, rv.size)
    if not math.isfinite(df):  # identical trials on both legs
        df = float(lv.size + rv.size - 2)
    d = float(rv.mean() - lv.mean())
    se = max(se, 1e-3 * math.sqrt(1.0 / lv.size + 1.0 / rv.size))  # 0.1 % floor: identical trials decide nothing
    half = t_quantile(alpha, df) * se
    low, high = d - half, d + half
    return Verdict(block=block, outcome=_side_outcome(d, low > 0 or high < 0), estimate=si_from_log_ratio(d),
                   interval=Interval(si_from_log_ratio(low), si_from_log_ratio(high), 1.0 - alpha),
                   resolution=si_from_log_ratio(half), df=df, n=n, log_ratio=d, log_se=se, **common)


def rdl_asymmetry(left_sets: Sequence[Sequence[float]], right_sets: Sequence[Sequence[float]], *, block: str,
                  alpha: float = ALPHA, family_alpha: float | None = None, set_means: bool | None = None) -> Verdict:
    """Headline L/R verdict of the RDL from per-rep outward lateral shifts, grouped by set (see module notes).

    ``set_means``: test on set means (True) or on the repetitions with the design effect (False); default:
    set means with :data:`RDL_MIN_SETS_FOR_SET_MEANS` sets per leg or more. The adaptive block tests on the
    repetitions at every look (one test throughout; set means would leave it 4 df after three sets).
    """
    lsets = [s for s in (finite(x) for x in left_sets) if s.size]
    rsets = [s for s in (finite(x) for x in right_sets) if s.size]
    by_set = (min(len(lsets), len(rsets)) >= RDL_MIN_SETS_FOR_SET_MEANS) if set_means is None else set_means
    if by_set:
        lv, rv = np.array([s.mean() for s in lsets]), np.array([s.mean() for s in rsets])
    else:
        lv = np.concatenate(lsets) if lsets else np.zeros(0)
        rv = np.concatenate(rsets) if rsets else np.zeros(0)
    n = {"left": int(lv.size), "right": int(rv.size), "sets_left": len(lsets), "sets_right": len(rsets)}
    common = dict(kind=Kind.ASYMMETRY, side=None, measure=Measure.DIFFERENCE, unit="mm", alpha=alpha,
                  family_alpha=alpha if family_alpha is None else family_alpha,
                  method=Method.RDL_SET_MEANS if by_set else Method.RDL_REPETITIONS)
    if lv.size < 2 or rv.size < 2:
        return _not_enough(block, level=1.0 - alpha, n=n, **common)
    sd, df = pooled_sd([lv, rv])
    d = float(rv.mean() - lv.mean())
    design_effect: tuple[float, ...] = ()
    if by_set:
        se = max(sd, 0.1) * math.sqrt(1.0 / lv.size + 1.0 / rv.size)
    else:  # reps of one set share that set's sway: each side's mean varies by the design effect more
        rho = RDL_WITHIN_SET_CORRELATION
        m_l, m_r = lv.size / len(lsets), rv.size / len(rsets)  # repetitions per set
        design_effect = (1.0 + (m_l - 1) * rho, 1.0 + (m_r - 1) * rho)
        se = max(sd, 0.1) * math.sqrt(design_effect[0] / lv.size + design_effect[1] / rv.size)
    half = t_quantile(alpha, df) * se
    return Verdict(block=block, outcome=_side_outcome(d, d - half > 0 or d + half < 0), estimate=d,
                   interval=Interval(d - half, d + half, 1.0 - alpha), resolution=half, df=df, n=n,
                   design_effect=design_effect, **common)


def before_after(cells: dict, *, block: str, alpha: float = ALPHA, alpha_improved: float = ALPHA_IMPROVED,
                 alpha_worse: float = ALPHA_WORSE, worse_allowance_pct: float = WORSE_ALLOWANCE_PCT) -> list[Verdict]:
    """Before/after verdicts: one per side plus the asymmetry change (see the module notes).

    Parameters
    ----------
    cells : dict
        ``{("baseline" | "post_primer", "left" | "right"): [sway index per trial, ...]}``.

    Returns
    -------
    list of Verdict
        Left leg, right leg (each a ``1 - alpha_improved - alpha_worse`` interval with unequal tails),
        then the change of the asymmetry (a ``1 - alpha`` interval).
    """
    logs = {k: np.log(v[v > 0]) for k, v in ((k, finite(vals)) for k, vals in cells.items())}
    for phase in ("baseline", "post_primer"):
        for side in ("left", "right"):
            logs.setdefault((phase, side), np.zeros(0))
    # one noise term per leg (its two blocks pooled): a weak leg (touchdowns, hip drop) varies more
    # from trial to trial than the other, and a shared SD would call its unchanged sway "worse"
    noise = {side: pooled_sd([logs[("baseline", side)], logs[("post_primer", side)]]) for side in ("left", "right")}
    alpha_change = alpha_improved + alpha_worse
    family = 1.0 - (1.0 - alpha_change) ** 2 * (1.0 - alpha)
    allowance = math.log1p(worse_allowance_pct / 100.0)
    n = {f"{p}_{s}": int(v.size) for (p, s), v in logs.items()}
    out = []
    enough = all(v.size >= 2 for v in logs.values())
    for side in ("left", "right"):
        common = dict(kind=Kind.BEFORE_AFTER, side=side, measure=Measure.CHANGE, unit="%", alpha=alpha_change,
                      family_alpha=family, method=Method.LEG_CHANGE_LOG_T, n=n, alpha_improved=alpha_improved,
                      alpha_worse=alpha_worse, worse_allowance_pct=worse_allowance_pct)
        if not enough:
            out.append(_not_enough(block, level=1.0 - alpha_change, **common))
            continue
        pre, post = logs[("baseline", side)], logs[("post_primer", side)]
        sd, df = noise[side]
        delta = float(post.mean() - pre.mean())
        se = max(sd, 1e-3) * math.sqrt(1.0 / pre.size + 1.0 / post.size)
        # one-sided tails: the upper end decides "improved" (at most alpha_improved when nothing changed),
        # the lower end "worse" (at most alpha_worse at an increase of exactly the allowance)
        half_up, half_down = t_quantile(2.0 * alpha_improved, df) * se, t_quantile(2.0 * alpha_worse, df) * se
        # "worse" only beyond the allowance (fatigue, smallest worthwhile change); "improved" beyond 0
        outcome = (Outcome.IMPROVED if delta + half_up < 0 else Outcome.WORSE if delta - half_down > allowance
                   else Outcome.NO_CHANGE)
        out.append(Verdict(
            block=block, outcome=outcome, estimate=100.0 * math.expm1(delta),
            interval=Interval(100.0 * math.expm1(delta - half_down), 100.0 * math.expm1(delta + half_up),
                              1.0 - alpha_change),
            resolution=100.0 * math.expm1(half_up), df=df, resolution_down=-100.0 * math.expm1(-half_up),
            resolution_up=100.0 * math.expm1(half_down + allowance), log_ratio=delta, log_se=se, **common))
    common = dict(kind=Kind.BEFORE_AFTER, side=None, measure=Measure.SI_CHANGE, unit="%", alpha=alpha,
                  family_alpha=family, method=Method.ASYMMETRY_CHANGE_WELCH, n=n)
    if not enough:
        out.append(_not_enough(block, level=1.0 - alpha, **common))
        return out
    (sd_l, df_l), (sd_r, df_r) = noise["left"], noise["right"]
    var_l, var_r = max(sd_l, 1e-3) ** 2, max(sd_r, 1e-3) ** 2
    size = {k: v.size for k, v in logs.items()}
    d_pre = float(logs[("baseline", "right")].mean() - logs[("baseline", "left")].mean())
    d_post = float(logs[("post_primer", "right")].mean() - logs[("post_primer", "left")].mean())
    se_pre = math.sqrt(var_r / size[("baseline", "right")] + var_l / size[("baseline", "left")])
    se_post = math.sqrt(var_r / size[("post_primer", "right")] + var_l / size[("post_primer", "left")])
    change = d_post - d_pre
    se = math.hypot(se_pre, se_post)
    part_r = var_r * (1 / size[("baseline", "right")] + 1 / size[("post_primer", "right")])
    part_l = var_l * (1 / size[("baseline", "left")] + 1 / size[("post_primer", "left")])
    df = (part_r + part_l) ** 2 / (part_r**2 / df_r + part_l**2 / df_l)  # Welch-Satterthwaite
    t = t_quantile(alpha, df)
    half = t * se
    si_pre, si_post = si_from_log_ratio(d_pre), si_from_log_ratio(d_post)
    # the SI change's interval by the delta method (dSI/dd = 100 / cosh^2(d/2)), its verdict by the exact t
    g_pre, g_post = 100.0 / math.cosh(d_pre / 2) ** 2, 100.0 / math.cosh(d_post / 2) ** 2
    half_si = t * math.hypot(g_pre * se_pre, g_post * se_post)
    est = si_post - si_pre
    if change - half > 0 or change + half < 0:
        outcome = Outcome.REDUCED if (change < 0) == (d_pre > 0) else Outcome.INCREASED
    else:
        outcome = Outcome.NO_CHANGE
    level = 1.0 - alpha
    out.append(Verdict(
        block=block, outcome=outcome, estimate=est, interval=Interval(est - half_si, est + half_si, level),
        resolution=half_si, df=df, si_before=si_pre,
        si_before_interval=Interval(si_from_log_ratio(d_pre - t * se_pre), si_from_log_ratio(d_pre + t * se_pre), level),
        si_after=si_post,
        si_after_interval=Interval(si_from_log_ratio(d_post - t * se_post), si_from_log_ratio(d_post + t * se_post), level),
        log_ratio=change, log_se=se, **common))
    return out


def describe_sides(block: str, stats: dict, *, metric: str, unit: str, level: float = DESCRIPTIVE_LEVEL) -> Description:
    """A block described, not tested: each leg's mean with its ``level`` t interval, and R − L with its Welch
    interval (:class:`station.assessment.results.Description`).

    ``stats``: ``{side: (mean, sd, repetitions, sets)}`` of the per-repetition values. Repetitions of one set
    share that set's sway, so each leg's variance of the mean carries the design effect ``1 + (m − 1) ρ``
    (``m`` repetitions per set, ``ρ`` = :data:`RDL_WITHIN_SET_CORRELATION`), as the RDL's headline test does.
    """
    alpha = 1.0 - level
    figures, var_mean, dfs = [], {}, {}
    for side in ("left", "right"):
        mean, sd, n, sets = stats[side]
        if n < 2 or not math.isfinite(sd):
            figures.append(SideFigure(side, mean, Interval.undefined(level), int(n), int(sets)))
            continue
        m = n / max(sets, 1)
        var_mean[side] = max(sd, 0.1) ** 2 * (1.0 + (m - 1.0) * RDL_WITHIN_SET_CORRELATION) / n
        dfs[side] = n - 1
        half = t_quantile(alpha, n - 1) * math.sqrt(var_mean[side])
        figures.append(SideFigure(side, mean, Interval(mean - half, mean + half, level), int(n), int(sets)))
    diff = stats["right"][0] - stats["left"][0]
    if len(var_mean) == 2:
        se, df = welch(var_mean["left"], var_mean["right"], dfs["left"] + 1, dfs["right"] + 1)
        half = t_quantile(alpha, df) * se
        interval = Interval(diff - half, diff + half, level)
    else:
        interval = Interval.undefined(level)
    return Description(block=block, metric=metric, unit=unit, sides=tuple(figures), difference=diff,
                       difference_interval=interval)


def rdl_description(left_sets: Sequence[Sequence[float]], right_sets: Sequence[Sequence[float]], *, block: str,
                    metric: str = "lateral_shift_mm", level: float = DESCRIPTIVE_LEVEL) -> Description:
    """The description of an RDL block from per-rep values grouped by set (:func:`describe_sides`)."""
    stats = {}
    for side, sets in (("left", left_sets), ("right", right_sets)):
        groups = [s for s in (finite(x) for x in sets) if s.size]
        values = np.concatenate(groups) if groups else np.zeros(0)
        stats[side] = (float(values.mean()) if values.size else math.nan,
                       float(values.std(ddof=1)) if values.size >= 2 else math.nan, int(values.size), len(groups))
    return describe_sides(block, stats, metric=metric, unit="mm", level=level)
