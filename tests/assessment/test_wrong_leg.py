"""The wrong leg, live: a virtual patient told to stand on the other leg first is caught, told, and the
trial repeated; nothing of the wrong leg is stored as the cued leg's trial.

Sessions run on the lockstep virtual board (board time only, no wall-clock waits); trials are short
(single-leg 1 x 8 s per side, first 2 s excluded; RDL 1 set of 3 reps per side). The check itself is
also run on real bipedal quiet stance (tests/data/bds: Santos & Duarte 2016, firm and foam, eyes open and
closed), where it must never name a leg.
"""

from pathlib import Path

import numpy as np
import pytest

from station.assessment import protocols
from station.assessment.patient_script import VirtualPatient
from station.assessment.steps import WRONG_LEG_HOLD_S, held_on_wrong_leg
from station.core.segments import leg_from_shift
from station.core.stance import REFERENCE_S

from .simsession import run_protocol


def _single_legs(truth) -> list[str]:
    """The legs the virtual patient actually stood on, scene by scene (ground truth)."""
    return [e["stance"] for e in truth.events
            if e["kind"] == "scene" and e.get("task") in ("single_leg", "rdl")]


@pytest.fixture(scope="module")
def wrong_first(tmp_path_factory):
    """A single-leg session (1 trial per side) whose virtual patient stands on the right leg in trial 1."""
    protocol = protocols.get("single-leg", trials_per_side=1, duration_s=8.0, exclude_s=2.0, familiarisation=0)
    return run_protocol(protocol, data_dir=tmp_path_factory.mktemp("wrong_first"), seed=11,
                        sim_subject={"preset": "healthy"}, wrong_leg_trials={1})


def test_a_stance_on_the_wrong_leg_is_told_failed_and_repeated_on_the_cued_leg(wrong_first):
    run = wrong_first
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "failed"), ("left", "finished"), ("right", "finished")]
    wrong, repeat = trials[0], trials[1]
    assert wrong.reason == "wrong leg: stood on the right leg, not the left"
    assert repeat.repeat_of == wrong.id
    # the failed attempt keeps its raw data but no metrics and no analysed window
    assert not wrong.metrics and wrong.window_start_s is None
    assert run.store.trial_arrays(wrong.id)["counts"].shape[1] == 4
    (event,) = [e for e in wrong.events if e["kind"] == "wrong_leg"]
    assert (event["side"], event["cued_side"]) == ("right", "left")
    assert event["shift_mm"] > 30.0  # the COP moved to the right of the bipedal stance
    # the patient is told, naming both legs, once
    told = [e for e in run.events if e.kind == "cue" and e.data.get("wrong_leg")]
    assert [e.text for e in told] == ["You are standing on your RIGHT leg — stand on your LEFT leg."]
    assert (told[0].data["side"], told[0].data["stood_on"]) == ("left", "right")
    assert any(e.kind == "repeat" and "wrong leg" in e.text for e in run.events)
    # ground truth: right (the mistake), then left (corrected after the cue), then right (second trial)
    assert _single_legs(run.board.truth) == ["right", "left", "right"]
    # only the two finished trials are scored, one per leg
    assert run.store.get_session(run.session_id).status == "finished"
    stance = run.store.get_session(run.session_id).scores["stance"]["baseline/eyes_open"]
    assert stance["sides"]["left"]["mean_velocity_ml_mm_s"]["n"] == 1
    assert stance["sides"]["right"]["mean_velocity_ml_mm_s"]["n"] == 1


def test_the_dashboard_protocol_page_shows_the_wrong_leg_cue(wrong_first, qtbot):
    from station.dashboard.protocol_view import ProtocolPanel

    panel = ProtocolPanel(lambda: {})
    qtbot.addWidget(panel)
    events = wrong_first.events
    told = next(i for i, e in enumerate(events) if e.data.get("wrong_leg"))
    for event in events[:told + 1]:
        panel._on_event(event)
    assert panel.cue.text() == "You are standing on your RIGHT leg — stand on your LEFT leg."
    trial_end = next(e for e in events[told:] if e.kind == "trial_end")
    panel._on_event(trial_end)
    assert panel.status.text() == "Trial failed: wrong leg: stood on the right leg, not the left."


def test_without_the_mistake_no_wrong_leg_is_reported(tmp_path):
    protocol = protocols.get("single-leg", trials_per_side=1, duration_s=8.0, exclude_s=2.0, familiarisation=0)
    run = run_protocol(protocol, data_dir=tmp_path, seed=11, sim_subject={"preset": "healthy"})
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "finished"), ("right", "finished")]
    assert not [e for e in run.events if e.data.get("wrong_leg")]
    assert _single_legs(run.board.truth) == ["left", "right"]


