"""Event detection on synthetic signals with exactly known event times."""

import math

import numpy as np
import pytest

from station.core.events import detect_step_on_off, detect_touchdowns, rep_events, runs, segment_rdl_reps, time_to_stabilisation

FS = 100.0
W = 700.0


def smoothstep(u):
    u = np.clip(u, 0, 1)
    return u * u * (3 - 2 * u)


def test_runs():
    assert runs([0, 1, 1, 0, 1]) == [(1, 3), (4, 5)]
    assert runs([]) == []


def test_step_on_and_off_times():
    t = np.arange(int(20 * FS)) / FS
    total = W * (smoothstep((t - 2.0) / 0.5) - smoothstep((t - 15.0) / 0.8)) + np.random.default_rng(0).normal(0, 2.0, t.size)
    ev = detect_step_on_off(total, fs_hz=FS, threshold_n=0.2 * W, t0_s=10.0)
    assert [e["kind"] for e in ev] == ["step_on", "step_off"]
    assert ev[0]["t_s"] == pytest.approx(12.0, abs=0.03)
    assert ev[1]["t_s"] == pytest.approx(25.0, abs=0.03)
    assert ev[0]["level_n"] == pytest.approx(W, rel=0.01)


def test_deep_touchdown_is_not_a_step_off():
    t = np.arange(int(10 * FS)) / FS
    total = np.full(t.size, W)
    total[400:450] = 0.1 * W  # 0.5 s at 10 % body weight: below threshold but far too short for a step off
    assert detect_step_on_off(total, fs_hz=FS, threshold_n=0.2 * W) == []


def test_off_board_touchdowns():
    t = np.arange(int(30 * FS)) / FS
    total = np.full(t.size, W) + np.random.default_rng(1).normal(0, 3.0, t.size)
    truth = [(5.0, 0.4, 0.5), (12.3, 0.9, 0.3), (20.0, 0.2, 0.8)]
    for start, dur, share in truth:
        edge = np.clip(np.minimum((t - start) / 0.05, (start + dur + 0.05 - t) / 0.05), 0, 1)
        total -= share * W * edge
    total[25 * 100 : 25 * 100 + 5] = 0.5 * W  # 50 ms blip: shorter than t_min
    ev = detect_touchdowns(total, fs_hz=FS, body_weight_n=W)
    assert len(ev) == 3
    for e, (start, dur, _share) in zip(ev, truth):
        assert e["where"] == "off_board"
        assert e["t_s"] == pytest.approx(start, abs=0.02)
        assert e["duration_s"] == pytest.approx(dur + 0.05, abs=0.05)


def test_on_board_touchdown_cop_jump_towards_free_foot():
    t = np.arange(int(20 * FS)) / FS
    rng = np.random.default_rng(2)
    ml = -100 + 3 * np.sin(2 * np.pi * 0.8 * t) + rng.normal(0, 0.5, t.size)  # left-foot stance
    ml += 70 * np.clip(np.minimum((t - 8.0) / 0.1, (8.0 + 0.6 + 0.1 - t) / 0.1), 0, 1)  # right foot lands
    total = np.full(t.size, W)
    ev = detect_touchdowns(total, ml, fs_hz=FS, body_weight_n=W, stance="left")
    assert len(ev) == 1 and ev[0]["where"] == "on_board"
    assert ev[0]["t_s"] == pytest.approx(8.0, abs=0.05)
    assert ev[0]["duration_s"] == pytest.approx(0.7, abs=0.1)
    # standing on the right leg, a jump to the right is not the free foot
    assert detect_touchdowns(total, ml, fs_hz=FS, body_weight_n=W, stance="right") == []


def test_time_to_stabilisation_on_a_known_decay():
    # sway speed envelope 1 + 3 exp(-t / 2): the excess falls to 25 % of steady at t = 2 ln(12) = 4.97 s.
    # One trial's COP speed fluctuates a lot (SD of TTS about 1.3 s here), so the method is checked on
    # the median of 15 trials (unbiased: 4.98 s over 30).
    from scipy import signal

    n = int(40 * FS)
    t = np.arange(n) / FS
    env = 1 + 3 * np.exp(-t / 2.0)
    b, a = signal.butter(2, 5.0, fs=FS)
    tts = []
    for seed in range(15):
        vel = signal.filtfilt(b, a, np.random.default_rng(seed).normal(0, 1, (2, n)) * env) * 30
        pos = np.cumsum(vel, axis=1) / FS
        tts.append(time_to_stabilisation(np.full(n, W), pos[0], pos[1], fs_hz=FS, t_on_s=0.0))
    assert np.median(tts) == pytest.approx(2 * math.log(12), abs=0.6)


