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
