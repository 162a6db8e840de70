"""95 % prediction ellipse and principal sway direction from the COP covariance.

Covariance with ``1/(n-1)``; eigenvalues ``λ1 >= λ2``. Semi-axes of the 95 % *prediction* ellipse
(the region that holds a new sample with probability 0.95; Schubert & Kirchner 2014, the Santos &
Duarte 2016 convention)::

    a_i = sqrt(λ_i · F_0.95(2, n-2) · 2 (n-1)(n+1) / (n (n-2)))
    area = π a_1 a_2     (mm²)

Angles are in degrees, counter-clockwise from the +ML axis (subject's right) towards +AP (forward),
folded into (-90, 90].
"""

from __future__ import annotations

import functools
import math

import numpy as np


def f_quantile_2(level: float, dof2: int) -> float:
    """Quantile of the F(2, dof2) distribution in closed form.

    Its CDF is ``1 - (1 + 2x/d)^(-d/2)``, so ``x = (d/2) ((1 - level)^(-2/d) - 1)`` (checked against
    scipy.stats.f.ppf in the tests).
    """
    d = float(dof2)
    return d / 2.0 * ((1.0 - level) ** (-2.0 / d) - 1.0)


@functools.lru_cache(maxsize=256)
def prediction_scale(n: int, *, level: float = 0.95) -> float:
    """``F_level(2, n-2) · 2 (n-1)(n+1) / (n (n-2))``: squared semi-axis per unit eigenvalue."""
    if n < 3:
        return float("nan")
    return f_quantile_2(level, n - 2) * 2.0 * (n - 1) * (n + 1) / (n * (n - 2))


def _fold_deg(angle_rad: float) -> float:
    deg = math.degrees(angle_rad)
    while deg <= -90.0:
        deg += 180.0
    while deg > 90.0:
        deg -= 180.0
    return deg


def ellipse_measures(var_ml: float, var_ap: float, cov_mlap: float, *, n: int, duration_s: float) -> dict:
    """Prediction-ellipse measures from the (1/(n-1)) covariance of ``n`` COP samples."""
    half_trace = 0.5 * (var_ml + var_ap)
    disc = math.sqrt(max(0.25 * (var_ml - var_ap) ** 2 + cov_mlap**2, 0.0))
    lam1, lam2 = half_trace + disc, max(half_trace - disc, 0.0)
    scale = prediction_scale(int(n))
    a, b = math.sqrt(lam1 * scale), math.sqrt(lam2 * scale)
    # major-axis direction: eigenvector of λ1
    angle = _fold_deg(0.5 * math.atan2(2.0 * cov_mlap, var_ml - var_ap))
    area = math.pi * a * b
    return {
        "ellipse95_area_mm2": area,
        "ellipse95_area_rate_mm2_s": area / duration_s,
        "ellipse95_major_mm": a,
        "ellipse95_minor_mm": b,
        "ellipse95_angle_deg": angle,
        "principal_sway_direction_deg": angle,
        "sway_anisotropy_ratio": math.sqrt(lam1 / lam2) if lam2 > 0 else float("inf"),
    }
