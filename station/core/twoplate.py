"""Two plates, one under each foot: net centre of pressure and the share of load on each foot.

With vertical forces ``F_L``, ``F_R`` (N) and per-plate COPs ``p_L``, ``p_R`` (mm) in one frame::

    F = F_L + F_R
    p_net = (F_L p_L + F_R p_R) / F          (undefined where F < threshold)
    right share(t) = F_R / F                 mean: 100 · ΣF_R / Σ(F_L + F_R) %

A plate whose own COP is undefined (a foot lifted, below the plate's load gate) contributes no moment:
its force is taken as zero for the net COP. docs/METRICS.md §11.6 has the definitions.
"""

from __future__ import annotations

import numpy as np


def net_cop(fz_left_n, ml_left_mm, ap_left_mm, fz_right_n, ml_right_mm, ap_right_mm, *, threshold_n: float):
    """Net COP and total vertical force of two plates.

    Parameters
    ----------
    fz_left_n, fz_right_n : array_like (n,)
        Vertical force on each plate (N).
    ml_left_mm, ap_left_mm, ml_right_mm, ap_right_mm : array_like (n,)
        Each plate's COP (mm, common frame); NaN where the plate's COP is undefined.
    threshold_n : float, keyword-only
        Load gate of the net COP (N).

    Returns
    -------
    cop_ml_mm, cop_ap_mm, total_n : ndarray (n,)
    """
    fl = np.asarray(fz_left_n, dtype=np.float64)
    fr = np.asarray(fz_right_n, dtype=np.float64)
    pl = np.column_stack([ml_left_mm, ap_left_mm]).astype(np.float64)
    pr = np.column_stack([ml_right_mm, ap_right_mm]).astype(np.float64)
    wl = np.where(np.isfinite(pl).all(axis=1), fl, 0.0)
    wr = np.where(np.isfinite(pr).all(axis=1), fr, 0.0)
    w = wl + wr
    total = fl + fr
    ok = (total >= threshold_n) & (w > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ml = (wl * np.nan_to_num(pl[:, 0]) + wr * np.nan_to_num(pr[:, 0])) / w
        ap = (wl * np.nan_to_num(pl[:, 1]) + wr * np.nan_to_num(pr[:, 1])) / w
    ml[~ok] = np.nan
    ap[~ok] = np.nan
    return ml, ap, total


def load_share_measures(fz_left_n, fz_right_n, *, fs_hz: float) -> dict:
    """Right-foot share of the vertical force and the L/R load asymmetry.

    Returns
    -------
    dict
        ``right_share_pct`` (100 ΣF_R / ΣF), ``right_share_sd_pct`` (SD over time of 100 F_R / F),
        ``load_asymmetry_pct`` (100 (ΣF_R − ΣF_L) / ΣF; + = more load on the right foot) and
        ``right_share_per_s_pct`` (list: the share in consecutive whole seconds).
    """
    fl = np.asarray(fz_left_n, dtype=np.float64)
    fr = np.asarray(fz_right_n, dtype=np.float64)
    total = fl + fr
    s = float(total.sum())
    if not (s > 0):
        nan = float("nan")
        return {"right_share_pct": nan, "right_share_sd_pct": nan, "load_asymmetry_pct": nan, "right_share_per_s_pct": []}
    with np.errstate(invalid="ignore", divide="ignore"):
        inst = 100.0 * fr / total
    k = max(1, int(round(fs_hz)))
    m = total.size // k
    per_s = (100.0 * fr[: m * k].reshape(m, k).sum(axis=1) / total[: m * k].reshape(m, k).sum(axis=1)).tolist() if m else []
    return {
        "right_share_pct": 100.0 * float(fr.sum()) / s,
        "right_share_sd_pct": float(np.nanstd(inst[np.isfinite(inst)])) if np.isfinite(inst).any() else float("nan"),
        "load_asymmetry_pct": 100.0 * float(fr.sum() - fl.sum()) / s,
        "right_share_per_s_pct": per_s,
    }
