"""Resampling of irregularly timed samples to a uniform grid (linear interpolation).

Grid: ``t_k = t_0 + k / fs_hz`` for ``k = 0 .. floor((t_last - t_0) * fs_hz)``. Each output sample is
the linear interpolation between the two input samples around ``t_k``; a NaN neighbour gives NaN
(an undefined COP stays undefined rather than being invented).
"""

from __future__ import annotations

import numpy as np

from station.core._numba import jit
from station.core.errors import SignalError


def check_time(t_s, *, min_samples: int = 2) -> np.ndarray:
    """Validate a time vector: finite, strictly increasing, long enough.

    Raises
    ------
    SignalError
        With the index (0-based sample number) of the first offending sample.
    """
    t = np.ascontiguousarray(t_s, dtype=np.float64)
    if t.ndim != 1:
        raise SignalError(f"Time must be a 1-D vector, got shape {t.shape}.")
    if t.size < min_samples:
        raise SignalError(f"Too few samples: {t.size} (at least {min_samples} needed).")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise SignalError(f"Time is not a finite number at sample {bad[0]}.")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        i = back[0] + 1
        raise SignalError(f"Time goes backwards (or repeats) at sample {i}: {t[i]:.6g} s after {t[i - 1]:.6g} s.")
    return t


@jit
def _resample_kernel(t, y, t0, fs, out):  # pragma: no cover
    n = t.shape[0]
    m = out.shape[0]
    k = y.shape[1]
    j = 0
    for i in range(m):
        tk = t0 + i / fs
        while j < n - 2 and t[j + 1] <= tk:
            j += 1
        frac = (tk - t[j]) / (t[j + 1] - t[j])
        if frac < 0.0:
            frac = 0.0
        elif frac > 1.0:
            frac = 1.0
        for c in range(k):
            if frac == 0.0:
                out[i, c] = y[j, c]
            elif frac == 1.0:
                out[i, c] = y[j + 1, c]
            else:
                out[i, c] = y[j, c] + (y[j + 1, c] - y[j, c]) * frac


def effective_rate_hz(t_s) -> float:
    """The one rate estimator: ``(n - 1) / (t_last - t_first)`` of sample times (s); NaN when undefined.

    Every consumer (metrics, pipeline, store, quality) uses this, so a trial's rate is one number.
    """
    t = np.asarray(t_s, dtype=np.float64).ravel()
    if t.size < 2:
        return float("nan")
    span = float(t[-1] - t[0])
    return (t.size - 1) / span if span > 0 else float("nan")


def uniform_grid(t_s, *, fs_hz: float) -> np.ndarray:
    """The uniform grid (s) from ``t_s[0]`` to at most ``t_s[-1]`` at ``fs_hz``."""
    t = np.asarray(t_s, dtype=np.float64)
    m = int(np.floor((t[-1] - t[0]) * fs_hz + 1e-9)) + 1
    return t[0] + np.arange(m) / fs_hz


def _prepare(t_s, y, fs_hz):
    t = check_time(t_s)
    if not (np.isfinite(fs_hz) and fs_hz > 0):
        raise SignalError(f"The sampling rate must be a positive number, got {fs_hz!r}.")
    y = np.asarray(y, dtype=np.float64)
    squeeze = y.ndim == 1
    y2 = np.ascontiguousarray(y.reshape(y.shape[0], -1))
    if y2.shape[0] != t.size:
        raise ValueError(f"y has {y2.shape[0]} samples but t_s has {t.size}.")
    return t, y2, squeeze


def resample_uniform(t_s, y, *, fs_hz: float):
    """Resample ``y`` sampled at irregular times ``t_s`` onto a uniform grid.

    Parameters
    ----------
    t_s : array_like, shape (n,)
        Strictly increasing sample times (s).
    y : array_like, shape (n,) or (n, k)
        Samples; NaN allowed (propagates to the grid points it touches).
    fs_hz : float, keyword-only
        Output sampling rate (Hz).

    Returns
    -------
    t_uniform_s : ndarray, shape (m,)
    y_uniform : ndarray, shape (m,) or (m, k)

    Raises
    ------
    SignalError
        Time not strictly increasing, too few samples or a bad rate.
    """
    t, y2, squeeze = _prepare(t_s, y, fs_hz)
    grid = uniform_grid(t, fs_hz=fs_hz)
    out = np.empty((grid.size, y2.shape[1]))
    _resample_kernel(t, y2, float(t[0]), float(fs_hz), out)
    return grid, (out[:, 0] if squeeze else out)


def resample_uniform_reference(t_s, y, *, fs_hz: float):
    """Plain-numpy reference of :func:`resample_uniform` (``np.interp`` per column)."""
    t, y2, squeeze = _prepare(t_s, y, fs_hz)
    grid = t[0] + np.arange(uniform_grid(t, fs_hz=fs_hz).size) / fs_hz
    out = np.column_stack([np.interp(grid, t, y2[:, c]) for c in range(y2.shape[1])])
    return grid, (out[:, 0] if squeeze else out)
