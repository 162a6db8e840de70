"""The statistics the scoring and the headline verdicts use: plain functions on a handful of numbers.

Student-t quantiles (two-sided, from the test level), pooled and Welch standard errors, the symmetry
index of a log ratio and the minimal detectable change. The report's definitions page quotes these
(:data:`QUANTILE` and the formulas below), so what a clinician reads is what the code computes.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

#: the quantile every interval and MDC uses (the report's definitions page names it)
QUANTILE = "Student t"


def t_quantile(alpha: float, df: float) -> float:
    """Two-sided critical value ``t(1 - alpha/2, df)``; the normal quantile when ``df`` is infinite."""
    from scipy import stats

    q = 1.0 - alpha / 2.0
    return float(stats.t.ppf(q, df)) if math.isfinite(df) else float(stats.norm.ppf(q))


def finite(values: Iterable) -> np.ndarray:
    """The finite values as a float array (None and NaN dropped)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    return v[np.isfinite(v)]


def pooled_sd(groups: Sequence[np.ndarray]) -> tuple[float, int]:
    """Pooled SD of several groups (each around its own mean) and its degrees of freedom."""
    ss = sum(float(np.sum((g - g.mean()) ** 2)) for g in groups if g.size)
    df = sum(g.size - 1 for g in groups if g.size)
    return (math.sqrt(ss / df) if df > 0 else math.nan), int(df)


def welch(a: float, b: float, n_a: int, n_b: int) -> tuple[float, float]:
    """SE and Welch-Satterthwaite df of a sum of two variance terms ``a``, ``b`` with ``n - 1`` df each."""
    se = math.sqrt(a + b)
    if se == 0.0:
        return 0.0, math.inf
    return se, (a + b) ** 2 / ((a**2 / (n_a - 1) if a else 0.0) + (b**2 / (n_b - 1) if b else 0.0))


def si_from_log_ratio(d: float) -> float:
    """SI (%) of two values whose log ratio (R over L) is ``d``: ``200 tanh(d / 2)``."""
    return 200.0 * math.tanh(d / 2.0)


def si_pct(left_mean: float, right_mean: float) -> float:
    """Symmetry index ``200 (R - L) / (R + L)`` in % (Robinson et al. 1987)."""
    return 200.0 * (right_mean - left_mean) / (left_mean + right_mean)


def si_delta_terms(left_mean: float, right_mean: float, var_left_mean: float, var_right_mean: float) -> tuple[float, float]:
    """Delta-method variance terms of SI from the variances of the two side means (right term first).

    ``dSI/dR = 400 L / (R + L)^2``, ``dSI/dL = -400 R / (R + L)^2``.
    """
    total = left_mean + right_mean
    return ((400.0 * left_mean / total**2) ** 2 * var_right_mean,
            (400.0 * right_mean / total**2) ** 2 * var_left_mean)


def mdc(s_w: float, n_pre: int, n_post: int, *, level: float) -> tuple[float, int]:
    """Minimal detectable change of a block mean and its df: ``t(level, df) s_w sqrt(1/n_pre + 1/n_post)``.

    ``s_w`` is the pooled within-session trial SD with ``df = n_pre + n_post - 2`` (a t quantile, not
    1.96: ``s_w`` rests on a handful of trials).
    """
    df = n_pre + n_post - 2
    return t_quantile(1.0 - level, df) * s_w * math.sqrt(1.0 / n_pre + 1.0 / n_post), df