def test_an_rdl_set_on_the_wrong_leg_is_caught_before_it_is_recorded_as_the_cued_leg(tmp_path):
    protocol = protocols.get("rdl", reps=3, sets_per_side=1)
    run = run_protocol(protocol, data_dir=tmp_path, seed=4, sim_subject={"preset": "healthy"}, wrong_leg_trials={2})
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "finished"), ("right", "failed"), ("right", "finished")]
    assert trials[1].reason == "wrong leg: stood on the left leg, not the right"
    assert not trials[1].rep_metrics
    assert [t.metrics["reps_counted"] for t in (trials[0], trials[2])] == [3.0, 3.0]
    told = [e.text for e in run.events if e.kind == "cue" and e.data.get("wrong_leg")]
    assert told == ["You are standing on your LEFT leg — stand on your RIGHT leg."]
    assert _single_legs(run.board.truth) == ["left", "left", "right"]


def test_the_virtual_patient_makes_the_mistake_only_in_the_named_trials_and_never_in_a_repeat():
    sent = []
    patient = VirtualPatient(sent.append, wrong_leg_trials={2})
    patient.scene = lambda scene: sent.append(scene["subject"]["stance"])
    left = protocols.get("single-leg", trials_per_side=1, familiarisation=0).steps[0]
    patient.cue(left)                # trial 1: as cued
    patient.cue(left)                # trial 2: the other leg
    patient.cue(left, repeat=True)   # trial 2 repeated: as cued
    patient.cue(left)                # trial 3: as cued
    assert left.side == "left" and sent == ["left", "right", "left", "left"]


@pytest.mark.parametrize("shift_mm, sway_mm, side", [(80.0, 4.0, "right"), (-80.0, 4.0, "left"),
                                                      (10.0, 1.0, None), (40.0, 20.0, None),
                                                      (float("nan"), 3.0, None)])
def test_the_shared_leg_rule(shift_mm, sway_mm, side):
    # named when |shift| >= max(15 mm, 3 x sway); an undefined shift names no leg
    assert leg_from_shift(shift_mm, sway_mm)[0] == side


def test_assess_sim_wrong_leg_option_prints_the_cue_and_stores_the_failed_attempt(tmp_path, capsys):
    from station.cli import main
    from station.store import Store

    rc = main(["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--wrong-leg", "2", "--patient", "Runner 8",
               "--body-mass", "70", "--protocol", "single-leg", "--trials", "1", "--practice", "0", "--seconds", "6",
               "--exclude", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "You are standing on your LEFT leg — stand on your RIGHT leg." in out
    with Store.open(tmp_path / "data") as store:
        (patient,) = store.list_patients()
        (session,) = store.list_sessions(patient.id)
        trials = store.trials(session.id)
        assert [(t.side, t.status) for t in trials] == [("left", "finished"), ("right", "failed"), ("right", "finished")]
        assert trials[1].reason == "wrong leg: stood on the left leg, not the right"


@pytest.mark.parametrize("value", ["0", "one", "1,,2"])
def test_assess_wrong_leg_option_refuses_what_is_no_trial_number(tmp_path, capsys, value):
    from station.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--wrong-leg", value, "--patient", "x",
              "--protocol", "single-leg"])
    assert exc.value.code == 2
    assert f"argument --wrong-leg: '{value}' is not a list of trial numbers from 1, e.g. 1 or 1,3" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


BDS = sorted((Path(__file__).resolve().parents[1] / "data" / "bds").glob("BDS*.txt"))


@pytest.mark.parametrize("path", BDS, ids=[p.stem for p in BDS])
def test_real_quiet_stance_on_both_feet_is_never_a_wrong_leg_and_its_sway_on_one_side_is(path):
    # columns: Time[s] Fx Fy Fz[N] Mx My Mz COPx[cm] (AP) COPy[cm] (ML); 100 Hz, 60 s
    data = np.loadtxt(path, skiprows=1)
    total_n, ml_mm = data[:, 3], data[:, 8] * 10.0
    fs_hz = 100.0
    reference = float(np.median(ml_mm[:int(REFERENCE_S * fs_hz)]))  # the runner's pre-cue reference
    min_load = 0.8 * float(np.median(total_n))
    n = int(WRONG_LEG_HOLD_S * fs_hz)
    ends = range(n, len(ml_mm) + 1, 10)
    # on both feet the COP drifts up to ~19 mm on foam with eyes closed: the check never fires
    for cued in ("left", "right"):
        assert [e for e in ends if held_on_wrong_leg(total_n[e - n:e], ml_mm[e - n:e], cued_side=cued,
                                                     min_load=min_load, reference_ml_mm=reference)] == []
    # the same real sway 90 mm to the right (on the right foot): the wrong leg for a LEFT cue, every window
    on_right = ml_mm + 90.0
    found = [held_on_wrong_leg(total_n[e - n:e], on_right[e - n:e], cued_side="left", min_load=min_load,
                               reference_ml_mm=reference) for e in ends]
    assert {f[0] for f in found} == {"right"}
    assert all(70.0 < f[1] < 110.0 for f in found)
    assert all(held_on_wrong_leg(total_n[e - n:e], on_right[e - n:e], cued_side="right", min_load=min_load,
                                 reference_ml_mm=reference) is None for e in ends)
    # ... unless the patient is not standing on the board (below the standing load)
    e = ends[0]
    assert held_on_wrong_leg(0.5 * total_n[e - n:e], on_right[e - n:e], cued_side="left", min_load=min_load,
                             reference_ml_mm=reference) is None
