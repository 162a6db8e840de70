"""The virtual board's mechanics and electronics: geometry, load sharing, load cells and ADCs.

Forces on the cells follow from a load's total and COP by bilinear sharing on the rectangle of the
four sensors (exact: the COP computed back from the four cell forces is the load's COP). Each cell then
goes through its own chain: creep (slow first-order rise ``creep * F`` with ``creep_tau_s``), thermal
drift (``±drift_n_per_min`` N/min, sign random per cell), a hidden gain (counts/N) and offset (counts),
ADC noise (Gaussian, ``noise_counts_rms``), inter-channel skew (each HX711 free-runs, so a channel's
sample is up to one conversion older than the frame: linear interpolation between conversions), and
the signed 24-bit rails (saturation sets the channel's status bit).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from scipy import signal

from station.board.protocol import COUNT_MAX, COUNT_MIN
from station.errors import StationError

logger = logging.getLogger(__name__)

#: sensor positions (x_mm, y_mm) of fl, fr, bl, br for the named geometries
GEOMETRIES: dict[str, tuple] = {
    "reference-400x300": ((-200.0, 150.0), (200.0, 150.0), (-200.0, -150.0), (200.0, -150.0)),
    "wii-balance-board": ((-216.5, 119.0), (216.5, 119.0), (-216.5, -119.0), (216.5, -119.0)),
}


@dataclass(frozen=True)
class BoardModel:
    """Parameters of a virtual board (frozen; the random parts are drawn per seed by :class:`CellChain`).

    Parameters
    ----------
    positions_mm : tuple of four (x_mm, y_mm)
        Sensor positions, fl, fr, bl, br; x = ML (+ right), y = AP (+ forward).
    gains_counts_per_n : tuple of four float or None
        Hidden per-cell gains; None draws ``nominal_gain_counts_per_n * (1 ± gain_tolerance)`` per seed.
    offsets_counts : tuple of four int or None
        Hidden per-cell zero offsets; None draws uniformly in ``±offset_range_counts`` per seed.
    noise_counts_rms : float
        ADC noise per channel (counts RMS).
    drift_n_per_min : float
        Thermal drift magnitude per cell (N/min); each cell drifts with a random factor in [-1, 1].
    creep : float
        Load-cell creep: fraction of the applied load added with time constant ``creep_tau_s``.
    skew : bool
        Channels sampled up to one conversion apart (random per seed) when True.
    """

    positions_mm: tuple = GEOMETRIES["reference-400x300"]
    gains_counts_per_n: tuple | None = None
    offsets_counts: tuple | None = None
    noise_counts_rms: float = 12.0
    drift_n_per_min: float = 0.02
    creep: float = 0.001
    creep_tau_s: float = 300.0
    skew: bool = True
    nominal_gain_counts_per_n: float = 55.0
    gain_tolerance: float = 0.05
    offset_range_counts: int = 200_000
    name: str = "reference-400x300"

    def __post_init__(self):
        pos = np.asarray(self.positions_mm, dtype=float)
        if pos.shape != (4, 2):
            raise StationError("a board needs four sensor positions (fl, fr, bl, br) as (x_mm, y_mm).")
        for field in ("gains_counts_per_n", "offsets_counts"):
            v = getattr(self, field)
            if v is not None and len(v) != 4:
                raise StationError(f"{field} needs four values (fl, fr, bl, br).")
        if self.noise_counts_rms < 0 or self.creep < 0 or self.creep_tau_s <= 0:
            raise StationError("noise, creep and creep time constant must be non-negative (tau positive).")

    @classmethod
    def named(cls, name: str, **changes) -> "BoardModel":
        """A board with a known geometry (``reference-400x300``, ``wii-balance-board``)."""
        if name not in GEOMETRIES:
            raise StationError(f"unknown board geometry '{name}'; known: {', '.join(GEOMETRIES)}.")
        return cls(positions_mm=GEOMETRIES[name], name=name, **changes)

    @property
    def positions(self) -> np.ndarray:
        """Sensor positions as an array, shape (4, 2)."""
        return np.asarray(self.positions_mm, dtype=float)

    def share_weights(self, x_mm, y_mm) -> np.ndarray:
        """Fraction of a point load at (x_mm, y_mm) carried by each cell, shape (n, 4).

        Bilinear sharing on the sensor rectangle (exact COP, no cell negative inside the rectangle);
        for a non-rectangular layout, the minimum-norm solution of the three equilibrium equations.
        """
        x = np.atleast_1d(np.asarray(x_mm, dtype=float))
        y = np.atleast_1d(np.asarray(y_mm, dtype=float))
        rect = _rectangle(tuple(map(tuple, self.positions_mm)))
        if rect is not None:
            xl, xr, yb, yf = rect
            u = (x - xl) / (xr - xl)  # 0 at the left cells, 1 at the right
            v = (y - yb) / (yf - yb)  # 0 at the back, 1 at the front
            return np.column_stack([(1 - u) * v, u * v, (1 - u) * (1 - v), u * (1 - v)])
        a = np.vstack([np.ones(4), self.positions[:, 0], self.positions[:, 1]])
        return (np.linalg.pinv(a) @ np.vstack([np.ones_like(x), x, y])).T

    def cell_forces(self, total_n, x_mm, y_mm) -> np.ndarray:
        """Forces on fl, fr, bl, br (N, shape (n, 4)) of loads ``total_n`` acting at (x_mm, y_mm)."""
        return self.share_weights(x_mm, y_mm) * np.atleast_1d(np.asarray(total_n, dtype=float))[:, None]


@functools.lru_cache(maxsize=16)
def _rectangle(positions: tuple) -> tuple | None:
    """(x_left, x_right, y_back, y_front) when fl, fr, bl, br form an axis-aligned rectangle, else None."""
    (xfl, yfl), (xfr, yfr), (xbl, ybl), (xbr, ybr) = positions
    close = lambda a, b: abs(a - b) < 1e-9 * max(1.0, abs(a), abs(b))  # noqa: E731
    if close(xfl, xbl) and close(xfr, xbr) and close(yfl, yfr) and close(ybl, ybr) and xfr > xfl and yfl > ybl:
        return (xfl, xfr, ybl, yfl)
    return None


class CellChain:
    """The four load cells and ADCs of one board instance (hidden parameters drawn from ``rng``).

    Parameters
    ----------
    model : BoardModel
    rate_hz : float
        Conversion rate (sets the skew interpolation).
    param_rng, noise_rng : numpy.random.Generator
        Draws of the hidden parameters; ADC noise (used in time order).
    """

    def __init__(self, model: BoardModel, rate_hz: float, *, param_rng: np.random.Generator, noise_rng: np.random.Generator):
        self.model = model
        tol = model.gain_tolerance
        drawn_gains = model.nominal_gain_counts_per_n * (1.0 + param_rng.uniform(-tol, tol, 4))
        drawn_offsets = param_rng.integers(-model.offset_range_counts, model.offset_range_counts + 1, 4)
        self.drift_factor = param_rng.uniform(-1.0, 1.0, 4)
        self.skew_fraction = param_rng.uniform(0.0, 1.0, 4) if model.skew else np.zeros(4)
        self.gains_counts_per_n = np.asarray(model.gains_counts_per_n if model.gains_counts_per_n is not None else drawn_gains, dtype=float)
        self.offsets_counts = np.asarray(model.offsets_counts if model.offsets_counts is not None else drawn_offsets, dtype=np.int64)
        self.rate_hz = float(rate_hz)
        self._noise_rng = noise_rng
        self._creep_state = np.zeros(4)
        self._previous = None  # sensed forces at the previous conversion (for skew)

    def convert(self, forces_n: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ADC counts of true cell forces at conversion times.

        Parameters
        ----------
        forces_n : ndarray, shape (n, 4)
            True forces on the cells at each conversion.
        t_s : ndarray, shape (n,)
            Conversion times (s since the simulation started).

        Returns
        -------
        counts : ndarray of int32, shape (n, 4)
            Clipped to the signed 24-bit range.
        saturated : ndarray of bool, shape (n, 4)
        """
        n = len(forces_n)
        m = self.model
        sensed = np.empty((n, 4))
        if m.creep > 0 and n:
            # first-order lag of the load (state' = (F - state) / tau), one step per conversion
            alpha = 1.0 - np.exp(-1.0 / (self.rate_hz * m.creep_tau_s))
            zi = ((1.0 - alpha) * self._creep_state)[None, :]
            state, _ = signal.lfilter([alpha], [1.0, alpha - 1.0], forces_n, axis=0, zi=zi)
            self._creep_state = state[-1].copy()
            sensed[:] = forces_n + m.creep * state
        else:
            sensed[:] = forces_n
        sensed += m.drift_n_per_min * self.drift_factor * (np.asarray(t_s)[:, None] / 60.0)
        if n and self.skew_fraction.any():
            prev = np.vstack([sensed[:1] if self._previous is None else self._previous[None, :], sensed[:-1]])
            self._previous = sensed[-1].copy()
            sensed = sensed + (prev - sensed) * self.skew_fraction
        elif n:
            self._previous = sensed[-1].copy()
        noise = self._noise_rng.standard_normal((n, 4)) * m.noise_counts_rms
        raw = np.rint(sensed * self.gains_counts_per_n + self.offsets_counts + noise)
        saturated = (raw >= COUNT_MAX) | (raw <= COUNT_MIN)
        return np.clip(raw, COUNT_MIN, COUNT_MAX).astype(np.int32), saturated
