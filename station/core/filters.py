"""Zero-lag Butterworth low-pass, centring and detrending.

Order convention (biomechanics, Winter 2009 §3.4): ``order`` is the **effective** order of the
zero-lag filter. A Butterworth of order ``order // 2`` is designed (station.core.zerolag, same as scipy.signal) and run forwards
and backwards (``sosfiltfilt``), which squares its magnitude response and so doubles its roll-off to
``order``. The design cut-off is corrected so that the *two-pass* response is -3 dB at ``cutoff_hz``
(an uncorrected design would put -3 dB of each pass, i.e. -6 dB overall, there)::

    C = (sqrt(2) - 1) ** (1 / (2 * n_design))      # n_design = order // 2, two passes
    tan(pi f_design / fs) = tan(pi cutoff / fs) / C  # bilinear pre-warping
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from station.core.errors import SignalError

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=64)
def butter_lowpass_sos(*, fs_hz: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Second-order sections of the single-pass design behind :func:`lowpass_zero_lag`.

    Parameters
    ----------
    fs_hz, cutoff_hz : float
        Sampling rate and the wanted -3 dB frequency of the two-pass filter (Hz).
    order : int
        Effective (two-pass) order; must be even. The designed order is ``order // 2``.
    """
    from station.core.zerolag import butter_lowpass_sos as design  # no scipy.signal import (start-up time)

    if order < 2 or order % 2:
        raise ValueError(f"The effective order must be an even number >= 2, got {order}.")
    if not 0 < cutoff_hz < fs_hz / 2:
        raise SignalError(f"The low-pass cut-off ({cutoff_hz:g} Hz) must lie below half the sampling rate ({fs_hz:g} Hz).")
    n_design = order // 2
    correction = (np.sqrt(2.0) - 1.0) ** (1.0 / (2 * n_design))
    warped = np.tan(np.pi * cutoff_hz / fs_hz) / correction
    f_design = np.arctan(warped) * fs_hz / np.pi
    if f_design >= fs_hz / 2 * 0.999:
        raise SignalError(f"The low-pass cut-off ({cutoff_hz:g} Hz) is too close to half the sampling rate ({fs_hz:g} Hz).")
    return design(n_design, float(f_design), float(fs_hz))


def lowpass_zero_lag(x, *, fs_hz: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-lag Butterworth low-pass along the first axis (see the module docstring for the order).

    Parameters
    ----------
    x : array_like, shape (n,) or (n, k)
        Uniformly sampled, finite signal.
    fs_hz, cutoff_hz : float, keyword-only
        Sampling rate and two-pass -3 dB cut-off (Hz).
    order : int, keyword-only
        Effective order (default 4 = a 2nd-order design run forwards and backwards).

    Returns
    -------
    ndarray, same shape as ``x``
    """
    from station.core.zerolag import sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise SignalError("Cannot low-pass filter a signal with missing (NaN) samples.")
    sos = butter_lowpass_sos(fs_hz=float(fs_hz), cutoff_hz=float(cutoff_hz), order=int(order))
    padlen = min(3 * (2 * sos.shape[0] + 1), x.shape[0] - 1)
    return sosfiltfilt(sos, x, padlen=padlen)


def centre(x) -> np.ndarray:
    """Subtract the mean along the first axis."""
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean(axis=0)


def detrend_linear(x) -> np.ndarray:
    """Subtract the least-squares straight line (over sample index) along the first axis."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return x - x.mean(axis=0)
    k = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    xm = x.mean(axis=0)
    slope = np.tensordot(k, x - xm, axes=(0, 0)) / np.dot(k, k)
    return x - xm - np.multiply.outer(k, slope)
