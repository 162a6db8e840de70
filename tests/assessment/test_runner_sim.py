"""Whole protocols on the virtual board (non-realtime): L/R verdicts against ground truth, the primer's
before/after, failed and repeated trials, aborts.

Trials are shortened to keep the suite fast (documented in docs/ASSESSMENT.md §7): single-leg stance
3 x 15 s per side (first 2 s excluded) for the asymmetric subject, 3 x 20 s for the primer's blocks,
3 x 10 s for the ten symmetric seeds; one primer round with 3 rear-foot-elevated RDL reps per side.
The board runs in lockstep with the runner (tests/assessment/simsession.py), so every run of a seed
gives the same numbers.
"""

import json

import numpy as np
import pytest

from station.assessment import protocols, scoring, verdicts as vd
from station.assessment.results import Verdict
from station.board.protocol import CMD_SIM_SCENE, encode_command
from station.report.wording import verdict_sentence

from .simsession import run_protocol, truth_metrics


def _si(left, right):
    left, right = np.mean(left), np.mean(right)
    return 200.0 * (right - left) / (right + left)


def test_weak_right_subject_is_named_with_the_true_asymmetry(tmp_path):
    # weak-right: 1.5x ML sway, hip drop and more touchdowns on the right leg
    run = run_protocol(protocols.get("single-leg", trials_per_side=3, duration_s=15.0, exclude_s=2.0, familiarisation=0), data_dir=tmp_path, seed=1,
                       sim_subject={"preset": "weak-right"})
    trials = run.store.trials(run.session_id)
    assert [t.status for t in trials] == ["finished"] * 6
    assert [t.side for t in trials] == ["left", "right"] * 3
    scores = run.store.get_session(run.session_id).scores
    stance = scores["stance"]["baseline/eyes_open"]
    assert stance["less_stable"] == "right"
    from station.assessment.results import SessionScores
    from station.report.wording import verdict_sentence

    assert verdict_sentence(SessionScores.from_dict(scores).verdicts[0]).startswith(
        "Single-leg stance, baseline: RIGHT leg less stable — sway index SI +")
    truth = run.board.truth
    gt = {"left": [], "right": []}
    for t in trials:
        m = truth_metrics(run.store, t, truth)
        gt[t.side].append((m["mean_velocity_ml_mm_s"], scoring.sway_index(m)))
    measured_si = stance["asymmetry"]["mean_velocity_ml_mm_s"]["si_pct"]
    true_si = _si([v for v, _ in gt["left"]], [v for v, _ in gt["right"]])
    assert true_si > 20.0
    assert abs(measured_si - true_si) <= 10.0
    composite_true = _si([s for _, s in gt["left"]], [s for _, s in gt["right"]])
    assert abs(stance["headline"]["estimate"] - composite_true) <= 10.0
    # the raw counts are in the store: every trial has 80 Hz counts and a 13 s analysed window
    for t in trials:
        assert t.fs_hz == pytest.approx(80.0, rel=1e-3)
        assert t.window_end_s - t.window_start_s == pytest.approx(13.0)
        assert run.store.trial_arrays(t.id)["counts"].shape[1] == 4


def test_symmetric_subject_shows_no_detectable_asymmetry(tmp_path):
    verdicts = []
    for seed in range(10):
        run = run_protocol(protocols.get("single-leg", trials_per_side=3, duration_s=10.0, exclude_s=2.0, familiarisation=0), data_dir=tmp_path / str(seed),
                           seed=100 + seed, sim_subject={"preset": "healthy"})
        stance = run.store.get_session(run.session_id).scores["stance"]["baseline/eyes_open"]
        verdicts.append(stance["headline"]["verdict"])
    assert verdicts.count("no detectable asymmetry") >= 9, verdicts


