"""Raw ADC counts -> per-cell vertical forces.

Two calibration forms are supported:

* per-cell: ``F[:, c] = (counts[:, c] - offsets_counts[c]) * gains_n_per_count[c]``
* cross-talk matrix (4, 4): ``F = (counts - offsets_counts) @ G.T``, i.e.
  ``F[:, r] = sum_c G[r, c] * (counts[:, c] - offsets_counts[c])``.

Cells are in the project order fl, fr, bl, br; forces are in newtons.
"""

from __future__ import annotations

import numpy as np

from station.core._numba import jit

N_CELLS = 4


@jit
def _forces_gain_kernel(counts, offsets, gains, out):  # pragma: no cover
    n = counts.shape[0]
    for i in range(n):
        for c in range(4):
            out[i, c] = (counts[i, c] - offsets[c]) * gains[c]


@jit
def _forces_matrix_kernel(counts, offsets, matrix, out):  # pragma: no cover
    n = counts.shape[0]
    d = np.empty(4)
    for i in range(n):
        for c in range(4):
            d[c] = counts[i, c] - offsets[c]
        for r in range(4):
            acc = 0.0
            for c in range(4):
                acc += matrix[r, c] * d[c]
            out[i, r] = acc


def _check(counts, offsets_counts, gains_n_per_count):
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != N_CELLS:
        raise ValueError(f"counts must have shape (n, 4), got {counts.shape}.")
    offsets = np.ascontiguousarray(offsets_counts, dtype=np.float64)
    if offsets.shape != (N_CELLS,):
        raise ValueError(f"offsets_counts must have shape (4,), got {offsets.shape}.")
    gains = np.ascontiguousarray(gains_n_per_count, dtype=np.float64)
    if gains.shape not in ((N_CELLS,), (N_CELLS, N_CELLS)):
        raise ValueError(f"gains_n_per_count must have shape (4,) or (4, 4), got {gains.shape}.")
    # int64 keeps 24-bit counts exact and gives numba one signature for every integer input
    counts = np.ascontiguousarray(counts, dtype=np.int64 if counts.dtype.kind in "iu" else np.float64)
    return counts, offsets, gains


def counts_to_forces(counts, offsets_counts, gains_n_per_count):
    """Convert raw counts to per-cell forces.

    Parameters
    ----------
    counts : array_like, shape (n, 4)
        Raw signed ADC counts, cells fl, fr, bl, br (integers, or floats for averaged counts).
    offsets_counts : array_like, shape (4,)
        Zero-load reading of each cell (tare), in counts.
    gains_n_per_count : array_like, shape (4,) or (4, 4)
        Per-cell gains (N per count), or a cross-talk matrix ``G`` with ``F = G @ (counts - offsets)``.

    Returns
    -------
    forces_n : ndarray, shape (n, 4), float64
        Vertical force on each cell, in newtons.
    """
    counts, offsets, gains = _check(counts, offsets_counts, gains_n_per_count)
    out = np.empty((counts.shape[0], N_CELLS), dtype=np.float64)
    if gains.ndim == 1:
        _forces_gain_kernel(counts, offsets, gains, out)
    else:
        _forces_matrix_kernel(counts, offsets, gains, out)
    return out


def counts_to_forces_reference(counts, offsets_counts, gains_n_per_count):
    """Plain-numpy reference of :func:`counts_to_forces` (same arguments and result)."""
    counts, offsets, gains = _check(counts, offsets_counts, gains_n_per_count)
    d = counts.astype(np.float64) - offsets
    return d * gains if gains.ndim == 1 else d @ gains.T


CELLS = ("fl", "fr", "bl", "br")


class CountsModel:
    """A calibration as the core applies it: counts -> per-cell forces -> total force and COP.

    Built from the calibration's plain dict (the form stored in trial files and the database:
    ``offsets_counts``, ``gains_n_per_count``, ``geometry.sensors_mm`` with fl/fr/bl/br, optional
    ``cop_correction``), or from any object with ``to_dict()`` giving that form
    (:class:`station.calibration.Calibration`). The calibration layer validates files; this class only
    applies what it is given, so counts -> COP is one function for every caller.
    """

    def __init__(self, offsets_counts, gains_n_per_count, positions_mm, cop_correction: dict | None = None,
                 *, board_id: str = ""):
        self.offsets_counts = np.asarray(offsets_counts, dtype=np.float64).reshape(N_CELLS)
        self.gains_n_per_count = np.asarray(gains_n_per_count, dtype=np.float64)
        self.positions_mm = np.asarray(positions_mm, dtype=np.float64).reshape(N_CELLS, 2)
        # a hand-edited or damaged calibration must fail here, with its field named, not as NaN forces
        # ("nobody on the board") or a shape error deep in a kernel
        if self.gains_n_per_count.shape not in ((N_CELLS,), (N_CELLS, N_CELLS)) or not np.all(np.isfinite(self.gains_n_per_count)):
            raise ValueError(f"gains_n_per_count must be {N_CELLS} finite per-cell gains or a finite {N_CELLS} x {N_CELLS} matrix")
        if not np.all(np.isfinite(self.offsets_counts)):
            raise ValueError(f"offsets_counts must be {N_CELLS} finite numbers")
        if not np.all(np.isfinite(self.positions_mm)):
            raise ValueError("the sensor positions must be finite numbers")
        self.cop_correction = cop_correction or None
        self.board_id = board_id

    @classmethod
    def of(cls, calibration) -> "CountsModel":
        """A model from a :class:`CountsModel`, a calibration object (``to_dict()``) or its dict.

        Raises
        ------
        ValueError
            The dict lacks offsets, gains or the four sensor positions.
        """
        if isinstance(calibration, cls):
            return calibration
        geometry = getattr(calibration, "geometry", None)
        if hasattr(calibration, "gains_n_per_count") and hasattr(geometry, "positions_mm"):
            return cls(calibration.offsets_counts, calibration.gains_n_per_count, geometry.positions_mm,
                       getattr(calibration, "cop_correction", None), board_id=str(getattr(calibration, "board_id", "")))
        d = calibration.to_dict() if hasattr(calibration, "to_dict") else calibration
        if not isinstance(d, dict):
            raise ValueError("A calibration must be a calibration object or its dict.")
        try:
            sensors = d["geometry"]["sensors_mm"]
            positions = [[float(v) for v in sensors[c]] for c in CELLS]
            return cls(d["offsets_counts"], d["gains_n_per_count"], positions, d.get("cop_correction"),
                       board_id=str(d.get("board_id", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"The calibration is missing or has a malformed field ({exc!s}).") from None

    def forces_n(self, counts) -> np.ndarray:
        """Per-cell vertical forces (N), shape (n, 4), from raw counts, shape (n, 4)."""
        return counts_to_forces(np.atleast_2d(counts), self.offsets_counts, self.gains_n_per_count)

    def cop_mm(self, counts=None, *, threshold_n: float, forces_n=None):
        """``(cop_ml_mm, cop_ap_mm, total_n)`` with the load gate ``threshold_n`` and the COP correction.

        Pass ``forces_n`` when they are already computed (then ``counts`` is ignored).
        """
        from station.core.cop import apply_cop_correction, cop_from_forces

        f = self.forces_n(counts) if forces_n is None else forces_n
        ml, ap, total = cop_from_forces(f, self.positions_mm, threshold_n=threshold_n)
        if self.cop_correction:
            ml, ap = apply_cop_correction(self.cop_correction, ml, ap)
        return ml, ap, total
