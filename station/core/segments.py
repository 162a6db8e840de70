"""Single-leg stances (and RDL sets) in one long recording of a whole test, each with its leg.

A whole test recorded in one go (both feet on the board, lift one foot for ~20 s, put it down, the other
leg, ...) is cut into its single-leg stances here; docs/METRICS.md §11.12 gives the definitions:

**One plate** (:func:`find_stances`). On the uniform grid (at most :data:`GRID_HZ`) the COP is smoothed
over :data:`SMOOTH_S` and its speed averaged over :data:`SPEED_WINDOW_S`. Single-leg stance sways several
times faster than bipedal stance (40–90 against 5–15 mm/s): the samples split into a slow and a fast
group at the threshold that best separates the two (:func:`speed_threshold`: Otsu's criterion on log
speed, clamped to :data:`SPEED_THRESHOLD_MM_S`; one group when they are not 2.5-fold apart). A stance is a run of fast samples with the patient on the board (at least
:data:`ON_BOARD_FRACTION` of the standing weight: a touchdown of the free foot beside the board takes only
part of the load) lasting at least ``min_stance_s``; a break shorter than :data:`MERGE_GAP_S` (a
touchdown) does not end it, a longer unloading (a step-off) does.

Its leg is the side the COP moved to from the bipedal stance around it: on the right leg the COP sits on
the right foot, about half the stance width to the right of the bipedal position. The shift is the
median ML COP of the stance's middle half minus the median of the bipedal stretches just before and
after it. The leg is named only when ``|shift| >= max(MIN_SIDE_SHIFT_MM, SIDE_SNR * sway)`` (sway: the
ML standard deviation in the stance's middle half); otherwise the side is None with the reason, never a
guess. The stance's start (foot lift) and end (touchdown) are where the smoothed ML COP crosses half-way
between the bipedal position and the stance position, searched from the stance's middle outwards: the
touchdown is the last sample past half-way before the first :data:`MERGE_GAP_S` back on the bipedal side,
the foot lift the first one after the last such stretch before the middle. A slow stretch between two fast
runs that stays on one side far from the bipedal COP (:data:`ONE_LEG_OFFSET_MM`) is a steady moment of the
stance, not a return to both feet.

**Two plates** (:func:`find_stances_two_plates`): a stance is a run where one plate carries the load and
the other less than :data:`UNLOADED_FRACTION` of it; its leg is the loaded plate's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from station.core.resample import effective_rate_hz, resample_uniform
from station.core.runs import merge_short_gaps, runs
from station.core.stance import min_load_n

log = logging.getLogger(__name__)

#: the analysis grid's highest rate (Hz)
GRID_HZ = 100.0
#: moving-average length of the COP before it is differentiated (s)
SMOOTH_S = 0.25
#: moving-average length of the COP speed (s)
SPEED_WINDOW_S = 1.0
#: bounds of the slow/fast speed threshold (mm/s)
SPEED_THRESHOLD_MM_S = (15.0, 40.0)
#: bipedal and single-leg speeds differ about 5-fold; two groups closer than this are one kind of stance
MIN_GROUP_RATIO = 2.5
#: breaks shorter than this inside a stance (touchdowns of the free foot) do not end it (s)
MERGE_GAP_S = 2.0
#: below this fraction of the standing weight the patient is off the board (a step-off, not a touchdown)
ON_BOARD_FRACTION = 0.5
#: the shortest slow stretch that serves as a bipedal reference (s)
MIN_REFERENCE_S = 1.0
#: the shortest stance kept (s)
MIN_STANCE_S = 5.0
#: bipedal stretch used as the reference on each side of a stance (s)
REFERENCE_SPAN_S = 2.0
#: a leg is named when the COP shift is at least this (mm) ...
MIN_SIDE_SHIFT_MM = 15.0
#: ... and at least this many times the stance's ML sway (standard deviation)
SIDE_SNR = 3.0
#: a plate carrying less than this fraction of the total is unloaded (two plates)
UNLOADED_FRACTION = 0.05
#: how far beyond the fast run the foot lift and touchdown are searched (s)
EDGE_SEARCH_S = 2.0
#: a slow stretch between two fast ones, on their side and this far from the bipedal COP (mm), is a steady
#: moment of one single-leg stance: more than an 80/20 bipedal weight split with the feet 200 mm apart, about
#: 60 % of a single-leg shift (80-130 mm)
ONE_LEG_OFFSET_MM = 60.0


@dataclass(frozen=True)
class Segment:
    """One single-leg stance (or RDL set) found in a recording.

    Attributes
    ----------
    start_s, end_s : float
        Foot lift and touchdown (or step-off), in the recording's time base (s).
    side : {"left", "right"} or None
        The stance leg; None when it cannot be told (``reason`` says why).
    reason : str
        How the leg was found, or why it could not be.
    shift_mm : float
        ML COP shift from bipedal stance (mm, + right); NaN without a bipedal reference.
    sway_mm : float
        ML standard deviation in the stance's middle half (mm).
    source : str
        ``"cop_shift"`` (one plate), ``"plate"`` (two plates) or ``"file"`` (the file names the leg).
    """

    start_s: float
    end_s: float
    side: str | None
    reason: str
    shift_mm: float = math.nan
    sway_mm: float = math.nan
    source: str = "cop_shift"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("shift_mm", "sway_mm"):
            if not math.isfinite(d[k]):
                d[k] = None
        return d


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` samples (edges: the available samples)."""
    if n <= 1:
        return x.copy()
    kernel = np.ones(n)
    num = np.convolve(x, kernel, mode="same")
    den = np.convolve(np.ones_like(x), kernel, mode="same")
    return num / den