def test_primer_session_improves_the_weak_side_only(tmp_path):
    # The right leg sways 1.5x more in ML; after the primer it sways 30 % less: sway_scale_right 1.5 -> 1.05.
    def adjust(step):
        return {"sway_scale_right": 1.05} if step.phase == "post_primer" else {}

    protocol = protocols.get("primer", trials_per_side=3, post_trials=3, duration_s=20.0, exclude_s=2.0, rounds=1,
                             rfe_rdl_reps=3, familiarisation=0)
    # a steady patient (no trial-to-trial variability): this pins the flow; power is bench/verdicts.py's job
    subject = {"preset": "healthy", "sway_scale_right": 1.5, "touchdowns_per_min_left": 0.0, "touchdowns_per_min_right": 0.0,
               "trial_cv_pct": 0.0, "session_cv_pct": 0.0, "practice_pct": 0.0, "fatigue_pct_per_trial": 0.0}
    run = run_protocol(protocol, data_dir=tmp_path, seed=7, sim_subject=subject, sim_adjust=adjust)
    scores = run.store.get_session(run.session_id).scores
    ba = scores["before_after"]["eyes_open"]["sides"]
    assert ba["right"]["verdict"] == "improved", ba["right"]["metrics"]["sway_index"]
    assert ba["left"]["verdict"] == "no detectable change", ba["left"]["metrics"]["sway_index"]
    right = ba["right"]["metrics"]["mean_velocity_ml_mm_s"]
    assert right["change_pct"] == pytest.approx(-30.0, abs=12.0)
    assert right["mdc_source"] == "trials" and abs(right["change"]) > right["mdc95"]
    trials = run.store.trials(run.session_id)
    assert [t.phase for t in trials] == ["baseline"] * 6 + ["primer"] * 2 + ["post_primer"] * 6
    rfe = [t for t in trials if t.task == "rfe_rdl"]
    assert [t.metrics["reps_counted"] for t in rfe] == [3.0, 3.0]
    kinds = [e.kind for e in run.events]
    assert "countdown" in kinds and kinds[-1] == "session_end"
    cues = [e.text for e in run.events if e.kind == "cue"]
    assert cues[0] == "Stand on your LEFT leg, eyes open, hands on hips."
    assert any("standing pigeon stretch" in c for c in cues) and any("hip lifts" in c for c in cues)


def test_rdl_protocol_counts_reps_and_scores_the_lateral_shift(tmp_path):
    # weak-right: 3 free-foot touchdowns a minute on the right (bridged before the segmentation)
    run = run_protocol(protocols.get("rdl", reps=10, sets_per_side=1), data_dir=tmp_path, seed=4,
                       sim_subject={"preset": "weak-right"})
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "finished"), ("right", "finished")]
    assert len([e for e in run.board.truth.events if e["kind"] == "rep_start"]) == 20
    for t in trials:
        assert t.metrics["reps_counted"] == 10.0 and len(t.rep_metrics) == 10
        assert sum(e["kind"] == "rep_start" for e in t.events) == 10
    live = [e.data["count"] for e in run.events if e.kind == "rep"]
    assert live.count(10) == 2 and live[-1] == 10  # live counts per set (sparse when the board runs ahead)
    rdl = run.store.get_session(run.session_id).scores["rdl"]
    # weak-right shifts outwards 12 mm per rep on the right vs 4 mm on the left (x U(0.5, 1.5)), under a
    # single-leg sway of several mm: the side means keep that order, the verdict never blames the left.
    left, right = (rdl["sides"][side]["lateral_shift_mm"] for side in ("left", "right"))
    assert left["n"] == right["n"] == 10
    assert right["mean"] > left["mean"]
    assert rdl["less_stable"] in ("right", None)


def test_step_off_fails_the_trial_and_it_is_repeated(tmp_path):
    state = {"done": False}

    def step_off_once(event, acq):
        if event.kind == "recording" and not state["done"]:
            state["done"] = True
            acq.send_command(encode_command(CMD_SIM_SCENE, json.dumps({"subject": None}).encode()))

    protocol = protocols.get("single-leg", trials_per_side=1, duration_s=10.0, exclude_s=2.0, familiarisation=0)
    run = run_protocol(protocol, data_dir=tmp_path, seed=5, sim_subject={"preset": "healthy"}, on_event=step_off_once)
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "failed"), ("left", "finished"), ("right", "finished")]
    failed, repeat = trials[0], trials[1]
    assert "stepped off the board" in failed.reason and repeat.repeat_of == failed.id
    assert any(e["kind"] == "step_off" for e in failed.events)
    assert any(e.kind == "repeat" for e in run.events)
    assert run.store.get_session(run.session_id).status == "finished"
    # only the finished trials are scored
    stance = run.store.get_session(run.session_id).scores["stance"]["baseline/eyes_open"]
    assert stance["sides"]["left"]["mean_velocity_ml_mm_s"]["n"] == 1


