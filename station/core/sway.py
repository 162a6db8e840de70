"""Time-domain sway measures of a centred COP trajectory (Prieto et al. 1996 definitions).

Input: ``ml``, ``ap`` (mm), uniformly sampled at ``fs_hz``, already centred (mean removed) and finite.
``T = n / fs_hz`` is the duration (each sample stands for 1/fs; the Santos & Duarte 2016 convention).

The kernel returns a vector of raw sums (see ``STAT_NAMES``); :func:`sway_measures` turns them
into named measures.
"""

from __future__ import annotations

import math

import numpy as np

from station.core._numba import jit

STAT_NAMES = (
    "path_length_mm", "path_ml_mm", "path_ap_mm",
    "sum_ml2", "sum_ap2", "sum_mlap",
    "min_ml", "max_ml", "min_ap", "max_ap",
    "sum_dist", "max_dist", "sum_abs_ml", "sum_abs_ap", "sum_cross",
)
_N_STATS = len(STAT_NAMES)


@jit(fastmath=True)
def _sway_kernel(ml, ap, out):  # pragma: no cover
    n = ml.shape[0]
    path = 0.0
    path_ml = 0.0
    path_ap = 0.0
    s_ml2 = 0.0
    s_ap2 = 0.0
    s_mlap = 0.0
    mn_ml = ml[0]
    mx_ml = ml[0]
    mn_ap = ap[0]
    mx_ap = ap[0]
    s_d = 0.0
    mx_d = 0.0
    s_aml = 0.0
    s_aap = 0.0
    s_cross = 0.0
    for i in range(n):
        x = ml[i]
        y = ap[i]
        s_ml2 += x * x
        s_ap2 += y * y
        s_mlap += x * y
        mn_ml = min(mn_ml, x)
        mx_ml = max(mx_ml, x)
        mn_ap = min(mn_ap, y)
        mx_ap = max(mx_ap, y)
        d = math.sqrt(x * x + y * y)
        s_d += d
        mx_d = max(mx_d, d)
        s_aml += abs(x)
        s_aap += abs(y)
        if i > 0:
            dx = x - ml[i - 1]
            dy = y - ap[i - 1]
            path += math.sqrt(dx * dx + dy * dy)
            path_ml += abs(dx)
            path_ap += abs(dy)
            s_cross += abs(ml[i - 1] * y - x * ap[i - 1])
    out[0] = path
    out[1] = path_ml
    out[2] = path_ap
    out[3] = s_ml2
    out[4] = s_ap2
    out[5] = s_mlap
    out[6] = mn_ml
    out[7] = mx_ml
    out[8] = mn_ap
    out[9] = mx_ap
    out[10] = s_d
    out[11] = mx_d
    out[12] = s_aml
    out[13] = s_aap
    out[14] = s_cross


def sway_stats(ml, ap) -> np.ndarray:
    """Raw sums of a centred trajectory (kernel); order as ``STAT_NAMES``."""
    out = np.empty(_N_STATS)
    _sway_kernel(np.ascontiguousarray(ml, dtype=np.float64), np.ascontiguousarray(ap, dtype=np.float64), out)
    return out


def sway_stats_reference(ml, ap) -> np.ndarray:
    """Plain-numpy reference of :func:`sway_stats`."""
    ml = np.asarray(ml, dtype=np.float64)
    ap = np.asarray(ap, dtype=np.float64)
    dml, dap = np.diff(ml), np.diff(ap)
    d = np.hypot(ml, ap)
    return np.array([
        np.hypot(dml, dap).sum(), np.abs(dml).sum(), np.abs(dap).sum(),
        (ml * ml).sum(), (ap * ap).sum(), (ml * ap).sum(),
        ml.min(), ml.max(), ap.min(), ap.max(),
        d.sum(), d.max(), np.abs(ml).sum(), np.abs(ap).sum(),
        np.abs(ml[:-1] * ap[1:] - ml[1:] * ap[:-1]).sum(),
    ])


def sway_measures(stats: np.ndarray, *, n: int, fs_hz: float) -> dict:
    """Named time-domain measures from :func:`sway_stats` of ``n`` samples at ``fs_hz``."""
    s = dict(zip(STAT_NAMES, stats.tolist()))
    duration_s = n / fs_hz
    mdist = s["sum_dist"] / n
    vel = s["path_length_mm"] / duration_s
    vel_ml = s["path_ml_mm"] / duration_s
    vel_ap = s["path_ap_mm"] / duration_s
    mdist_ml = s["sum_abs_ml"] / n
    mdist_ap = s["sum_abs_ap"] / n
    nan = float("nan")
    return {
        "path_length_mm": s["path_length_mm"],
        "path_length_ml_mm": s["path_ml_mm"],
        "path_length_ap_mm": s["path_ap_mm"],
        "mean_velocity_mm_s": vel,
        "mean_velocity_ml_mm_s": vel_ml,
        "mean_velocity_ap_mm_s": vel_ap,
        "rms_ml_mm": math.sqrt(s["sum_ml2"] / n),
        "rms_ap_mm": math.sqrt(s["sum_ap2"] / n),
        "range_ml_mm": s["max_ml"] - s["min_ml"],
        "range_ap_mm": s["max_ap"] - s["min_ap"],
        "mean_distance_mm": mdist,
        "mean_distance_ml_mm": mdist_ml,
        "mean_distance_ap_mm": mdist_ap,
        "rms_distance_mm": math.sqrt((s["sum_ml2"] + s["sum_ap2"]) / n),
        "max_distance_mm": s["max_dist"],
        "sway_area_rate_mm2_s": s["sum_cross"] / (2.0 * duration_s),
        # Prieto 1996: rotational frequency of a circle of radius MDIST travelled at MVELO. Per axis
        # the same form, which is exact for a sinusoid (mean |x| = 2A/pi, mean speed = 4Af).
        "mean_frequency_hz": vel / (2.0 * math.pi * mdist) if mdist > 0 else nan,
        "mean_frequency_ml_hz": vel_ml / (2.0 * math.pi * mdist_ml) if mdist_ml > 0 else nan,
        "mean_frequency_ap_hz": vel_ap / (2.0 * math.pi * mdist_ap) if mdist_ap > 0 else nan,
        "_cov_ml2": s["sum_ml2"], "_cov_ap2": s["sum_ap2"], "_cov_mlap": s["sum_mlap"],
    }
