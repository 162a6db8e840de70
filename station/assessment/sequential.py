"""Group-sequential designs of the adaptive blocks: efficacy and futility boundaries.

Pure statistics (no board, no store). The adaptive single-leg block records trials in pairs (left, right)
and, from ``min_pairs`` on, looks at the left/right test after every pair (docs/ASSESSMENT.md §5); the
adaptive RDL block does the same with pairs of sets, on the difference R − L in mm (``target_difference``):

- **efficacy**: the interval of the look's own level (``alpha_interim`` = 0.1 % at the interim looks,
  ``alpha_final`` = 3.7 % at the last of up to 12, Haybittle-Peto style) excludes 0: a side is named and
  the block stops;
- **futility**: at an interim look, the ``1 - futility_alpha`` interval (80 %) contains 0 *and* lies inside
  the target (SI ±25 %): an asymmetry that large is unlikely, the block stops with "no detectable
  asymmetry", and the verdict carries the family-level interval (``report_alpha`` = 4 %: 96 %);
- otherwise another pair, up to ``max_pairs``.

Family error rate: only an efficacy stop names a side, and the efficacy boundaries are those of the design
without futility (about 4 % overall by Monte-Carlo of the t test, :func:`simulate`); stopping for futility
can only remove sessions that would have named a side later, so the futility rule is non-binding and the
false-positive rate stays at most that, whatever the rule's level. What futility costs is power: a patient
whose true asymmetry is the target has an 80 % interval inside ±25 % by chance at most 10 % of the time per
look (one-sided); :func:`simulate` measures the loss over all looks.

The test statistic is the block's headline test (``verdicts.stance_asymmetry``): ``d`` = mean log sway
index right − left, its SE and df. :func:`welch_df` gives the Welch–Satterthwaite df for legs with
different trial-to-trial variability (the pooled df, ``n_L + n_R − 2``, is too generous when one leg varies
much more than the other: 6.3 % false positives instead of 4 % at CVs of 5 % and 25 %).
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: the asymmetry the single-leg test is designed to find (SI %, the bench's power condition): futility
#: stops once an asymmetry this large is excluded
TARGET_SI_PCT = 25.0


class Decision(str, enum.Enum):
    """What a look decided."""

    EFFICACY = "efficacy"   # a side is named: stop
    FUTILITY = "futility"   # an asymmetry as large as the target is excluded: stop, no side
    LAST = "last"           # the last look: stop with whatever the test says
    CONTINUE = "continue"   # another pair of trials


@dataclass(frozen=True)
class Design:
    """Looks after ``min_pairs`` .. ``max_pairs`` pairs of trials; the boundaries of each (module notes)."""

    min_pairs: int = 3
    max_pairs: int = 12
    alpha_interim: float = 0.001
    alpha_final: float = 0.037
    futility_alpha: float = 0.2
    target_si_pct: float = TARGET_SI_PCT
    futility: bool = True
    #: level of the interval a futility stop reports (the family's: a 96 % interval; the futility rule itself
    #: may use a narrower one, ``futility_alpha``, since it never names a side)
    report_alpha: float = 0.04
    #: the target in the test's own unit (the RDL's mm), instead of ``target_si_pct`` (a log ratio)
    target_difference: float | None = None

    def alpha(self, pairs: int) -> float:
        """Level of the efficacy test at the look after ``pairs`` pairs."""
        return self.alpha_final if pairs >= self.max_pairs else self.alpha_interim

    @property
    def target_log_ratio(self) -> float:
        """The target as a log ratio of the two legs' sway: ``SI = 200 tanh(d / 2)`` inverted."""
        return 2.0 * math.atanh(self.target_si_pct / 200.0)

    @property
    def target(self) -> float:
        """The futility target on the scale of the test (a log ratio, or ``target_difference``)."""
        return self.target_log_ratio if self.target_difference is None else float(self.target_difference)


