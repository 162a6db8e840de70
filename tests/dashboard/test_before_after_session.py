"""The "Before / after" tab showing a real primer session: recorded by the assessment runner on the
virtual board (shortened settings, faster than real time), stored, then opened from the session list.

The virtual patient is the ``weak-right`` preset (right leg sways 1.5x); after the primer its right
leg sways 50 % less (what ``station assess --sim --primer-effect 50`` does), the left is unchanged.
"""

from PySide6.QtCore import Qt

from station.assessment import protocols
from station.assessment.runner import FastClock, Runner
from station.board.virtual import Subject
from station.dashboard.station_link import SimOptions

from .conftest import image_stats, known_board, plain_text, save_png

PRIMER_EFFECT = 0.50


def _short_primer():
    # baseline and post-primer blocks of 5 x 10 s per side; one short primer round
    return protocols.get("primer", trials_per_side=5, post_trials=5, duration_s=10.0, exclude_s=2.0, rounds=1, pigeon_s=2.0,
                         hip_lifts=2, hip_lift_s_per_rep=1.0, rfe_rdl_reps=2, rfe_rdl_max_s=30.0)


def _pct(value: float) -> str:
    text = f"{value:+.0f}"
    return ("0" if text in ("+0", "-0") else text) + " %"


def test_before_after_tab_shows_the_stored_primer_sessions_verdicts(qtbot, make_window, store, tmp_path):
    model, calibration = known_board(4)
    window = make_window(SimOptions(seed=4, realtime=False, chunk_s=0.05, subject="weak-right", board_model=model),
                         calibration=calibration)
    window.resize(1500, 900)
    qtbot.keyClicks(window.patients.name, "Primer P")
    window.patients.mass.setValue(70.0)
    qtbot.mouseClick(window.patients.add, Qt.LeftButton)
    patient = window.patients.patient

    reduced = Subject.named("weak-right").sway_scale_right * (1.0 - PRIMER_EFFECT)
    runner = Runner(_short_primer(), acquisition=window.link.acquisition, store=store, patient_id=patient.id,
                    calibration=window.link.calibration, clock=FastClock(), sim_subject={"preset": "weak-right"},
                    sim_adjust=lambda step: {"sway_scale_right": reduced} if step.phase == "post_primer" else {})
    session_id = runner.run()
    session = store.get_session(session_id)
    assert session.status == "finished"
    trials = store.trials(session_id)
    finished = [(t.phase, t.side) for t in trials if t.status == "finished" and t.task == "single_leg"]
    assert finished == [("baseline", s) for s in ("left", "right") * 5] + [("post_primer", s) for s in ("left", "right") * 5]

    # the clinician opens the session from the list: the window switches to the Before / after tab
    window.patients.refresh_sessions()
    sessions = window.patients.sessions
    qtbot.mouseClick(sessions.viewport(), Qt.LeftButton, pos=sessions.visualItemRect(sessions.item(0)).center())
    view = window.before_after
    assert window.tabs.currentWidget() is view

    block = session.scores["before_after"]["eyes_open"]["sides"]
    right_sway = block["right"]["metrics"]["mean_velocity_ml_mm_s"]
    left_sway = block["left"]["metrics"]["mean_velocity_ml_mm_s"]
    # ground truth: the right leg's ML velocity dropped by about the primer effect, well beyond its
    # MDC95. (The unchanged left leg's verdict is left to chance: 5 trials of 10 s per phase, and the
    # stance timing of the faster-than-real-time board varies from run to run.)
    assert right_sway["change_pct"] < -25.0 and -right_sway["change"] > right_sway["mdc95"]
    assert right_sway["verdict"] == "improved"

    table = view.table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    r = rows["RIGHT · ML velocity (mm/s)"]
    assert table.item(r, 1).text() == f"{right_sway['baseline_mean']:.1f}"
    assert table.item(r, 2).text() == f"{right_sway['post_mean']:.1f}"
    assert table.item(r, 3).text() == f"{right_sway['change']:+.1f} ({right_sway['change_pct']:+.0f} %)".replace("-", "−")
    assert table.item(r, 4).text() == f"{right_sway['mdc95']:.1f}"
    assert table.item(r, 5).text() == "improved"
    # every row shows the stored scoring: values, change, MDC95 and verdict
    for side in ("left", "right"):
        for metric, label in (("sway_index", "Sway index (× reference)"), ("ellipse95_area_mm2", "95 % ellipse area (mm²)")):
            m = block[side]["metrics"][metric]
            decimals = 2 if metric == "sway_index" else 0
            r = rows[f"{side.upper()} · {label}"]
            assert table.item(r, 1).text() == f"{m['baseline_mean']:.{decimals}f}"
            assert table.item(r, 4).text() == f"{m['mdc95']:.{decimals}f}"
            assert table.item(r, 5).text() == m["verdict"]
    assert table.item(rows["LEFT · ML velocity (mm/s)"], 5).text() == left_sway["verdict"]
    # the headline per side: the verdict of its sway index, with the index's change
    left_index, right_index = (block[side]["metrics"]["sway_index"] for side in ("left", "right"))
    assert block["right"]["verdict"] == right_index["verdict"]
    assert right_index["change_pct"] < -10.0
    from station.assessment.results import SessionScores
    from station.report.wording import verdict_estimate

    # the summary line is the session's headline before/after verdicts (page 1 of the report), in order
    heads = SessionScores.from_dict(session.scores).before_after["eyes_open"].headline
    assert [v.side for v in heads] == ["left", "right", None]
    assert plain_text(view.summary) == "  ·  ".join(
        f"{v.side.upper() + ' leg' if v.side else 'Asymmetry'}: {v.outcome.value} ({verdict_estimate(v)})"
        for v in heads)
    assert view.title.text() == "Before / after the primer — single-leg stance, eyes open"
    assert table.horizontalHeaderItem(1).text() == "before (mean of 5)"

    # the session list names the primer's effect per side
    assert sessions.item(0).text().endswith(
        f"; after the primer: left {heads[0].outcome.value}, right {heads[1].outcome.value}")
    qtbot.wait(500)  # the link-quality figures refresh (the runner held the UI thread)
    w, h, colours, ink = image_stats(save_png(window, tmp_path, "before-after.png"))
    assert (w, h) == (1500, 900) and colours > 50 and ink > 0.05
