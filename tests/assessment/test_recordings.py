"""``station assess --recording``: recordings become a stored, scored session whose trials keep their leg, their raw
data and their place in the file, and whose stored metrics equal a re-analysis of the stored raw data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import station.board.virtual as virtual
from station.cli import main
from station.core.pipeline import analyze_trial
from station.store import Store
from tests.core.scenarios import RAMP_HALF_S, whole_test, write_corner_table, write_wii_recorder

KINVENT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kinvent" / "single_leg_balance_kinvent_export.csv"
ALTERNATING_12 = ("right", "left") * 6


def _assess(data_dir, *argv):
    return main(["--data-dir", str(data_dir), "assess", *map(str, argv)])


def _stored(data_dir):
    with Store.open(data_dir) as store:
        (session,) = store.list_sessions()
        trials = store.trials(session.id)
        reanalysed = {}
        for t in trials:
            res = analyze_trial(store.trial_file(t.id))
            reanalysed[t.id] = res.metrics
        return store.get_session(session.id), trials, reanalysed


def _same_metrics(stored: dict, fresh: dict):
    keys = [k for k, v in fresh.items() if isinstance(v, float) and np.isfinite(v)]
    assert len(keys) > 50
    for k in keys:
        assert stored[k] == pytest.approx(fresh[k], rel=1e-9, abs=1e-12), k


@pytest.fixture(scope="module")
def weak_right_wii(tmp_path_factory):
    """A whole test of a weak-right virtual patient, 12 stances alternating legs, as a Wii Balance Board recorder file."""
    # seed 5. With the two-component single-leg sway, six trials per leg do not always name the weak right leg
    # (seeds 0-11: 10 of 12 named it, 0 and 6 did not); seed 5 gives SI +40 % [+19, +60]. Every foot lift and
    # touchdown of seeds 0-7 is found within 0.3 s (worst 0.16 s; before the segmentation searched the edges
    # from the stance's middle and kept slow moments on one leg inside the stance, 2 of 8 recordings)
    rec = whole_test(virtual.Subject.named("weak-right"), seed=5, sides=ALTERNATING_12)
    path = tmp_path_factory.mktemp("wii") / "whole_test.txt"
    write_wii_recorder(rec, path, seed=5)
    return path, rec


def test_a_whole_test_recording_gives_the_legs_and_the_weak_right_verdict(weak_right_wii, tmp_path, capsys):
    path, rec = weak_right_wii
    assert _assess(tmp_path, "--recording", path, "--patient", "Runner 7", "--body-mass", "70", "--protocol", "single-leg",
                   "--json") == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    [verdict] = doc["verdicts"]
    assert (verdict["block"], verdict["less_stable"], verdict["verdict"]) == ("stance/baseline/eyes_open", "right",
                                                                              "right less stable")
    assert out.err.count(" leg (the COP moved ") == 12
    session, trials, reanalysed = _stored(tmp_path)
    assert session.status == "finished" and session.protocol == "single-leg"
    assert [t.side for t in trials] == list(ALTERNATING_12)
    assert [t.status for t in trials] == ["finished"] * 12
    # each trial keeps its place in the source file (file time: the recorder's, from its first sample)
    t0 = rec.t_s[0]
    starts = np.array([t.meta["recording"]["start_s"] for t in trials])
    ends = np.array([t.meta["recording"]["end_s"] for t in trials])
    np.testing.assert_allclose(starts, np.array([a for a, _, _ in rec.stances]) - t0 + RAMP_HALF_S, atol=0.3)
    np.testing.assert_allclose(ends, np.array([b for _, b, _ in rec.stances]) - t0 + RAMP_HALF_S, atol=0.3)
    assert {t.meta["recording"]["file"] for t in trials} == {str(path)}
    for t in trials:  # the raw data are kept and re-analyse to the stored metrics
        _same_metrics(t.metrics, reanalysed[t.id])


def test_legs_that_cannot_be_told_apart_are_said_in_one_line_not_guessed(tmp_path, capsys):
    rec = whole_test(virtual.Subject.named("healthy").replace(stance_width_mm=20.0), seed=5, sides=("right", "left"))
    table = tmp_path / "feet_together.csv"
    size = write_corner_table(rec, table)
    code = _assess(tmp_path / "data", "--recording", table, "--board-size", size, "--patient", "P", "--body-mass", "70",
                   "--protocol", "single-leg")
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    assert "No single-leg stance with a known leg" in err and "the legs cannot be told apart" in err


@pytest.mark.skipif(not KINVENT.is_file(), reason=f"the shared KINVENT export is not at {KINVENT}")
def test_the_kinvent_export_becomes_a_session_with_one_trial_per_leg(tmp_path, capsys):
    assert _assess(tmp_path, "--recording", KINVENT, "--patient", "Athlete", "--body-mass", "77", "--protocol",
                   "single-leg") == 0
    out = capsys.readouterr().out
    assert "2 trial(s), 2 analysed" in out
    session, trials, reanalysed = _stored(tmp_path)
    assert [(t.side, t.condition, t.status) for t in trials] == [("left", "eyes_closed", "finished"),
                                                                 ("right", "eyes_closed", "finished")]
    assert [t.meta["recording"]["trial"] for t in trials] == [1, 2]
    for t in trials:
        _same_metrics(t.metrics, reanalysed[t.id])
        # the trial starts on one leg: analysed from its start plus the 5 s settling time, to its end
        assert t.metrics["duration_s"] == pytest.approx(t.meta["recording"]["end_s"] - 5.0, abs=0.02)
    # the stored forces give back the file's COP (the KINVENT plate's mm) through the counts -> COP path
    from station.readers.kinvent import read_kinvent

    for t, rec in zip(trials, read_kinvent(KINVENT)):
        window = (rec.t_s >= t.window_start_s) & (rec.t_s <= t.window_end_s)
        assert t.metrics["mean_cop_ml_mm"] == pytest.approx(np.mean(rec.cop_ml_mm[window]), abs=0.05)
        assert t.metrics["mean_cop_ap_mm"] == pytest.approx(np.mean(rec.cop_ap_mm[window]), abs=0.05)


def test_an_rdl_whole_test_gives_sets_with_their_legs_and_repetitions(tmp_path, capsys):
    rec = whole_test(virtual.Subject.named("weak-right"), seed=0, sides=("left", "right") * 2, stance_s=24.0, task="rdl",
                     rdl_reps=6)
    table = tmp_path / "rdl.csv"
    size = write_corner_table(rec, table)
    assert _assess(tmp_path / "data", "--recording", table, "--board-size", size, "--patient", "P", "--body-mass", "70",
                   "--protocol", "rdl", "--reps", "6", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert [v["block"] for v in doc["verdicts"]] == ["rdl"]
    session, trials, reanalysed = _stored(tmp_path / "data")
    assert [(t.task, t.side, t.status) for t in trials] == [("rdl", s, "finished") for s in ("left", "right") * 2]
    assert [len(t.rep_metrics) for t in trials] == [6] * 4


def test_primer_from_a_baseline_and_a_post_primer_recording(weak_right_wii, tmp_path, capsys):
    base, _ = weak_right_wii
    # after the primer the weak right leg sways like the left one
    post_rec = whole_test(virtual.Subject.named("weak-right").replace(sway_scale_right=1.0), seed=1, sides=ALTERNATING_12)
    post = tmp_path / "post.txt"
    write_wii_recorder(post_rec, post, seed=1)
    data = tmp_path / "data"
    assert _assess(data, "--recording", base, "--patient", "P", "--body-mass", "70", "--protocol", "primer") != 0
    assert "--protocol primer needs at least two recordings" in capsys.readouterr().err
    with Store.open(data) as store:
        assert store.list_patients() == []  # refused before anything was stored
    assert _assess(data, "--recording", base, post, "--patient", "P", "--body-mass", "70", "--protocol", "primer",
                   "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    verdicts = {(v["block"], v["side"]): v for v in doc["verdicts"]}
    assert verdicts[("stance/baseline/eyes_open", None)]["less_stable"] == "right"
    assert verdicts[("before_after/eyes_open", "right")]["verdict"] == "improved"
    session, trials, _ = _stored(data)
    assert [t.phase for t in trials] == ["baseline"] * 12 + ["post_primer"] * 12


def test_a_stored_recording_trial_names_its_source(weak_right_wii, tmp_path, capsys):
    path, _ = weak_right_wii
    assert _assess(tmp_path, "--recording", path, "--patient", "P", "--body-mass", "70", "--protocol", "single-leg") == 0
    capsys.readouterr()
    with Store.open(tmp_path) as store:
        (session,) = store.list_sessions()
        trial = store.trial_file(store.trials(session.id)[0].id)
    assert (trial.source["kind"], trial.source["name"], trial.source["value_unit"]) == (
        "recording", "Wii Balance Board recorder", "millinewtons")


def test_a_whole_test_recorded_by_the_station_keeps_its_raw_counts_per_stance(tmp_path, capsys):
    from station.board.trialfile import write_trial
    from tests.core.scenarios import truth_trial

    rec = whole_test(virtual.Subject.named("healthy"), seed=2, sides=("left", "right"))
    trial, cal = truth_trial(rec.truth, meta={"operator": "x"})
    path = write_trial(tmp_path / "whole.trial", trial)
    assert _assess(tmp_path / "data", "--recording", path, "--patient", "P", "--body-mass", "70", "--protocol",
                   "single-leg") == 0
    capsys.readouterr()
    session, trials, reanalysed = _stored(tmp_path / "data")
    assert [(t.side, t.status) for t in trials] == [("left", "finished"), ("right", "finished")]
    with Store.open(tmp_path / "data") as store:
        for t in trials:
            stored = store.trial_file(t.id)
            first = np.flatnonzero(trial.device_time_s == t.meta["recording"]["first_sample_s"])[0]
            # the stance's frames are the recording's own, counts unchanged, with the board's calibration
            assert stored.frames.tobytes() == trial.frames[first:first + stored.n_frames].tobytes()
            assert stored.calibration["board_id"] == cal.board_id
            _same_metrics(t.metrics, reanalysed[t.id])
