"""Run the dashboard on the X display it is given and grab that display at three moments of a primer session.

Used by ``test_x_display.py`` as a subprocess (``QT_QPA_PLATFORM=xcb``, ``DISPLAY`` of a private
Xvfb): the window is the real one (``station.dashboard.app.build_window``) on the in-process virtual
board running faster than real time with a fast runner clock. It clicks Start on a short primer
session for the demo patient and saves, with ``QScreen.grabWindow(0)`` (the X root window, i.e. what
the X server shows):

- ``x-display-protocol-running.png``: a post-primer trial counting down;
- ``x-display-results.png``: the results page of the finished session (every headline verdict);
- ``x-display-history.png``: the History tab of a patient with five weekly visits.

Usage: ``python -m tests.dashboard.x_driver DATA_DIR OUT_DIR``; exit 0 when all three were written.

The session plumbing (:func:`run_session`), the screen grab (:func:`grab_screen`) and the launch on an
Xvfb (:func:`run_driver`) are shared with the Wii Balance Board's driver in ``test_wii_display.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: the runner page's step title during the adaptive post-primer block
POST_BLOCK = "after the primer"


def grab_screen(app, window, path: Path, *, settle_ms: int = 0) -> Path:
    """Redraw the window, let the X server show it (``settle_ms`` of Qt's loop), save the X root as PNG."""
    from PySide6.QtTest import QTest

    app.processEvents()
    window.redraw(full=True)
    if settle_ms:
        QTest.qWait(settle_ms)  # the X server shows what Qt painted (a tab just switched to, the last redraw)
    else:
        app.processEvents()
    if not app.primaryScreen().grabWindow(0).save(str(path), "PNG"):
        raise SystemExit(f"could not save {path}")
    print(path, flush=True)
    return path


def run_session(app, window, store, *, on_event, finish, prepare=None) -> None:
    """Click Start once the window's board is up (``prepare(panel)`` first), call ``on_event`` for every
    runner event and ``finish`` 0.3 s after the session ends; run Qt's loop until it quits (at most
    240 s, never hanging a test run), then shut the window and the store down."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    panel = window.protocol

    def start_when_ready():
        if not window.started:
            QTimer.singleShot(200, start_when_ready)
            return
        if prepare is not None:
            prepare(panel)
        QTest.qWait(300)
        QTest.mouseClick(panel.start, Qt.LeftButton)

    panel.signals.event.connect(on_event)
    panel.session_finished.connect(lambda session_id, scores: QTimer.singleShot(300, finish))
    QTimer.singleShot(200, start_when_ready)
    QTimer.singleShot(240_000, app.quit)
    try:
        app.exec()
    finally:
        window.shutdown()
        store.close()


def run_driver(module: str, data_dir: Path, out_dir: Path, x) -> None:
    """Run ``python -m module DATA_DIR OUT_DIR`` on the Xvfb ``x`` (xcb) and fail with its stderr."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", module, str(data_dir), str(out_dir)],
                          env=x.env(STATION_DATA_DIR=str(data_dir)), capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, (proc.stdout[-1500:], proc.stderr[-3000:])


def main(data_dir: str, out_dir: str) -> int:
    from PySide6.QtTest import QTest

    from station.assessment.runner import FastClock
    from station.dashboard.app import build_window, demo_patient, qt_application
    from station.store import Store

    from tests.dashboard.history_data import build_rehab_history

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = qt_application()
    store = Store.open(data_dir)
    rehab_id, _ = build_rehab_history(store)
    window = build_window(sim=True, seed=7, subject="weak-right", realtime=False, store=store, clock_factory=FastClock)
    window.guide_first_run(demo_patient(store))
    window.show()
    window.start()
    panel = window.protocol
    done: dict = {}

    def grab(name: str) -> None:
        done[name] = grab_screen(app, window, out / name)

    def on_event(event):
        if (event.kind == "countdown" and "running" not in done and POST_BLOCK in panel.step.text()
                and event.data.get("remaining_s", 99) <= 4):
            done["running"] = True
            grab("x-display-protocol-running.png")

    def finish():
        # the guided run opens the results page by itself at the end of the session
        if window.tabs.currentWidget() is not window.scoreboard.parentWidget():
            raise SystemExit("the guided run did not open the results page")
        QTest.qWait(300)
        grab("x-display-results.png")
        window.patients.select(rehab_id)
        window.tabs.setCurrentWidget(window.history)
        QTest.qWait(300)
        grab("x-display-history.png")
        window.close()
        app.quit()

    def prepare(panel):
        panel.trials.setValue(3)
        panel.duration.setValue(10.0)
        panel.reps.setValue(3)

    run_session(app, window, store, on_event=on_event, finish=finish, prepare=prepare)
    names = {"x-display-protocol-running.png", "x-display-results.png", "x-display-history.png"}
    return 0 if names <= set(done) else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
