"""Live views on the real-time virtual board, and unplugging the board mid-trial."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from station.dashboard.station_link import SimOptions

from .conftest import image_stats, known_board, save_png


def test_live_view_shows_the_standing_patient(qtbot, make_window, tmp_path):
    model, cal = known_board(3)
    window = make_window(SimOptions(seed=3, subject="healthy", board_model=model), calibration=cal)
    window.patients.name.setText("Quiet Q")
    window.patients.mass.setValue(70.0)
    qtbot.mouseClick(window.patients.add, Qt.LeftButton)
    # 3 s of real time: the virtual patient has stepped on and settled
    qtbot.waitUntil(lambda: window.link.acquisition.quality["frames"] >= 240, timeout=20_000)
    qtbot.wait(1500)
    # the load bars: a 70 kg subject, within a few percent
    total = window.loads.total.text()
    kg = float(total.split()[1])
    assert kg == pytest.approx(70.0, abs=3.0)
    assert "% body weight" in window.loads.split.text()
    heights = np.asarray(window.loads.bars.opts["height"])
    assert heights.sum() == pytest.approx(kg, abs=0.1)
    # the statokinesigram: a trail, an ellipse, and the COP near the centre of the board
    x, y = window.stato.trail.getData()
    assert len(x) > 100
    assert abs(np.nanmean(x)) < 60 and abs(np.nanmean(y)) < 60
    ex, _ = window.stato.ellipse.getData()
    assert len(ex) == 73
    # link quality: connected, about 80 frames/s, nothing lost
    assert window.quality.state.text() == "Board connected"
    assert window.quality.values["rate"].text() == "80 Hz" and window.quality.names["rate"].text() == "rate (of 80)"
    assert window.quality.values["lost"].text() == "0"
    assert window.quality.cells.text() == ""  # four healthy cells: no cell problem named
    # the time series is drawn from the ring buffer with peak downsampling and clipping
    item = window.series.ml_plot.getPlotItem()
    assert item.ctrl.downsampleCheck.isChecked() or item.downsampleMode() == "peak"
    assert item.clipToViewMode()
    w, h, colours, ink = image_stats(save_png(window, tmp_path, "live.png"))
    assert (w, h) == (window.width(), window.height())
    assert colours > 50 and ink > 0.05


def test_unplugging_the_board_mid_trial_shows_it_and_recovers(qtbot, make_window, store):
    from station.board.virtual import FaultSpec

    model, cal = known_board(5)
    window = make_window(SimOptions(seed=5, board_model=model), calibration=cal, trials_per_side=1, duration_s=20.0,
                         exclude_s=2.0)
    window.patients.name.setText("Unplug U")
    qtbot.mouseClick(window.patients.add, Qt.LeftButton)
    window.tabs.setCurrentIndex(1)
    qtbot.mouseClick(window.protocol.start, Qt.LeftButton)
    acq = window.link.acquisition
    qtbot.waitUntil(lambda: acq.recording_frames > 80, timeout=20_000)
    # unplug: the link goes away 0.2 s from now (board time) for 2.5 s
    board = window.link.board
    board.faults = FaultSpec.parse(f"disconnect={board.time_s + 0.2:.3f}:2.5")
    state = window.quality.state
    qtbot.waitUntil(lambda: state.text() == "Board disconnected — reconnecting…", timeout=5_000)
    assert state.property("state") == "reconnecting"
    assert window.protocol.stop.isEnabled()  # the trial goes on recording through the gap
    qtbot.waitUntil(lambda: state.text() == "Board connected", timeout=10_000)
    frames = acq.quality["frames"]
    qtbot.waitUntil(lambda: acq.quality["frames"] > frames + 80, timeout=5_000)
    assert acq.quality["gaps"] == 1
    window.protocol.stop_protocol()
    qtbot.waitUntil(lambda: window.protocol.start.isEnabled(), timeout=20_000)
    trial = store.trials(window.protocol.runner.session_id)[0]
    # the interrupted trial keeps what was recorded and marks the gap
    assert trial.status == "aborted"
    assert len(trial.gaps) == 1
    t0, t1 = trial.gaps[0]
    assert t1 - t0 == pytest.approx(2.5, abs=0.3)


def test_calibration_wizard_from_the_dashboard_recalibrates_and_resumes(qtbot, make_window):
    model, cal = known_board(7)
    window = make_window(SimOptions(seed=7, board_model=model), calibration=cal)
    panel = window.calibration_panel
    window.tabs.setCurrentWidget(panel)
    qtbot.mouseClick(panel.start, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.result.text().startswith(("PASS", "FAIL")) or "failed" in panel.result.text(),
                    timeout=60_000)
    assert panel.result.text().startswith("PASS"), panel.result.text()
    assert panel.table.rowCount() == 9
    # every prompt became a numbered step: tare, 9 placements, tare again, 9 verifications, remove
    steps = [panel.steps.item(i).text() for i in range(panel.steps.count())]
    assert len(steps) == 21 and steps[0].startswith("1. Clear the board")
    assert steps[1] == "2. Place 20 kg at 100 mm left, 75 mm forward of the centre."
    # the fitted gains are the board's hidden ones (1 / counts per newton), within 0.2 %
    np.testing.assert_allclose(window.link.calibration.gains_n_per_count, 1.0 / np.asarray(model.gains_counts_per_n),
                               rtol=2e-3)
    assert window.link.calibration is not cal
    # the live stream is back
    qtbot.waitUntil(lambda: window.link.ready and window.link.acquisition is not None, timeout=10_000)
    acq = window.link.acquisition
    qtbot.waitUntil(lambda: acq.quality["frames"] > 40, timeout=10_000)
    assert acq.state == "connected"
    assert window.protocol.start.isEnabled()


def test_faults_from_the_help_disconnect_reconnect_and_recover_in_real_time(qtbot, make_window):
    """`station dashboard --sim --faults disconnect=T:D`: T counts from the live start, not from the
    start-up calibration (which runs minutes of board time in a second); the badge goes amber, then
    green with the gap named, and no internal transport name is shown."""
    window = make_window(SimOptions(seed=3, faults="disconnect=2:1.5"))
    state, detail = window.quality.state, window.quality.detail
    acq = window.link.acquisition
    qtbot.waitUntil(lambda: state.property("state") == "connected", timeout=10_000)
    qtbot.waitUntil(lambda: state.property("state") == "reconnecting", timeout=15_000)
    assert state.text() == "Board disconnected — reconnecting…"
    assert state.wordWrap()  # two lines in the side panel rather than cut off
    qtbot.waitUntil(lambda: state.property("state") == "connected" and "Recovered" in detail.text(), timeout=15_000)
    assert acq.quality["gaps"] == 1 and acq.quality["gap_s"] == pytest.approx(1.5, abs=0.3)
    assert detail.text() == f"Recovered: 1 gap ({acq.quality['gap_s']:.1f} s in all), marked in the recording."
    assert "virtual:" not in detail.text() + window.source.text() + window.startup_text.text()


def test_faults_over_a_port_disconnect_reconnect_and_recover(qtbot, store, tmp_path):
    """`station simulate --faults disconnect=T:D` on a pseudo-terminal, the dashboard on `--port`: the
    badge shows the reconnect and then the recovered gap (the board has no calibration: the link
    state shows all the same)."""
    import subprocess
    import sys
    import time

    from station.dashboard.station_link import BoardLink
    from station.dashboard.window import MainWindow

    link_path = tmp_path / "board"
    sim = subprocess.Popen([sys.executable, "-m", "station", "--data-dir", str(tmp_path / "sim"), "simulate",
                            "--faults", "disconnect=5:2", "--link", str(link_path), "--seconds", "40"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not link_path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert link_path.exists(), sim.stderr.read() if sim.poll() is not None else "no pty link"
        window = MainWindow(BoardLink(port=str(link_path)), store)
        qtbot.addWidget(window)
        window.show()
        window.start()
        try:
            qtbot.waitUntil(lambda: window.started or window.link.error is not None, timeout=30_000)
            assert window.link.error is None
            state, detail = window.quality.state, window.quality.detail
            qtbot.waitUntil(lambda: state.property("state") == "reconnecting", timeout=20_000)
            qtbot.waitUntil(lambda: state.property("state") == "connected" and "Recovered" in detail.text(),
                            timeout=20_000)
            assert window.link.acquisition.quality["gaps"] == 1
            assert "virtual:" not in detail.text() + window.source.text()
        finally:
            window.shutdown()
    finally:
        sim.terminate()
        sim.wait(10)


def test_a_dead_cell_is_named_on_the_live_view(qtbot, make_window):
    """`--faults dead=fr@T`: the live view names the front-right cell (the core's cell health), in red."""
    window = make_window(SimOptions(seed=3, subject="healthy", faults="dead=fr@1"))
    cells = window.quality.cells
    qtbot.waitUntil(lambda: window.quality.state.property("state") == "connected", timeout=10_000)
    assert not cells.isVisible() or cells.text() == ""
    qtbot.waitUntil(lambda: "front-right" in cells.text(), timeout=15_000)
    assert cells.text().startswith("Load cell problem: ") and "(fr)" in cells.text()
    assert cells.isVisibleTo(window)


def test_a_lost_database_server_is_shown_on_the_live_view(qtbot, make_window):
    """The store says its server went away (Store.offline_reason, set by the store when a PostgreSQL
    connection fails; tests/store runs that for real): the clinician reads it on the live view."""
    window = make_window(SimOptions(seed=3, subject="healthy"))
    qtbot.waitUntil(lambda: window.quality.state.property("state") == "connected", timeout=10_000)
    assert window.quality.database.text() == ""
    router = window.store._db  # the router sets this when a connection to the server fails
    router.offline_reason = "connection refused"
    qtbot.waitUntil(lambda: "Database server unreachable" in window.quality.database.text(), timeout=5_000)
    assert "keeps recording" in window.quality.database.text() and window.quality.database.isVisibleTo(window)
    router.offline_reason = None  # what the router does once the outbox is uploaded
    qtbot.waitUntil(lambda: window.quality.database.text() == "", timeout=5_000)
