"""Events on total force and COP: step on / off, free-foot touchdowns, time to stabilisation, RDL reps.

All functions take uniformly sampled series (``fs_hz``; sample ``i`` is at ``t0_s + i / fs_hz``) and
return plain dicts ``{"t_s": ..., "kind": ..., ...}`` like the trial file's events. Methods (and the
numbers that tune them) are stated in each docstring and in docs/METRICS.md.

Run detection is done on boolean masks by :func:`station.core.runs.runs`; the per-sample work is vectorised numpy (the
series are minutes long at most, so these are not hot paths worth a kernel).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from station.core.cop import G_N_PER_KG
from station.core.filters import lowpass_zero_lag
from station.core.runs import merge_short_gaps
from station.core.runs import runs

log = logging.getLogger(__name__)


def _cross_time(y, i: int, level: float, t0_s: float, fs_hz: float) -> float:
    """Time where ``y`` crosses ``level`` between samples ``i`` and ``i + 1`` (linear interpolation)."""
    a, b = float(y[i]), float(y[i + 1])
    frac = 0.0 if b == a else min(max((level - a) / (b - a), 0.0), 1.0)
    return t0_s + (i + frac) / fs_hz


def _median_window(y, lo: int, hi: int, default: float) -> float:
    lo, hi = max(lo, 0), min(hi, len(y))
    return float(np.median(y[lo:hi])) if hi > lo else default


# -- step on / step off ---------------------------------------------------------------------------


def _onset_time(y, k: int, before: float, after: float, *, t0_s: float, fs_hz: float) -> float:
    """Start of the load change ``before -> after`` whose threshold crossing is at sample ``k``.

    The times ``t5`` and ``t20`` at which ``y`` last left ``before`` by 5 % and 20 % of the change are
    extrapolated back assuming a change that starts smoothly from rest (quadratic: the time since
    onset grows as the square root of the level): ``t_on = t5 - (t20 - t5)``.
    """
    sign = 1.0 if after >= before else -1.0
    times = []
    for frac in (0.05, 0.20):
        level = before + frac * (after - before)
        i = k
        while i > 0 and sign * (y[i] - level) > 0:
            i -= 1
        times.append(_cross_time(y, min(i, y.size - 2), level, t0_s, fs_hz))
    t5, t20 = times
    return t5 - (t20 - t5)


def detect_step_on_off(total_n, *, fs_hz: float, threshold_n: float, t0_s: float = 0.0, min_on_s: float = 0.5,
                       min_off_s: float = 1.0) -> list[dict]:
    """Step-on and step-off events from the total vertical force.

    Method: the board is *loaded* where ``total_n >= threshold_n``; loaded runs shorter than
    ``min_on_s`` and unloaded gaps shorter than ``min_off_s`` (e.g. a deep free-foot touchdown) are
    ignored. Each edge is then moved back to where the load change *began*: with the levels before and
    after (medians over 0.3–1 s before / 0.5–1.5 s after a step on; 0.5–1.5 s before / 0.3–1 s after a
    step off), the last times the force left the old level by 5 % and by 20 % of the change are
    extrapolated back to the onset assuming the change starts smoothly from rest:
    ``t_on = t5 - (t20 - t5)``.

    Returns
    -------
    list of dict
        ``{"t_s", "kind": "step_on" | "step_off", "level_n"}`` in time order (``level_n``: the loaded level).
    """
    y = np.asarray(total_n, dtype=np.float64)
    n = y.size
    loaded = merge_short_gaps([r for r in runs(y >= threshold_n) if r[1] - r[0] >= min_on_s * fs_hz], int(min_off_s * fs_hz))
    loaded = [r for r in loaded if r[1] - r[0] >= min_on_s * fs_hz]
    events = []
    for a, b in loaded:
        if a > 0:
            before = _median_window(y, a - int(1.0 * fs_hz), a - int(0.3 * fs_hz), 0.0)
            level = _median_window(y, a + int(0.5 * fs_hz), a + int(1.5 * fs_hz), float(y[a]))
            t_on = _onset_time(y, a, before, level, t0_s=t0_s, fs_hz=fs_hz)
            events.append({"t_s": t_on, "kind": "step_on", "level_n": level})
        if b < n:
            level = _median_window(y, b - int(1.5 * fs_hz), b - int(0.5 * fs_hz), float(y[b - 1]))
            after = _median_window(y, b + int(0.3 * fs_hz), b + int(1.0 * fs_hz), 0.0)
            t_off = _onset_time(y, b, level, after, t0_s=t0_s, fs_hz=fs_hz)
            events.append({"t_s": t_off, "kind": "step_off", "level_n": level})
    return events


# -- free-foot touchdowns ----------------------------------------------------------------------


def detect_touchdowns(total_n, cop_ml_mm=None, *, fs_hz: float, body_weight_n: float | None = None, stance: str | None = None,
                      t0_s: float = 0.0, drop_fraction: float = 0.10, t_min_s: float = 0.1, max_duration_s: float = 3.0,
                      jump_mm: float = 50.0) -> list[dict]:
    """Touchdowns of the free foot during single-leg stance.

    Two signatures:

    * **off the board** (``where="off_board"``): the total force drops below
      ``(1 - drop_fraction) * body_weight_n`` for at least ``t_min_s`` (and at most ``max_duration_s``;
      longer or edge-touching drops are stepping on/off). The event starts where the force left
      ``body_weight_n`` (last sample above ``1 - drop_fraction / 4`` of it) and ends where it returns.
    * **on the board** (``where="on_board"``, needs ``cop_ml_mm`` and ``stance``): the ML COP (5 Hz
      low-passed) jumps by at least ``jump_mm`` towards the free foot (``+ML`` for a left stance): the
      difference of the means over the 0.2 s (or ``t_min_s`` if longer) after and before a sample
      exceeds ``jump_mm``. The event starts where the COP left its pre-jump level by
      10 % of the jump.

    ``body_weight_n`` defaults to the median total force over the loaded samples.

    Returns
    -------
    list of dict
        ``{"t_s", "kind": "touchdown", "where", "duration_s", "t_end_s"}`` in time order.
    """
    y = np.asarray(total_n, dtype=np.float64)
    n = y.size
    if n == 0:
        return []
    if body_weight_n is None:
        loaded = y[y > 0.5 * np.percentile(y, 90)] if np.any(y > 0) else y
        body_weight_n = float(np.median(loaded))
    events = []
    level_in = (1.0 - drop_fraction) * body_weight_n
    level_out = (1.0 - drop_fraction / 4.0) * body_weight_n
    for a, b in runs(y < level_in):
        if a == 0 or b == n or (b - a) < t_min_s * fs_hz or (b - a) > max_duration_s * fs_hz:
            continue
        i = a - 1
        while i > 0 and y[i] < level_out:
            i -= 1
        j = b
        while j < n - 1 and y[j] < level_out:
            j += 1
        t_start = _cross_time(y, i, level_out, t0_s, fs_hz)
        t_end = _cross_time(y, j - 1, level_out, t0_s, fs_hz)
        events.append({"t_s": t_start, "kind": "touchdown", "where": "off_board", "duration_s": t_end - t_start, "t_end_s": t_end})
    if cop_ml_mm is not None and stance in ("left", "right"):
        off = [(e["t_s"] - 0.5, e["t_end_s"] + 1.0) for e in events]
        events += [e for e in _cop_jumps(np.asarray(cop_ml_mm, dtype=np.float64), fs_hz=fs_hz, sign=1.0 if stance == "left" else -1.0,
                             t0_s=t0_s, t_min_s=t_min_s, jump_mm=jump_mm, max_duration_s=max_duration_s)
                   if not any(a <= e["t_s"] <= b for a, b in off)]  # the sway burst after a touchdown is not another one
    events.sort(key=lambda e: e["t_s"])
    return events


def _cop_jumps(ml, *, fs_hz, sign, t0_s, t_min_s, jump_mm, max_duration_s):
    finite = np.isfinite(ml)
    if finite.sum() < 4 * max(1, int(t_min_s * fs_hz)):
        return []
    x = np.interp(np.arange(ml.size), np.flatnonzero(finite), ml[finite]) * sign
    if fs_hz > 12.0 and x.size > 16:
        x = lowpass_zero_lag(x, fs_hz=fs_hz, cutoff_hz=5.0)
    w = max(1, int(round(max(t_min_s, 0.2) * fs_hz)))
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(w, x.size - w + 1)
    step = (c[i + w] - c[i]) / w - (c[i] - c[i - w]) / w  # mean after - mean before
    out = []
    for a, b in runs(step >= jump_mm):
        k = int(i[a + int(np.argmax(step[a:b]))])
        pre = float(np.mean(x[k - w : k]))
        jump = float(np.mean(x[k : k + w])) - pre
        s = k
        while s > 0 and x[s - 1] > pre + 0.1 * jump:
            s -= 1
        # the foot lifts again where the COP falls back below half the jump
        e = k
        while e < x.size and x[e] > pre + 0.5 * jump:
            e += 1
        duration = (e - s) / fs_hz
        if duration > max_duration_s or e >= x.size:
            continue
        t_start = t0_s + s / fs_hz
        out.append({"t_s": t_start, "kind": "touchdown", "where": "on_board", "duration_s": duration, "t_end_s": t_start + duration,
                    "jump_mm": jump})
    return out


# -- time to stabilisation ---------------------------------------------------------------------


def _fit_decay(t, y, taus):
    """Least-squares ``y ≈ a + b exp(-t / tau)`` over a grid of ``tau``; returns ``(a, b, tau)``."""
    best = (float(np.mean(y)), 0.0, float("nan"), np.inf)
    for tau in taus:
        e = np.exp(-t / tau)
        design = np.column_stack([np.ones_like(e), e])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        sse = float(np.sum((design @ coef - y) ** 2))
        if sse < best[3]:
            best = (float(coef[0]), float(coef[1]), float(tau), sse)
    return best[:3]


def time_to_stabilisation(total_n, cop_ml_mm, cop_ap_mm, *, fs_hz: float, t_on_s: float, t0_s: float = 0.0, method: str = "cop",
                          body_weight_n: float | None = None, window_s: float = 1.0, tolerance: float = 0.25,
                          fit_s: float = 15.0, hold_s: float = 1.0, band_fraction: float = 0.05) -> float:
    """Time from a step on (``t_on_s``) until balance settles (s); NaN if it cannot be told.

    Methods
    -------
    ``"cop"`` (default): the COP speed (10 Hz zero-lag low-pass, then ``|d COP / dt|``) averaged over a
    centred ``window_s`` (1 s) window, over the first ``fit_s`` (15 s) of the stance, is fitted with
    ``a + b exp(-t / tau)`` (least squares; ``tau`` on a 0.1–20 s grid). TTS is when the fitted excess
    falls to ``tolerance`` (25 %) of the steady speed ``a``: ``tau ln(b / (tolerance a))`` (0 when the
    speed never exceeded that). A fit rather than a threshold crossing, because the moving average of
    a sway speed fluctuates by tens of percent from second to second.
    ``"force"``: the vertical force, averaged over 0.1 s, must stay within ``±band_fraction``
    (5 %) of body weight (default: median force of the second half of the stance) for ``hold_s`` (1 s);
    TTS is the start of the first such stretch (a Colby-style GRF criterion).

    The stance ends at the first sample after ``t_on_s`` with an undefined COP (step off), or at the end.
    """
    ml = np.asarray(cop_ml_mm, dtype=np.float64)
    ap = np.asarray(cop_ap_mm, dtype=np.float64)
    y = np.asarray(total_n, dtype=np.float64)
    i0 = max(0, int(math.ceil((t_on_s - t0_s) * fs_hz)))
    defined = np.isfinite(ml) & np.isfinite(ap)
    first = i0 + int(np.argmax(defined[i0:])) if defined[i0:].any() else ml.size
    undefined_after = np.flatnonzero(~defined[first:])
    end = first + int(undefined_after[0]) if undefined_after.size else ml.size
    w = max(1, int(round(window_s * fs_hz)))
    if end - first < 4 * w:
        return float("nan")
    t_first = t0_s + first / fs_hz - t_on_s
    if method == "cop":
        stop = min(end, first + int(fit_s * fs_hz))
        seg = np.column_stack([ml[first:stop], ap[first:stop]])
        if fs_hz > 25.0:
            seg = lowpass_zero_lag(seg, fs_hz=fs_hz, cutoff_hz=10.0)
        v = np.hypot(*np.diff(seg, axis=0).T) * fs_hz
        avg = np.convolve(v, np.ones(w) / w, mode="valid")
        t = t_first + (np.arange(avg.size) + 0.5 * w) / fs_hz
        a, b, tau = _fit_decay(t, avg, np.geomspace(0.1, 20.0, 60))
        if not (a > 0) or not np.isfinite(tau):
            return float("nan")
        return max(0.0, tau * math.log(b / (tolerance * a))) if b > tolerance * a else 0.0
    if method == "force":
        wf = max(1, int(round(0.1 * fs_hz)))
        avg = np.convolve(y[first:end], np.ones(wf) / wf, mode="same")
        bw = float(np.median(avg[avg.size // 2 :])) if body_weight_n is None else float(body_weight_n)
        ok = np.abs(avg - bw) <= band_fraction * bw
        hold = max(1, int(round(hold_s * fs_hz)))
        for a, b in runs(ok):
            if b - a >= hold or b == ok.size:
                return t_first + a / fs_hz
        return float("nan")
    raise ValueError(f"method must be 'cop' or 'force', got {method!r}.")


# -- RDL repetitions -----------------------------------------------------------------------------


#: where the minimum-jerk speed profile 30u²(1-u)² is half its peak (1.875): u(1-u) = sqrt(1/32)
_U50V = (1.0 - math.sqrt(1.0 - 4.0 * math.sqrt(1.0 / 32.0))) / 2.0


def _velocity_drift(v, f, inner: slice, *, fs_hz: float, touched) -> np.ndarray:
    """Drift of an integrated velocity, from the moments the body is known to be still.

    Still = the force (0.05 s moving average) stays within ±1 % of its median for 0.2 s (standing
    between repetitions, a held bottom). Accelerations of a hinge pass through zero mid-movement, but
    only briefly (a 6 % g minimum-jerk hinge crosses the ±1 % band in about 0.1 s), so 0.2 s of calm
    is rest. There the true velocity is zero, and the integral's value is drift (noise, the weight
    estimate, a masked touchdown); it is interpolated linearly in between. Without two still moments,
    or when more than 70 % of the stance looks still (movements too gentle to tell from rest by the
    force), the drift is taken as the straight line that zeroes the velocity at the end.
    """
    idx = np.arange(v.size)
    fallback = v[inner.stop - 1] * np.clip((idx - inner.start) / max(1, inner.stop - inner.start), 0.0, 1.0)
    w = max(2, int(round(0.2 * fs_hz)))
    if v.size <= 2 * w:
        return fallback
    k = max(1, int(round(0.05 * fs_hz)))
    smooth = np.convolve(f, np.ones(k) / k, mode="same")
    dev = np.abs(smooth / float(np.median(f[inner])) - 1.0)
    dev[touched] = np.inf
    worst = np.lib.stride_tricks.sliding_window_view(dev, w).max(axis=1)
    still = np.zeros(v.size, dtype=bool)
    still[w // 2 : w // 2 + worst.size] = worst <= 0.01
    still[: inner.start + k] = False
    still[inner.stop - k :] = False
    anchors = idx[still]
    if anchors.size < 2 or anchors.size > 0.7 * (inner.stop - inner.start):
        return fallback  # no calm moments, or movements too gentle to tell from calm by the force
    
    return np.interp(idx, anchors, v[anchors])


def _missing_reps_from_ap(reps: list[dict], ap, *, fs_hz: float, record, min_rep_s: float) -> list[dict]:
    """Repetitions the force missed (a touchdown in mid-descent), recovered from the AP COP rhythm.

    Where two consecutive repetitions start 1.6–2.4 typical periods apart, the AP COP (already
    low-passed) between them is searched for one excursion in the direction of the other repetitions'
    AP shift and at least half their median size; it becomes a repetition (``timing_ok`` False) from
    where it passes 20 % of its size to where it falls back below it, bottom at its peak.
    """
    if len(reps) < 3:
        return []
    starts = np.array([r["t_start_s"] for r in reps])
    period = float(np.median(np.diff(starts)))
    shifts = np.array([r["ap_shift_mm"] for r in reps if np.isfinite(r["ap_shift_mm"])])
    if period <= 0 or shifts.size < 2:
        return []
    sign = 1.0 if np.median(shifts) >= 0 else -1.0
    size = float(np.median(np.abs(shifts)))
    found = []
    for prev, nxt in zip(reps[:-1], reps[1:]):
        gap = nxt["t_start_s"] - prev["t_start_s"]
        if not 1.6 * period <= gap <= 2.4 * period:
            continue
        k0, k1 = int(round(prev["t_end_s"] * fs_hz)), int(round(nxt["t_start_s"] * fs_hz))
        if k1 - k0 < max(4, min_rep_s * fs_hz):
            continue
        x = sign * np.asarray(ap[k0:k1])
        base = float(np.median(np.concatenate([x[: max(1, x.size // 8)], x[-max(1, x.size // 8) :]])))
        kp = int(np.argmax(x))
        excursion = float(x[kp]) - base
        if excursion < 0.5 * size:
            continue
        level = base + 0.2 * excursion
        i = kp
        while i > 0 and x[i] > level:
            i -= 1
        j = kp
        while j < x.size - 1 and x[j] > level:
            j += 1
        t_s, t_p, t_e = (k0 + i) / fs_hz, (k0 + kp) / fs_hz, (k0 + j) / fs_hz
        if t_e - t_s >= min_rep_s:
            found.append(record(t_s, t_p, t_p, t_e, float("nan"), False))
    return found


def _depth_template(n: int, k_start: float, k_bottom: float, k_rise: float, k_end: float) -> np.ndarray:
    """Normalised hinge depth on samples ``0..n-1``: 0 standing, minimum-jerk down to 1, hold, back up.

    The phase boundaries are fractional sample indices (the detected start, bottom, rise and end).
    """
    k = np.arange(n, dtype=np.float64)
    d = np.zeros(n)
    down = (k >= k_start) & (k < k_bottom)
    u = (k[down] - k_start) / max(k_bottom - k_start, 1e-9)
    d[down] = u**3 * (10 - 15 * u + 6 * u * u)
    d[(k >= k_bottom) & (k < k_rise)] = 1.0
    up = (k >= k_rise) & (k < k_end)
    u = (k[up] - k_rise) / max(k_end - k_rise, 1e-9)
    d[up] = 1.0 - u**3 * (10 - 15 * u + 6 * u * u)
    return d


#: seconds of standing before and after a repetition that enter its lateral-shift fit
SHIFT_FIT_MARGIN_S = 0.5


def rep_shift_fit(cop_mm, *, fs_hz: float, t_start_s: float, t_bottom_s: float, t_rise_s: float, t_end_s: float,
                  margin_s: float = SHIFT_FIT_MARGIN_S) -> float:
    """Lateral (or AP) COP shift of one repetition: least squares of the COP on the rep's depth profile.

    Over the whole repetition plus ``margin_s`` of standing on either side, ``cop ≈ a + b t + c d(t)``
    where ``d`` is the repetition's normalised depth (minimum-jerk descent to 1 at ``t_bottom_s``, held
    until ``t_rise_s``, minimum-jerk ascent back to 0 at ``t_end_s``; times on the ``cop_mm`` sample
    base, sample 0 at 0 s) and ``a + b t`` absorbs the standing position and slow sway or drift. ``c``
    (mm) is the shift at the bottom of the hinge. Every sample of the repetition contributes, weighted by
    how deep the body is, instead of a 0.45 s hold against 0.5 s before: on the virtual board the error
    SD falls from ~9 mm to ~5 mm (tests/core/test_events_rdl.py). NaN when fewer than 8 finite samples.
    """
    x = np.asarray(cop_mm, dtype=np.float64)
    i0 = max(0, int(math.floor((t_start_s - margin_s) * fs_hz)))
    i1 = min(x.size, int(math.ceil((t_end_s + margin_s) * fs_hz)) + 1)
    if i1 - i0 < 8:
        return float("nan")
    d = _depth_template(i1 - i0, t_start_s * fs_hz - i0, t_bottom_s * fs_hz - i0, t_rise_s * fs_hz - i0,
                        t_end_s * fs_hz - i0)
    y = x[i0:i1]
    ok = np.isfinite(y)
    if ok.sum() < 8 or np.ptp(d[ok]) < 0.5:
        return float("nan")
    tt = (np.arange(i1 - i0) - 0.5 * (i1 - i0)) / fs_hz
    design = np.column_stack([np.ones(ok.sum()), tt[ok], d[ok]])
    coef, *_ = np.linalg.lstsq(design, y[ok], rcond=None)
    return float(coef[2])


#: a candidate repetition longer than this many times the set's median duration (or than
#: ``max_rep_s``), or deeper than ``MAX_DEPTH_RATIO`` times the median depth, is not a repetition
MAX_DURATION_RATIO = 2.0
MAX_DEPTH_RATIO = 2.0
#: a candidate during which the board carried less than half the weight for this long at a stretch is
#: a step, not a repetition (a free-foot touchdown lasts 0.2-1 s)
STEP_S = 1.5


def segment_rdl_reps(total_n, cop_ml_mm, cop_ap_mm, *, fs_hz: float, t0_s: float = 0.0, threshold_n: float = 100.0,
                     smooth_hz: float = 2.0, min_depth_m: float = 0.05, min_rep_s: float = 0.8,
                     touchdown_fraction: float = 0.25, max_reps: int | None = None, max_rep_s: float = 10.0,
                     rejected: list | None = None) -> list[dict]:
    """Segment Romanian dead-lift repetitions from the total force and the COP.

    Method:

    1. Stance = the longest stretch with ``total_n >= threshold_n`` and a defined COP; body weight
       ``W`` = its median force. Samples more than ``touchdown_fraction`` (25 %) below ``W`` (a free-foot
       touchdown takes load off the board), widened by 60 ms, are replaced by a linear interpolation
       of the force across them.
    2. The vertical force is the body's weight minus mass times its downward acceleration, so
       ``a = g (1 - F / W')`` (m/s², + down), where ``W'`` is the mean force over the stance less its
       first and last second (the stepping ramps are not vertical motion; the body is at rest at both
       ends of that stretch, so its mean force is its weight and the velocity returns to zero). The
       velocity ``v = ∫ a dt`` is corrected for drift (noise, a masked touchdown) by setting it to zero
       wherever the body is still — the force (0.05 s average) within ±1 % of its median for 0.2 s, i.e.
       standing between repetitions or holding the bottom — and interpolating linearly in between
       (see ``_velocity_drift``). Integrated again and high-passed (0.1 Hz, zero lag) gives the vertical
       excursion of the centre of mass; a repetition is an excursion above half the range between its
       5th and 95th percentiles (dips shorter than 0.2 s merged, excursions shorter than
       ``min_rep_s / 4`` dropped) whose descent and ascent are each deeper than ``min_depth_m``.
    3. Phases come from ``v``: the descent is a positive speed bell, the bottom hold ``v ≈ 0``, the
       ascent a negative bell. Each bell is taken to follow the minimum-jerk speed profile ``30u²(1-u)²``
       (Flash & Hogan 1985), whose half-peak points lie at ``u = 0.229`` and ``0.771``: the two
       half-peak crossings give the phase's start and duration. Depth = the integral of the descent bell.
    4. Per repetition: phase durations (tempo), vertical depth, AP COP shift at the bottom (mean AP COP
       over the bottom hold minus its mean over the 0.5 s before the start; COP low-passed at
       ``smooth_hz``), the lateral weight shift ``ml_shift_mm`` (+ = the subject's right): the least-squares
       coefficient of the ML COP on the repetition's own depth profile over the whole repetition
       (:func:`rep_shift_fit`), the largest ML deviation during the repetition, and the total-force range
       as % of ``W``.
    5. Candidates that are not repetitions are rejected, each with a ``reason``: longer than
       ``MAX_DURATION_RATIO`` x the median candidate duration or than ``max_rep_s`` ("too long"), deeper
       than ``MAX_DEPTH_RATIO`` x the median depth ("too deep"), the board unloaded below half the weight
       for ``STEP_S`` at a stretch ("a step"); with ``max_reps``, everything after the
       ``max_reps``-th accepted repetition ("after the last of the N repetitions asked for"). Rejected
       candidates are appended to ``rejected`` (when given) with ``reason``, and are never returned.

    Returns
    -------
    list of dict
        One per repetition: ``rep`` (1-based), ``t_start_s``, ``t_bottom_s``, ``t_rise_s``, ``t_end_s``,
        ``descent_s``, ``bottom_s``, ``ascent_s``, ``duration_s``, ``interval_s`` (start-to-start, NaN for
        the last), ``depth_m``, ``ap_shift_mm``, ``ml_shift_mm``, ``ml_max_dev_mm``, ``force_range_pct``,
        ``touchdown`` (True when the free foot touched down during the repetition: its timing is then
        less certain), ``timing_ok`` (False when the speed profile was too distorted for the phase fit;
        the times then come from the depth curve: start and end at the shallowest points around the
        repetition, bottom at the deepest, no hold; or, for a repetition the force missed entirely,
        from the AP COP, see ``_missing_reps_from_ap``).
    """
    g = G_N_PER_KG
    total = np.asarray(total_n, dtype=np.float64)
    ml_all = np.asarray(cop_ml_mm, dtype=np.float64)
    ap_all = np.asarray(cop_ap_mm, dtype=np.float64)
    stance = runs((total >= threshold_n) & np.isfinite(ml_all) & np.isfinite(ap_all))
    if not stance:
        return []
    lo, hi = max(stance, key=lambda r: r[1] - r[0])
    if hi - lo < 3 * fs_hz * min_rep_s or fs_hz < 5.0:
        return []
    f = total[lo:hi].copy()
    w_n = float(np.median(f))
    touched = f < (1.0 - touchdown_fraction) * w_n
    # the force of a touchdown's edges (and 60 ms around them) is not the body's acceleration either;
    # across the gap the force is interpolated linearly (a hinge's acceleration is smooth)
    pad = max(1, int(round(0.06 * fs_hz)))
    masked = np.convolve(touched.astype(float), np.ones(2 * pad + 1), mode="same") > 0
    if masked.any() and not masked.all():
        k = np.arange(f.size)
        f[masked] = np.interp(k[masked], k[~masked], f[~masked])
    # Vertical velocity over the stance without its first and last second (the load ramps of stepping
    # on and off are not vertical motion). The body is at rest at both ends of that stretch, so its
    # mean force is the body weight and the velocity integral returns to zero.
    edge = int(1.0 * fs_hz)
    inner = slice(edge, f.size - edge)
    a = np.zeros(f.size)
    a[inner] = g * (1.0 - f[inner] / float(np.mean(f[inner])))
    v = np.cumsum(a) / fs_hz
    v -= _velocity_drift(v, f, inner, fs_hz=fs_hz, touched=masked)
    z = np.cumsum(v) / fs_hz
    z = z - lowpass_zero_lag(z, fs_hz=fs_hz, cutoff_hz=0.1)
    p5, p95 = np.percentile(z[inner], [5, 95])
    if p95 - p5 < min_depth_m:
        return []
    cores = merge_short_gaps(runs(z >= p5 + 0.5 * (p95 - p5)), int(0.2 * fs_hz))
    cores = [r for r in cores if r[1] - r[0] >= 0.25 * min_rep_s * fs_hz and r[0] > edge and r[1] < f.size - edge]
    cut = min(smooth_hz, 0.45 * fs_hz)
    ap = lowpass_zero_lag(ap_all[lo:hi], fs_hz=fs_hz, cutoff_hz=cut)
    ml = lowpass_zero_lag(ml_all[lo:hi], fs_hz=fs_hz, cutoff_hz=cut)
    base_t = t0_s + lo / fs_hz

    def record(t_start, t_bottom, t_rise, t_end, depth_m, timing_ok) -> dict:
        # phase times in seconds from the start of the stance -> stance sample indices
        k_start = int(round(t_start * fs_hz))
        k_bottom = int(round(t_bottom * fs_hz))
        k_rise = max(int(round(t_rise * fs_hz)), k_bottom + 1)
        k_end = int(round(t_end * fs_hz)) + 1
        pre = slice(max(0, k_start - int(0.5 * fs_hz)), max(1, k_start))
        ml_pre, ap_pre = float(np.mean(ml[pre])), float(np.mean(ap[pre]))
        hold = slice(max(0, k_bottom), min(ml.size, k_rise))
        span = slice(max(0, k_start), min(ml.size, k_end))
        dev = ml[span] - ml_pre
        f_rep = total[lo + span.start : lo + span.stop]
        return {
            "t_start_s": t_start,
            "t_bottom_s": t_bottom,
            "t_rise_s": t_rise,
            "t_end_s": t_end,
            "descent_s": t_bottom - t_start,
            "bottom_s": t_rise - t_bottom,
            "ascent_s": t_end - t_rise,
            "duration_s": t_end - t_start,
            "depth_m": depth_m,
            "ap_shift_mm": float(np.mean(ap[hold])) - ap_pre if hold.stop > hold.start else float("nan"),
            "ml_shift_mm": rep_shift_fit(ml, fs_hz=fs_hz, t_start_s=t_start, t_bottom_s=t_bottom, t_rise_s=t_rise,
                                         t_end_s=t_end),
            "ml_max_dev_mm": float(dev[np.argmax(np.abs(dev))]) if dev.size else float("nan"),
            "force_range_pct": 100.0 * float(f_rep.max() - f_rep.min()) / w_n if f_rep.size else float("nan"),
            "touchdown": bool(np.any(touched[max(0, k_start - 1) : k_end + 1])),
            "timing_ok": bool(timing_ok),
            "_unloaded_s": max((b - a for a, b in runs(total[lo + span.start : lo + span.stop] < 0.5 * w_n)), default=0) / fs_hz,
        }

    reps = []
    for idx, (ca, cb) in enumerate(cores):
        mid = (ca + cb) // 2
        left = (cores[idx - 1][1] + ca) // 2 if idx > 0 else edge
        right = (cb + cores[idx + 1][0]) // 2 if idx + 1 < len(cores) else f.size - edge
        phases = []
        for sgn, region in ((1.0, (left, mid)), (-1.0, (mid, right))):
            if region[1] - region[0] < 4:
                break
            seg = sgn * v
            k = region[0] + int(np.argmax(seg[region[0] : region[1]]))
            half = 0.5 * float(seg[k])
            i = k
            while i > 0 and seg[i] > half:
                i -= 1
            j = k
            while j < seg.size - 1 and seg[j] > half:
                j += 1
            t_l = _cross_time(seg, i, half, 0.0, fs_hz)
            t_r = _cross_time(seg, j - 1, half, 0.0, fs_hz)
            dur = (t_r - t_l) / (1.0 - 2.0 * _U50V)
            t_on = t_l - _U50V * dur
            k_on = max(0, int(round(t_on * fs_hz)))
            k_off = max(k_on + 1, min(v.size, int(round((t_on + dur) * fs_hz))))
            phases.append((t_on, dur, abs(float(np.sum(v[k_on:k_off]))) / fs_hz))
        timing_ok = len(phases) == 2
        if timing_ok:
            (t_start, td, depth_m), (t_rise, ta, _) = phases
            t_end, t_bottom = t_rise + ta, t_start + td
            timing_ok = (min(ph[2] for ph in phases) >= min_depth_m and t_end - t_start >= min_rep_s
                         and t_rise >= t_bottom - 0.5 * td)
        if not timing_ok:
            # The excursion is a repetition, but its speed profile is distorted (typically by a
            # touchdown): count it with times from the depth curve (deepest point = bottom, no hold).
            k0 = left + int(np.argmin(z[left : ca + 1]))
            k1 = cb + int(np.argmin(z[cb : max(right, cb + 1)]))
            kp = ca + int(np.argmax(z[ca:cb]))
            depth_m = float(z[kp] - z[k0])
            if depth_m < min_depth_m or (k1 - k0) / fs_hz < min_rep_s:
                continue
            t_start, t_bottom, t_end = k0 / fs_hz, kp / fs_hz, k1 / fs_hz
            t_rise = t_bottom
        reps.append(record(t_start, t_bottom, t_rise, t_end, depth_m, timing_ok))
    reps += _missing_reps_from_ap(reps, ap, fs_hz=fs_hz, record=record, min_rep_s=min_rep_s)
    reps.sort(key=lambda r: r["t_start_s"])
    for r in reps:
        for key in ("t_start_s", "t_bottom_s", "t_rise_s", "t_end_s"):
            r[key] += base_t
    reps, out = _screen_reps(reps, max_reps=max_reps, max_rep_s=max_rep_s)
    if rejected is not None:
        rejected.extend(out)
    for k, r in enumerate(reps):
        r["rep"] = k + 1
        r["interval_s"] = reps[k + 1]["t_start_s"] - r["t_start_s"] if k + 1 < len(reps) else float("nan")
    return reps


def _screen_reps(reps: list[dict], *, max_reps: int | None, max_rep_s: float) -> tuple[list[dict], list[dict]]:
    """Split candidates into repetitions and rejected candidates (each with a ``reason``); see step 5."""
    if not reps:
        return [], []
    durations = np.array([r["duration_s"] for r in reps])
    depths = np.array([r["depth_m"] for r in reps], dtype=float)
    median_s = float(np.median(durations))
    median_m = float(np.nanmedian(depths)) if np.isfinite(depths).any() else math.nan
    kept, out = [], []
    for r in reps:
        unloaded_s = r.pop("_unloaded_s", 0.0)
        reason = ""
        if r["duration_s"] > max_rep_s:
            reason = f"too long ({r['duration_s']:.1f} s; a repetition takes at most {max_rep_s:g} s)"
        elif len(reps) >= 3 and r["duration_s"] > MAX_DURATION_RATIO * median_s:
            reason = f"too long ({r['duration_s']:.1f} s against a median of {median_s:.1f} s)"
        elif len(reps) >= 3 and np.isfinite(r["depth_m"]) and r["depth_m"] > MAX_DEPTH_RATIO * median_m:
            reason = f"too deep ({100 * r['depth_m']:.0f} cm against a median of {100 * median_m:.0f} cm)"
        elif unloaded_s >= STEP_S:
            reason = f"a step (the board carried less than half the weight for {unloaded_s:.1f} s)"
        elif max_reps is not None and len(kept) >= max_reps:
            reason = f"after the last of the {max_reps} repetitions asked for"
        if reason:
            out.append(dict(r, reason=reason))
        else:
            kept.append(r)
    return kept, out


def rep_events(reps: list[dict], *, side: str | None = None) -> list[dict]:
    """``rep_start`` / ``rep_bottom`` / ``rep_end`` events (the virtual board's names) from RDL reps."""
    out = []
    for r in reps:
        extra = {"rep": r["rep"]} if side is None else {"rep": r["rep"], "side": side}
        out += [{"t_s": r["t_start_s"], "kind": "rep_start", **extra},
                {"t_s": r["t_bottom_s"], "kind": "rep_bottom", **extra},
                {"t_s": r["t_end_s"], "kind": "rep_end", **extra}]
    return out