def test_abort_ends_trial_and_session_and_runs_the_stop_step(tmp_path):
    holder = {}

    def abort_while_recording(event, acq):
        if event.kind == "recording":
            holder["runner"].abort()

    import station.assessment.runner as runner_mod

    original = runner_mod.Runner.__init__

    def capture(self, *a, **k):
        original(self, *a, **k)
        holder["runner"] = self

    runner_mod.Runner.__init__ = capture
    try:
        run = run_protocol(protocols.get("single-leg", trials_per_side=3, duration_s=10.0, exclude_s=2.0, familiarisation=0), data_dir=tmp_path, seed=2,
                           sim_subject={"preset": "healthy"}, on_event=abort_while_recording)
    finally:
        runner_mod.Runner.__init__ = original
    trials = run.store.trials(run.session_id)
    assert [t.status for t in trials] == ["aborted"] and trials[0].reason == "stopped by the operator"
    assert run.store.get_session(run.session_id).status == "aborted" and run.runner.state == "aborted"
    assert run.events[-1].kind == "session_end"
    assert not list(run.store.journals_dir.glob("*.journal"))  # journal removed once stored
    assert run.board.subject is None  # the virtual patient was stepped down by the stop step


def test_no_scene_commands_to_a_board_that_is_not_virtual(tmp_path):
    import dataclasses

    from station.assessment.runner import Runner
    from station.board.acquisition import Acquisition
    from station.board.virtual import BoardModel, Subject, VirtualBoard
    from station.store import Store

    from .simsession import GAINS_COUNTS_PER_N, OFFSETS_COUNTS, LockstepClock, PacedTransport, calibration_for

    board = VirtualBoard(seed=9, subject=Subject.named("healthy"),
                         board=BoardModel(gains_counts_per_n=GAINS_COUNTS_PER_N, offsets_counts=OFFSETS_COUNTS))
    transport = PacedTransport(board)
    acq = Acquisition(transport)
    info = acq.start()
    # as if it were hardware
    acq.source_info = dataclasses.replace(acq.source_info, board=dataclasses.replace(info, adc_kind="HX711"))
    try:
        with Store.open(tmp_path) as store:
            pid = store.add_patient(name="hw", body_mass_kg=70.0)
            runner = Runner(protocols.get("single-leg", trials_per_side=1, duration_s=10.0, exclude_s=2.0, familiarisation=0),
                            acquisition=acq, store=store, patient_id=pid, calibration=calibration_for(board),
                            clock=LockstepClock(transport), simulate=True, tare=False, stance_timeout_s=2.0,
                            poll_s=0.5, rest_s=0.5)
            sid = runner.run()
            assert runner.simulate is False
            trials = store.trials(sid)
    finally:
        acq.stop()
    # nobody follows the cues on "hardware": every attempt times out, and the board got no scene
    assert [t.status for t in trials] == ["failed"] * 6
    assert trials[0].reason == "no single-leg stance on the left leg within 2 s"
    kinds = [e["kind"] for e in board.truth.events]
    assert kinds == ["scene", "start", "stop"]  # the subject placed at t = 0, stream start/stop, no scene


def test_a_link_gap_inside_a_trial_fails_it_and_it_is_repeated(tmp_path):
    from station.board.virtual import FaultSpec

    protocol = protocols.get("single-leg", trials_per_side=1, duration_s=10.0, exclude_s=2.0, familiarisation=0)
    run = run_protocol(protocol, data_dir=tmp_path, seed=4, sim_subject={"preset": "healthy"},
                       faults=FaultSpec.parse("disconnect=10.0:2.0"))
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "failed"), ("left", "finished"), ("right", "finished")]
    assert trials[0].reason.startswith("the board's link was lost ") and trials[0].reason.endswith(" s into the trial")
    assert len(trials[0].gaps) == 1 and trials[0].quality["lost_in_gaps"] == 160  # 2 s at 80 Hz
    assert any(e["kind"] == "gap" for e in trials[0].events)
    assert run.store.get_session(run.session_id).status == "finished"


