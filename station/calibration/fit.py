"""Fitting a calibration: tare, per-cell gains from known masses, optional COP correction.

Model. Cell ``i`` reads ``c_i = o_i + F_i / g_i`` counts (offset ``o_i``, gain ``g_i`` in N/count).
Tare gives ``o_i`` (mean of an empty-board window). For a point mass ``m`` at ``(x, y)`` the four cell
forces are statically indeterminate (three equilibrium equations, four supports), but whatever the
board's stiffness they satisfy the total-force and the two moment equations::

    sum_i g_i d_i          = W              (W = m * gravity, d_i = c_i - o_i)
    sum_i g_i d_i x_i      = W x            (moment about the AP axis)
    sum_i g_i d_i y_i      = W y            (moment about the ML axis)

so each placement gives three linear equations in the four gains; several placements at different
positions determine them by least squares. The moment rows are divided by the half sensor spacing
so that every row is in newtons (force-equivalent at the board's edge) and rows weigh alike.

The ``"matrix"`` model (crosstalk) fits the three rows ``1^T G``, ``x^T G``, ``y^T G`` of a full
4 x 4 matrix ``G`` (12 unknowns, needs >= 4 placements with independent cell loads); the fourth,
unobservable "twist" row ``(x*y)^T G`` is taken from the per-cell fit, so ``G`` still returns the
per-cell forces that ``station.core.forces.counts_to_forces`` expects.

Quality. Residuals are reported per placement as force error (N) and COP error (mm), both for the
fit itself and leave-one-out (each placement predicted by a fit without it); a mass put at the wrong
position shows up as a large leave-one-out COP error. The condition number is that of the design
matrix with unit-norm columns (independent of the gains' magnitude).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from station.core.cop import G_N_PER_KG, apply_cop_correction, cop_correction_terms, cop_from_forces  # noqa: F401 (re-exported)
from station.core.forces import counts_to_forces
from station.errors import CalibrationError, NoLoadError

logger = logging.getLogger(__name__)

#: standard gravity (m/s^2); local gravity differs by up to +-0.3 %, set it in the protocol if it matters
STANDARD_GRAVITY = G_N_PER_KG

MODELS = ("cells", "matrix")


@dataclass(frozen=True)
class TareResult:
    """Empty-board zero: per-cell mean counts and their noise (standard deviation) over the window."""

    offsets_counts: np.ndarray  # (4,)
    noise_counts: np.ndarray  # (4,)
    total_noise_counts: float  # std of the sum of the four channels
    n_samples: int
    t_mid_s: float = 0.0


@dataclass(frozen=True)
class Placement:
    """One known mass at a known position, with the board's mean reading during the hold.

    ``offsets_counts`` is the zero to subtract for this placement (interpolated in time between
    tares when the board was re-tared after the placements).
    """

    mass_kg: float
    x_mm: float
    y_mm: float
    counts_mean: np.ndarray  # (4,)
    counts_std: np.ndarray  # (4,)
    n_samples: int
    offsets_counts: np.ndarray  # (4,)
    t_mid_s: float = 0.0

    @property
    def load_counts(self) -> np.ndarray:
        return np.asarray(self.counts_mean, dtype=np.float64) - np.asarray(self.offsets_counts, dtype=np.float64)

    def describe(self) -> str:
        return f"{self.mass_kg:g} kg at ({self.x_mm:g}, {self.y_mm:g}) mm"

    def to_dict(self) -> dict:
        return {"mass_kg": float(self.mass_kg), "x_mm": float(self.x_mm), "y_mm": float(self.y_mm)}


@dataclass
class GainFit:
    """Result of :func:`fit_gains`."""

    model: str
    gains_n_per_count: np.ndarray  # (4,) or (4, 4)
    condition_number: float
    force_error_n: np.ndarray  # (k,) fitted minus applied total force
    cop_error_mm: np.ndarray  # (k, 2) fitted minus applied COP (ML, AP)
    loo_force_error_n: np.ndarray  # (k,) leave-one-out
    loo_cop_error_mm: np.ndarray  # (k, 2)
    placements: list = field(default_factory=list)
    suspects: list = field(default_factory=list)  # indices of placements that disagree with the rest
    gravity_m_s2: float = STANDARD_GRAVITY

    def residuals(self) -> dict:
        """JSON-ready residual summary (stored in the calibration file)."""
        loads = np.array([p.mass_kg for p in self.placements]) * self.gravity_m_s2
        cop_norm = np.hypot(self.cop_error_mm[:, 0], self.cop_error_mm[:, 1])
        loo_norm = np.hypot(self.loo_cop_error_mm[:, 0], self.loo_cop_error_mm[:, 1])
        return {
            "model": self.model,
            "gravity_m_s2": float(self.gravity_m_s2),
            "n_placements": len(self.placements),
            "condition_number": float(self.condition_number),
            "force_rms_n": float(np.sqrt(np.mean(self.force_error_n**2))),
            "force_max_pct": float(np.max(np.abs(self.force_error_n) / loads) * 100.0),
            "cop_rms_mm": float(np.sqrt(np.mean(cop_norm**2))),
            "cop_max_mm": float(np.max(cop_norm)),
            "loo_cop_max_mm": float(np.max(loo_norm)) if np.all(np.isfinite(loo_norm)) else None,
            "per_placement": [
                {
                    **p.to_dict(),
                    "force_error_n": float(self.force_error_n[k]),
                    "cop_error_mm": [float(v) for v in self.cop_error_mm[k]],
                    "loo_cop_error_mm": float(loo_norm[k]) if np.isfinite(loo_norm[k]) else None,
                }
                for k, p in enumerate(self.placements)
            ],
            "suspects": [int(k) for k in self.suspects],
        }


# -- tare ---------------------------------------------------------------------------------------
def tare(counts, *, t_s=None) -> TareResult:
    """Zero offsets from an empty-board window.

    Parameters
    ----------
    counts : array (n, 4)
        Raw counts, fl fr bl br, with nothing on the board.
    t_s : array (n,), optional
        Sample times (s); their middle is recorded for drift-interpolated offsets.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 4 or len(c) < 2:
        raise CalibrationError("Tare needs at least two samples of the four channels.")
    t_mid = float(np.mean(t_s)) if t_s is not None and len(t_s) else 0.0
    return TareResult(
        offsets_counts=c.mean(axis=0),
        noise_counts=c.std(axis=0, ddof=1),
        total_noise_counts=float(c.sum(axis=1).std(ddof=1)),
        n_samples=len(c),
        t_mid_s=t_mid,
    )


