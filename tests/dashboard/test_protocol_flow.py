"""A whole single-leg protocol driven by clicks on the virtual board, ending with the L/R result.

The virtual board runs faster than real time (``realtime=False``) and the runner uses a
``FastClock``; the board is calibrated at start-up by the calibration wizard (scripted masses), as
with ``station dashboard --sim``.
"""

from PySide6.QtCore import Qt

from station.assessment.runner import FastClock
from station.dashboard.station_link import SimOptions

from .conftest import image_stats, save_png


def _click_tab(qtbot, window, title):
    bar = window.tabs.tabBar()
    index = next(i for i in range(bar.count()) if bar.tabText(i) == title)
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(index).center())
    assert window.tabs.currentIndex() == index


def test_single_leg_protocol_by_clicks_names_the_weak_side(qtbot, make_window, store, tmp_path):
    window = make_window(SimOptions(seed=1, realtime=False, chunk_s=0.05), clock_factory=FastClock,
                         trials_per_side=5, duration_s=10.0, exclude_s=2.0)
    # the start-up calibration ran through the calibration page: its verification table is filled
    calib = window.calibration_panel
    assert calib.table.rowCount() == 9
    assert all(calib.table.item(r, 5).text() == "pass" for r in range(9))
    assert calib.result.text().startswith("PASS")

    qtbot.keyClicks(window.patients.name, "Runner A")
    window.patients.mass.setValue(70.0)
    qtbot.mouseClick(window.patients.add, Qt.LeftButton)
    assert window.patients.patient.name == "Runner A"

    _click_tab(qtbot, window, "Protocol")
    panel = window.protocol
    panel.subject.setCurrentText("weak-right")
    shots = {}

    recorded_sides = []

    def mid_trial_screenshot(event):
        # one frame of the running protocol: cue and countdown as the patient sees them. Which trial
        # the first countdown under 6 s falls in depends on the load (the fast clock emits per chunk
        # of board data, and a loaded machine delivers bigger chunks), so the leg it must name is the
        # leg of the trial being recorded, not a fixed one.
        if event.kind == "recording":
            recorded_sides.append(event.data["side"])
        if event.kind == "countdown" and event.data["remaining_s"] <= 6 and "running" not in shots:
            shots["side"] = recorded_sides[-1]
            # the board runs faster than real time here: draw the newest data before the grab
            window.redraw(full=True)
            shots["running"] = save_png(window, tmp_path, "protocol-running.png")
            shots["cue"], shots["countdown"] = panel.cue.text(), panel.countdown.text()
            shots["remaining_s"] = event.data["remaining_s"]

    panel.signals.event.connect(mid_trial_screenshot)
    disagreements = []

    def header_and_cue_agree(event):
        # after every event: a header naming a leg and a cue naming a leg name the same one
        header, cue = panel.step.text().lower(), panel.cue.text()
        header_side = {s for s in ("left", "right") if f" {s} " in f" {header} "}
        cue_side = {s for s in ("left", "right") if s.upper() in cue}
        if header.startswith("step") and header_side and cue_side and header_side != cue_side:
            disagreements.append((event.kind, panel.step.text(), cue))

    panel.signals.event.connect(header_and_cue_agree)
    assert panel.start.isEnabled()
    qtbot.mouseClick(panel.start, Qt.LeftButton)
    assert not panel.start.isEnabled() and panel.stop.isEnabled()
    # the session's end, whatever its verdict (a free-running board's session differs from run to run, and a
    # wait for the words of one verdict would run into the timeout on another)
    qtbot.waitUntil(lambda: panel.start.isEnabled() and panel.result.text() != "", timeout=240_000)
    assert recorded_sides[0] == "left"  # the protocol starts on the left leg
    assert shots["cue"] == f"Stand on your {shots['side'].upper()} leg, eyes open, hands on hips."
    assert disagreements == []
    # the countdown shows the runner's remaining time of that event (how far into the trial the
    # first event under 6 s falls depends on the load: the fast clock emits per chunk of board data)
    assert 0 <= shots["remaining_s"] <= 6  # 0 when the board ran past the last seconds between two looks
    assert shots["countdown"] == f"{round(shots['remaining_s'])}"

    session = store.list_sessions(window.patients.patient.id)[-1]
    assert session.status == "finished"
    trials = store.trials(session.id)
    assert [t.side for t in trials if t.status == "finished" and t.task == "single_leg"] == ["left", "right"] * 5
    from station.assessment.results import SessionScores
    from station.report.wording import verdict_estimate

    verdicts = SessionScores.from_dict(session.scores).verdicts
    headline = verdicts[0]
    assert headline.block == "stance/baseline/eyes_open"
    # never the wrong leg; the weak right leg is named in nearly every session (SI about +40 %; a free-running
    # board's session differs from run to run, so a session that names no side is possible)
    assert headline.less_stable in ("right", None), (headline, [(t.side, t.metrics.get("sway_index")) for t in trials])
    text = panel.result.text()
    assert text.endswith(verdict_estimate(headline))
    if headline.less_stable is None:
        return
    # what the clinician reads on the runner page: the side and the asymmetry with its interval
    assert text == f"RIGHT leg less stable\n{verdict_estimate(headline)}"
    level = f"{round(100 * (1 - headline.alpha), 4):g}"  # the level of the look where the adaptive block stopped

    def whole(x):  # a signed whole number, a true minus; an interval end near 0 keeps a decimal (never "+0")
        for places in range(4):
            if float(f"{x:+.{places}f}"):
                return f"{x:+.{places}f}".replace("-", "−")
        return "0"

    assert (f"SI {whole(headline.estimate)} % [{whole(headline.interval.low)}, {whole(headline.interval.high)}] "
            f"{level} % CI") in text
    assert headline.interval.low > 0
    # the runner page's header and cue agree at the end: no stale step or cue
    assert panel.step.text() == f"Done: all {len(panel.runner.protocol.steps)} steps."
    assert panel.cue.text() == "Session finished."

    # the L/R page shows the same verdict and the per-side table
    board = window.scoreboard
    assert board.verdict.text().startswith("RIGHT leg less stable")
    # every headline verdict of the session is a row of the results page, in the report's order
    assert board.verdicts.rowCount() == len(verdicts)
    assert [board.verdicts.item(r, 2).text() for r in range(len(verdicts))] == [verdict_estimate(v) for v in verdicts]
    rows = {board.table.item(r, 0).text(): r for r in range(board.table.rowCount())}
    r = rows["ML velocity (mm/s)"]
    sides = session.scores["stance"]["baseline/eyes_open"]["sides"]
    assert board.table.item(r, 1).text().startswith(f"{sides['left']['mean_velocity_ml_mm_s']['mean']:.1f} ±")
    assert board.table.item(r, 2).text().startswith(f"{sides['right']['mean_velocity_ml_mm_s']['mean']:.1f} ±")
    assert board.table.item(r, 4).text() == session.scores["stance"]["baseline/eyes_open"]["asymmetry"][
        "mean_velocity_ml_mm_s"]["verdict"]
    assert board.table.item(r, 3).text().endswith("95 % CI")  # a descriptive row: its own 95 % interval
    # the session list now holds the session with its one-line summary; clicking it shows its result
    sessions = window.patients.sessions
    assert "RIGHT leg less stable" in sessions.item(0).text()
    window.scoreboard.clear()
    _click_tab(qtbot, window, "Live")
    qtbot.mouseClick(sessions.viewport(), Qt.LeftButton, pos=sessions.visualItemRect(sessions.item(0)).center())
    assert window.tabs.currentIndex() == 2
    assert board.verdict.text().startswith("RIGHT leg less stable")

    # the PDF report of the session, written in the background
    assert window.export_pdf.isEnabled()
    window.export_to(tmp_path / "session.pdf", fmt="pdf")
    qtbot.waitUntil(lambda: "written" in window.export_status.text() or "failed" in window.export_status.text(),
                    timeout=60_000)
    assert window.export_status.text() == f"PDF written to {tmp_path / 'session.pdf'}."
    assert (tmp_path / "session.pdf").read_bytes()[:5] == b"%PDF-"
    # the data export writes CSV, JSON and C3D; the status line names every file it wrote
    window.export_status.setText("")
    window.export_to(tmp_path / "export", fmt=("csv", "json", "c3d"))
    qtbot.waitUntil(lambda: "written" in window.export_status.text() or "failed" in window.export_status.text(),
                    timeout=60_000)
    files = sorted(p.name for p in (tmp_path / "export").iterdir())
    status = window.export_status.text()
    assert status.startswith(f"CSV, JSON, C3D written to {tmp_path / 'export'}: ")
    assert {"csv", "json", "c3d"} <= {name.rsplit(".", 1)[-1] for name in files}
    assert all(name in status for name in files), (status, files)

    for name, tab in (("protocol-result.png", "Protocol"), ("lr-scoreboard.png", "L/R result"),
                      ("calibration-wizard.png", "Calibration")):
        _click_tab(qtbot, window, tab)
        qtbot.wait(100)
        w, h, colours, ink = image_stats(save_png(window, tmp_path, name))
        assert (w, h) == (window.width(), window.height())
        assert colours > 50 and ink > 0.05