@dataclass(frozen=True)
class Look:
    """One look: the decision, and the interval the verdict reports at the level it stopped with."""

    pairs: int
    decision: Decision
    alpha: float          # level of the reported interval (the efficacy level, or futility_alpha)
    log_ratio: float
    ci_low: float         # on the log-ratio scale, at ``alpha``
    ci_high: float

    @property
    def stop(self) -> bool:
        return self.decision is not Decision.CONTINUE

    @property
    def si_pct(self) -> float:
        return 200.0 * math.tanh(self.log_ratio / 2.0)

    @property
    def si_ci_pct(self) -> tuple[float, float]:
        return 200.0 * math.tanh(self.ci_low / 2.0), 200.0 * math.tanh(self.ci_high / 2.0)


def _t(alpha: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(1.0 - alpha / 2.0, df))


def welch_df(var_left: float, n_left: int, var_right: float, n_right: int) -> float:
    """Welch–Satterthwaite degrees of freedom of ``mean_R − mean_L`` (sample variances, sizes)."""
    a, b = var_left / n_left, var_right / n_right
    den = (a * a / (n_left - 1) if n_left > 1 else 0.0) + (b * b / (n_right - 1) if n_right > 1 else 0.0)
    return float((a + b) ** 2 / den) if den > 0 else float(n_left + n_right - 2)


def look(design: Design, *, pairs: int, log_ratio: float, log_se: float, df: float) -> Look:
    """The decision after ``pairs`` pairs from the test's ``d`` (log ratio R/L), its SE and df.

    Raises
    ------
    ValueError
        ``pairs`` below ``design.min_pairs`` (no look is planned there).
    """
    if pairs < design.min_pairs:
        raise ValueError(f"no look is planned after {pairs} pairs (the first is after {design.min_pairs})")
    alpha = design.alpha(pairs)
    if not (np.isfinite(log_ratio) and np.isfinite(log_se) and df > 0):
        decision = Decision.LAST if pairs >= design.max_pairs else Decision.CONTINUE
        return Look(pairs, decision, alpha, math.nan, math.nan, math.nan)
    half = _t(alpha, df) * log_se
    if abs(log_ratio) > half:
        return Look(pairs, Decision.EFFICACY, alpha, log_ratio, log_ratio - half, log_ratio + half)
    if pairs >= design.max_pairs:
        return Look(pairs, Decision.LAST, alpha, log_ratio, log_ratio - half, log_ratio + half)
    if design.futility:
        fut = _t(design.futility_alpha, df) * log_se
        if abs(log_ratio) <= fut and abs(log_ratio) + fut < design.target:
            report = _t(design.report_alpha, df) * log_se
            return Look(pairs, Decision.FUTILITY, design.report_alpha, log_ratio, log_ratio - report,
                        log_ratio + report)
    return Look(pairs, Decision.CONTINUE, alpha, log_ratio, log_ratio - half, log_ratio + half)


@dataclass(frozen=True)
class Simulation:
    """Monte-Carlo of a design (:func:`simulate`): rates over ``sessions`` simulated blocks."""

    sessions: int
    named: float          # a side named (false positives when the true SI is 0)
    named_right: float    # the right side named (power when the right leg is the weaker)
    futility: float       # stopped for futility
    covered: float        # the reported interval holds the true log ratio
    mean_pairs: float
    pairs_90: float       # 90th percentile of the pairs recorded
    pairs_50: float = math.nan  # median of the pairs recorded


