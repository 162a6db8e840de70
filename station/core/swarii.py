"""SWARII: Sliding Window Weighted Averaged Interpolation (Audiffren & Contal 2016).

Resamples irregularly timed samples (a Wii Balance Board's ~30-100 Hz with jittering intervals) onto
a uniform grid ``t_k = t_0 + k / fs_hz``. Each output sample is the average of the input samples whose
times lie within ``window_s / 2`` of ``t_k``, each weighted by the part of the window its own time
cell covers — the cell of sample ``i`` runs from the midpoint with its left neighbour to the midpoint
with its right neighbour, the first and last cells of a window being clipped to the window (and to
the recording)::

    x(t_k) = Σ_i w_i x_i / Σ_i w_i,     w_i = |cell_i ∩ [t_k - W/2, t_k + W/2]|

A window holding one sample gives that sample; an empty window is filled by linear interpolation
between its neighbours. Unlike linear interpolation, SWARII averages the samples a window holds
(a low-pass of width ~W) and so does not alias the irregular timing into the spectrum.

Reference: Audiffren J, Contal E. Preprocessing the Nintendo Wii Board signal to derive more
accurate descriptors of statokinesigrams. Sensors 16(8):1208, 2016. The reference implementation
(Quijoux et al. 2021) also drops isolated artefact samples first; this one does not.
"""

from __future__ import annotations

import numpy as np

from station.core._numba import jit
from station.core.resample import _prepare, check_time  # the shared validation of resamplers

#: default window (s), the Quijoux et al. 2021 code's value
WINDOW_S = 0.08


@jit
def _swarii_kernel(t, y, t0, fs, half, out, filled):  # pragma: no cover
    n = t.shape[0]
    m = out.shape[0]
    k = y.shape[1]
    lo = 0
    for j in range(m):
        tk = t0 + j / fs
        while lo < n and t[lo] <= tk - half:
            lo += 1
        hi = lo
        while hi < n and t[hi] < tk + half:
            hi += 1
        cnt = hi - lo
        if cnt == 0:
            filled[j] = False
            continue
        filled[j] = True
        if cnt == 1:
            for c in range(k):
                out[j, c] = y[lo, c]
            continue
        wsum = 0.0
        for c in range(k):
            out[j, c] = 0.0
        for i in range(lo, hi):
            if i == lo or i == 0:
                left = max(t[0], tk - half)
            else:
                left = 0.5 * (t[i] + t[i - 1])
            if i == hi - 1:
                right = min(t[n - 1], tk + half)
            else:
                right = 0.5 * (t[i + 1] + t[i])
            w = right - left
            wsum += w
            for c in range(k):
                out[j, c] += w * y[i, c]
        for c in range(k):
            out[j, c] /= wsum


def swarii_resample(t_s, y, *, fs_hz: float, window_s: float = WINDOW_S):
    """Resample irregular samples onto a uniform grid with SWARII.

    Parameters
    ----------
    t_s : array_like (n,)
        Strictly increasing times (s).
    y : array_like (n,) or (n, k)
        Finite samples.
    fs_hz : float, keyword-only
        Output rate (Hz).
    window_s : float, keyword-only
        Window width W (s).

    Returns
    -------
    t_uniform_s : ndarray (m,)
    y_uniform : ndarray (m,) or (m, k)
    """
    t, y2, squeeze = _prepare(t_s, y, fs_hz)
    m = int(np.floor((t[-1] - t[0]) * fs_hz + 1e-9)) + 1
    grid = t[0] + np.arange(m) / fs_hz
    out = np.empty((m, y2.shape[1]))
    filled = np.empty(m, dtype=np.bool_)
    _swarii_kernel(t, y2, float(t[0]), float(fs_hz), float(window_s) / 2.0, out, filled)
    if not filled.all():
        ok = np.flatnonzero(filled)
        for c in range(y2.shape[1]):
            out[:, c] = np.interp(grid, grid[ok], out[ok, c])
    return grid, (out[:, 0] if squeeze else out)


def swarii_reference(t_s, y, *, fs_hz: float, window_s: float = WINDOW_S):
    """Plain-numpy reference of :func:`swarii_resample` (one window at a time)."""
    t = check_time(t_s)
    y2 = np.asarray(y, dtype=np.float64).reshape(t.size, -1)
    m = int(np.floor((t[-1] - t[0]) * fs_hz + 1e-9)) + 1
    grid = t[0] + np.arange(m) / fs_hz
    half = window_s / 2
    out = np.full((m, y2.shape[1]), np.nan)
    mid = 0.5 * (t[1:] + t[:-1])
    for j, tk in enumerate(grid):
        idx = np.flatnonzero((t > tk - half) & (t < tk + half))
        if idx.size == 1:
            out[j] = y2[idx[0]]
        elif idx.size > 1:
            left = np.concatenate([[max(t[0], tk - half)], mid[idx[1:] - 1]])
            right = np.concatenate([mid[idx[:-1]], [min(t[-1], tk + half)]])
            w = right - left
            out[j] = (w[:, None] * y2[idx]).sum(axis=0) / w.sum()
    ok = np.isfinite(out[:, 0])
    for c in range(y2.shape[1]):
        out[:, c] = np.interp(grid, grid[ok], out[ok, c])
    return grid, (out[:, 0] if np.ndim(y) == 1 else out)
