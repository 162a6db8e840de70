"""analyze_trial: calibration -> COP -> metrics and events on virtual-board trials."""

import numpy as np
import pytest

import station.board.virtual as virtual

from station.board.protocol import CMD_START, FRAME_DTYPE, encode_command  # noqa: E402
from station.board.trialfile import TrialFile  # noqa: E402
from station.calibration import Calibration, load_geometry  # noqa: E402
from station.core.pipeline import Bound, analyze_trial, segments_between_gaps  # noqa: E402
from station.core.timeline import Kind
from station.errors import CalibrationError  # noqa: E402


def make_trial(subject_name, *, seconds, meta, seed=0, calibrated=True, replace=None):
    vb = virtual.VirtualBoard(seed=seed, rate_hz=80.0)
    vb.write(encode_command(CMD_START))
    vb.advance(1.0)
    subject = virtual.Subject.named(subject_name)
    if replace:
        subject = subject.replace(**replace)
    vb.set_subject(subject)
    vb.advance(seconds)
    tr = vb.truth
    frames = np.zeros(len(tr), dtype=FRAME_DTYPE)
    for name in ("seq", "t_us", "counts", "status", "missed"):
        frames[name] = getattr(tr, name)
    cal = Calibration(board_id=tr.meta["board_id"], geometry=load_geometry("reference-400x300"),
                      offsets_counts=tr.meta["offsets_counts"], gains_n_per_count=1.0 / np.asarray(tr.meta["gains_counts_per_n"]))
    trial = TrialFile(frames=frames, device_time_s=tr.t_s - tr.t_s[0], host_time_s=tr.t_s, board={"nominal_rate_hz": 80},
                      calibration=cal.to_dict() if calibrated else None, meta=meta)
    return trial, tr, cal


def test_rdl_trial_counts_ten_reps():
    trial, truth, _ = make_trial("healthy:rdl-right", seconds=36.0, meta={"task": "rdl", "side": "right", "body_mass_kg": 70.0})
    res = analyze_trial(trial)
    assert len(res.reps) == 10
    starts = np.array([e["t_s"] for e in truth.events if e["kind"] == "rep_start"]) - truth.t_s[0]
    np.testing.assert_allclose([r["t_start_s"] for r in res.reps], starts, atol=0.1)
    assert sum(e.kind is Kind.REP_BOTTOM for e in res.events) == 10
    assert res.metrics["reps_counted"] == 10 and res.fs_hz == pytest.approx(80.0, rel=1e-6)


def test_single_leg_trial_metrics_and_touchdowns():
    trial, truth, _ = make_trial("weak-right:single-right", seconds=30.0, seed=2,
                                 meta={"task": "single_leg", "side": "right", "body_mass_kg": 70.0})
    res = analyze_trial(trial)
    assert res.metrics["mean_cop_ml_mm"] == pytest.approx(100.0, abs=20.0)
    assert res.metrics["right_share_pct"] > 70.0
    found = [e.t_s for e in res.events.of(Kind.TOUCHDOWN)]
    w0, w1 = res.window_s
    expected = [e["t_s"] - truth.t_s[0] for e in truth.events if e["kind"] == "touchdown"]
    expected = [t for t in expected if w0 <= t <= w1]  # touchdowns are counted inside the analysed window
    assert len(found) == len(expected) >= 1
    assert res.metrics["touchdowns"] == len(expected)
    # touchdowns unload the board for a moment: the right calibration must not read as a foreign one
    assert res.problems == [], res.problems
    np.testing.assert_allclose(found, expected, atol=0.1)
    # the window: stance start + the clinical preset's 5 s, to the end of the recording
    assert res.window_bounds == (Bound.STANCE_START, Bound.RECORDING_END)
    assert res.window_s[0] == pytest.approx(res.stance_start_s + 5.0)
    assert res.metrics["duration_s"] == pytest.approx(res.window_s[1] - res.window_s[0], abs=0.05)


def test_calibration_argument_and_missing_calibration():
    trial, _, cal = make_trial("healthy", seconds=12.0, meta={}, calibrated=False)
    with pytest.raises(CalibrationError, match="no calibration"):
        analyze_trial(trial)
    res = analyze_trial(trial, calibration=cal, preset="raw")
    assert res.preset == "raw" and res.metrics["mean_total_force_n"] == pytest.approx(70 * 9.80665, rel=0.02)


def test_gap_splits_the_trial():
    t = np.r_[np.arange(0, 10, 0.0125), np.arange(12, 30, 0.0125)]
    assert segments_between_gaps(t, nominal_rate_hz=80) == [(0, 800), (800, t.size)]
    assert segments_between_gaps(t[:800], gaps=[[3.0, 3.5]]) == [(0, 241), (241, 800)]


def test_a_calibration_that_does_not_fit_is_named_not_taken_for_an_empty_board():
    from station.assessment.analysis import Failure, analyze_stance

    trial, _, cal = make_trial("healthy:single-left", seconds=14.0, seed=4, meta={"task": "single_leg", "side": "left"})
    wrong = Calibration(board_id=cal.board_id, geometry=cal.geometry, offsets_counts=cal.offsets_counts,
                        gains_n_per_count=-cal.gains_n_per_count)  # another board: every cell reads negative
    res = analyze_trial(trial, calibration=wrong, body_mass_kg=70.0)
    assert res.failure is not None and res.metrics == {}
    codes = {p["code"] for p in res.problems}
    assert any(c.startswith("calibration_") for c in codes), codes
    out = analyze_stance(trial, wrong, side="left", duration_s=8.0, exclude_s=2.0, body_mass_kg=70.0)
    assert out.status == "failed" and out.failure is Failure.CALIBRATION, out.reason
    good = analyze_stance(trial, cal, side="left", duration_s=8.0, exclude_s=2.0, body_mass_kg=70.0)
    assert good.status == "finished" and good.failure is None and good.problems == [], good.problems