def test_the_virtual_board_runs_a_protocol_faster_than_real_time_when_asked(qtbot, make_window, store):
    """The runner page's speed choice: the real-time virtual board and the runner's clock both run 20x."""
    import time

    window = make_window(SimOptions(seed=5), trials_per_side=2, duration_s=6.0, exclude_s=2.0)
    qtbot.keyClicks(window.patients.name, "Fast F")
    qtbot.mouseClick(window.patients.add, Qt.LeftButton)
    panel = window.protocol
    panel.speed.setCurrentIndex(panel.speed.findData(20.0))
    assert panel.speed.currentText() == "20× faster" and panel.speed_factor == 20.0
    board = window.link.board
    t0_wall, t0_board = time.monotonic(), board.time_s
    qtbot.mouseClick(panel.start, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.start.isEnabled() and not panel.running, timeout=120_000)
    wall_s, board_s = time.monotonic() - t0_wall, board.time_s - t0_board
    session = store.list_sessions(window.patients.patient.id)[-1]
    assert session.status == "finished"
    trials = [t for t in store.trials(session.id) if t.task == "single_leg" and t.status == "finished"]
    assert [t.side for t in trials] == ["left", "right"] * 2
    # four 6 s trials with rests: tens of seconds of board time in a few seconds of wall time
    assert board_s > 30.0 and board_s / wall_s > 5.0, (board_s, wall_s)
    # back to real time for the live view
    assert window.link.acquisition.transport.speed == 1.0