def test_time_to_stabilisation_force_method():
    # 0.8 s smoothstep ramp: within 5 % of body weight from u = 0.872, i.e. 0.70 s (0.1 s smoothing)
    n = int(20 * FS)
    t = np.arange(n) / FS
    total = W * smoothstep(t / 0.8)
    still = np.zeros(n)
    tts = time_to_stabilisation(total, still, still, fs_hz=FS, t_on_s=0.0, method="force", body_weight_n=W)
    assert tts == pytest.approx(0.70, abs=0.05)


def min_jerk(u):
    u = np.clip(u, 0, 1)
    return u**3 * (10 - 15 * u + 6 * u * u)


def synthetic_rdl(period_s, reps=10, fs=FS, start=3.0, depth_m=0.25, seed=0):
    """Vertical COM z(t) of min-jerk reps -> force m(g - z''); AP COP forward with depth; ML shifts."""
    n = int((start + reps * period_s + 3) * fs)
    t = np.arange(n) / fs
    z = np.zeros(n)
    ml = np.zeros(n)
    td, tb, ta = 0.4 * period_s, 0.15 * period_s, 0.35 * period_s
    truth = []
    rng = np.random.default_rng(seed)
    for k in range(reps):
        s = start + k * period_s
        prof = np.where(t < s + td, min_jerk((t - s) / td), np.where(t < s + td + tb, 1.0, 1 - min_jerk((t - s - td - tb) / ta)))
        prof[(t < s) | (t > s + td + tb + ta)] = 0
        z += depth_m * prof
        shift = rng.uniform(5, 15)
        ml += shift * prof
        truth.append((s, s + td, s + td + tb + ta, shift))
    zdd = np.gradient(np.gradient(z, 1 / fs), 1 / fs)
    mass = W / 9.80665
    total = W - mass * zdd + rng.normal(0, 1.0, n)
    ap = 40 * z / depth_m + rng.normal(0, 0.5, n)
    return t, total, ml + rng.normal(0, 0.5, n), ap, truth


@pytest.mark.parametrize("period_s, depth_m", [(2.0, 0.12), (3.0, 0.25), (5.0, 0.4)])
def test_rdl_segmentation_synthetic(period_s, depth_m):
    # peak vertical acceleration about 0.1 g: a brisk but plausible hinge
    t, total, ml, ap, truth = synthetic_rdl(period_s, depth_m=depth_m)
    reps = segment_rdl_reps(total, ml, ap, fs_hz=FS)
    assert len(reps) == 10
    for r, (s, b, e, shift) in zip(reps, truth):
        assert r["t_start_s"] == pytest.approx(s, abs=0.05)
        assert r["t_bottom_s"] == pytest.approx(b, abs=0.05)
        assert r["t_end_s"] == pytest.approx(e, abs=0.05)
        assert r["ml_shift_mm"] == pytest.approx(shift, abs=1.0)
        assert r["depth_m"] == pytest.approx(depth_m, rel=0.1)
        assert r["ap_shift_mm"] == pytest.approx(40.0, rel=0.1)  # mean over the hold of the 2 Hz COP
        assert r["duration_s"] == pytest.approx(0.9 * period_s, abs=0.08)
        assert not r["touchdown"]
    assert reps[0]["interval_s"] == pytest.approx(period_s, abs=0.05)
    ev = rep_events(reps, side="left")
    assert [e["kind"] for e in ev[:3]] == ["rep_start", "rep_bottom", "rep_end"] and ev[0]["side"] == "left"


def test_rdl_quiet_stance_has_no_reps():
    rng = np.random.default_rng(4)
    n = int(30 * FS)
    total = W + rng.normal(0, 2.0, n)
    pos = np.cumsum(rng.normal(0, 0.3, (2, n)), axis=1)
    assert segment_rdl_reps(total, pos[0], pos[1], fs_hz=FS) == []