def simulate(design: Design, *, sessions: int, true_si_pct: float = 0.0, cv_pct: tuple[float, float] = (5.0, 25.0),
             cv_pct_right: tuple[float, float] | None = None, noise_cv_pct: float = 3.0, welch: bool = True,
             rng: np.random.Generator | None = None) -> Simulation:
    """Monte-Carlo of the block on the pure statistics: per session each leg's trial-to-trial CV is drawn
    uniformly from ``cv_pct`` (equal ends: one CV; ``cv_pct_right``: the right leg's own range), plus the
    board's own noise ``noise_cv_pct``; trials are log-normal; the right leg's geometric mean is
    ``true_si_pct`` above the left's (SI).

    ``welch``: Welch–Satterthwaite df (else the pooled ``2n − 2``). Returns the rates of a side named,
    the right side named, futility stops, coverage of the reported interval, and the pairs recorded.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    k_max = design.max_pairs
    true_d = 2.0 * math.atanh(true_si_pct / 200.0)
    sd = lambda cv: np.sqrt(np.log1p((cv / 100.0) ** 2))  # noqa: E731
    right_range = cv_pct if cv_pct_right is None else cv_pct_right
    cv = np.column_stack([rng.uniform(cv_pct[0], cv_pct[1], sessions), rng.uniform(right_range[0], right_range[1], sessions)])
    s = np.sqrt(sd(cv) ** 2 + sd(noise_cv_pct) ** 2)
    left = rng.standard_normal((sessions, k_max)) * s[:, :1]
    right = true_d + rng.standard_normal((sessions, k_max)) * s[:, 1:]
    named = np.zeros(sessions, bool)
    right_named = np.zeros(sessions, bool)
    futile = np.zeros(sessions, bool)
    covered = np.zeros(sessions, bool)
    pairs = np.full(sessions, k_max)
    open_ = np.ones(sessions, bool)
    for k in range(design.min_pairs, k_max + 1):
        lk, rk = left[:, :k], right[:, :k]
        d = rk.mean(1) - lk.mean(1)
        vl, vr = lk.var(1, ddof=1), rk.var(1, ddof=1)
        se = np.sqrt(vl / k + vr / k)
        if welch:
            a, b = vl / k, vr / k
            df = (a + b) ** 2 / (a * a / (k - 1) + b * b / (k - 1))
        else:
            df = np.full(sessions, 2.0 * k - 2.0)
        for i in np.flatnonzero(open_):
            res = look(design, pairs=k, log_ratio=float(d[i]), log_se=float(se[i]), df=float(df[i]))
            if res.stop:
                open_[i] = False
                pairs[i] = k
                named[i] = res.decision is Decision.EFFICACY
                right_named[i] = named[i] and res.log_ratio > 0
                futile[i] = res.decision is Decision.FUTILITY
                covered[i] = res.ci_low <= true_d <= res.ci_high
    return Simulation(sessions, float(named.mean()), float(right_named.mean()), float(futile.mean()),
                      float(covered.mean()), float(pairs.mean()), float(np.percentile(pairs, 90)),
                      float(np.median(pairs)))


def changes_called(verdicts) -> list:
    """The before/after verdicts (``verdicts.before_after``) that call a change."""
    from station.assessment.results import Outcome

    return [v for v in verdicts if v.outcome.decided and v.outcome is not Outcome.NO_CHANGE]


def post_primer_futile(verdicts, *, target_change_pct: float, futility_alpha: float) -> bool:
    """The post-primer block's stopping rule (docs/ASSESSMENT.md §5): True when no before/after verdict
    (``verdicts.before_after``: left leg, right leg, asymmetry change) calls a change and each leg's
    ``1 - futility_alpha`` interval of the log change lies above ``log(1 - target_change_pct / 100)`` (an
    improvement as large as the target is unlikely on either leg).

    It never calls anything, so no before/after false-positive rate can grow; what it costs is power,
    measured by ``bench/verdicts.py`` (through the runner) and ``bench/primer_design.py`` (this rule on
    simulated trials).
    """
    from station.assessment.stats import t_quantile

    legs = [v for v in verdicts if v.side]
    floor = math.log1p(-target_change_pct / 100.0)
    # each leg: the lower end of its 1 - futility_alpha interval of the log change
    lows = [v.log_ratio - t_quantile(futility_alpha, v.df) * v.log_se for v in legs
            if np.isfinite(v.log_ratio) and np.isfinite(v.log_se) and v.df > 0]
    return (len(legs) == 2 and len(lows) == 2 and all(v.outcome.decided for v in verdicts)
            and not changes_called(verdicts) and all(low > floor for low in lows))
