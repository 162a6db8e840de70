"""A single-leg session live on the virtual Wii Balance Board, on a real X display (Xvfb, Qt's xcb platform).

The test runs this module as a subprocess on a private Xvfb: the real window
(``station.dashboard.app.build_window(sim=True, sim_board="wii")``) on the virtual Wii Balance Board,
whose events go through the station's :class:`~station.board.wii.WiiBalanceBoardSource`, with a fast
runner clock; it starts a short single-leg session for a weak-right patient and grabs the X root while a
right-leg trial counts down (``wii-single-leg-running.png``), on the live page during a later right-leg
trial (``wii-live.png``: corner loads, rate, statokinesigram) and on the results page (``wii-results.png``). With
``STATION_SCREENSHOTS=DIR`` the pictures are kept (docs/screenshots/ holds the committed ones).

Usage of the driver: ``python -m tests.dashboard.test_wii_display DATA_DIR OUT_DIR``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .x_driver import grab_screen, run_driver, run_session
from .xdisplay import Xvfb, missing_tools

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"X tools missing: {missing_tools()}")

SHOTS = ("wii-single-leg-running.png", "wii-live.png", "wii-results.png")


def hold_board(device, gate: dict) -> None:
    """Let the free-running virtual Wii device run no further than ``gate["until"]`` (board time) while it
    is set: the live picture is taken in Qt's loop, which on a busy machine may not run for seconds of
    board time, so from the stance it is waiting for it grants the board a little time per look."""
    wait_readable = device.wait_readable

    def gated(timeout_s: float) -> bool:
        until = gate["until"]
        if until is not None and device.board.time_s >= until:
            time.sleep(0.002)
            return bool(device.board.pending_events)
        return wait_readable(timeout_s)

    device.wait_readable = gated


def main(data_dir: str, out_dir: str) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    from station.assessment.runner import FastClock
    from station.dashboard.app import build_window, qt_application
    from station.store import Store

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = qt_application()
    store = Store.open(data_dir)
    patient = store.add_patient(name="Wii runner (virtual)", body_mass_kg=72.0, dominant_leg="right")
    window = build_window(sim=True, sim_board="wii", seed=3, subject="weak-right", realtime=False, store=store,
                          clock_factory=FastClock, trials_per_side=3, duration_s=15.0, exclude_s=2.0)
    window.patients.select(patient)
    window.protocol.set_protocol("single-leg")
    window.tabs.setCurrentIndex(1)
    window.show()
    window.start()
    panel = window.protocol
    done: dict = {}
    gate: dict = {}

    def hold_at_live_stance(event):
        """In the runner's thread, as it cues the stance of the live picture: hold the board there."""
        if event.kind == "stance_start" and "RIGHT" in event.text:
            done["right_cued"] = done.get("right_cued", 0) + 1
            if done["right_cued"] == 3:
                gate["device"] = window.link.acquisition.source.device
                gate["until"] = gate["device"].board.time_s
                hold_board(gate["device"], gate)

    panel.signals.event.connect(hold_at_live_stance, Qt.DirectConnection)

    def grab(name: str, *, frozen: bool = False) -> None:
        if name in done:
            return
        done[name] = None  # events keep arriving while the screen settles: one grab per picture
        if frozen:  # the live page as drawn now: no redraw with newer frames of the free-running board
            window.redraw(full=True)
            window.timer.stop()
            window.redraw = lambda full=False: None
        try:
            done[name] = grab_screen(app, window, out / name, settle_ms=400)
        finally:
            if frozen:
                del window.redraw
                window.timer.start()

    def on_event(event):
        if event.kind == "stance_start" and "RIGHT" in event.text:
            done["right_stances"] = done.get("right_stances", 0) + 1
            if done["right_stances"] == 3:  # the second scored right trial: show the live page
                window.tabs.setCurrentIndex(0)
                live_picture()
        if event.kind != "countdown" or event.data.get("remaining_s", 99) > 5:
            return
        # right-leg trials recording, a few seconds before their end
        if done.get("right_stances") == 1:
            grab(SHOTS[0])

    def live_picture():
        """The live page (corner loads, rate, statokinesigram) once it shows only the right-leg stance."""
        if SHOTS[1] in done:
            return
        if not steady_on_the_right():
            gate["until"] = gate["device"].board.time_s + 0.2
            QTimer.singleShot(10, live_picture)
            return
        grab(SHOTS[1], frozen=True)
        gate["until"] = None
        window.tabs.setCurrentIndex(1)

    def steady_on_the_right() -> bool:
        """The live page's whole trail (board time) is the right-leg stance: the board is held from the cue
        (:func:`hold_board`) and moved on 0.2 s per look until it shows only that stance."""
        board = window.link.acquisition.board_window(window.trail_s)
        ml, _, _ = window.link.calibration.cop_mm(board.counts, threshold_n=200.0)
        return len(board.t_s) > 0 and board.t_s[-1] - board.t_s[0] > 0.9 * window.trail_s and bool(np.all(ml > 75.0))  # past the step onto the leg

    def finish():
        window.tabs.setCurrentWidget(window.scoreboard.parentWidget())
        QTest.qWait(300)
        grab(SHOTS[2])
        window.close()
        app.quit()

    run_session(app, window, store, on_event=on_event, finish=finish)
    return 0 if all(done.get(name) for name in SHOTS) else 1


def test_single_leg_session_live_on_the_virtual_wii_board_on_x(tmp_path):
    from PIL import Image

    out = tmp_path / "shots"
    with Xvfb(width=1600, height=1000) as x:
        run_driver("tests.dashboard.test_wii_display", tmp_path / "data", out, x)
    keep = os.environ.get("STATION_SCREENSHOTS")
    for name in SHOTS:
        rgb = np.asarray(Image.open(out / name).convert("RGB"))
        assert rgb.shape == (1000, 1600, 3)
        window = rgb[:900, :1500]
        assert len(np.unique(window.reshape(-1, 3)[::7], axis=0)) > 50, name
        g = window[0:80, 0:330].astype(int)
        assert ((g[..., 1] > g[..., 0] + 50) & (g[..., 1] > g[..., 2] + 40)).mean() > 0.2, name  # "Board connected"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(out / name, Path(keep) / name)
    from station.store import Store

    with Store.open(tmp_path / "data") as store:
        patient = next(p for p in store.list_patients() if p.name == "Wii runner (virtual)")
        session = store.list_sessions(patient.id)[-1]
        trials = store.trials(session.id)
    assert session.status == "finished" and session.protocol == "single-leg"
    assert session.board is None or "virtual" in str(session.board)
    asym = [v for v in session.scores["verdicts"] if v["kind"] == "asymmetry"]
    assert asym and all(v["less_stable"] in ("right", None) for v in asym), session.scores["verdicts"]
    assert all(t.status in ("finished", "failed") for t in trials)


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
