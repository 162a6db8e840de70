"""The sway metric suite and its analysis presets (docs/METRICS.md has every formula and reference).

``compute_metrics`` takes a COP trajectory (mm), prepares it as the preset says and returns one flat
dict of named measures, always including ``n_used`` (samples that entered the metrics), ``fs_hz``
and ``duration_s`` of the analysed stretch.

Preparation, in order:

1. keep the longest stretch where both COP coordinates are defined (NaN = below the load threshold);
2. put it on a uniform grid at its own rate (linear interpolation; ``raw`` skips this and trusts
   ``fs_hz``), low-pass it (zero-lag, ``lowpass_hz``), then move it to ``grid_hz`` if set;
3. drop the first ``exclude_s`` seconds;
4. record the mean COP, then centre (or linearly detrend) it;
5. time-domain, ellipse, spectral, diffusion and entropy measures.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from station.core.diffusion import diffusion_measures, line_fit, line_fit_reference, msd_fft, msd_reference
from station.core.ellipse import ellipse_measures
from station.core.features import extended_features
from station.core.entropy import entropy_measures, sample_entropy, sample_entropy_reference
from station.core.errors import NoLoadError, SignalError
from station.core.filters import detrend_linear, lowpass_zero_lag
from station.core.resample import check_time, effective_rate_hz, resample_uniform
from station.core.runs import longest_run
from station.core.spectral import spectral_measures, spectral_stats, spectral_stats_reference
from station.core.sway import sway_measures, sway_stats, sway_stats_reference

log = logging.getLogger(__name__)

#: fewest samples the suite accepts after preparation
MIN_SAMPLES = 20

#: the metric keys the command-line contract guarantees for every COP input
REQUIRED_KEYS = (
    "path_length_mm", "mean_velocity_mm_s", "mean_velocity_ml_mm_s", "mean_velocity_ap_mm_s",
    "rms_ml_mm", "rms_ap_mm", "range_ml_mm", "range_ap_mm", "mean_distance_mm", "ellipse95_area_mm2",
    "sway_area_rate_mm2_s", "mean_frequency_hz", "mean_power_frequency_hz",
    "median_frequency_ml_hz", "median_frequency_ap_hz", "f95_ml_hz", "f95_ap_hz",
)
#: extra keys for corner-force input
FORCE_KEYS = ("mean_cop_ml_mm", "mean_cop_ap_mm", "right_share_pct", "mean_total_force_n")


@dataclass(frozen=True)
class Preset:
    """How a COP trajectory is prepared before the metrics.

    Attributes
    ----------
    name : str
    uniform : bool
        Resample irregular timestamps to a uniform grid at the input's own rate first.
    lowpass_hz : float or None
        Zero-lag Butterworth cut-off (two-pass -3 dB point), None for no filtering.
    lowpass_order : int
        Effective (two-pass) order; the designed order is half of it.
    grid_hz : float or None
        Final analysis rate after filtering (None: keep the input rate).
    exclude_s : float
        Seconds dropped at the start (settling after the cue).
    detrend : str
        "constant" (subtract the mean) or "linear".
    """

    name: str
    uniform: bool = True
    lowpass_hz: float | None = 10.0
    lowpass_order: int = 4
    grid_hz: float | None = 100.0
    exclude_s: float = 5.0
    detrend: str = "constant"


PRESETS: dict[str, Preset] = {
    "clinical": Preset("clinical"),
    "raw": Preset("raw", uniform=False, lowpass_hz=None, grid_hz=None, exclude_s=0.0, detrend="constant"),
}


def get_preset(preset: str | Preset) -> Preset:
    """Look up a preset by name (or pass a :class:`Preset` through)."""
    if isinstance(preset, Preset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise SignalError(f"Unknown analysis preset {preset!r}; choose one of: {', '.join(PRESETS)}.") from None


def longest_finite_run(mask) -> tuple[int, int]:
    """``(start, stop)`` of the longest run of True in ``mask`` ((0, 0) when there is none)."""
    return longest_run(mask)


@dataclass
class PreparedSignal:
    """A COP stretch ready for the metrics (see :func:`prepare`)."""

    t_s: np.ndarray
    ml: np.ndarray
    ap: np.ndarray
    forces_n: np.ndarray | None
    fs_hz: float
    n_input: int
    n_defined: int


def prepare(cop_ml_mm, cop_ap_mm, *, fs_hz=None, preset="clinical", t_s=None, forces_n=None) -> PreparedSignal:
    """Steps 1–3 of the module docstring; the result is uniform, finite and trimmed (not centred).

    Raises
    ------
    NoLoadError
        Every sample is undefined (below the load threshold).
    SignalError
        Time goes backwards, too few samples, or no rate.
    """
    p = get_preset(preset)
    ml = np.asarray(cop_ml_mm, dtype=np.float64).ravel()
    ap = np.asarray(cop_ap_mm, dtype=np.float64).ravel()
    if ml.size != ap.size:
        raise ValueError(f"cop_ml_mm has {ml.size} samples but cop_ap_mm has {ap.size}.")
    n_input = ml.size
    if t_s is None:
        if fs_hz is None:
            raise SignalError("Either the sample times or the sampling rate is needed.")
        t = np.arange(n_input) / float(fs_hz)
    else:
        t = check_time(t_s, min_samples=1)
        if t.size != n_input:
            raise ValueError(f"t_s has {t.size} samples but the COP has {n_input}.")
    f = None if forces_n is None else np.asarray(forces_n, dtype=np.float64).reshape(n_input, -1)

    lo, hi = longest_finite_run(np.isfinite(ml) & np.isfinite(ap))
    if hi == lo:
        raise NoLoadError("Every sample is below the load threshold: there is no centre of pressure to analyse.")
    if hi - lo < n_input:
        log.info("using samples %d..%d (%d of %d are defined and contiguous)", lo, hi, hi - lo, n_input)
    t, ml, ap = t[lo:hi], ml[lo:hi], ap[lo:hi]
    f = None if f is None else f[lo:hi]
    n_defined = ml.size
    if n_defined < MIN_SAMPLES:
        raise SignalError(f"Too few samples with a defined centre of pressure: {n_defined} (at least {MIN_SAMPLES} needed).")

    rate = float(fs_hz) if fs_hz is not None else effective_rate_hz(t)
    if not (math.isfinite(rate) and rate > 0):
        raise SignalError(f"The sampling rate must be a positive number, got {rate!r}.")
    cols = [ml, ap] if f is None else [ml, ap, *f.T]
    y = np.column_stack(cols)
    if p.uniform and t_s is not None:
        t, y = resample_uniform(t, y, fs_hz=rate)
    elif t_s is not None and p.uniform is False:
        t = t[0] + np.arange(t.size) / rate  # raw: trust the stated rate, do not touch the samples
    if p.lowpass_hz is not None:
        if y.shape[0] < 16:
            raise SignalError(f"Too few samples to filter: {y.shape[0]}.")
        y[:, :2] = lowpass_zero_lag(y[:, :2], fs_hz=rate, cutoff_hz=p.lowpass_hz, order=p.lowpass_order)
    if p.grid_hz is not None and p.grid_hz != rate:
        t, y = resample_uniform(t, y, fs_hz=p.grid_hz)
        rate = float(p.grid_hz)
    if p.exclude_s > 0:
        k = int(round(p.exclude_s * rate))
        if y.shape[0] - k < MIN_SAMPLES:
            raise SignalError(
                f"Too few samples: the recording lasts {y.shape[0] / rate:.2f} s, and the {p.name} preset "
                f"excludes the first {p.exclude_s:g} s (at least {MIN_SAMPLES} samples must remain)."
            )
        t, y = t[k:], y[k:]
    if y.shape[0] < MIN_SAMPLES:
        raise SignalError(f"Too few samples: {y.shape[0]} (at least {MIN_SAMPLES} needed).")
    forces = None if f is None else np.ascontiguousarray(y[:, 2:])
    return PreparedSignal(t, np.ascontiguousarray(y[:, 0]), np.ascontiguousarray(y[:, 1]), forces, rate, n_input, n_defined)


def suite(ml, ap, *, fs_hz: float, detrend: str = "constant", reference: bool = False, notes: list | None = None) -> dict:
    """Every measure of a uniform, finite COP stretch (``ml``, ``ap`` in mm, not yet centred).

    ``reference=True`` runs the plain-numpy reference of every kernel instead (same results; for
    tests and bench/metrics.py). ``notes`` receives ``{"code", "message"}`` dicts for measures set to
    NaN because they would be impossible (diffusion critical point, negative long-term D, a series too
    long for sample entropy).
    """
    n = ml.size
    mean_ml, mean_ap = float(ml.mean()), float(ap.mean())
    if detrend == "linear":
        ml, ap = detrend_linear(ml), detrend_linear(ap)
    elif detrend == "constant":
        ml, ap = ml - mean_ml, ap - mean_ap
    else:
        raise ValueError(f"detrend must be 'constant' or 'linear', got {detrend!r}.")
    duration_s = n / fs_hz
    out = {"n_used": n, "fs_hz": float(fs_hz), "duration_s": duration_s, "mean_cop_ml_mm": mean_ml, "mean_cop_ap_mm": mean_ap}
    if reference:
        kernels = dict(stats=sway_stats_reference, spectral=spectral_stats_reference, msd=msd_reference,
                       fit=line_fit_reference, sampen=sample_entropy_reference)
    else:
        kernels = dict(stats=sway_stats, spectral=spectral_stats, msd=msd_fft, fit=line_fit, sampen=sample_entropy)
    sw = sway_measures(kernels["stats"](ml, ap), n=n, fs_hz=fs_hz)
    cov = (sw.pop("_cov_ml2") / (n - 1), sw.pop("_cov_ap2") / (n - 1), sw.pop("_cov_mlap") / (n - 1))
    out.update(sw)
    out.update(ellipse_measures(*cov, n=n, duration_s=duration_s))
    out.update(spectral_measures(ml, ap, fs_hz=fs_hz, stats=kernels["spectral"]))
    out.update(diffusion_measures(ml, ap, fs_hz=fs_hz, msd=kernels["msd"], fit=kernels["fit"], notes=notes))
    out.update(entropy_measures(ml, ap, fs_hz=fs_hz, sampen=kernels["sampen"], notes=notes))
    out.update(extended_features(ml, ap, fs_hz=fs_hz))
    return out


def compute_metrics(cop_ml_mm, cop_ap_mm, *, fs_hz=None, preset="clinical", t_s=None, forces_n=None,
                    notes: list | None = None) -> dict:
    """Sway metrics of a COP trajectory.

    Parameters
    ----------
    cop_ml_mm, cop_ap_mm : array_like, shape (n,)
        COP (mm); NaN where undefined (below the load threshold).
    fs_hz : float, optional, keyword-only
        Sampling rate (Hz). Needed when ``t_s`` is not given; with ``t_s`` it is the rate of the
        uniform grid the samples are put on (default: estimated as (n - 1) / span).
    preset : str or Preset, keyword-only
        "clinical" (default) or "raw"; see :data:`PRESETS` and docs/METRICS.md.
    t_s : array_like, shape (n,), optional, keyword-only
        Sample times (s), strictly increasing; may be irregular.
    forces_n : array_like, shape (n, 4), optional, keyword-only
        Corner forces fl, fr, bl, br (N); adds ``right_share_pct`` (share of vertical force on fr + br)
        and ``mean_total_force_n``.
    notes : list, optional, keyword-only
        Receives ``{"code", "message"}`` dicts for measures that came out NaN because they would be
        impossible (see :func:`suite`).

    Returns
    -------
    dict
        Flat dict: the contract keys (``REQUIRED_KEYS``), the extra measures of docs/METRICS.md,
        ``mean_cop_ml_mm``/``mean_cop_ap_mm``, and ``n_used``, ``n_input``, ``fs_hz``, ``duration_s``,
        ``preset``.

    Raises
    ------
    NoLoadError, SignalError
        No defined COP, too few samples, time going backwards.
    """
    p = get_preset(preset)
    sig = prepare(cop_ml_mm, cop_ap_mm, fs_hz=fs_hz, preset=p, t_s=t_s, forces_n=forces_n)
    out = suite(sig.ml, sig.ap, fs_hz=sig.fs_hz, detrend=p.detrend, notes=notes)
    out["preset"] = p.name
    out["n_input"] = sig.n_input
    if sig.forces_n is not None:
        out.update(force_measures(sig.forces_n))
    return out


def force_measures(forces_n) -> dict:
    """``right_share_pct`` (fr + br share of the summed vertical force) and ``mean_total_force_n``."""
    f = np.asarray(forces_n, dtype=np.float64)
    total = f.sum(axis=1)
    s = float(total.sum())
    return {
        "right_share_pct": 100.0 * float(f[:, 1].sum() + f[:, 3].sum()) / s if s != 0 else float("nan"),
        "mean_total_force_n": float(total.mean()),
    }


def with_overrides(preset: str | Preset, **changes) -> Preset:
    """A copy of a preset with some fields changed (e.g. ``exclude_s=0``)."""
    return replace(get_preset(preset), **changes)