def interpolate_offsets(before: TareResult, after: TareResult | None, t_s: float) -> np.ndarray:
    """Offsets at time ``t_s``: linear between two tares (zero drift), or the first tare alone."""
    if after is None or after.t_mid_s == before.t_mid_s:
        return before.offsets_counts.copy()
    w = (t_s - before.t_mid_s) / (after.t_mid_s - before.t_mid_s)
    return before.offsets_counts + w * (after.offsets_counts - before.offsets_counts)


# -- COP correction ------------------------------------------------------------------------------
def _cop_correction_terms(ml, ap, kind: str) -> np.ndarray:
    try:
        return cop_correction_terms(ml, ap, kind)
    except ValueError as exc:
        raise CalibrationError(str(exc)) from None


def fit_cop_correction(measured_mm, true_mm, *, kind: str = "affine") -> dict:
    """Fit a map from measured to true COP over a placement grid.

    ``affine``: ``x' = a0 + a1 x + a2 y`` (3 coefficients per axis, >= 3 points);
    ``bilinear`` adds ``a3 x y`` (>= 4 points). Returns a JSON-ready dict for the calibration file.
    """
    m = np.asarray(measured_mm, dtype=np.float64)
    t = np.asarray(true_mm, dtype=np.float64)
    a = _cop_correction_terms(m[:, 0], m[:, 1], kind)
    if len(m) < a.shape[1] + 1:
        raise CalibrationError(f"A {kind} COP correction needs at least {a.shape[1] + 1} placement positions.")
    coef_ml, *_ = np.linalg.lstsq(a, t[:, 0], rcond=None)
    coef_ap, *_ = np.linalg.lstsq(a, t[:, 1], rcond=None)
    return {"kind": kind, "ml": coef_ml.tolist(), "ap": coef_ap.tolist()}


