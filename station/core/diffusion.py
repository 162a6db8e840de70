"""Stabilogram-diffusion analysis (Collins & De Luca 1993).

Mean square displacement for lag ``k`` samples (``Δt = k / fs``), over all ``n - k`` origins::

    MSD_x(k) = mean_i (x[i+k] - x[i])²,   MSD_r = MSD_ml + MSD_ap   (mm²)

computed exactly for every lag with an FFT autocorrelation (O(n log n)); the reference is the direct
double loop.

Fitting convention (stated here because the literature varies): ordinary least-squares straight lines
``MSD = slope · Δt + intercept`` over the short-term region ``0 < Δt <= 1.0 s`` and the long-term region
``2.5 s <= Δt <= 10 s`` (the long-term upper limit is cut to a third of the trial when the trial is
shorter than 30 s; the long-term fit is NaN when that leaves less than 1 s of lags). Diffusion
coefficients follow Collins & De Luca: ``D = slope / 2`` for ML, AP and planar alike (mm²/s). The
critical point is the intersection of the planar short- and long-term lines: ``Δt_c`` (s) and
``MSD_c`` (mm²).

Impossible results are not measures: a critical point at a negative time or MSD, or from
near-parallel lines (slopes within ``PARALLEL_FRACTION`` of the short-term slope), is NaN; a negative
long-term coefficient (an MSD that shrinks with lag, i.e. a trial too short or drifting back) is NaN.
Each such case appends a ``{"code", "message"}`` note to the caller's ``notes`` list.
"""

from __future__ import annotations

import numpy as np

from station.core._numba import jit

SHORT_MAX_S = 1.0
LONG_MIN_S = 2.5
LONG_MAX_S = 10.0
#: short- and long-term slopes closer than this fraction of the short-term slope count as parallel
PARALLEL_FRACTION = 0.05


def _smooth_len(n: int) -> int:
    """Smallest 2-3-5-smooth integer >= n (a fast FFT length)."""
    best = 1 << max(0, int(n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def msd_fft(x, max_lag: int) -> np.ndarray:
    """MSD of ``x`` (shape (..., n)) for lags 0..max_lag, along the last axis (FFT method)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    # zero padding to n + max_lag keeps the circular autocorrelation exact for lags <= max_lag;
    # numpy.fft, not scipy.fft: importing scipy.fft costs ~80 ms of `station analyze` start-up
    nfft = _smooth_len(n + max_lag)
    spec = np.fft.rfft(x, nfft, axis=-1)
    acf = np.fft.irfft(spec.real**2 + spec.imag**2, nfft, axis=-1)[..., : max_lag + 1]
    sq = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x * x, axis=-1)], axis=-1)
    k = np.arange(max_lag + 1)
    # sum_{i<n-k} x[i+k]^2 + x[i]^2 = (S(n) - S(k)) + S(n-k)
    s2 = (sq[..., n : n + 1] - sq[..., k]) + sq[..., n - k]
    return (s2 - 2.0 * acf) / (n - k)


def msd_reference(x, max_lag: int) -> np.ndarray:
    """Direct MSD (reference for :func:`msd_fft`)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape[:-1] + (max_lag + 1,))
    for k in range(1, max_lag + 1):
        d = x[..., k:] - x[..., :-k]
        out[..., k] = (d * d).mean(axis=-1)
    return out


@jit
def _line_fit_kernel(t, y, lo, hi, out):  # pragma: no cover
    # least-squares slope/intercept of y(t) over lo <= index < hi
    m = hi - lo
    if m < 2:
        out[0] = np.nan
        out[1] = np.nan
        return
    st = 0.0
    sy = 0.0
    for i in range(lo, hi):
        st += t[i]
        sy += y[i]
    mt = st / m
    my = sy / m
    stt = 0.0
    sty = 0.0
    for i in range(lo, hi):
        stt += (t[i] - mt) * (t[i] - mt)
        sty += (t[i] - mt) * (y[i] - my)
    out[0] = sty / stt
    out[1] = my - out[0] * mt


def line_fit(t, y, lo: int, hi: int) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of ``y`` over ``t[lo:hi]`` (kernel)."""
    out = np.empty(2)
    _line_fit_kernel(np.ascontiguousarray(t, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64), int(lo), int(hi), out)
    return float(out[0]), float(out[1])


def line_fit_reference(t, y, lo: int, hi: int) -> tuple[float, float]:
    """numpy.polyfit reference of :func:`line_fit`."""
    if hi - lo < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.asarray(t)[lo:hi], np.asarray(y)[lo:hi], 1)
    return float(slope), float(intercept)


def diffusion_measures(ml, ap, *, fs_hz: float, msd=msd_fft, fit=line_fit, notes: list | None = None) -> dict:
    """Stabilogram-diffusion coefficients and critical point of centred ``ml``, ``ap`` (mm).

    ``notes``, when given, receives a ``{"code", "message"}`` dict for every value set to NaN because it
    would be impossible (see the module docstring).
    """
    notes = [] if notes is None else notes
    n = len(ml)
    duration_s = n / fs_hz
    long_max_s = min(LONG_MAX_S, duration_s / 3.0)
    max_lag = min(int(np.floor(max(long_max_s, SHORT_MAX_S) * fs_hz)), n - 2)
    nan = float("nan")
    keys = ("diffusion_short_ml_mm2_s", "diffusion_short_ap_mm2_s", "diffusion_short_mm2_s",
            "diffusion_long_ml_mm2_s", "diffusion_long_ap_mm2_s", "diffusion_long_mm2_s",
            "critical_time_s", "critical_msd_mm2")
    if max_lag < 3:
        return dict.fromkeys(keys, nan)
    m = msd(np.vstack([ml, ap]), max_lag)
    curves = (m[0], m[1], m[0] + m[1])
    dt = np.arange(max_lag + 1) / fs_hz
    s_hi = int(np.searchsorted(dt, SHORT_MAX_S, side="right"))
    l_lo = int(np.searchsorted(dt, LONG_MIN_S, side="left"))
    l_hi = int(np.searchsorted(dt, long_max_s, side="right"))
    long_ok = long_max_s - LONG_MIN_S >= 1.0
    short = [fit(dt, c, 1, s_hi) for c in curves]
    long = [fit(dt, c, l_lo, l_hi) if long_ok else (nan, nan) for c in curves]
    (ss, si), (ls, li) = short[2], long[2]
    out = dict(zip(keys[:3], [s[0] / 2.0 for s in short]))
    out.update(zip(keys[3:6], [lg[0] / 2.0 for lg in long]))
    for key in keys[3:6]:
        if out[key] < 0.0:
            notes.append({"code": "diffusion_long_negative",
                          "message": f"{key} came out negative ({out[key]:.3g} mm²/s): the MSD shrinks at long lags; not a measure."})
            out[key] = nan
    t_c = c_msd = nan
    if long_ok and np.isfinite(ss) and np.isfinite(ls):
        if abs(ss - ls) <= PARALLEL_FRACTION * abs(ss):
            notes.append({"code": "critical_point_parallel",
                          "message": "The short- and long-term diffusion lines are nearly parallel: no critical point."})
        else:
            t_c = (li - si) / (ss - ls)
            c_msd = ss * t_c + si
            if t_c < 0.0 or c_msd < 0.0:
                notes.append({"code": "critical_point_impossible",
                              "message": f"The diffusion lines cross at Δt = {t_c:.3g} s, MSD = {c_msd:.3g} mm²: no critical point."})
                t_c = c_msd = nan
    out["critical_time_s"] = float(t_c)
    out["critical_msd_mm2"] = float(c_msd)
    return out
