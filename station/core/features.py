"""Extended posturography features: the Quijoux et al. (2021) set beyond the core suite.

``extended_features(ml, ap, fs_hz=...)`` takes a uniform, finite, **centred** COP stretch (mm) — the
signal the core suite analyses — and returns a flat dict of the families below; every key is declared
in :mod:`station.core.registry_features` and defined in docs/METRICS.md §11 (formula + reference).

- positional: maximal distance per axis, planar range (largest distance between two COP samples),
  ML/AP range ratio, sway-direction coefficient, fractal dimension (confidence-ellipse method);
- velocity (Savitzky-Golay first derivative, window 5, cubic): phase-plane parameter per axis,
  velocity zero-crossings and mean positive / negative / all peak velocities per axis;
- sway density (radius 3 mm): mean peak height and mean distance between successive peaks;
- spectrum (Welch, 10 s Hann segments, 50 % overlap, linear detrend, zero-padded to n; 0.15-5 Hz):
  frequency mode, centroid frequency, frequency dispersion, energy below 0.5 Hz / 0.5-2 Hz / above
  2 Hz and the frequency quotient (power above 2 Hz over power up to 2 Hz), per axis;
- diffusion (log-log stabilogram diffusion, Collins & De Luca 1993 as coded by Quijoux et al.):
  short- and long-term scaling exponents, critical time and critical displacement, per axis.

Cost: about 2-4 ms for 6000 samples (bench/metrics.py style: ``bench/features.py``).
"""

from __future__ import annotations

import math

import numpy as np

from station.core._numba import jit

#: a key every extended result carries (callers use it to know the families were computed)
SENTINEL_KEY = "planar_range_mm"
#: sway-density radius (mm)
SWAY_DENSITY_RADIUS_MM = 3.0
#: sway density counts at most this long on each side of a sample (s): bounds the cost when the COP
#: hardly moves (O(n · span) instead of O(n²)); a quiet-stance COP leaves 3 mm within seconds
SWAY_DENSITY_MAX_S = 30.0
#: largest zero-padded FFT of the Welch segments (points): the reference pads to n, which for hours
#: of data would cost minutes; beyond 16384 points (164 s at 100 Hz) the resolution stays fs / 16384
MAX_NFFT = 16384
#: the spectral band of the frequency features (Hz)
BAND_HZ = (0.15, 5.0)
#: Welch segment (s)
WELCH_SEGMENT_S = 10.0


# -- kernels ----------------------------------------------------------------------------------


@jit
def _planar_range_kernel(x, y):  # pragma: no cover
    # convex hull (monotone chain) of points sorted by x then y, then the farthest pair of hull vertices;
    # one loop runs the lower pass (i = 0 .. n-1) and the upper pass (i = n-2 .. 0)
    n = x.shape[0]
    hull = np.empty(2 * n, dtype=np.int64)
    k = 0
    floor = 2
    for step in range(2 * n - 1):
        if step == n:
            floor = k + 1  # the upper pass keeps the lower hull
        i = step if step < n else 2 * n - 2 - step
        # drop hull points that make a clockwise (or straight) turn with point i, then push i
        while k >= floor:
            a = hull[k - 2]
            b = hull[k - 1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) <= 0:
                k -= 1
            else:
                break
        hull[k] = i
        k += 1
    best = 0.0
    for p in range(k):
        for q in range(p + 1, k):
            dx = x[hull[p]] - x[hull[q]]
            dy = y[hull[p]] - y[hull[q]]
            d = dx * dx + dy * dy
            if d > best:
                best = d
    return math.sqrt(best)


