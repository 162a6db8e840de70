"""Verification of a calibration: force and COP error at each point of a placement grid.

Each verification point is a known mass at a known position read *after* the fit, through the
calibration exactly as a recording would use it (offsets, gains, COP correction). The report gives,
per point, the force error (N and % of the load) and the COP error (mm), and passes or fails the
whole grid against the procedure's tolerances (worst force error, COP RMS and worst COP error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from station.calibration.fit import STANDARD_GRAVITY, Placement

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerificationPoint:
    mass_kg: float
    x_mm: float
    y_mm: float
    force_n: float
    expected_n: float
    cop_ml_mm: float
    cop_ap_mm: float

    @property
    def force_error_n(self) -> float:
        return self.force_n - self.expected_n

    @property
    def force_error_pct(self) -> float:
        return self.force_error_n / self.expected_n * 100.0

    @property
    def cop_error_mm(self) -> float:
        return float(np.hypot(self.cop_ml_mm - self.x_mm, self.cop_ap_mm - self.y_mm))

    def to_dict(self) -> dict:
        return {
            "mass_kg": self.mass_kg, "x_mm": self.x_mm, "y_mm": self.y_mm,
            "force_n": self.force_n, "expected_n": self.expected_n,
            "force_error_n": self.force_error_n, "force_error_pct": self.force_error_pct,
            "cop_ml_mm": self.cop_ml_mm, "cop_ap_mm": self.cop_ap_mm, "cop_error_mm": self.cop_error_mm,
        }


@dataclass
class VerificationReport:
    points: list[VerificationPoint]
    force_tol_pct: float
    cop_rms_tol_mm: float
    cop_max_tol_mm: float
    messages: list[str] = field(default_factory=list)

    @property
    def force_max_pct(self) -> float:
        return max(abs(p.force_error_pct) for p in self.points)

    @property
    def force_rms_n(self) -> float:
        return float(np.sqrt(np.mean([p.force_error_n**2 for p in self.points])))

    @property
    def cop_rms_mm(self) -> float:
        return float(np.sqrt(np.mean([p.cop_error_mm**2 for p in self.points])))

    @property
    def cop_max_mm(self) -> float:
        return max(p.cop_error_mm for p in self.points)

    def point_passed(self, p: VerificationPoint) -> bool:
        return abs(p.force_error_pct) <= self.force_tol_pct and p.cop_error_mm <= self.cop_max_tol_mm

    @property
    def passed(self) -> bool:
        return (
            self.force_max_pct <= self.force_tol_pct
            and self.cop_rms_mm <= self.cop_rms_tol_mm
            and self.cop_max_mm <= self.cop_max_tol_mm
        )

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "force_max_pct": self.force_max_pct,
            "force_rms_n": self.force_rms_n,
            "cop_rms_mm": self.cop_rms_mm,
            "cop_max_mm": self.cop_max_mm,
            "tolerances": {
                "force_tol_pct": self.force_tol_pct,
                "cop_rms_tol_mm": self.cop_rms_tol_mm,
                "cop_max_tol_mm": self.cop_max_tol_mm,
            },
            "points": [p.to_dict() for p in self.points],
        }

    def format(self) -> str:
        """The verification table a technician reads at the end of the wizard."""
        lines = [
            "Verification",
            f"  {'mass kg':>7} {'x mm':>7} {'y mm':>7} {'force N':>9} {'err N':>7} {'err %':>6}"
            f" {'COP x':>7} {'COP y':>7} {'err mm':>6}  result",
        ]
        for p in self.points:
            lines.append(
                f"  {p.mass_kg:7.2f} {p.x_mm:7.1f} {p.y_mm:7.1f} {p.force_n:9.2f} {p.force_error_n:+7.2f}"
                f" {p.force_error_pct:+6.2f} {p.cop_ml_mm:7.1f} {p.cop_ap_mm:7.1f} {p.cop_error_mm:6.2f}"
                f"  {'pass' if self.point_passed(p) else 'FAIL'}"
            )
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(
            f"  force error max {self.force_max_pct:.3f} % (limit {self.force_tol_pct:g} %),"
            f" COP error RMS {self.cop_rms_mm:.2f} mm (limit {self.cop_rms_tol_mm:g} mm),"
            f" max {self.cop_max_mm:.2f} mm (limit {self.cop_max_tol_mm:g} mm): {verdict}"
        )
        return "\n".join(lines)


def verify(
    calibration,
    placements: list[Placement],
    *,
    force_tol_pct: float,
    cop_rms_tol_mm: float,
    cop_max_tol_mm: float,
    gravity_m_s2: float = STANDARD_GRAVITY,
) -> VerificationReport:
    """Read each placement through ``calibration`` and compare with the applied load and position.

    Parameters
    ----------
    calibration : station.calibration.Calibration
    placements : list of Placement
        Known masses at known positions, with the board's mean raw counts during each hold.
    force_tol_pct, cop_rms_tol_mm, cop_max_tol_mm : float
        Tolerances: worst |force error| (% of load), COP error RMS and worst COP error (mm).
    gravity_m_s2 : float
        Gravity used to turn the masses into weights.
    """
    counts = np.array([p.counts_mean for p in placements], dtype=np.float64)
    ml, ap, total = calibration.cop_mm(counts, threshold_n=-np.inf)
    points = [
        VerificationPoint(
            mass_kg=float(p.mass_kg), x_mm=float(p.x_mm), y_mm=float(p.y_mm),
            force_n=float(total[k]), expected_n=float(p.mass_kg * gravity_m_s2),
            cop_ml_mm=float(ml[k]), cop_ap_mm=float(ap[k]),
        )
        for k, p in enumerate(placements)
    ]
    report = VerificationReport(points, force_tol_pct, cop_rms_tol_mm, cop_max_tol_mm)
    logger.info("verification: COP RMS %.2f mm, force max %.3f %%: %s",
                report.cop_rms_mm, report.force_max_pct, "pass" if report.passed else "FAIL")
    return report