def test_lost_frames_above_the_limit_fail_the_trial_with_the_quality_reason_and_it_is_repeated(tmp_path):
    """End to end: burst loss (whole frames) in the first trial, a clean link afterwards."""
    from station.board.protocol import DATA_FRAME_SIZE
    from station.board.virtual import FaultSpec

    faults = FaultSpec.parse(f"burst=0.05:{DATA_FRAME_SIZE}")  # ~5 % of the frames lost, the limit is 1 %

    def heal_after_the_first_failure(event, acq):
        if event.kind == "repeat":  # the link is good again for the repeat
            acq.transport.board._byte_faults.spec = FaultSpec()

    protocol = protocols.get("single-leg", trials_per_side=1, duration_s=8.0, exclude_s=2.0, familiarisation=0)
    run = run_protocol(protocol, data_dir=tmp_path, seed=4, sim_subject={"preset": "healthy"}, faults=faults,
                       on_event=heal_after_the_first_failure)
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "failed"), ("left", "finished"), ("right", "finished")]
    first = trials[0]
    assert "frames" in first.reason and "were lost inside the analysed window (limit 1 %)" in first.reason
    lost, frames = first.quality["lost"], first.quality["frames"]
    assert 0.02 < lost / (lost + frames) < 0.10  # what the link lost, counted by sequence
    (repeat,) = [e for e in run.events if e.kind == "repeat"]
    assert repeat.text.startswith("Trial failed (") and "were lost" in repeat.text and repeat.text.endswith("repeating it.")
    assert trials[1].repeat_of == first.id and trials[1].quality["lost"] == 0
    assert run.store.get_session(run.session_id).status == "finished"


STEADY = {"trial_cv_pct": 0.0, "session_cv_pct": 0.0, "practice_pct": 0.0, "fatigue_pct_per_trial": 0.0,
          "touchdowns_per_min_left": 0.0, "touchdowns_per_min_right": 0.0}


def test_adaptive_stance_stops_early_when_decided_and_says_why_it_goes_on(tmp_path):
    protocol = protocols.get("single-leg", duration_s=10.0, exclude_s=2.0)
    # a clearly weak right leg: decided at an interim look (the second: with 3 trials per leg the Welch df of the
    # strict interim level is too small), so before the maximum of 6
    run = run_protocol(protocol, data_dir=tmp_path / "weak", seed=3,
                       sim_subject={"preset": "healthy", "sway_scale_right": 2.0, **STEADY})
    trials = run.store.trials(run.session_id)
    assert [t.task for t in trials] == ["single_leg_practice"] * 2 + ["single_leg"] * 8
    looks = [e for e in run.events if e.kind == "adaptive"]
    assert [(e.data["pairs"], e.data["decision"]) for e in looks] == [(3, "continue"), (4, "efficacy")]
    look = looks[-1]
    assert look.data["stop"] and look.text.startswith("Decided after 4 trials per leg: right less stable (SI +")
    assert look.data["remaining_min"] == look.data["remaining_max_min"] == 0.0
    assert look.text.endswith("No patient time left.")
    scores = run.store.get_session(run.session_id).scores
    (verdict,) = scores["verdicts"]
    assert verdict["less_stable"] == "right" and verdict["alpha"] == 0.001  # the interim look's level
    assert scores["stance"]["baseline/eyes_open"]["headline"]["n"] == {"left": 4, "right": 4}  # practice not scored
    # 10 trials of 10 s (+ stance detection, 1.5 s rests, tare): under 3 min of board time
    assert 1.5 < scores["minutes"] < 3.0 and run.events[-1].data["minutes"] == scores["minutes"]
    blocks = scores["minutes_by_block"]
    assert list(blocks) == ["setup", "practice", "stance/baseline/eyes_open"]
    assert sum(blocks.values()) == pytest.approx(scores["minutes"], abs=1e-9)
    assert blocks["setup"] == pytest.approx(3.0 / 60)  # the tare
    # a steady symmetric patient: stopped for futility at the first look, its 80 % interval holding 0 and lying
    # inside SI +-25 %; the verdict carries the family's 96 % interval
    run = run_protocol(protocol, data_dir=tmp_path / "sym", seed=4, sim_subject={"preset": "healthy", **STEADY})
    looks = [e for e in run.events if e.kind == "adaptive"]
    assert [(e.data["pairs"], e.data["decision"]) for e in looks] == [(3, "futility")]
    assert looks[0].text.startswith("Decided after 3 trials per leg: no detectable asymmetry, and one as large as ±25 % "
                                    "is unlikely (its 80 % interval lies inside ±25 %; SI ")
    assert "96 % CI" in looks[0].text
    verdict = run.store.get_session(run.session_id).scores["verdicts"][0]
    assert verdict["verdict"] == "no detectable asymmetry" and verdict["alpha"] == 0.04
    assert verdict["ci_low"] <= 0.0 <= verdict["ci_high"] and verdict["level"] == pytest.approx(0.96)
    assert "96 % CI" in verdict_sentence(Verdict.from_dict(verdict))  # the futility look's own level, worded
    # a symmetric patient whose trials vary by 25 %: undecided at the first look (it says why and how much time
    # is left); with at most 5 trials per leg no look can exclude +-25 %, so it runs to the maximum
    protocol = protocols.get("single-leg", duration_s=10.0, exclude_s=2.0, max_trials=5)
    run = run_protocol(protocol, data_dir=tmp_path / "var", seed=4,
                       sim_subject={"preset": "healthy", **STEADY, "trial_cv_pct": 25.0})
    looks = [e for e in run.events if e.kind == "adaptive"]
    assert [(e.data["pairs"], e.data["stop"]) for e in looks] == [(3, False), (4, False), (5, True)]
    assert looks[0].text.startswith("Another trial per leg (4 of up to 5): the left/right verdict is undecided — no side is "
                                    "clear yet and an asymmetry of ±25 % is not excluded (SI ")
    pair_min = looks[0].data["remaining_min"]  # one more pair of 10 s trials: 2 x (1.5 + 0.25 + 2 + 10 + 0.3) s
    assert pair_min == pytest.approx(2 * 14.05 / 60) and looks[0].data["remaining_max_min"] == pytest.approx(2 * pair_min)
    assert looks[-1].text.startswith("Stopping at the maximum of 5 trials per leg")
    verdict = run.store.get_session(run.session_id).scores["verdicts"][0]
    assert verdict["verdict"] == "no detectable asymmetry" and verdict["alpha"] == vd.ADAPTIVE_ALPHA_FINAL == 0.037