def test_an_rdl_session_by_clicks_uses_the_repetitions_field_and_shows_its_verdict(qtbot, make_window, store,
                                                                                   tmp_path):
    from station.assessment.results import SessionScores
    from station.report.wording import verdict_estimate

    window = make_window(SimOptions(seed=6, realtime=False, chunk_s=0.05), clock_factory=FastClock)
    qtbot.keyClicks(window.patients.name, "Runner R")
    qtbot.mouseClick(window.patients.add, Qt.LeftButton)
    _click_tab(qtbot, window, "Protocol")
    panel = window.protocol
    panel.set_protocol("rdl")
    assert not panel.reps.isHidden() and panel.trials.isHidden() and panel.duration.isHidden()
    panel.reps.setValue(5)
    panel.subject.setCurrentText("weak-right")
    qtbot.mouseClick(panel.start, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.start.isEnabled() and not panel.running, timeout=120_000)
    session = store.list_sessions(window.patients.patient.id)[-1]
    assert session.status == "finished" and session.protocol == "rdl"
    assert session.settings["settings"]["reps"] == 5
    verdicts = SessionScores.from_dict(session.scores).verdicts
    assert [v.block for v in verdicts] == ["rdl"]
    board = window.scoreboard
    assert board.verdicts.rowCount() == 1
    assert board.verdicts.item(0, 0).text() == "Single-leg RDL, lateral weight shift"
    assert board.verdicts.item(0, 2).text() == verdict_estimate(verdicts[0])
    assert board.block.currentData() == "rdl" and board.table.rowCount() >= 1
    # its report: page 1 names the RDL verdict; kept as the docs' RDL report pages when asked
    window.export_to(tmp_path / "rdl.pdf", fmt="pdf")
    qtbot.waitUntil(lambda: "written" in window.export_status.text() or "failed" in window.export_status.text(),
                    timeout=60_000)
    assert window.export_status.text() == f"PDF written to {tmp_path / 'rdl.pdf'}."
    from tests.report.test_report_text_bounds import check_report, keep_page

    check_report(tmp_path / "rdl.pdf")
    for page in (1, 2):
        keep_page(tmp_path / "rdl.pdf", page, f"report-rdl-page-{page}.png", tmp_path)