def planar_range(x, y) -> float:
    """Largest distance between two COP samples (mm): convex hull (monotone chain), then its farthest pair.

    Points strictly inside the quadrilateral of the four extreme samples (least / largest x and y)
    cannot be hull vertices and are dropped first (Akl & Toussaint 1978), which leaves a few percent
    of a sway trajectory to sort.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ext = [int(np.argmin(x)), int(np.argmin(y)), int(np.argmax(x)), int(np.argmax(y))]  # counter-clockwise
    keep = np.zeros(x.size, dtype=bool)
    keep[ext] = True
    inside = np.ones(x.size, dtype=bool)
    for a, b in zip(ext, ext[1:] + ext[:1]):
        # strictly left of each edge a -> b of the (counter-clockwise) quadrilateral
        inside &= (x[b] - x[a]) * (y - y[a]) - (y[b] - y[a]) * (x - x[a]) > 0
    cand = np.flatnonzero(keep | ~inside)
    xs, ys = x[cand], y[cand]
    order = np.lexsort((ys, xs))  # by x, then y: the order the monotone chain needs
    return float(_planar_range_kernel(np.ascontiguousarray(xs[order]), np.ascontiguousarray(ys[order])))


def planar_range_reference(x, y) -> float:
    """Largest distance between two samples, by brute force (O(n²); tests only)."""
    p = np.column_stack([x, y])
    return float(max(np.sqrt(((p - q) ** 2).sum(axis=1)).max() for q in p))


@jit
def _velocity_peaks_kernel(v):  # pragma: no cover
    # zero crossings and the largest |v| between crossings, as Quijoux et al. count them
    n = v.shape[0]
    side = 0.0
    for i in range(n):
        if v[i] != 0.0:
            side = 1.0 if v[i] > 0 else -1.0
            break
    past = 0.0
    peak = 0.0
    peak_i = 0
    n_cross = 0
    s_pos = 0.0
    n_pos = 0
    s_neg = 0.0
    n_neg = 0
    for i in range(n):
        val = v[i]
        sgn = 1.0 if val > 0 else (-1.0 if val < 0 else 0.0)
        if val * past <= 0 and i != 0 and val != 0 and sgn != side:
            if n_cross > 0:
                if val < 0:
                    s_pos += v[peak_i]
                    n_pos += 1
                elif val > 0:
                    s_neg += abs(v[peak_i])
                    n_neg += 1
            n_cross += 1
            side = sgn
            peak = 0.0
        if abs(val) > abs(peak):
            peak = val
            peak_i = i
        past = val
    return n_cross, s_pos, n_pos, s_neg, n_neg


@jit
def _sway_density_kernel(x, y, radius, max_span, out):  # pragma: no cover
    n = x.shape[0]
    r2 = radius * radius
    for t in range(n - 1):
        stop = t + 1
        while stop < n and stop - t <= max_span:
            dx = x[stop] - x[t]
            dy = y[stop] - y[t]
            if dx * dx + dy * dy > r2:
                break
            stop += 1
        start = t - 1
        while start >= 0 and t - start <= max_span:
            dx = x[start] - x[t]
            dy = y[start] - y[t]
            if dx * dx + dy * dy > r2:
                break
            start -= 1
        out[t] = (stop - 1) - (start + 1)


# -- pieces -----------------------------------------------------------------------------------


def savgol_derivative(x, *, fs_hz: float) -> np.ndarray:
    """First derivative by a Savitzky-Golay filter (window 5, cubic), edges from the end windows' fits.

    Same values as ``scipy.signal.savgol_filter(x, 5, 3, deriv=1, delta=1/fs_hz)`` (mode "interp").
    """
    x = np.asarray(x, dtype=np.float64)
    d = np.empty_like(x)
    d[2:-2] = (x[:-4] - 8 * x[1:-3] + 8 * x[3:-1] - x[4:]) / 12.0
    pos = np.arange(5.0)
    vander = np.vander(pos, 4, increasing=True)
    coef = np.linalg.pinv(vander)  # (4, 5): polynomial coefficients from 5 samples
    deriv = np.column_stack([np.zeros(5), np.ones(5), 2 * pos, 3 * pos**2]) @ coef  # (5, 5)
    d[:2] = deriv[:2] @ x[:5]
    d[-2:] = deriv[3:] @ x[-5:]
    return d * fs_hz


def welch_linear(x, *, fs_hz: float):
    """Welch PSD as Quijoux et al.: Hann segments of 10 s, 50 % overlap, linear detrend, zero-padded to n.

    Returns ``(f_hz, psd)`` with ``psd`` of shape ``(k, m)`` for ``x`` of shape ``(k, n)`` (mm²/Hz).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    seg = int(WELCH_SEGMENT_S * fs_hz)
    seg = min(seg, n)
    step = seg - int(0.5 * seg)
    nfft = max(min(n, MAX_NFFT), seg)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(seg) / seg)  # periodic Hann
    scale = 1.0 / (fs_hz * (w * w).sum())
    k = np.arange(seg) - (seg - 1) / 2.0
    kk = float(k @ k)
    starts = np.arange(0, n - seg + 1, step)
    acc = np.zeros((x.shape[0], nfft // 2 + 1))
    for b in range(0, starts.size, 64):  # 64 segments at a time: bounded memory for hours of data
        parts = x[:, starts[b : b + 64, None] + np.arange(seg)]  # (k, segments, seg)
        parts = parts - parts.mean(axis=2, keepdims=True)
        parts = parts - (parts @ k / kk)[..., None] * k
        spec = np.fft.rfft(parts * w, nfft, axis=2)
        acc += (spec.real**2 + spec.imag**2).sum(axis=1)
    psd = acc * (scale / starts.size)
    psd[:, 1 : (nfft + 1) // 2] *= 2.0  # one-sided: all but DC and (even nfft) Nyquist
    return np.fft.rfftfreq(nfft, 1.0 / fs_hz), psd


def _log_log_diffusion(msd, fs_hz: float) -> dict:
    """Quijoux et al.'s log-log diffusion fits of one axis (msd[0] = 0 at lag 0)."""
    t = np.arange(1, msd.size) / fs_hz
    with np.errstate(divide="ignore", invalid="ignore"):
        lx, ly = np.log(t), np.log(msd[1:])
    if not np.all(np.isfinite(ly)):
        nan = float("nan")
        return dict(hs=nan, hl=nan, tc=nan, dc=nan)
    i0, i1 = int(0.3 * fs_hz) + 1, int(2.5 * fs_hz)
    i1 = min(i1, lx.size - 2)
    nan = float("nan")
    if i1 < i0:
        return dict(hs=nan, hl=nan, tc=nan, dc=nan)
    c = [np.concatenate([[0.0], np.cumsum(v)]) for v in (np.ones_like(lx), lx, ly, lx * lx, lx * ly, ly * ly)]
    i = np.arange(i0, i1 + 1)

    def fits(a, b):  # least squares on samples a..b-1 (arrays of bounds): intercept, slope, rmse
        n_, sx, sy, sxx, sxy, syy = (v[b] - v[a] for v in c)
        slope = (n_ * sxy - sx * sy) / (n_ * sxx - sx * sx)
        icpt = (sy - slope * sx) / n_
        sse = syy - 2 * icpt * sy - 2 * slope * sxy + n_ * icpt**2 + 2 * icpt * slope * sx + slope**2 * sxx
        return icpt, slope, np.sqrt(np.maximum(sse, 0.0) / n_)

    def last_min(r):  # the reference keeps the last of equal minima (``<=``)
        return r.size - 1 - int(np.argmin(r[::-1]))

    a_s, b_s, r_s = fits(np.zeros_like(i), i)
    a_l, b_l, r_l = fits(i - 1, np.full_like(i, lx.size))
    ks, kl = last_min(r_s), last_min(r_l)
    a_s, b_s, a_l, b_l = float(a_s[ks]), float(b_s[ks]), float(a_l[kl]), float(b_l[kl])
    log_tc = (a_l - a_s) / (b_s - b_l) if b_s != b_l else nan
    log_tc = min(log_tc, float(lx[-1])) if math.isfinite(log_tc) else log_tc
    return dict(hs=b_s / 2, hl=b_l / 2, tc=math.exp(log_tc), dc=math.exp(a_s + b_s * log_tc))


# -- the families ---------------------------------------------------------------------------


def positional_features(ml, ap) -> dict:
    n = ml.size
    s_ml, s_ap = math.sqrt(float(ml @ ml) / n), math.sqrt(float(ap @ ap) / n)
    r_ml, r_ap = float(ml.max() - ml.min()), float(ap.max() - ap.min())
    return {
        "max_distance_ml_mm": float(np.abs(ml).max()),
        "max_distance_ap_mm": float(np.abs(ap).max()),
        "planar_range_mm": planar_range(ml, ap),
        "range_ratio_ml_ap": r_ml / r_ap if r_ap > 0 else float("nan"),
        "sway_direction_coefficient": float(ml @ ap) / n / (s_ml * s_ap) if s_ml * s_ap > 0 else float("nan"),
    }


def fractal_dimension(ml, ap) -> float:
    """Fractal dimension, confidence-ellipse method: log N / (log N + log d - log L), d = sqrt(4 A / π)."""
    from station.core.ellipse import f_quantile_2

    n = ml.size
    s_ml2, s_ap2, cov = float(ml @ ml) / n, float(ap @ ap) / n, float(ml @ ap) / n
    area = 2 * math.pi * f_quantile_2(0.95, n - 2) * math.sqrt(max(s_ml2 * s_ap2 - cov * cov, 0.0)) * (n + 1) * (n - 1) / (n * (n - 2))
    length = float(np.hypot(np.diff(ml), np.diff(ap)).sum())
    d = math.sqrt(4 * area / math.pi)
    if not (d > 0 and length > 0):
        return float("nan")
    return math.log(n) / (math.log(n) + math.log(d) - math.log(length))


def velocity_features(ml, ap, *, fs_hz: float) -> dict:
    out = {}
    for axis, x in (("ml", ml), ("ap", ap)):
        v = savgol_derivative(x, fs_hz=fs_hz)
        s = math.sqrt(float(x @ x) / x.size)
        out[f"phase_plane_parameter_{axis}"] = math.sqrt(s * s + float(v.var()))
        n_cross, s_pos, n_pos, s_neg, n_neg = _velocity_peaks_kernel(v)
        nan = float("nan")
        out[f"velocity_zero_crossings_{axis}"] = int(n_cross)
        out[f"peak_velocity_pos_{axis}_mm_s"] = s_pos / n_pos if n_pos else nan
        out[f"peak_velocity_neg_{axis}_mm_s"] = s_neg / n_neg if n_neg else nan
        out[f"peak_velocity_all_{axis}_mm_s"] = (s_pos + s_neg) / (n_pos + n_neg) if n_pos + n_neg else nan
    return out


def sway_density_features(ml, ap, *, fs_hz: float, radius_mm: float = SWAY_DENSITY_RADIUS_MM) -> dict:
    """Mean sway-density peak (s) and mean distance between successive peaks (mm); Jacono et al. 2004."""
    from station.core.zerolag import butter_lowpass_sos, filtfilt_ba_padlen, sosfiltfilt

    n = ml.size
    sd = np.empty(n - 1)
    _sway_density_kernel(np.ascontiguousarray(ml), np.ascontiguousarray(ap), float(radius_mm),
                         int(SWAY_DENSITY_MAX_S * fs_hz), sd)
    sd /= fs_hz
    nan = float("nan")
    if 2.5 < fs_hz / 2 and sd.size > filtfilt_ba_padlen(4):
        sd = sosfiltfilt(butter_lowpass_sos(4, 2.5, fs_hz), sd, padlen=filtfilt_ba_padlen(4))
    peaks = np.flatnonzero((sd[1:-1] > sd[:-2]) & (sd[1:-1] > sd[2:])) + 1
    if peaks.size == 0:
        return {"sway_density_mean_peak_s": nan, "sway_density_peak_distance_mm": nan}
    dist = np.hypot(np.diff(ml[peaks]), np.diff(ap[peaks]))
    return {"sway_density_mean_peak_s": float(sd[peaks].mean()),
            "sway_density_peak_distance_mm": float(dist.mean()) if dist.size else nan}


def spectral_features(ml, ap, *, fs_hz: float) -> dict:
    f, psd = welch_linear(np.vstack([ml, ap]), fs_hz=fs_hz)
    df = f[1] - f[0]
    band = (f >= BAND_HZ[0]) & (f <= BAND_HZ[1])
    out = {}
    nan = float("nan")
    for axis, p in (("ml", psd[0]), ("ap", psd[1])):
        fb, pb = f[band], p[band]
        if pb.size == 0 or not pb.sum() > 0:
            for k in ("frequency_mode_{}_hz", "centroid_frequency_{}_hz", "frequency_dispersion_{}", "energy_below_05hz_{}_mm2",
                      "energy_05_2hz_{}_mm2", "energy_above_2hz_{}_mm2", "frequency_quotient_{}"):
                out[k.format(axis)] = nan
            continue
        m0, m1, m2 = float(pb.sum()), float((fb * pb).sum()), float((fb * fb * pb).sum())
        low = float(pb[fb <= 0.5].sum())
        mid = float(pb[(fb > 0.5) & (fb <= 2.0)].sum())
        high = float(pb[fb > 2.0].sum())
        out[f"frequency_mode_{axis}_hz"] = float(fb[np.argmax(pb)])
        out[f"centroid_frequency_{axis}_hz"] = math.sqrt(m2 / m0)
        out[f"frequency_dispersion_{axis}"] = math.sqrt(max(0.0, 1 - m1 * m1 / (m0 * m2)))
        out[f"energy_below_05hz_{axis}_mm2"] = low * df
        out[f"energy_05_2hz_{axis}_mm2"] = mid * df
        out[f"energy_above_2hz_{axis}_mm2"] = high * df
        out[f"frequency_quotient_{axis}"] = high / (low + mid) if low + mid > 0 else nan
    return out


def diffusion_features(ml, ap, *, fs_hz: float) -> dict:
    from station.core.diffusion import msd_fft

    n = ml.size
    max_lag = int(n / 3)
    out = {}
    for axis, x in (("ml", ml), ("ap", ap)):
        if max_lag < int(2.5 * fs_hz) + 3:
            r = dict(hs=float("nan"), hl=float("nan"), tc=float("nan"), dc=float("nan"))
        else:
            r = _log_log_diffusion(msd_fft(x, max_lag), fs_hz)
        out[f"diffusion_scaling_short_{axis}"] = r["hs"]
        out[f"diffusion_scaling_long_{axis}"] = r["hl"]
        out[f"critical_time_{axis}_s"] = r["tc"]
        out[f"critical_msd_{axis}_mm2"] = r["dc"]
    return out


def extended_features(ml, ap, *, fs_hz: float) -> dict:
    """Every extended feature of a uniform, finite, centred COP stretch.

    Parameters
    ----------
    ml, ap : array_like (n,)
        Centred COP (mm), uniform at ``fs_hz``.
    fs_hz : float, keyword-only
        Sampling rate (Hz).

    Returns
    -------
    dict
        The keys declared in :mod:`station.core.registry_features` (NaN where a feature is undefined).
    """
    ml = np.ascontiguousarray(ml, dtype=np.float64)
    ap = np.ascontiguousarray(ap, dtype=np.float64)
    if ml.size < 20:
        return {}
    out = positional_features(ml, ap)
    out["fractal_dimension"] = fractal_dimension(ml, ap)
    out.update(velocity_features(ml, ap, fs_hz=fs_hz))
    out.update(sway_density_features(ml, ap, fs_hz=fs_hz))
    out.update(spectral_features(ml, ap, fs_hz=fs_hz))
    out.update(diffusion_features(ml, ap, fs_hz=fs_hz))
    return out