class RunAheadClock:
    """A lockstep clock whose every poll lets the board run ``ahead_s`` further (a board far ahead of the
    live decisions, as a free-running simulation or a busy host); the waits that end on frames step exactly."""

    def __init__(self, transport, ahead_s: float):
        from .simsession import LockstepClock

        self.inner = LockstepClock(transport)
        self.ahead_s = ahead_s

    def now(self) -> float:
        return self.inner.now()

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(self.ahead_s if seconds >= 0.5 else seconds)


def _rdl_recordings(run) -> list[tuple[float, float]]:
    """Per stored RDL set: (board time of its last recorded frame, true end of its last repetition)."""
    return _rdl_recordings_of(run, run.store.trials(run.session_id))


def _rdl_recordings_of(run, trials) -> list[tuple[float, float]]:
    """:func:`_rdl_recordings` of the RDL sets ``trials``."""
    truth = run.board.truth
    ends = [e for e in truth.events if e["kind"] == "rep_end"]
    out = []
    for t in trials:
        last_s = float(run.store.trial_arrays(t.id)["t_us"][-1]) / 1e6
        first_s = float(run.store.trial_arrays(t.id)["t_us"][0]) / 1e6
        tenth = [e["t_s"] for e in ends if first_s <= e["t_s"] <= last_s + 5.0 and e["rep"] == 10]
        out.append((last_s, tenth[0]))
    return out


