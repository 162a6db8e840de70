"""Butterworth low-pass design and forward-backward filtering without scipy.signal.

``import scipy.signal`` costs 0.4-0.9 s of start-up (it pulls in scipy.stats and more), against well
under a millisecond for the filtering itself; ``station analyze`` of one file must start in well under
a second. This module designs the same filters (analog Butterworth prototype, bilinear transform with
pre-warping, second-order sections) and runs the same zero-phase filtering as
``scipy.signal.sosfiltfilt`` (odd extension of ``padlen`` samples at each end, each section started
in its steady state for the first sample: ``sosfilt_zi``). Tests check both against scipy.signal to
1e-10.

Design (order ``N``, cut-off ``fc`` Hz, rate ``fs`` Hz)::

    p_k = exp(i π (2k + N + 1) / (2N)),  k = 0..N-1          analog prototype poles
    w = 2 fs tan(π fc / fs)                                 pre-warped cut-off (rad/s)
    z_k = (2 fs + w p_k) / (2 fs - w p_k)                   bilinear transform; N zeros at -1
    gain so that H(1) = 1                                    unit DC gain
"""

from __future__ import annotations

import numpy as np

from station.core._numba import jit


def butter_lowpass_sos(order: int, cutoff_hz: float, fs_hz: float) -> np.ndarray:
    """Second-order sections ``(n_sections, 6)`` of a digital Butterworth low-pass (as ``scipy.signal.butter(..., output="sos")``)."""
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if not 0 < cutoff_hz < fs_hz / 2:
        raise ValueError(f"cut-off {cutoff_hz} Hz must lie between 0 and half the rate {fs_hz} Hz")
    k = np.arange(order)
    p_analog = np.exp(1j * np.pi * (2 * k + order + 1) / (2 * order))
    w = 2 * fs_hz * np.tan(np.pi * cutoff_hz / fs_hz)
    fs2 = 2 * fs_hz
    p = (fs2 + w * p_analog) / (fs2 - w * p_analog)
    # conjugate pairs (upper half plane) and, for an odd order, the one real pole
    pairs = sorted((q for q in p if q.imag > 1e-12), key=lambda q: -abs(q))  # closest to the unit circle last
    real = [q.real for q in p if abs(q.imag) <= 1e-12]
    sections = []
    for r in real:
        sections.append([1.0, 1.0, 0.0, 1.0, -r, 0.0])
    for q in pairs:
        sections.append([1.0, 2.0, 1.0, 1.0, -2 * q.real, abs(q) ** 2])
    sos = np.array(sections, dtype=np.float64)
    # unit DC gain: H(z = 1) = prod(sum(b) / sum(a)); put the gain in the first section as scipy does
    dc = np.prod(sos[:, :3].sum(axis=1) / sos[:, 3:].sum(axis=1))
    sos[0, :3] /= dc
    return sos


def sosfilt_zi(sos) -> np.ndarray:
    """Steady-state states ``(n_sections, 2)`` of a unit step (as ``scipy.signal.sosfilt_zi``)."""
    sos = np.asarray(sos, dtype=np.float64)
    zi = np.empty((sos.shape[0], 2))
    scale = 1.0
    for s, (b0, b1, b2, a0, a1, a2) in enumerate(sos):
        b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        h = (b0 + b1 + b2) / (1.0 + a1 + a2)
        z2 = b2 - a2 * h
        zi[s] = scale * np.array([b1 - a1 * h + z2, z2])
        scale *= h
    return zi


@jit
def _sosfilt_kernel(sos, x, zi, out):  # pragma: no cover
    n, k = x.shape
    ns = sos.shape[0]
    for c in range(k):
        for i in range(n):
            v = x[i, c]
            for s in range(ns):
                b0 = sos[s, 0]
                b1 = sos[s, 1]
                b2 = sos[s, 2]
                a1 = sos[s, 4]
                a2 = sos[s, 5]
                y = b0 * v + zi[s, 0, c]
                zi[s, 0, c] = b1 * v - a1 * y + zi[s, 1, c]
                zi[s, 1, c] = b2 * v - a2 * y
                v = y
            out[i, c] = v


def _sosfilt(sos, x2, zi):
    out = np.empty_like(x2)
    _sosfilt_kernel(sos, x2, np.ascontiguousarray(zi), out)
    return out


def sosfiltfilt(sos, x, *, padlen: int | None = None) -> np.ndarray:
    """Zero-phase forward-backward filtering along axis 0 (as ``scipy.signal.sosfiltfilt(sos, x, axis=0, padlen=...)``).

    Parameters
    ----------
    sos : ndarray (n_sections, 6)
    x : array_like (n,) or (n, k)
    padlen : int, optional, keyword-only
        Samples of odd extension at each end (scipy's default when None).
    """
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    squeeze = x.ndim == 1
    x2 = np.ascontiguousarray(x.reshape(x.shape[0], -1))
    if padlen is None:
        n_zero = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
        padlen = 3 * (2 * sos.shape[0] + 1 - n_zero)
    n = x2.shape[0]
    if padlen >= n:
        raise ValueError(f"the signal ({n} samples) must be longer than padlen ({padlen})")
    if padlen > 0:
        left = 2 * x2[0] - x2[padlen:0:-1]
        right = 2 * x2[-1] - x2[-2 : -(padlen + 2) : -1]
        ext = np.ascontiguousarray(np.concatenate([left, x2, right]))
    else:
        ext = x2
    zi = sosfilt_zi(sos)[:, :, None]
    y = _sosfilt(sos, ext, zi * ext[0][None, None, :])
    y = np.ascontiguousarray(y[::-1])
    y = _sosfilt(sos, y, zi * y[0][None, None, :])[::-1]
    if padlen > 0:
        y = y[padlen:-padlen]
    y = np.ascontiguousarray(y)
    return y[:, 0] if squeeze else y


def filtfilt_ba_padlen(order: int) -> int:
    """``scipy.signal.filtfilt``'s default padlen for a (b, a) design of ``order``: 3 * (order + 1)."""
    return 3 * (order + 1)
