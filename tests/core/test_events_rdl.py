"""RDL repetitions against the virtual board's ground truth: exact counts on realistic patients, no
phantom repetitions, rejected candidates with reasons, ``max_reps``, and the per-rep lateral-shift
estimator's error against the true shift of every repetition."""

import functools

import numpy as np
import pytest

import station.board.virtual as virtual
from station.core.events import rep_shift_fit, segment_rdl_reps

from tests.core.scenarios import RATE_HZ as RATE
from tests.core.scenarios import record as _record

#: the oracle-calibrated recording of tests/core/scenarios.py, gated at 100 N (a
#: touchdown unloads the board to >= 20 % of the weight, so the COP stays defined through it)
record = functools.partial(_record, threshold_n=100.0)


def true_shifts(truth):
    return np.array([e["ml_shift_mm"] for e in truth.events if e["kind"] == "rep_start"])


@pytest.mark.parametrize("name", ["healthy:rdl-left", "weak-right:rdl-right", "weak-left:rdl-left"])
def test_exact_rep_count_on_realistic_patients(name):
    subject = virtual.Subject.named(name)
    counts = []
    for seed in range(8):
        truth, total, ml, ap = record(subject, seed=seed, seconds=subject.rdl_reps * subject.rdl_period_s + 4.0)
        rejected = []
        reps = segment_rdl_reps(total, ml, ap, fs_hz=RATE, t0_s=truth.t_s[0], max_reps=10, rejected=rejected)
        counts.append(len(reps))
        assert true_shifts(truth).size == 10
    assert counts == [10] * 8


def test_no_phantom_reps_after_the_last_one():
    # a set of 10, then 25 s standing still on the same leg (the runner would have waited for more)
    subject = virtual.Subject.named("weak-right:rdl-right")
    for seed in range(4):
        truth, total, ml, ap = record(subject, seed=seed, seconds=33.0, then=subject.replace(task="single_leg"),
                                      then_s=25.0)
        rejected = []
        reps = segment_rdl_reps(total, ml, ap, fs_hz=RATE, t0_s=truth.t_s[0], rejected=rejected)
        last_end = max(e["t_s"] for e in truth.events if e["kind"] == "rep_end")
        assert len(reps) == 10, [(r["t_start_s"], r["duration_s"]) for r in reps]
        assert all(r["t_start_s"] < last_end for r in reps)
        assert all(r["reason"] for r in rejected)


def test_more_reps_than_asked_end_the_set_and_are_rejected_with_a_reason():
    subject = virtual.Subject.named("healthy:rdl-left").replace(rdl_reps=12)
    truth, total, ml, ap = record(subject, seed=3, seconds=12 * 3.0 + 4.0)
    rejected = []
    reps = segment_rdl_reps(total, ml, ap, fs_hz=RATE, t0_s=truth.t_s[0], max_reps=10, rejected=rejected)
    assert len(reps) == 10 and [r["rep"] for r in reps] == list(range(1, 11))
    starts = [e["t_s"] for e in truth.events if e["kind"] == "rep_start"]
    np.testing.assert_allclose([r["t_start_s"] for r in reps], starts[:10], atol=0.1)
    assert [r["reason"] for r in rejected] == ["after the last of the 10 repetitions asked for"] * 2


def test_per_rep_lateral_shift_against_truth():
    # the estimator's error per repetition, against the board's true shift of that repetition
    errors = {"healthy:rdl-left": [], "healthy:rdl-right": []}
    hold = []
    for name in errors:
        subject = virtual.Subject.named(name)
        for seed in range(6):
            truth, total, ml, ap = record(subject, seed=10 + seed + (0 if name.endswith("left") else 50), seconds=34.0)
            reps = segment_rdl_reps(total, ml, ap, fs_hz=RATE, t0_s=truth.t_s[0], max_reps=10)
            shifts = true_shifts(truth)
            assert len(reps) == shifts.size == 10
            errors[name] += [r["ml_shift_mm"] - s for r, s in zip(reps, shifts)]
            # the old estimate (mean over the bottom hold minus the 0.5 s before the start), for comparison
            t = truth.t_s
            for r, s in zip(reps, shifts):
                at = (t >= r["t_bottom_s"]) & (t < r["t_rise_s"])
                pre = (t >= r["t_start_s"] - 0.5) & (t < r["t_start_s"])
                hold.append(np.mean(ml[at]) - np.mean(ml[pre]) - s)
    for name, e in errors.items():
        e = np.asarray(e)
        assert abs(e.mean()) < 2.0, name  # 60 reps: the mean error is within ~1.5 SE of 0
        assert e.std() < 6.0, name
    assert np.std(np.concatenate(list(errors.values()))) < 0.75 * np.std(hold)


def test_rep_shift_fit_recovers_a_clean_shift():
    fs = 100.0
    t = np.arange(0, 6, 1 / fs)
    from station.core.events import _depth_template

    d = _depth_template(t.size, 1.0 * fs, 2.2 * fs, 2.65 * fs, 3.7 * fs)
    x = 20.0 + 0.8 * t + 7.5 * d  # standing at 20 mm, a slow drift, a 7.5 mm shift at the bottom
    assert rep_shift_fit(x, fs_hz=fs, t_start_s=1.0, t_bottom_s=2.2, t_rise_s=2.65, t_end_s=3.7) == pytest.approx(7.5)
    assert np.isnan(rep_shift_fit(np.full(t.size, np.nan), fs_hz=fs, t_start_s=1.0, t_bottom_s=2.2, t_rise_s=2.65,
                                  t_end_s=3.7))