def test_an_rdl_set_ends_at_its_last_repetition_however_far_the_board_runs_ahead(tmp_path):
    from station.assessment import steps
    from station.assessment.runner import Runner
    from station.board.acquisition import Acquisition
    from station.store import Store

    from station.board.virtual import BoardModel, VirtualBoard

    from .simsession import GAINS_COUNTS_PER_N, OFFSETS_COUNTS, PacedTransport, SimRun, calibration_for

    protocol = protocols.get("rdl", reps=10, sets_per_side=1)
    subject = {"preset": "healthy", **STEADY}
    paced = run_protocol(protocol, data_dir=tmp_path / "paced", seed=6, sim_subject=subject, rest_s=3.0)
    # the same patient, the board let 20 s ahead of the runner at every look (the RDL defect: recordings of
    # 56-146 s for sets whose tenth repetition ended 33-35 s into them)
    board = VirtualBoard(seed=6, board=BoardModel(gains_counts_per_n=GAINS_COUNTS_PER_N, offsets_counts=OFFSETS_COUNTS))
    transport = PacedTransport(board)
    with Store.open(tmp_path / "ahead") as store:
        acq = Acquisition(transport)
        acq.start()
        try:
            pid = store.add_patient(name="ahead", body_mass_kg=70.0)
            runner = Runner(protocol, acquisition=acq, store=store, patient_id=pid, calibration=calibration_for(board),
                            clock=RunAheadClock(transport, 20.0), sim_subject=subject, poll_s=0.5, rest_s=3.0)
            sid = runner.run()
        finally:
            acq.stop()
        far = SimRun(store, sid, board, runner, [])
        for run in (paced, far):
            assert [t.status for t in run.store.trials(run.session_id)] == ["finished", "finished"]
            for last_s, tenth_end_s in _rdl_recordings(run):
                # the stored trial ends RDL_END_MARGIN_S after the true end of the tenth repetition (board time)
                assert last_s - tenth_end_s == pytest.approx(steps.RDL_END_MARGIN_S, abs=0.15)
        assert far.board.time_s > paced.board.time_s + 40.0  # the board did run far ahead of the live decisions
        # and the patient time counts what the patient did: the same with the board far ahead
        assert far.runner.patient_minutes == pytest.approx(paced.runner.patient_minutes, abs=0.01)
        assert paced.runner.patient_minutes < 1.3  # tare, 2 rests of 3 s, 2 sets of ~34 s