def _otsu_log(v: np.ndarray) -> float:
    """The threshold between two groups of speeds (Otsu's criterion on log speed)."""
    lv = np.log(np.clip(v, 1e-3, None))
    edges = np.linspace(lv.min(), lv.max(), 129)
    hist, _ = np.histogram(lv, bins=edges)
    mids = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * mids)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu0 = m0 / w0
        mu1 = (m0[-1] - m0) / w1
        between = w0 * w1 * (mu0 - mu1) ** 2
    between[~np.isfinite(between)] = -1.0
    return float(np.exp(mids[int(np.argmax(between))]))


def speed_threshold(speed_mm_s: np.ndarray) -> float:
    """The speed that separates bipedal from single-leg samples (mm/s).

    Otsu's split of log speed, clamped to :data:`SPEED_THRESHOLD_MM_S`; when the two groups it finds are
    not :data:`MIN_GROUP_RATIO` apart the recording holds one kind of stance only, classified by its
    median speed against the middle of the bounds.
    """
    lo, hi = SPEED_THRESHOLD_MM_S
    split = _otsu_log(speed_mm_s)
    slow, fast = speed_mm_s[speed_mm_s < split], speed_mm_s[speed_mm_s >= split]
    if slow.size and fast.size and np.median(fast) >= MIN_GROUP_RATIO * np.median(slow):
        return min(max(split, lo), hi)
    return lo if np.median(speed_mm_s) >= 0.5 * (lo + hi) else hi


