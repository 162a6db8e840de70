"""Total vertical force and centre of pressure (COP) from four cells at arbitrary positions.

For cells at positions ``(x_c, y_c)`` (mm, x = ML + right, y = AP + forward) carrying ``F_c`` (N)::

    total_n = sum_c F_c
    cop_ml_mm = sum_c F_c x_c / total_n
    cop_ap_mm = sum_c F_c y_c / total_n

COP is undefined (NaN) wherever ``total_n < threshold_n`` (load gating); ``total_n`` is
always returned.
"""

from __future__ import annotations

import numpy as np

from station.core._numba import jit

#: gravitational acceleration used to turn body mass into body weight (N/kg)
G_N_PER_KG = 9.80665
#: default load threshold as a fraction of body weight, and the fallback when body weight is unknown
THRESHOLD_FRACTION_OF_BODY_WEIGHT = 0.20
THRESHOLD_UNKNOWN_WEIGHT_N = 100.0


def default_threshold_n(body_mass_kg: float | None = None) -> float:
    """Load threshold: 20 % of body weight, or 100 N when the body mass is unknown."""
    if body_mass_kg is None or not np.isfinite(body_mass_kg) or body_mass_kg <= 0:
        return THRESHOLD_UNKNOWN_WEIGHT_N
    return THRESHOLD_FRACTION_OF_BODY_WEIGHT * float(body_mass_kg) * G_N_PER_KG


@jit
def _cop_kernel(forces, pos, threshold, ml, ap, total):  # pragma: no cover
    n = forces.shape[0]
    k = forces.shape[1]
    nan = np.nan
    for i in range(n):
        s = 0.0
        sx = 0.0
        sy = 0.0
        for c in range(k):
            f = forces[i, c]
            s += f
            sx += f * pos[c, 0]
            sy += f * pos[c, 1]
        total[i] = s
        if s >= threshold and s > 0.0:
            ml[i] = sx / s
            ap[i] = sy / s
        else:
            ml[i] = nan
            ap[i] = nan


def _check(forces_n, positions_mm):
    forces = np.ascontiguousarray(forces_n, dtype=np.float64)
    pos = np.ascontiguousarray(positions_mm, dtype=np.float64)
    if forces.ndim != 2:
        raise ValueError(f"forces_n must have shape (n, k), got {forces.shape}.")
    if pos.shape != (forces.shape[1], 2):
        raise ValueError(f"positions_mm must have shape ({forces.shape[1]}, 2), got {pos.shape}.")
    return forces, pos


def cop_from_forces(forces_n, positions_mm, *, threshold_n=THRESHOLD_UNKNOWN_WEIGHT_N):
    """Centre of pressure and total force from per-cell forces.

    Parameters
    ----------
    forces_n : array_like, shape (n, k)
        Vertical force on each cell (N); normally k = 4 in the order fl, fr, bl, br.
    positions_mm : array_like, shape (k, 2)
        Cell positions ``(x_mm, y_mm)`` (ML, AP) relative to the board centre.
    threshold_n : float, keyword-only
        Load gate (N): COP is NaN where the total force is below it. Use
        :func:`default_threshold_n` to derive it from body mass (20 % of body weight; 100 N unknown).

    Returns
    -------
    cop_ml_mm, cop_ap_mm, total_n : ndarray, shape (n,), float64
    """
    forces, pos = _check(forces_n, positions_mm)
    n = forces.shape[0]
    ml, ap, total = np.empty(n), np.empty(n), np.empty(n)
    _cop_kernel(forces, pos, float(threshold_n), ml, ap, total)
    return ml, ap, total


def cop_from_forces_reference(forces_n, positions_mm, *, threshold_n=THRESHOLD_UNKNOWN_WEIGHT_N):
    """Plain-numpy reference of :func:`cop_from_forces`."""
    forces, pos = _check(forces_n, positions_mm)
    total = forces.sum(axis=1)
    ok = (total >= threshold_n) & (total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ml = np.where(ok, forces @ pos[:, 0] / total, np.nan)
        ap = np.where(ok, forces @ pos[:, 1] / total, np.nan)
    return ml, ap, total


# -- COP correction (fitted on a placement grid by station.calibration.fit) ---------------------
def cop_correction_terms(cop_ml_mm, cop_ap_mm, kind: str) -> np.ndarray:
    """Design columns of a COP correction: ``[1, x, y]`` (affine) or ``[1, x, y, x·y]`` (bilinear)."""
    ml = np.asarray(cop_ml_mm, dtype=np.float64)
    ap = np.asarray(cop_ap_mm, dtype=np.float64)
    cols = [np.ones_like(ml), ml, ap]
    if kind == "bilinear":
        cols.append(ml * ap)
    elif kind != "affine":
        raise ValueError(f"Unknown COP correction '{kind}' (use affine or bilinear).")
    return np.stack(cols, axis=-1)


def apply_cop_correction(correction: dict, cop_ml_mm, cop_ap_mm):
    """Apply a fitted COP correction ``{"kind", "ml": coefs, "ap": coefs}`` (NaN stays NaN)."""
    a = cop_correction_terms(cop_ml_mm, cop_ap_mm, correction["kind"])
    return a @ np.asarray(correction["ml"], dtype=np.float64), a @ np.asarray(correction["ap"], dtype=np.float64)
