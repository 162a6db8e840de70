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
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(data_dir: str, out_dir: str) -> int:
    from PySide6.QtCore import Qt, QTimer
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
        app.processEvents()
        window.redraw(full=True)
        app.processEvents()
        path = out / name
        if not app.primaryScreen().grabWindow(0).save(str(path), "PNG"):
            raise SystemExit(f"could not save {path}")
        done[name] = path
        print(path, flush=True)

    def on_event(event):
        if (event.kind == "countdown" and "running" not in done and panel.step.text().find("post-primer") >= 0
                and event.data.get("remaining_s", 99) <= 4):
            done["running"] = True
            grab("x-display-protocol-running.png")

    def on_finished(session_id, scores):
        QTimer.singleShot(300, lambda: finish())

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

    def start_when_ready():
        if not window.started:
            QTimer.singleShot(200, start_when_ready)
            return
        panel.trials.setValue(3)
        panel.duration.setValue(10.0)
        panel.reps.setValue(3)
        QTest.qWait(300)
        QTest.mouseClick(panel.start, Qt.LeftButton)

    panel.signals.event.connect(on_event)
    panel.session_finished.connect(on_finished)
    QTimer.singleShot(200, start_when_ready)
    QTimer.singleShot(240_000, app.quit)  # never hang a test run
    try:
        app.exec()
    finally:
        window.shutdown()
        store.close()
    names = {"x-display-protocol-running.png", "x-display-results.png", "x-display-history.png"}
    return 0 if names <= set(done) else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