def find_stances(t_s, total_n, cop_ml_mm, cop_ap_mm, *, body_mass_kg: float | None = None,
                 min_stance_s: float = MIN_STANCE_S) -> list[Segment]:
    """Single-leg stances of a one-plate recording, each with its leg (module docstring).

    Parameters
    ----------
    t_s : array_like (n,)
        Sample times (s), strictly increasing, irregular steps allowed.
    total_n : array_like (n,)
        Total vertical force (N).
    cop_ml_mm, cop_ap_mm : array_like (n,)
        COP (mm, + right / + forward); NaN where undefined.
    body_mass_kg : float, optional, keyword-only
        Sets the standing load (80 % of body weight; 200 N when unknown).
    min_stance_s : float, keyword-only
        Shortest stance kept (s).

    Returns
    -------
    list of Segment
        In time order.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 4:
        return []
    fs = min(effective_rate_hz(t), GRID_HZ)
    y = np.column_stack([total_n, cop_ml_mm, cop_ap_mm]).astype(np.float64)
    grid, y = resample_uniform(t, y, fs_hz=fs)
    total, ml, ap = y[:, 0], y[:, 1], y[:, 2]
    standing = (total >= min_load_n(body_mass_kg)) & np.isfinite(ml) & np.isfinite(ap)
    if standing.sum() < 4:
        return []
    # a touchdown of the free foot off the board takes part of the load: still on the board above half of it
    weight = float(np.median(total[standing]))
    loaded = (total >= ON_BOARD_FRACTION * weight) & np.isfinite(ml) & np.isfinite(ap)
    # fill undefined samples so the moving averages stay finite; they are never classified as loaded
    ml_f = np.interp(np.arange(ml.size), np.flatnonzero(loaded), ml[loaded])
    ap_f = np.interp(np.arange(ap.size), np.flatnonzero(loaded), ap[loaded])
    n_smooth = max(int(round(SMOOTH_S * fs)), 1)
    ml_s, ap_s = _moving_mean(ml_f, n_smooth), _moving_mean(ap_f, n_smooth)
    speed = np.hypot(np.gradient(ml_s), np.gradient(ap_s)) * fs
    speed = _moving_mean(speed, max(int(round(SPEED_WINDOW_S * fs)), 1))
    threshold = speed_threshold(speed[standing])
    fast = _steady_moments_of_stances(loaded & (speed >= threshold), loaded, ml_s)
    slow = loaded & ~fast
    spans = merge_short_gaps(runs(fast), max(int(round(MERGE_GAP_S * fs)), 1))
    spans = [(a, b) for a, b in spans if (b - a) / fs >= min_stance_s]
    slow_runs = [(a, b) for a, b in runs(slow) if (b - a) / fs >= MIN_REFERENCE_S]
    out = []
    for a, b in spans:
        out.append(_segment(grid, ml_s, ml, a, b, fs=fs, slow_runs=slow_runs))
    log.info("%d single-leg stance(s) found (speed threshold %.1f mm/s)", len(out), threshold)
    return out


def _steady_moments_of_stances(fast: np.ndarray, loaded: np.ndarray, ml_s: np.ndarray) -> np.ndarray:
    """``fast`` with the slow stretches between two fast ones filled where the COP stays
    :data:`ONE_LEG_OFFSET_MM` or more from the bipedal position (the median ML of all slow samples), on the
    same side as just before and just after: a single-leg stance that sways slowly for a while is still on
    one leg, far from where both feet stand."""
    slow = loaded & ~fast
    if not slow.any():
        return fast
    bipedal = float(np.median(ml_s[slow]))
    out = fast.copy()
    for a, b in runs(~fast):
        if a == 0 or b == fast.size or not loaded[a:b].all():
            continue
        offsets = [float(np.median(ml_s[x:y])) - bipedal for x, y in ((max(a - (b - a), 0), a), (a, b), (b, 2 * b - a))]
        if all(abs(o) >= ONE_LEG_OFFSET_MM for o in offsets) and len({np.sign(o) for o in offsets}) == 1:
            out[a:b] = True
    return out


def _reference(ml: np.ndarray, slow_runs, *, before: int | None = None, after: int | None = None, fs: float):
    """Median ML COP of the bipedal stretch just before index ``before`` (or just after ``after``)."""
    span = max(int(round(REFERENCE_SPAN_S * fs)), 1)
    if before is not None:
        cands = [(a, b) for a, b in slow_runs if b <= before + int(fs)]
        if not cands:
            return None
        a, b = cands[-1]
        return float(np.median(ml[max(a, b - span):b]))
    cands = [(a, b) for a, b in slow_runs if a >= after - int(fs)]
    if not cands:
        return None
    a, b = cands[0]
    return float(np.median(ml[a:min(b, a + span)]))


def _segment(grid, ml_s, ml, a: int, b: int, *, fs: float, slow_runs) -> Segment:
    quarter = (b - a) // 4
    middle = ml[a + quarter:b - quarter]
    middle = middle[np.isfinite(middle)]
    stance_ml = float(np.median(middle))
    sway = float(np.std(middle))
    before = _reference(ml_s, slow_runs, before=a, fs=fs)
    after = _reference(ml_s, slow_runs, after=b, fs=fs)
    refs = [r for r in (before, after) if r is not None]
    start_s, end_s = float(grid[a]), float(grid[b - 1])
    if not refs:
        return Segment(start_s, end_s, None, "no bipedal stance before or after it to compare the COP with: "
                       "the legs cannot be told apart", sway_mm=sway)
    shift = stance_ml - float(np.mean(refs))
    side, reason = leg_from_shift(shift, sway)
    if side is None:
        return Segment(start_s, end_s, None, reason, shift_mm=shift, sway_mm=sway)
    sign = 1.0 if shift > 0 else -1.0
    search = int(round(EDGE_SEARCH_S * fs))
    gap = max(int(round(MERGE_GAP_S * fs)), 1)
    middle_i = (a + b) // 2
    if before is not None:
        lo = max(a - search, 0)
        on_leg = sign * (ml_s[lo:middle_i] - before) >= abs(shift) / 2
        start = _last_arrival(on_leg, gap)
        if start is not None:
            start_s = float(grid[lo + start])
    if after is not None:
        hi = min(b + search, grid.size)
        on_leg = sign * (ml_s[middle_i:hi] - after) >= abs(shift) / 2
        end = _first_departure(on_leg, gap)
        if end is not None:
            end_s = float(grid[middle_i + end])
    return Segment(start_s, end_s, side, reason, shift_mm=shift, sway_mm=sway)


def _last_arrival(on_leg: np.ndarray, gap: int) -> int | None:
    """Index of the foot lift in ``on_leg`` (samples from before the stance to its middle, True where the COP
    is past half-way to the stance position): the first True after the last stretch of ``gap`` or more
    False samples (bipedal stance; a shorter one is a touchdown inside the stance), or after the start."""
    if not on_leg.any():
        return None
    off = [(x, y) for x, y in runs(~on_leg) if y - x >= gap or x == 0]
    after = off[-1][1] if off else 0
    later = np.flatnonzero(on_leg[after:])
    return after + int(later[0]) if later.size else None


def _first_departure(on_leg: np.ndarray, gap: int) -> int | None:
    """Index of the touchdown in ``on_leg`` (samples from the stance's middle on): the last True before the
    first stretch of ``gap`` or more False samples, or before the end."""
    if not on_leg.any():
        return None
    off = [(x, y) for x, y in runs(~on_leg) if y - x >= gap or y == on_leg.size]
    before = off[0][0] if off else on_leg.size
    earlier = np.flatnonzero(on_leg[:before])
    return int(earlier[-1]) if earlier.size else None


def leg_from_shift(shift_mm: float, sway_mm: float) -> tuple[str | None, str]:
    """The stance leg from the ML COP shift from bipedal stance (the rule of the module docstring).

    Also used live, by the protocol runner, to tell a patient standing on the wrong leg.

    Parameters
    ----------
    shift_mm : float
        Stance ML COP minus the bipedal ML COP (mm, + right).
    sway_mm : float
        ML standard deviation of the stance (mm).

    Returns
    -------
    side : {"left", "right"} or None
        None when the shift is below ``max(MIN_SIDE_SHIFT_MM, SIDE_SNR * sway_mm)``.
    reason : str
        How the leg was found, or why it could not be.
    """
    need = max(MIN_SIDE_SHIFT_MM, SIDE_SNR * sway_mm)
    if not abs(shift_mm) >= need:
        return None, (f"the COP moved {shift_mm:+.0f} mm from bipedal stance, less than {need:.0f} mm "
                      f"({SIDE_SNR:g} x its {sway_mm:.0f} mm sway): the legs cannot be told apart")
    side = "right" if shift_mm > 0 else "left"
    return side, (f"the COP moved {abs(shift_mm):.0f} mm to the {side} of bipedal stance "
                  f"({abs(shift_mm) / max(sway_mm, 1e-9):.0f} x its sway)")


def find_stances_two_plates(t_s, fz_left_n, fz_right_n, *, body_mass_kg: float | None = None,
                            min_stance_s: float = MIN_STANCE_S) -> list[Segment]:
    """Single-leg stances of a two-plate recording: the leg is the plate that carries the load.

    Parameters
    ----------
    t_s : array_like (n,)
        Sample times (s).
    fz_left_n, fz_right_n : array_like (n,)
        Vertical force under the left and the right foot (N).

    Returns
    -------
    list of Segment
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 4:
        return []
    fs = min(effective_rate_hz(t), GRID_HZ)
    grid, y = resample_uniform(t, np.column_stack([fz_left_n, fz_right_n]).astype(np.float64), fs_hz=fs)
    left, right = y[:, 0], y[:, 1]
    total = left + right
    loaded = total >= min_load_n(body_mass_kg)
    out = []
    gap = max(int(round(MERGE_GAP_S * fs)), 1)
    for side, other in (("left", right), ("right", left)):
        alone = loaded & (other < UNLOADED_FRACTION * total)
        for a, b in merge_short_gaps(runs(alone), gap):
            if (b - a) / fs >= min_stance_s:
                out.append(Segment(float(grid[a]), float(grid[b - 1]), side, f"stands on the {side} plate alone",
                                   source="plate"))
    return sorted(out, key=lambda s: s.start_s)