# -- gains ---------------------------------------------------------------------------------------
def _design(load_counts: np.ndarray, weights_n: np.ndarray, xy_mm: np.ndarray, positions_mm: np.ndarray):
    """Stack the three equilibrium rows per placement: A (3k, 4), b (3k,)."""
    half = np.maximum(np.abs(positions_mm).max(axis=0), 1e-9)  # (2,) half spacings, mm
    lx, ly = positions_mm[:, 0] / half[0], positions_mm[:, 1] / half[1]
    rows, rhs = [], []
    for d, w, (x, y) in zip(load_counts, weights_n, xy_mm):
        rows += [d, d * lx, d * ly]
        rhs += [w, w * x / half[0], w * y / half[1]]
    return np.array(rows), np.array(rhs)


def _solve_cells(load_counts, weights_n, xy_mm, positions_mm):
    a, b = _design(load_counts, weights_n, xy_mm, positions_mm)
    gains, *_ = np.linalg.lstsq(a, b, rcond=None)
    return gains, a


def _solve_matrix(load_counts, weights_n, xy_mm, positions_mm, cell_gains):
    """Full 4x4 G: rows 1^T G, x^T G, y^T G fitted; the twist row from the per-cell gains."""
    d = np.asarray(load_counts)
    u, *_ = np.linalg.lstsq(d, weights_n, rcond=None)
    v, *_ = np.linalg.lstsq(d, weights_n * xy_mm[:, 0], rcond=None)
    w, *_ = np.linalg.lstsq(d, weights_n * xy_mm[:, 1], rcond=None)
    x, y = positions_mm[:, 0], positions_mm[:, 1]
    p = np.stack([np.ones(4), x, y, x * y])  # (4, 4): basis of cell-force combinations
    twist = (x * y) * cell_gains
    return np.linalg.solve(p, np.stack([u, v, w, twist]))


def _predict(gains: np.ndarray, load_counts: np.ndarray, positions_mm: np.ndarray):
    """Total force (k,) and COP (k, 2) that ``gains`` give for tared counts (k, 4)."""
    f = counts_to_forces(load_counts, np.zeros(4), gains)
    ml, ap, total = cop_from_forces(f, positions_mm, threshold_n=-np.inf)
    return total, np.stack([ml, ap], axis=1)


def _fit(model, d, w, xy, pos):
    gains, a = _solve_cells(d, w, xy, pos)
    if model == "matrix":
        gains = _solve_matrix(d, w, xy, pos, gains)
    return gains, a


