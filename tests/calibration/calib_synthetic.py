"""A tiny, independent synthetic board for the fitting tests (no virtual board needed)."""

from __future__ import annotations

import numpy as np

from station.calibration.fit import STANDARD_GRAVITY, Placement

POSITIONS_MM = np.array([[-200.0, 150.0], [200.0, 150.0], [-200.0, -150.0], [200.0, -150.0]])


def cell_forces(mass_kg, x_mm, y_mm, *, twist=0.0, positions_mm=POSITIONS_MM):
    """Per-cell forces (N) of a point mass: bilinear share plus a 'twist' that carries no net force
    or moment (the statically indeterminate part, set by the board's stiffness)."""
    hx, hy = np.abs(positions_mm).max(axis=0)
    u, v = x_mm / hx, y_mm / hy
    share = np.array([(1 - u) * (1 + v), (1 + u) * (1 + v), (1 - u) * (1 - v), (1 + u) * (1 - v)]) / 4.0
    weight = mass_kg * STANDARD_GRAVITY
    return weight * (share + twist * np.array([1.0, -1.0, -1.0, 1.0]))


class SyntheticBoard:
    def __init__(self, seed=0, *, noise_counts=40.0, crosstalk=None):
        rng = np.random.default_rng(seed)
        self.counts_per_n = rng.uniform(180.0, 260.0, 4) * rng.choice([-1.0, 1.0], 4)
        self.offsets = rng.uniform(-200_000, 200_000, 4)
        self.noise = noise_counts
        self.crosstalk = np.eye(4) if crosstalk is None else np.asarray(crosstalk)
        self.rng = rng

    @property
    def gains_n_per_count(self):
        return 1.0 / self.counts_per_n

    def counts(self, forces_n, n):
        mean = self.offsets + self.crosstalk @ forces_n * self.counts_per_n
        return mean + self.rng.normal(0.0, self.noise, (n, 4))

    def placement(self, mass_kg, x_mm, y_mm, *, actual_xy=None, n=240, twist=0.0, offsets=None):
        ax, ay = actual_xy if actual_xy is not None else (x_mm, y_mm)
        c = self.counts(cell_forces(mass_kg, ax, ay, twist=twist), n)
        return Placement(mass_kg, x_mm, y_mm, c.mean(axis=0), c.std(axis=0), n,
                         self.offsets.copy() if offsets is None else offsets)


def grid_points(nx=3, ny=3, *, half_mm=(100.0, 75.0)):
    xs = np.linspace(-half_mm[0], half_mm[0], nx)
    ys = np.linspace(-half_mm[1], half_mm[1], ny)
    return [(float(x), float(y)) for y in ys[::-1] for x in xs]
