"""What the live views draw, computed from the acquisition's ring buffer (numpy only, no Qt).

One :class:`LiveFrame` per redraw: the last few seconds of raw counts turned into per-cell forces,
total force and COP through the active calibration, plus the 95 % prediction ellipse of the COP
trail (same definition as the metric suite: ``station.core.ellipse``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from station.core.cop import (
    G_N_PER_KG,
    THRESHOLD_FRACTION_OF_BODY_WEIGHT,
    THRESHOLD_UNKNOWN_WEIGHT_N,
)
from station.core.ellipse import prediction_scale


@dataclass(frozen=True)
class LiveFrame:
    """The newest window of calibrated data.

    Attributes
    ----------
    t_s : (n,) seconds, host-mapped device time
    forces_n : (m, 4) per-cell forces fl, fr, bl, br of the newest ``bars_s`` only
    total_n : (n,)
    cop_ml_mm, cop_ap_mm : (n,) NaN below the load threshold
    """

    t_s: np.ndarray
    forces_n: np.ndarray
    total_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray

    @property
    def empty(self) -> bool:
        return len(self.t_s) == 0

    def latest_forces_n(self) -> np.ndarray:
        """Per-cell forces averaged over the newest frames (steadier bars than one frame)."""
        if len(self.forces_n) == 0:
            return np.zeros(4)
        return self.forces_n.mean(axis=0)


def cop_threshold_n(body_mass_kg: float | None) -> float:
    """Load below which the COP is undefined: 20 % of body weight, or 100 N without a body mass."""
    if body_mass_kg:
        return THRESHOLD_FRACTION_OF_BODY_WEIGHT * float(body_mass_kg) * G_N_PER_KG
    return THRESHOLD_UNKNOWN_WEIGHT_N


def live_frame(window, calibration, *, threshold_n: float, bars_s: float = 0.1) -> LiveFrame:
    """Calibrate a :class:`~station.board.acquisition.LiveWindow` into a :class:`LiveFrame`.

    Per-cell forces are kept only for the newest ``bars_s`` (what the load bars average).
    """
    t_s = np.asarray(window.t_s, dtype=np.float64)
    if len(t_s) == 0:
        empty = np.zeros(0)
        return LiveFrame(t_s, np.zeros((0, 4)), empty, empty, empty)
    ml, ap, total = calibration.cop_mm(window.counts, threshold_n=threshold_n)
    recent = int(np.searchsorted(t_s, t_s[-1] - bars_s))
    forces = calibration.forces_n(window.counts[recent:])
    return LiveFrame(t_s, forces, total, ml, ap)


def decimate(n: int, *, max_points: int) -> slice:
    """A stride that keeps at most about ``max_points`` of ``n`` samples, newest sample included."""
    step = max(1, int(np.ceil(n / max_points)))
    return slice((n - 1) % step, None, step)


def peak_decimate(t_s: np.ndarray, y: np.ndarray, *, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``y`` per bin of equal sample count: what a plot ``bins`` pixels wide can show.

    The newest samples fill whole bins (the oldest partial bin is dropped). Each bin gives two points,
    its minimum at the bin's first time and its maximum at its middle time, so peaks survive the
    decimation (pyqtgraph's ``peak`` mode does the same, but on every paint). Bins without a defined
    sample stay NaN (a gap in a ``connect="finite"`` curve). Series of at most ``2 * bins`` samples
    are returned unchanged.

    Returns
    -------
    (t_s (2 m,), y (2 m,)) with m <= ``bins``
    """
    n = len(y)
    if n <= 2 * bins:
        return t_s, y
    k = int(np.ceil(n / bins))
    m = n // k
    tail_t = t_s[n - m * k:].reshape(m, k)
    tail_y = y[n - m * k:].reshape(m, k)
    t2 = np.empty(2 * m)
    y2 = np.empty(2 * m)
    t2[0::2], t2[1::2] = tail_t[:, 0], tail_t[:, k // 2]
    y2[0::2], y2[1::2] = np.fmin.reduce(tail_y, axis=1), np.fmax.reduce(tail_y, axis=1)
    return t2, y2


def ellipse95_outline(cop_ml_mm: np.ndarray, cop_ap_mm: np.ndarray, *, points: int = 72):
    """Outline of the 95 % prediction ellipse of the defined COP samples.

    Returns
    -------
    (x_mm (points+1,), y_mm (points+1,), area_mm2) or None with fewer than 10 defined samples.
    """
    ok = np.isfinite(cop_ml_mm) & np.isfinite(cop_ap_mm)
    n = int(ok.sum())
    if n < 10:
        return None
    xy = np.stack([cop_ml_mm[ok], cop_ap_mm[ok]])
    centre = xy.mean(axis=1)
    cov = np.cov(xy)
    lam, vec = np.linalg.eigh(cov)
    lam = np.clip(lam, 0.0, None)
    scale = prediction_scale(n)
    axes = np.sqrt(lam * scale)
    angle = np.linspace(0.0, 2.0 * np.pi, points + 1)
    unit = np.stack([axes[0] * np.cos(angle), axes[1] * np.sin(angle)])
    outline = vec @ unit + centre[:, None]
    return outline[0], outline[1], float(np.pi * axes[0] * axes[1])