def fit_gains(
    placements: list[Placement],
    positions_mm,
    *,
    model: str = "cells",
    gravity_m_s2: float = STANDARD_GRAVITY,
    suspect_cop_mm: float = 3.0,
    suspect_force_pct: float = 1.0,
    max_condition_number: float = 100.0,
) -> GainFit:
    """Least-squares gains from known masses at known positions (see the module docstring).

    Parameters
    ----------
    placements : list of Placement
        Known masses at positions spread over the board (a grid): at least 2 for ``cells``, 4 for
        ``matrix``; more give residuals and leave-one-out checks.
    positions_mm : array (4, 2)
        Cell positions (fl, fr, bl, br).
    model : {"cells", "matrix"}
        Per-cell gains (4 unknowns) or a full matrix with crosstalk.
    gravity_m_s2 : float
        Local gravity used to turn masses into weights.
    suspect_cop_mm, suspect_force_pct : float
        Leave-one-out COP error (mm) and force error (% of load) above which a placement is called
        suspect (wrong mass or position). Suspects are found one at a time, worst first, refitting
        without the ones already found, so a single bad placement does not taint the others.
    max_condition_number : float
        Refuse placements whose design matrix is worse conditioned than this (a 3 x 3 grid gives
        about 2; masses only at the centre give about 1000, i.e. no information on the gains' split).

    Raises
    ------
    CalibrationError
        Too few placements, or they do not determine the gains.
    NoLoadError
        A placement reads no load (mass not on the board, or a dead cell).
    """
    if model not in MODELS:
        raise CalibrationError(f"Unknown calibration model '{model}' (use {' or '.join(MODELS)}).")
    pos = np.asarray(positions_mm, dtype=np.float64)
    k = len(placements)
    need = 4 if model == "matrix" else 2
    if k < need:
        raise CalibrationError(f"The '{model}' model needs at least {need} placements; got {k}.")
    d = np.array([p.load_counts for p in placements])
    w = np.array([p.mass_kg for p in placements]) * gravity_m_s2
    xy = np.array([[p.x_mm, p.y_mm] for p in placements])
    for p, row in zip(placements, d):
        if np.abs(row).sum() < 1e-9:
            raise NoLoadError(f"The placement of {p.describe()} reads no load: is the mass on the board?")

    gains, a = _fit(model, d, w, xy, pos)
    col = np.linalg.norm(a, axis=0)
    cond = float(np.linalg.cond(a / np.where(col > 0, col, 1.0)))
    if not np.isfinite(cond) or cond > max_condition_number:
        raise CalibrationError(
            "The placements do not determine the four gains (condition number "
            f"{cond:.3g}): use masses at several positions spread over the board."
        )
    total, cop = _predict(gains, d, pos)

    loo_total = np.full(k, np.nan)
    loo_cop = np.full((k, 2), np.nan)
    if k > need:
        for j in range(k):
            keep = np.arange(k) != j
            g_j, _ = _fit(model, d[keep], w[keep], xy[keep], pos)
            t_j, c_j = _predict(g_j, d[j : j + 1], pos)
            loo_total[j], loo_cop[j] = t_j[0], c_j[0]

    suspects = _find_suspects(model, d, w, xy, pos, need, suspect_cop_mm=suspect_cop_mm, suspect_force_pct=suspect_force_pct)
    if suspects:
        logger.warning("calibration placements that disagree with the rest: %s", [placements[j].describe() for j in suspects])
    return GainFit(
        model=model,
        gains_n_per_count=gains,
        condition_number=cond,
        force_error_n=total - w,
        cop_error_mm=cop - xy,
        loo_force_error_n=loo_total - w,
        loo_cop_error_mm=loo_cop - xy,
        placements=list(placements),
        suspects=suspects,
        gravity_m_s2=gravity_m_s2,
    )


def _find_suspects(model, d, w, xy, pos, need, *, suspect_cop_mm, suspect_force_pct) -> list[int]:
    k = len(d)
    active = list(range(k))
    suspects: list[int] = []
    while len(active) > need + 1 and len(suspects) < max(1, k // 3):
        worst, worst_score = None, 1.0
        for j in active:
            keep = [i for i in active if i != j]
            g_j, _ = _fit(model, d[keep], w[keep], xy[keep], pos)
            t_j, c_j = _predict(g_j, d[j : j + 1], pos)
            cop_err = float(np.hypot(*(c_j[0] - xy[j])))
            force_pct = abs(t_j[0] - w[j]) / w[j] * 100.0
            score = max(cop_err / suspect_cop_mm, force_pct / suspect_force_pct)
            if score > worst_score:
                worst, worst_score = j, score
        if worst is None:
            break
        suspects.append(worst)
        active.remove(worst)
    return sorted(suspects)
