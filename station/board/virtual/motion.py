"""The load a subject puts on the board over time: total vertical force and centre of pressure.

Sway is filtered Gaussian noise: white noise through a damped second-order resonator (an inverted
pendulum under ankle/hip control: ``f0`` 0.35 Hz bipedal) and a 4th-order 6 Hz Butterworth low-pass
(muscle bandwidth). Single-leg sway is the sum of two such processes per axis, a slow drift of the COP
over the foot and a faster corrective oscillation (:class:`SingleLegSway`, constants ``SINGLE_LEG_*``),
AP-dominant as measured on real single-leg stance; a single-leg RDL keeps one resonance (f0 1.0 Hz).
Each process is normalised so that its sampled velocity has a standard deviation of 1 mm/s; the
subject's target mean velocity ``V`` then sets the per-axis gains through
``E|v| = sqrt(pi/2) * sqrt((s_ml^2 + s_ap^2) / 2)`` (exact for an isotropic Gaussian).

On top of the sway: ramps for stepping on/off or changing stance (smoothstep over ``ramp_s``), free-foot
touchdowns (Poisson; the floor takes 30-80 % of body weight for 0.2-1 s), a post-perturbation sway
envelope (x2 decaying with 1.5 s), the weak side's lateral drift, and RDL repetitions (minimum-jerk
descent / bottom / ascent with the matching vertical force ``m (g - d'')``).

Variability between trials and sessions (``trial_cv_pct``, ``session_cv_pct``, practice, fatigue; see
:mod:`station.board.virtual.subject`) multiplies the sway gains of each new single-leg trial or RDL set
by a factor drawn when the stance starts (reported as ``sway_factor`` in the ``scene`` event); the set's
lateral shift gets the trial part of it.

Random draws come from separate generators per process and are drawn in time order, so the output does
not depend on how the caller chunks time.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from scipy import signal

from station.board.virtual.subject import Subject

logger = logging.getLogger(__name__)

#: how long the sway stays amplified after a perturbation (step on, stance change, touchdown)
PERTURBATION_GAIN = 1.0
PERTURBATION_TAU_S = 1.5
TOUCHDOWN_EDGE_S = 0.05
MIN_JERK_PEAK_ACC = 5.773502691896258  # max of 60s - 180s^2 + 120s^3 on [0, 1]
#: cycles scheduled for the ``steps`` task (about 25 min at the default timing)
MAX_STEP_CYCLES = 150

# Single-leg sway (see SingleLegSway). Two components, after the rambling / trembling decomposition of
# the stabilogram (Zatsiorsky & Duarte, Motor Control 1999;3:28): a slow migration of the COP over the
# foot ("drift": most of the amplitude, little of the velocity) and a faster corrective oscillation
# around it (most of the velocity). The values, per axis (ML, AP), are not published figures: they were
# fitted (bench/realism.py, clinical preset) so that a virtual healthy leg measures like the shared
# KINVENT single-leg export (one athlete, 250 Hz): median frequency ML 0.39-0.44 Hz and AP 0.25 Hz,
# 60-69 % of the ML + AP power below 0.5 Hz, 4-6 % above 2 Hz, RMS ML/AP 0.66-0.88, at the published
# ML/AP velocity ratio (Subject.ml_ap_ratio_single_leg) and the velocity and RMS amplitude the virtual
# patients had before (55-58 mm/s, combined RMS about 11 mm). The corrective oscillation had f0 1.0 Hz
# alone; beside the drift it must be faster to keep that velocity without more amplitude.
SINGLE_LEG_DRIFT_F0_HZ = (0.40, 0.23)
SINGLE_LEG_DRIFT_ZETA = 0.4
#: share of each axis's velocity variance carried by the drift (the rest: the corrective oscillation)
SINGLE_LEG_DRIFT_VELOCITY_SHARE = (0.15, 0.05)
SINGLE_LEG_CORRECTIVE_F0_HZ = (1.7, 1.7)
SINGLE_LEG_CORRECTIVE_ZETA = 0.5
# The sway under a single-leg RDL keeps the former single-leg model (one resonance, ML/AP velocity 1.1): the
# recording and the figures above are of quiet stance, and none of the COP during a hinge was found.
SINGLE_LEG_RDL_F0_HZ = 1.0
SINGLE_LEG_RDL_ZETA = 0.5
SINGLE_LEG_RDL_ML_AP_RATIO = 1.1


@functools.lru_cache(maxsize=64)
def _filter_and_scale(fs_hz: float, f0_hz: float, zeta: float, lowpass_hz: float, unit: str):
    """Second-order sections of one sway filter (resonator + 4th-order Butterworth low-pass) and the
    factor that gives its output a unit velocity (or amplitude) standard deviation for white input
    (cached: every virtual board builds the same few filters)."""
    w0 = 2 * np.pi * f0_hz
    b, a = signal.bilinear([w0 * w0], [1.0, 2 * zeta * w0, w0 * w0], fs=fs_hz)
    sos = np.vstack([signal.tf2sos(b, a), signal.butter(4, min(lowpass_hz, 0.4 * fs_hz), output="sos", fs=fs_hz)])
    impulse = np.zeros(int(max(60.0, 40.0 / f0_hz) * fs_hz))
    impulse[0] = 1.0
    h = signal.sosfilt(sos, impulse)
    if unit == "velocity":
        scale = 1.0 / (np.sqrt(np.sum(np.diff(h) ** 2)) * fs_hz)  # unit velocity std (mm/s)
    else:
        scale = 1.0 / np.sqrt(np.sum(h**2))  # unit standard deviation
    return sos, float(scale)


class SwayProcess:
    """Independent columns of filtered noise with unit velocity (or, ``unit="amplitude"``, unit
    standard deviation); state kept between calls.

    Parameters
    ----------
    fs_hz : float
        Sample rate.
    f0_hz, zeta : float or sequence of float
        Resonator natural frequency and damping: one value for every column, or one per column.
    rng : numpy.random.Generator
        Source of the driving noise (used by this process only).
    columns : int
        Number of output columns (default 2: ML, AP).
    """

    def __init__(self, fs_hz: float, *, f0_hz, zeta, rng: np.random.Generator, lowpass_hz: float = 6.0,
                 unit: str = "velocity", columns: int = 2):
        f0s = np.broadcast_to(np.asarray(f0_hz, dtype=float), (columns,))
        zetas = np.broadcast_to(np.asarray(zeta, dtype=float), (columns,))
        pairs = list(zip(f0s.tolist(), zetas.tolist()))
        self._shared = len(set(pairs)) == 1  # one filter for every column: filtered together
        filters = [_filter_and_scale(float(fs_hz), f0, z, float(lowpass_hz), unit) for f0, z in (pairs[:1] if self._shared else pairs)]
        self._sos = [f[0].copy() for f in filters]  # sosfilt wants writable sections; the cache keeps its own
        self._scale = np.array([f[1] for f in filters])
        self._zi = [np.zeros((sos.shape[0], 2, columns if self._shared else 1)) for sos in self._sos]
        self._columns = columns
        self._rng = rng
        # generated ahead in fixed blocks (the noise does not depend on the scene): fewer filter calls,
        # and the same samples however the caller chunks time
        self._block = max(64, int(fs_hz))
        self._buffer = np.zeros((0, columns))

    def step(self, n: int) -> np.ndarray:
        """The next ``n`` samples, shape (n, columns) (mm, velocity std 1 mm/s per column)."""
        while len(self._buffer) < n:
            noise = self._rng.standard_normal((self._block, self._columns))
            if self._shared:
                out, self._zi[0] = signal.sosfilt(self._sos[0], noise, axis=0, zi=self._zi[0])
                out = out * self._scale[0]
            else:
                out = np.empty_like(noise)
                for k, sos in enumerate(self._sos):
                    col, self._zi[k] = signal.sosfilt(sos, noise[:, k:k + 1], axis=0, zi=self._zi[k])
                    out[:, k] = col[:, 0] * self._scale[k]
            self._buffer = np.concatenate([self._buffer, out])
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


class SingleLegSway:
    """Single-leg sway, ML and AP: a slow drift of the COP over the foot plus a faster corrective
    oscillation around it, each axis with its own parameters (the constants ``SINGLE_LEG_*``).

    Both parts are unit-velocity processes; the drift carries ``SINGLE_LEG_DRIFT_VELOCITY_SHARE`` of
    each axis's velocity variance, so the sum still has a velocity standard deviation of 1 mm/s per
    axis and the subject's target mean velocity keeps its meaning. One generator, four columns drawn
    together (drift ML, drift AP, corrective ML, corrective AP): the output does not depend on how the
    caller chunks time.
    """

    def __init__(self, fs_hz: float, *, rng: np.random.Generator):
        self._process = SwayProcess(
            fs_hz, rng=rng, columns=4,
            f0_hz=(*SINGLE_LEG_DRIFT_F0_HZ, *SINGLE_LEG_CORRECTIVE_F0_HZ),
            zeta=(SINGLE_LEG_DRIFT_ZETA, SINGLE_LEG_DRIFT_ZETA, SINGLE_LEG_CORRECTIVE_ZETA, SINGLE_LEG_CORRECTIVE_ZETA))
        share = np.asarray(SINGLE_LEG_DRIFT_VELOCITY_SHARE, dtype=float)
        self._weights = np.concatenate([np.sqrt(share), np.sqrt(1.0 - share)])

    def step(self, n: int) -> np.ndarray:
        """The next ``n`` samples, shape (n, 2): columns ML, AP (mm, velocity std 1 mm/s)."""
        parts = self._process.step(n) * self._weights
        return parts[:, :2] + parts[:, 2:]


@dataclass(frozen=True)
class _Pose:
    """The static part of a load: force, COP and the sway gains (mm/s per axis per process)."""

    total_n: float = 0.0
    x_mm: float = 0.0
    y_mm: float = 0.0
    gains: tuple = (0.0,) * 6  # bipedal ML, bipedal AP, single-leg ML, AP, single-leg RDL ML, AP


def _lognormal(z: float, cv_pct: float) -> float:
    """A mean-1 log-normal factor with coefficient of variation ``cv_pct`` from a standard normal ``z``."""
    sigma = np.sqrt(np.log1p((cv_pct / 100.0) ** 2))
    return float(np.exp(sigma * z - 0.5 * sigma * sigma))


def _pose_of(subject: Subject | None, previous: _Pose, factor: float = 1.0) -> _Pose:
    if subject is None or not subject.present:
        return _Pose(0.0, previous.x_mm, previous.y_mm, previous.gains)
    half = subject.stance_width_mm / 2.0
    if subject.stance == "both":
        x = (2.0 * subject.right_share - 1.0) * half
        r, v = subject.ml_ap_ratio_bipedal, subject.bipedal_velocity_mm_s
        ml_scale = 0.5 * (subject.sway_scale_left + subject.sway_scale_right)
    else:
        x = half if subject.stance == "right" else -half
        r, v = subject.ml_ap_ratio_single_leg, subject.single_leg_velocity_mm_s
        if subject.task == "rdl":
            r = SINGLE_LEG_RDL_ML_AP_RATIO
        ml_scale = subject.side_value("sway_scale", subject.stance)
    s_ap = factor * v / (np.sqrt(np.pi / 2.0) * np.sqrt((1.0 + r * r) / 2.0))
    s_ml = r * s_ap * ml_scale
    if subject.stance == "both":
        gains = (s_ml, s_ap, 0.0, 0.0, 0.0, 0.0)
    elif subject.task == "rdl":
        gains = (0.0, 0.0, 0.0, 0.0, s_ml, s_ap)
    else:
        gains = (0.0, 0.0, s_ml, s_ap, 0.0, 0.0)
    return _Pose(subject.weight_n, x, subject.cop_ap_mm, gains)


def _smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


class SubjectMotion:
    """Total force and COP of whoever is on the board, sample by sample.

    Parameters
    ----------
    fs_hz : float
        Rate at which :meth:`sample` will be called (one row per board conversion).
    rngs : sequence of five numpy.random.Generator
        Bipedal sway, single-leg sway, touchdown and RDL randomness, vertical force fluctuation.
    """

    def __init__(self, fs_hz: float, rngs):
        self.fs_hz = float(fs_hz)
        self._bipedal = SwayProcess(fs_hz, f0_hz=0.35, zeta=0.6, rng=rngs[0])
        # the single-leg RDL's sway keeps the single-leg generator (its draws as before); quiet single-leg
        # stance draws from a generator spawned from it
        self._single = SingleLegSway(fs_hz, rng=np.random.default_rng(rngs[1].bit_generator.seed_seq.spawn(1)[0]))
        self._single_rdl = SwayProcess(fs_hz, f0_hz=SINGLE_LEG_RDL_F0_HZ, zeta=SINGLE_LEG_RDL_ZETA, rng=rngs[1])
        self._rng_touchdown = rngs[2]
        self._rng_rdl = rngs[3]
        # vertical force fluctuation of a standing person (COM accelerations, breathing): column 0 only
        self._vertical = SwayProcess(fs_hz, f0_hz=1.2, zeta=0.4, rng=rngs[4], unit="amplitude")
        self.subject: Subject | None = None
        self._t0 = 0.0
        self._from = _Pose()
        self._to = _Pose()
        self._ramp_s = 0.6
        self._last_pose = _Pose()
        self._perturbations: list[float] = []
        self._touchdowns: list[tuple[float, float, float]] = []  # (start, duration, floor share)
        self._next_touchdown = np.inf
        self._reps = np.zeros((0, 5))  # start, descent, bottom, ascent, ml shift
        self._steps = np.zeros((0, 2))  # (step off starts, step on starts) of the steps task
        self._pending: list[dict] = []
        # between-trial / between-session variability: its own generator, spawned from the RDL one's
        # seed so that no existing stream of draws changes
        self._rng_var = np.random.default_rng(rngs[3].bit_generator.seed_seq.spawn(1)[0])
        self._z_session = float(self._rng_var.standard_normal())
        self._trials_done = 0
        self._practice: dict[tuple[str, str], int] = {}
        self._factor = 1.0
        self._trial_factor = 1.0

    def _variability(self, old: Subject | None, subject: Subject | None) -> None:
        """Draw the sway factor of a new single-leg trial or RDL set (kept while the stance lasts)."""
        if subject is None:
            return
        session = _lognormal(self._z_session, subject.session_cv_pct)
        if subject.stance == "both":
            self._factor, self._trial_factor = session, 1.0
            return
        if old is not None and old.stance == subject.stance and old.task == subject.task:
            return  # the same trial goes on (a field update)
        z = float(self._rng_var.standard_normal())
        self._trial_factor = _lognormal(z, subject.trial_cv_pct)
        practice = 1.0
        if subject.task == "single_leg":
            key = (subject.task, subject.stance)
            k = self._practice.get(key, 0) + 1
            self._practice[key] = k
            practice = 1.0 + 0.01 * subject.practice_pct * np.exp(-(k - 1) / subject.practice_tau_trials)
        fatigue = 1.0 + 0.01 * subject.fatigue_pct_per_trial * self._trials_done
        self._trials_done += 1
        self._factor = session * self._trial_factor * float(practice) * fatigue

    # --- scene ------------------------------------------------------------------------------------
    def set_subject(self, subject: Subject | None, t_s: float, *, settled: bool = False) -> list[dict]:
        """Change who stands on the board from time ``t_s`` on; returns the immediate events.

        ``settled=True`` places the subject instantly (already standing, no ramp, no transient).
        """
        if subject is not None and not subject.present:
            subject = None
        old = self.subject
        events: list[dict] = []
        self._pending = [e for e in self._pending if e["t_s"] <= t_s]
        self._touchdowns = [td for td in self._touchdowns if td[0] <= t_s]
        self._next_touchdown = np.inf
        self._reps = np.zeros((0, 5))  # a scene change interrupts any repetition in progress
        self._steps = np.zeros((0, 2))
        self._perturbations = [tp for tp in self._perturbations if tp <= t_s]
        base = self._last_pose
        self.subject = subject
        self._t0 = t_s
        self._from = base
        self._variability(old, subject)
        self._to = _pose_of(subject, base, self._factor)
        self._ramp_s = (subject or old).ramp_s if (subject or old) else 0.6
        if settled:
            self._from = self._to
            self._t0 = t_s - self._ramp_s
        if old is None and subject is not None:
            if not settled:
                events.append({"t_s": t_s, "kind": "step_on", "stance": subject.stance, "task": subject.task, "subject": subject.name})
        elif old is not None and subject is None:
            events.append({"t_s": t_s, "kind": "step_off"})
        elif subject is not None:
            events.append({"t_s": t_s, "kind": "scene", "stance": subject.stance, "task": subject.task, "subject": subject.name,
                           "sway_factor": self._factor})
        if subject is not None:
            if not settled:
                self._perturbations.append(t_s + self._ramp_s)
            side = subject.stance
            if side != "both":
                rate = subject.side_value("touchdowns_per_min", side)
                if rate > 0:
                    self._next_touchdown = self._t0 + self._ramp_s + self._rng_touchdown.exponential(60.0 / rate)
            if subject.task == "rdl":
                self._schedule_rdl(subject)
            elif subject.task == "steps":
                self._schedule_steps(subject)
        return events

    def _schedule_steps(self, s: Subject) -> None:
        cycle = s.step_on_s + s.step_off_s + 2.0 * self._ramp_s
        offs = self._t0 + self._ramp_s + s.step_on_s + cycle * np.arange(MAX_STEP_CYCLES)
        ons = offs + self._ramp_s + s.step_off_s
        self._steps = np.column_stack([offs, ons])
        for k, (off, on) in enumerate(self._steps):
            self._pending += [{"t_s": float(off), "kind": "step_off", "cycle": k + 1},
                              {"t_s": float(on), "kind": "step_on", "cycle": k + 1, "stance": s.stance}]
            self._perturbations.append(float(on + self._ramp_s))
        self._pending.sort(key=lambda e: e["t_s"])

    def _schedule_rdl(self, s: Subject) -> None:
        n, p = s.rdl_reps, s.rdl_period_s
        starts = self._t0 + self._ramp_s + s.rdl_start_s + p * np.arange(n)
        if s.stance == "both":
            sign = 1.0 if s.rdl_ml_shift_mm_right >= s.rdl_ml_shift_mm_left else -1.0
            mag = 0.5 * (s.rdl_ml_shift_mm_left + s.rdl_ml_shift_mm_right)
        else:
            sign = 1.0 if s.stance == "right" else -1.0
            mag = s.side_value("rdl_ml_shift_mm", s.stance)
        shifts = sign * mag * self._trial_factor * self._rng_rdl.uniform(0.5, 1.5, n)
        # phases: descent 40 %, bottom 15 %, ascent 35 %, standing 10 % of the period
        self._reps = np.column_stack([starts, np.full(n, 0.4 * p), np.full(n, 0.15 * p), np.full(n, 0.35 * p), shifts])
        for k, (t, td, tb, ta, ml) in enumerate(self._reps):
            rep = k + 1
            self._pending += [
                {"t_s": float(t), "kind": "rep_start", "rep": rep, "side": s.stance, "ml_shift_mm": float(ml)},
                {"t_s": float(t + td), "kind": "rep_bottom", "rep": rep, "side": s.stance},
                {"t_s": float(t + td + tb + ta), "kind": "rep_end", "rep": rep, "side": s.stance},
            ]
        self._pending.sort(key=lambda e: e["t_s"])

    # --- sampling ---------------------------------------------------------------------------------
    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Subject load at the (increasing) times ``t_s``.

        Returns
        -------
        total_n, cop_ml_mm, cop_ap_mm : ndarray, shape (n,)
            Vertical force of the subject on the board and where it acts (COP of the subject's load).
        events : list of dict
            Events whose time fell in this call's span (touchdowns, RDL phases).
        """
        t = np.asarray(t_s, dtype=float)
        n = len(t)
        sway_b = self._bipedal.step(n)
        sway_s = self._single.step(n)
        sway_r = self._single_rdl.step(n)
        vertical = self._vertical.step(n)[:, 0]
        if n == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0), []
        t_end = t[-1]
        events = self._touchdown_events(t_end)
        s = _smoothstep((t - self._t0) / self._ramp_s)
        f, to = self._from, self._to
        total = f.total_n + (to.total_n - f.total_n) * s
        x = f.x_mm + (to.x_mm - f.x_mm) * s
        y = f.y_mm + (to.y_mm - f.y_mm) * s
        g = [fa + (ta - fa) * s for fa, ta in zip(f.gains, to.gains)]
        env = self._envelope(t)
        x = x + env * (g[0] * sway_b[:, 0] + g[2] * sway_s[:, 0] + g[4] * sway_r[:, 0])
        y = y + env * (g[1] * sway_b[:, 1] + g[3] * sway_s[:, 1] + g[5] * sway_r[:, 1])
        subj = self.subject
        if subj is not None:
            if subj.stance != "both":
                drop = subj.side_value("hip_drop_mm", subj.stance)
                if drop:
                    out = 1.0 if subj.stance == "right" else -1.0
                    x = x + out * drop * (1.0 - np.exp(-np.clip(t - self._t0, 0.0, None) / 8.0))
            if len(self._reps):
                depth, acc, shift = self._rdl(t)
                total = total * (1.0 - subj.rdl_force_mod * acc)
                y = y + subj.rdl_ap_shift_mm * depth
                x = x + shift * depth
        if subj is not None:
            total = total * (1.0 + 0.01 * subj.vertical_noise_pct * vertical)
        total = total * self._touchdown_factor(t)
        if len(self._steps):
            total = total * self._presence(t)
        k = len(t) - 1
        self._last_pose = _Pose(f.total_n + (to.total_n - f.total_n) * s[k], f.x_mm + (to.x_mm - f.x_mm) * s[k],
                                f.y_mm + (to.y_mm - f.y_mm) * s[k], tuple(gi[k] for gi in g))
        due = [e for e in self._pending if e["t_s"] <= t_end]
        self._pending = self._pending[len(due):]
        events += due
        events.sort(key=lambda e: e["t_s"])
        return total, x, y, events

    def _envelope(self, t: np.ndarray) -> np.ndarray:
        env = np.ones_like(t)
        horizon = t[0] - 12.0 * PERTURBATION_TAU_S  # older perturbations have died out (< 1e-5)
        self._perturbations = [tp for tp in self._perturbations if tp > horizon]
        for tp in self._perturbations:
            if tp > t[-1]:
                continue
            dt = t - tp
            env += np.where(dt >= 0, PERTURBATION_GAIN * np.exp(-np.clip(dt, 0, None) / PERTURBATION_TAU_S), 0.0)
        return env

    def _touchdown_events(self, t_end: float) -> list[dict]:
        events = []
        subj = self.subject
        while self._next_touchdown <= t_end and subj is not None:
            start = float(self._next_touchdown)
            duration = float(self._rng_touchdown.uniform(0.2, 1.0))
            share = float(self._rng_touchdown.uniform(0.3, 0.8))
            self._touchdowns.append((start, duration, share))
            self._perturbations.append(start + duration)
            events.append({"t_s": start, "kind": "touchdown", "side": subj.stance, "duration_s": duration, "floor_share": share})
            rate = subj.side_value("touchdowns_per_min", subj.stance)
            self._next_touchdown = start + duration + 0.5 + self._rng_touchdown.exponential(60.0 / rate)
        return events

    def _touchdown_factor(self, t: np.ndarray) -> np.ndarray:
        factor = np.ones_like(t)
        self._touchdowns = [td for td in self._touchdowns if td[0] + td[1] + TOUCHDOWN_EDGE_S >= t[0]]
        for start, duration, share in self._touchdowns:
            end = start + duration
            if t[-1] < start or t[0] > end + TOUCHDOWN_EDGE_S:
                continue
            w = np.clip(np.minimum((t - start) / TOUCHDOWN_EDGE_S, (end + TOUCHDOWN_EDGE_S - t) / TOUCHDOWN_EDGE_S), 0.0, 1.0)
            factor -= share * w
        return factor

    def _presence(self, t: np.ndarray) -> np.ndarray:
        """1 while standing, 0 while off the board, smoothstep ramps between (``steps`` task)."""
        p = np.ones_like(t)
        r = self._ramp_s
        for off, on in self._steps:
            if t[-1] < off or t[0] > on + r:
                continue
            p -= _smoothstep((t - off) / r) - _smoothstep((t - on) / r)
        return p

    def _rdl(self, t: np.ndarray):
        depth = np.zeros_like(t)
        acc = np.zeros_like(t)
        shift = np.zeros_like(t)
        for start, td, tb, ta, ml in self._reps:
            end = start + td + tb + ta
            if t[-1] < start or t[0] > end:
                continue
            down = (t >= start) & (t < start + td)
            u = (t[down] - start) / td
            depth[down] = u**3 * (10 - 15 * u + 6 * u * u)
            acc[down] = (60 * u - 180 * u * u + 120 * u**3) / MIN_JERK_PEAK_ACC
            bottom = (t >= start + td) & (t < start + td + tb)
            depth[bottom] = 1.0
            up = (t >= start + td + tb) & (t < end)
            u = (t[up] - start - td - tb) / ta
            depth[up] = 1.0 - u**3 * (10 - 15 * u + 6 * u * u)
            acc[up] = -(60 * u - 180 * u * u + 120 * u**3) / MIN_JERK_PEAK_ACC
            shift[(t >= start) & (t < end)] = ml
        return depth, acc, shift
