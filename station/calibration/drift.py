"""Drift (empty board over minutes) and creep (a mass left on) checks, reported in N/min.

The rate is the least-squares slope of the calibrated total force against time; the per-cell
slopes are reported too, because a single drifting cell moves the COP even when the total is flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from station.errors import CalibrationError


@dataclass(frozen=True)
class RateCheck:
    kind: str  # "drift" (empty board) or "creep" (mass left on)
    minutes: float
    rate_n_per_min: float
    per_cell_n_per_min: tuple[float, float, float, float]
    change_n: float  # fitted change of the total over the whole window
    load_n: float
    max_n_per_min: float

    @property
    def passed(self) -> bool:
        return abs(self.rate_n_per_min) <= self.max_n_per_min

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "minutes": self.minutes, "rate_n_per_min": self.rate_n_per_min,
            "per_cell_n_per_min": list(self.per_cell_n_per_min), "change_n": self.change_n,
            "load_n": self.load_n, "max_n_per_min": self.max_n_per_min, "passed": self.passed,
        }

    def format(self) -> str:
        what = "Drift (empty board)" if self.kind == "drift" else f"Creep ({self.load_n:.0f} N left on)"
        cells = ", ".join(f"{c} {r:+.3f}" for c, r in zip(("fl", "fr", "bl", "br"), self.per_cell_n_per_min))
        return (
            f"{what} over {self.minutes:.1f} min: {self.rate_n_per_min:+.3f} N/min"
            f" (limit {self.max_n_per_min:g} N/min): {'PASS' if self.passed else 'FAIL'}  [{cells}]"
        )


def measure_rate(t_s, forces_n, *, kind: str, max_n_per_min: float, load_n: float = 0.0) -> RateCheck:
    """Slope of the total and per-cell forces against time.

    Parameters
    ----------
    t_s : array (n,)
        Sample times (s).
    forces_n : array (n, 4)
        Calibrated per-cell forces (N).
    kind : {"drift", "creep"}
    max_n_per_min : float
        Acceptable |rate| of the total force.
    load_n : float
        Load on the board during the check (0 for drift).
    """
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(forces_n, dtype=np.float64)
    if len(t) < 3 or t[-1] - t[0] <= 0:
        raise CalibrationError(f"The {kind} check needs a recording of some duration; got {len(t)} samples.")
    t_min = (t - t.mean()) / 60.0
    design = np.stack([t_min, np.ones_like(t_min)], axis=1)
    coef, *_ = np.linalg.lstsq(design, np.column_stack([f.sum(axis=1), f]), rcond=None)
    slopes = coef[0]
    minutes = float((t[-1] - t[0]) / 60.0)
    return RateCheck(
        kind=kind,
        minutes=minutes,
        rate_n_per_min=float(slopes[0]),
        per_cell_n_per_min=tuple(float(s) for s in slopes[1:]),
        change_n=float(slopes[0] * minutes),
        load_n=float(load_n),
        max_n_per_min=float(max_n_per_min),
    )
