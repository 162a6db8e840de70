"""Event detection against the virtual board's ground truth (event times within 100 ms, exact rep counts).

Forces come from the board's raw counts (noise, creep and drift included) through an oracle
calibration (the board's hidden gains and offsets), so only the event detectors are under test.
"""

import numpy as np
import pytest

import station.board.virtual as virtual

from station.core.cop import default_threshold_n
from station.core.events import detect_step_on_off, detect_touchdowns, segment_rdl_reps, time_to_stabilisation
from tests.core.scenarios import RATE_HZ as RATE
from tests.core.scenarios import event_times as times
from tests.core.scenarios import record

TOL_S = 0.100


@pytest.mark.parametrize("name, seed", [("healthy", 0), ("weak-right:single-right", 1), ("weak-left:rdl-left", 2)])
def test_step_on_and_off(name, seed):
    subject = virtual.Subject.named(name)
    truth, total, ml, ap = record(subject, seed=seed, seconds=25.0, off_s=3.0)
    ev = detect_step_on_off(total, fs_hz=RATE, threshold_n=default_threshold_n(subject.body_mass_kg), t0_s=truth.t_s[0])
    assert [e["kind"] for e in ev] == ["step_on", "step_off"]
    assert abs(ev[0]["t_s"] - times(truth, "step_on")[0]) <= TOL_S
    assert abs(ev[1]["t_s"] - times(truth, "step_off")[0]) <= TOL_S


@pytest.mark.parametrize("name, seed", [("weak-right:single-right", 2), ("weak-left:single-left", 2), ("weak-right:single-right", 4)])
def test_free_foot_touchdowns(name, seed):
    subject = virtual.Subject.named(name).replace(touchdowns_per_min_left=6.0, touchdowns_per_min_right=6.0)
    truth, total, ml, ap = record(subject, seed=seed, seconds=40.0)
    expected = times(truth, "touchdown")
    assert expected.size >= 2
    ev = detect_touchdowns(total, ml, fs_hz=RATE, body_weight_n=subject.weight_n, stance=subject.stance, t0_s=truth.t_s[0])
    found = np.array([e["t_s"] for e in ev])
    assert found.size == expected.size
    np.testing.assert_allclose(found, expected, atol=TOL_S)


@pytest.mark.parametrize("side, period_s, seed", [("left", 2.0, 6), ("right", 3.0, 1), ("right", 4.5, 2), ("left", 6.0, 6),
                                                  ("both", 3.0, 3)])
def test_rdl_ten_reps(side, period_s, seed):
    subject = virtual.Subject.named(f"healthy:rdl-{side}").replace(rdl_period_s=period_s, rdl_reps=10)
    truth, total, ml, ap = record(subject, seed=seed, seconds=10 * period_s + 5.0)
    reps = segment_rdl_reps(total, ml, ap, fs_hz=RATE, t0_s=truth.t_s[0], threshold_n=default_threshold_n(subject.body_mass_kg))
    assert len(reps) == 10
    clean = [not r["touchdown"] for r in reps]
    assert sum(clean) >= 8
    for key, kind in (("t_start_s", "rep_start"), ("t_bottom_s", "rep_bottom"), ("t_end_s", "rep_end")):
        got = np.array([r[key] for r in reps])[clean]
        np.testing.assert_allclose(got, times(truth, kind)[clean], atol=TOL_S, err_msg=key)
    tempo = np.array([r["duration_s"] for r in reps])[clean]
    np.testing.assert_allclose(tempo, 0.9 * period_s, atol=2 * TOL_S)


@pytest.mark.parametrize("name, period_s, seed", [("weak-right:rdl-right", 2.0, 5), ("weak-right:rdl-right", 4.0, 6),
                                                  ("weak-right:rdl-right", 8.0, 6), ("healthy:rdl-left", 2.0, 5)])
def test_rdl_reps_counted_despite_touchdowns(name, period_s, seed):
    # weak-right: 3 touchdowns a minute; healthy seed 5 at 2 s: a touchdown in mid-descent hides a
    # repetition from the force, and the AP COP rhythm recovers it
    subject = virtual.Subject.named(name).replace(rdl_period_s=period_s)
    truth, total, ml, ap = record(subject, seed=seed, seconds=10 * period_s + 5.0)
    assert times(truth, "touchdown").size >= 1
    reps = segment_rdl_reps(total, ml, ap, fs_hz=RATE, t0_s=truth.t_s[0])
    assert len(reps) == 10
    touched = [r["touchdown"] for r in reps]
    assert any(touched)
    clean = [not r["touchdown"] and r["timing_ok"] for r in reps]
    assert sum(clean) >= 4  # 8 s reps with 3 touchdowns a minute: several reps are touched
    np.testing.assert_allclose(np.array([r["t_start_s"] for r in reps])[clean], times(truth, "rep_start")[clean], atol=TOL_S)


def test_quiet_single_leg_stance_has_no_reps():
    for seed in range(3):
        truth, total, ml, ap = record(virtual.Subject.named("weak-right:single-right"), seed=seed, seconds=30.0)
        assert segment_rdl_reps(total, ml, ap, fs_hz=RATE, t0_s=truth.t_s[0], threshold_n=137.0) == []


def test_time_to_stabilisation_after_step_on():
    # the board's post-perturbation sway envelope is 1 + exp(-(t - t_on - ramp) / 1.5 s):
    # its excess falls to 25 % at 0.6 s + 1.5 s ln 4 = 2.68 s
    tts = []
    for seed in range(5):
        subject = virtual.Subject.named("healthy:single-left").replace(touchdowns_per_min_left=0.0)
        truth, total, ml, ap = record(subject, seed=seed, seconds=20.0)
        t_on = times(truth, "step_on")[0]
        tts.append(time_to_stabilisation(total, ml, ap, fs_hz=RATE, t_on_s=t_on, t0_s=truth.t_s[0]))
    assert 1.5 < np.median(tts) < 4.0
