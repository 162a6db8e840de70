"""Calibration procedures as data: ``calibration/protocols/<name>.toml``.

A procedure says which masses go where, how long each reading is held, what counts as a stable
reading, and the tolerances the fit and the verification must meet. See
``calibration/protocols/standard.toml`` for every field with comments.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from station.calibration.datafiles import available, read_toml
from station.calibration.fit import MODELS, STANDARD_GRAVITY
from station.calibration.geometry import BoardGeometry
from station.errors import CalibrationError

DEFAULT_PROTOCOL = "standard"


@dataclass(frozen=True)
class Stability:
    window_s: float = 1.0
    noise_factor: float = 4.0
    rel_floor: float = 2e-4
    timeout_s: float = 120.0


@dataclass(frozen=True)
class Grid:
    """Placement positions: an ``nx`` x ``ny`` grid at ``fraction`` of the half sensor spacing,
    or explicit ``points_mm``."""

    grid: tuple[int, int] = (3, 3)
    fraction: float = 0.5
    points_mm: tuple[tuple[float, float], ...] | None = None

    def positions_mm(self, geometry: BoardGeometry) -> list[tuple[float, float]]:
        """Positions in mm, front row first, left to right (the order a technician walks them)."""
        if self.points_mm is not None:
            return [(float(x), float(y)) for x, y in self.points_mm]
        nx, ny = self.grid
        hx = geometry.width_mm / 2.0 * self.fraction
        hy = geometry.length_mm / 2.0 * self.fraction
        xs = np.linspace(-hx, hx, nx) if nx > 1 else np.zeros(1)
        ys = np.linspace(hy, -hy, ny) if ny > 1 else np.zeros(1)
        return [(float(round(x, 3)), float(round(y, 3))) for y in ys for x in xs]


@dataclass(frozen=True)
class FitSpec:
    model: str = "cells"
    masses_kg: tuple[float, ...] = (10.0, 20.0)
    positions: Grid = field(default_factory=Grid)
    hold_s: float = 3.0
    retare: bool = True
    cop_correction: str = "none"
    suspect_cop_mm: float = 3.0
    suspect_force_pct: float = 0.5
    max_condition_number: float = 100.0


@dataclass(frozen=True)
class VerifySpec:
    mass_kg: float = 20.0
    positions: Grid = field(default_factory=Grid)
    hold_s: float = 3.0
    force_tol_pct: float = 0.5
    cop_rms_tol_mm: float = 1.0
    cop_max_tol_mm: float = 2.0


@dataclass(frozen=True)
class StabilityCheckSpec:
    """Drift (empty board) or creep (mass left on): duration and the largest acceptable rate."""

    minutes: float = 5.0
    max_n_per_min: float = 0.5
    mass_kg: float = 0.0


@dataclass(frozen=True)
class CalibrationProtocol:
    name: str = DEFAULT_PROTOCOL
    description: str = ""
    validity_days: float = 180.0
    gravity_m_s2: float = STANDARD_GRAVITY
    tare_hold_s: float = 5.0
    stability: Stability = field(default_factory=Stability)
    fit: FitSpec = field(default_factory=FitSpec)
    verify: VerifySpec | None = field(default_factory=VerifySpec)
    drift: StabilityCheckSpec | None = field(default_factory=StabilityCheckSpec)
    creep: StabilityCheckSpec | None = field(default_factory=lambda: StabilityCheckSpec(mass_kg=20.0))

    def replace(self, **changes) -> "CalibrationProtocol":
        """A copy with top-level fields changed (e.g. ``drift=None`` to skip the drift check)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "protocol") -> "CalibrationProtocol":
        try:
            return _parse(d)
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{source}: malformed calibration procedure ({exc!s}).") from None


def _grid(section: dict) -> Grid:
    points = section.get("points_mm")
    return Grid(
        grid=tuple(int(v) for v in section.get("grid", (3, 3))),
        fraction=float(section.get("grid_fraction", 0.5)),
        points_mm=None if points is None else tuple((float(x), float(y)) for x, y in points),
    )


def _check_spec(section: dict | None, *, default_mass: float = 0.0) -> StabilityCheckSpec | None:
    if section is None or float(section.get("minutes", 0.0)) <= 0:
        return None
    return StabilityCheckSpec(
        minutes=float(section["minutes"]),
        max_n_per_min=float(section.get("max_n_per_min", 0.5)),
        mass_kg=float(section.get("mass_kg", default_mass)),
    )


def _parse(d: dict) -> CalibrationProtocol:
    st = d.get("stability", {})
    fit = d.get("fit", {})
    ver = d.get("verify")
    fit_spec = FitSpec(
        model=str(fit.get("model", "cells")),
        masses_kg=tuple(float(m) for m in fit.get("masses_kg", (10.0, 20.0))),
        positions=_grid(fit),
        hold_s=float(fit.get("hold_s", 3.0)),
        retare=bool(fit.get("retare", True)),
        cop_correction=str(fit.get("cop_correction", "none")),
        suspect_cop_mm=float(fit.get("suspect_cop_mm", 3.0)),
        suspect_force_pct=float(fit.get("suspect_force_pct", 0.5)),
        max_condition_number=float(fit.get("max_condition_number", 100.0)),
    )
    if fit_spec.model not in MODELS:
        raise ValueError(f"fit.model must be one of {MODELS}, not '{fit_spec.model}'")
    if fit_spec.cop_correction not in ("none", "affine", "bilinear"):
        raise ValueError(f"fit.cop_correction must be none, affine or bilinear, not '{fit_spec.cop_correction}'")
    if not fit_spec.masses_kg or min(fit_spec.masses_kg) <= 0:
        raise ValueError("fit.masses_kg must list positive masses")
    verify = None
    if ver is not None:
        verify = VerifySpec(
            mass_kg=float(ver.get("mass_kg", 20.0)),
            positions=_grid(ver),
            hold_s=float(ver.get("hold_s", 3.0)),
            force_tol_pct=float(ver.get("force_tol_pct", 0.5)),
            cop_rms_tol_mm=float(ver.get("cop_rms_tol_mm", 1.0)),
            cop_max_tol_mm=float(ver.get("cop_max_tol_mm", 2.0)),
        )
    return CalibrationProtocol(
        name=str(d.get("name", DEFAULT_PROTOCOL)),
        description=str(d.get("description", "")),
        validity_days=float(d.get("validity_days", 180.0)),
        gravity_m_s2=float(d.get("gravity_m_s2", STANDARD_GRAVITY)),
        tare_hold_s=float(d.get("tare", {}).get("hold_s", 5.0)),
        stability=Stability(
            window_s=float(st.get("window_s", 1.0)),
            noise_factor=float(st.get("noise_factor", 4.0)),
            rel_floor=float(st.get("rel_floor", 2e-4)),
            timeout_s=float(st.get("timeout_s", 120.0)),
        ),
        fit=fit_spec,
        verify=verify,
        drift=_check_spec(d.get("drift")),
        creep=_check_spec(d.get("creep"), default_mass=verify.mass_kg if verify else 20.0),
    )


def available_protocols() -> list[str]:
    return available("protocols")


def load_protocol(name_or_path: str | os.PathLike = DEFAULT_PROTOCOL) -> CalibrationProtocol:
    """Load a calibration procedure by name (``"standard"``, ``"quick"``) or from a TOML path."""
    path, data = read_toml(name_or_path, folder="protocols", what="calibration procedure")
    return CalibrationProtocol.from_dict(data, source=str(path))