def test_the_bench_counts_the_minutes_assess_prints(tmp_path, capsys, monkeypatch):
    # one short session both ways: `station assess --sim --json` and bench/verdicts.py's session, same seed
    import importlib.util
    from pathlib import Path

    from station.cli import main
    from station.store import Store

    spec = importlib.util.spec_from_file_location("bench_verdicts", Path(__file__).parents[2] / "bench" / "verdicts.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "assess"))  # restored after the test (--data-dir sets it)
    args = ["--data-dir", str(tmp_path / "assess"), "assess", "--sim", "--seed", "2", "--subject", "healthy",
            "--patient", "p", "--body-mass", "70", "--protocol", "rdl", "--reps", "4", "--sets", "1", "--json"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with Store.open(tmp_path / "bench") as store:
        runner, _, _ = bench.run_session(store, protocols.get("rdl", reps=4, sets_per_side=1), {"preset": "healthy"}, 2)
        assert store.get_session(runner.session_id).status == "finished"
    assert printed["status"] == "finished" and printed["minutes"] == runner.patient_minutes  # exactly


def test_without_subject_fields_the_virtual_patient_keeps_its_traits(tmp_path):
    # as over --port: the board's subject was chosen with `station simulate --subject weak-right`
    from station.board.virtual import Subject

    protocol = protocols.get("single-leg", trials_per_side=1, duration_s=10.0, exclude_s=2.0, familiarisation=0)
    run = run_protocol(protocol, data_dir=tmp_path, seed=5, sim_subject=None, subject=Subject.named("weak-right"))
    scenes = [e for e in run.board.truth.events if e["kind"] in ("scene", "step_on")]
    assert len(scenes) >= 4 and {e["subject"] for e in scenes} == {"weak-right"}
    trials = run.store.trials(run.session_id)
    assert [(t.side, t.status) for t in trials] == [("left", "finished"), ("right", "finished")]
    left, right = (t.metrics["mean_velocity_ml_mm_s"] for t in trials)
    assert right > 1.2 * left  # still weak on the right (1.5 x ML sway)


def test_the_adaptive_rdl_block_adds_sets_only_while_undecided(tmp_path):
    protocol = protocols.get("rdl")
    # a symmetric steady patient (4 mm each side): undecided after one set per leg (it says why and how much time
    # is left), stopped for futility after the second (an 8 mm difference is unlikely); the verdict carries the
    # 96 % interval, on the repetitions with the design effect
    run = run_protocol(protocol, data_dir=tmp_path / "sym", seed=2, sim_subject={"preset": "healthy", **STEADY})
    looks = [e for e in run.events if e.kind == "adaptive"]
    assert [(e.data["pairs"], e.data["decision"]) for e in looks] == [(1, "continue"), (2, "futility")]
    assert looks[0].text.startswith("Another set per leg (2 of up to 3): the left/right verdict is undecided — no side "
                                    "is clear yet and a difference of ±8 mm is not excluded (R − L ")
    set_min = looks[0].data["remaining_min"]  # one more pair of sets: 2 x (1.5 + 0.25 + 2 + 2 + 10 x 3 + 1) s
    assert set_min == pytest.approx(2 * 36.75 / 60) and looks[0].data["remaining_max_min"] == pytest.approx(2 * set_min)
    assert looks[1].text.startswith("Decided after 2 sets per leg: no detectable difference, and one as large as ±8 mm "
                                    "is unlikely (its 80 % interval lies inside ±8 mm; R − L ")
    scores = run.store.get_session(run.session_id).scores
    (verdict,) = scores["verdicts"]
    assert verdict["block"] == "rdl" and verdict["verdict"] == "no detectable asymmetry" and verdict["alpha"] == 0.04
    assert verdict["method"] == "pooled t on repetitions" and verdict["n"]["sets_left"] == 2
    assert list(scores["minutes_by_block"]) == ["setup", "rdl"] and scores["minutes"] < 2.6
    # 4 vs 16 mm: neither a side (0.1 % at the interim looks) nor futility before the last look, which names the
    # right leg at its own level
    run = run_protocol(protocol, data_dir=tmp_path / "asym", seed=2,
                       sim_subject={"preset": "healthy", **STEADY, "rdl_ml_shift_mm_right": 16.0})
    looks = [e for e in run.events if e.kind == "adaptive"]
    assert [(e.data["pairs"], e.data["decision"]) for e in looks] == [(1, "continue"), (2, "continue"), (3, "efficacy")]
    assert looks[-1].text.startswith("Decided after 3 sets per leg: right less stable (R − L +")
    (verdict,) = run.store.get_session(run.session_id).scores["verdicts"]
    assert verdict["less_stable"] == "right" and verdict["alpha"] == vd.RDL_ADAPTIVE_ALPHA_FINAL == 0.039
    assert verdict["estimate"] > 6.0 and verdict["n"]["sets_right"] == 3


def test_the_post_primer_block_stops_when_the_before_after_question_is_futile(tmp_path):
    protocol = protocols.get("primer", trials_per_side=4, duration_s=12.0, exclude_s=2.0, rounds=1, rfe_rdl_reps=3,
                             familiarisation=0, pigeon_s=2.0, hip_lifts=1)
    # a steady patient whom the primer does not change: no change is called and each leg's 80 % interval excludes
    # an improvement of 20 % at the first look, so the post block stops after 3 of up to 8 trials per leg
    run = run_protocol(protocol, data_dir=tmp_path / "none", seed=5,
                       sim_subject={"preset": "healthy", "sway_scale_right": 1.3, **STEADY})
    looks = [e for e in run.events if e.kind == "adaptive"]
    assert [(e.data["pairs"], e.data["decision"]) for e in looks] == [(3, "futility")]
    assert looks[0].text.startswith("Decided after 3 trials per leg after the primer: no change is called, and an "
                                    "improvement of −20 % is unlikely on either leg (each leg's 80 % interval excludes it")
    scores = run.store.get_session(run.session_id).scores
    assert scores["stance"]["post_primer/eyes_open"]["headline"]["n"] == {"left": 3, "right": 3}
    # every before/after test keeps its fixed level; the post block's L/R test is the fixed-design 4 % test
    assert [v["verdict"] for v in scores["before_after"]["eyes_open"]["headline"]] == ["no detectable change"] * 3
    assert scores["stance"]["post_primer/eyes_open"]["headline"]["alpha"] == vd.ALPHA
    # the weak leg improves by 40 %: a change is called, so the block goes on and says which
    run = run_protocol(protocol, data_dir=tmp_path / "effect", seed=5,
                       sim_subject={"preset": "healthy", "sway_scale_right": 1.3, **STEADY},
                       sim_adjust=lambda step: {"sway_scale_right": 0.78} if step.phase == "post_primer" else {})
    looks = [e for e in run.events if e.kind == "adaptive"]
    assert looks[0].data["decision"] == "continue"
    assert "a change is called (RIGHT leg improved" in looks[0].text and looks[0].text.startswith(
        "Another trial per leg after the primer (4 of up to 8)")
    assert looks[-1].data["pairs"] == 8
    ba = run.store.get_session(run.session_id).scores["before_after"]["eyes_open"]["sides"]
    assert ba["right"]["verdict"] == "improved" and ba["left"]["verdict"] == "no detectable change"


def test_a_primer_set_read_short_is_kept_and_never_repeated(tmp_path):
    # weak-right, seed 2: in round 1 the right leg's rear-foot-elevated RDL set has nine repetitions (the patient
    # stopped early -- to the board the same as a repetition it could not recognise). Repeating the set (as
    # before) gave the patient a fourth set on that leg and waited to the 90 s limit first; the primer's dose
    # must not depend on the board's count.
    from station.assessment import steps

    protocol = protocols.get("primer", trials_per_side=1, post_trials=1, duration_s=10.0, exclude_s=2.0, rounds=3,
                             pigeon_s=1.0, hip_lifts=1, familiarisation=0)

    def nine_in_round_1(step):
        return {"rdl_reps": 9} if step.phase == "primer" and step.side == "right" and "round 1" in step.label else {}

    run = run_protocol(protocol, data_dir=tmp_path, seed=2, sim_subject={"preset": "weak-right"},
                       sim_adjust=nine_in_round_1)
    rfe = [t for t in run.store.trials(run.session_id) if t.task == "rfe_rdl"]
    assert [t.side for t in rfe] == ["left", "right"] * 3  # three rounds, one set per leg each: no repeat
    assert all(t.status == "finished" and t.repeat_of is None for t in rfe)
    assert [t.metrics["reps_counted"] for t in rfe] == [10.0, 9.0, 10.0, 10.0, 10.0, 10.0]
    short = rfe[1]
    assert short.reason == "9 of 10 repetitions were recognised" and len(short.rep_metrics) == 9
    assert any(e.kind == "trial_end" and e.text == "Set complete: 9 of 10 repetitions were recognised "
               "(a primer set is not repeated)." for e in run.events)
    # the set ends once no repetition was recognised for SET_IDLE_S (and not before ten could have been
    # done), not at the 90 s limit
    last_rep_end_s = max(r["t_end_s"] for r in short.rep_metrics)
    assert short.duration_s == pytest.approx(max(last_rep_end_s + steps.SET_IDLE_S,
                                                 short.metrics["stance_start_s"] + steps.RDL_FIRST_REP_S
                                                 + 11 * steps.RDL_REP_S), abs=0.1)
    assert short.duration_s < 45.0
    # the description keeps the recognised repetitions of the short set
    described = run.store.get_session(run.session_id).scores["primer_rdl"]["sides"]["right"]["lateral_shift_mm"]
    assert described["n"] == 29


def test_a_set_whose_live_count_ran_ahead_goes_on_to_its_last_repetition(tmp_path):
    # weak-right, seed 4: 29.5 s into the right leg's set the live count reached 10 with nine repetitions
    # done (one seen in two parts); the recount on the next second of data found nine, yet the set was ended
    # there, 3 s before the patient's tenth repetition ended, and stored with nine
    protocol = protocols.get("primer", trials_per_side=1, post_trials=1, duration_s=10.0, exclude_s=2.0, rounds=1,
                             pigeon_s=1.0, hip_lifts=1, familiarisation=0)
    run = run_protocol(protocol, data_dir=tmp_path, seed=4, sim_subject={"preset": "weak-right"})
    rfe = [t for t in run.store.trials(run.session_id) if t.task == "rfe_rdl"]
    assert [(t.side, t.status, t.metrics["reps_counted"]) for t in rfe] == [("left", "finished", 10.0),
                                                                            ("right", "finished", 10.0)]
    for last_s, tenth_end_s in _rdl_recordings_of(run, rfe):
        assert last_s > tenth_end_s  # the patient's tenth repetition is in the stored set
    live = [e.data["count"] for e in run.events if e.kind == "rep"]
    assert live.count(10) >= 2
