"""Start the dashboard: ``run_dashboard`` (used by ``station dashboard`` and ``station demo``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from station.errors import StationError

log = logging.getLogger(__name__)


def qt_application():
    """The process's QApplication (created once)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(["station"])
        app.setApplicationName("Balance Station")
    return app


def build_window(*, port: str | None = None, sim: bool = False, seed: int = 0, rate_hz: float = 80.0,
                 subject: str = "healthy", faults: str | None = None, board_id: int | None = None,
                 realtime: bool = True, store=None, sim_board: str = "station",
                 calibration=None, clock_factory=None, fps: float = 30.0, trials_per_side: int | None = None,
                 duration_s: float = 20.0, exclude_s: float = 3.0):
    """Create (not start) the main window and its board link; see :func:`run_dashboard`."""
    from station.dashboard.station_link import BoardLink, SimOptions
    from station.dashboard.window import MainWindow
    from station.store import Store

    qt_application()
    if sim == (port is not None):
        raise StationError("Choose --sim or --port DEV (one of them).")
    options = (SimOptions(seed=seed, rate_hz=rate_hz, subject=subject, faults=faults, board_id=board_id, realtime=realtime,
                          board=sim_board) if sim else None)
    link = BoardLink(port=port, sim=options, calibration=calibration)
    store = store if store is not None else Store.open()
    return MainWindow(link, store, fps=fps, clock_factory=clock_factory, trials_per_side=trials_per_side,
                      duration_s=duration_s, exclude_s=exclude_s)


def run_dashboard(*, port: str | None = None, sim: bool = False, seed: int = 0, rate_hz: float = 80.0,
                  subject: str = "healthy", faults: str | None = None, board_id: int | None = None,
                  screenshot: str | os.PathLike | None = None, after_s: float = 5.0, tab: str | None = None,
                  guided: bool = False, sim_board: str = "station") -> int:
    """Open the clinic dashboard on a serial board or the in-process virtual board; block until closed.

    Parameters
    ----------
    port : str or None
        Serial device of a board (or of ``station simulate``).
    sim : bool
        Use an in-process virtual board (real time), calibrated at start-up by the calibration wizard.
    sim_board : {"station", "wii"}
        Which virtual board ``sim`` runs (the station's, or a virtual Wii Balance Board).
    seed, rate_hz, subject, faults, board_id
        Virtual board settings (``subject``: healthy, weak-right, weak-left; ``faults``: FaultSpec;
        ``board_id``: None = the seed's own id, see :func:`station.board.virtual.board.virtual_board_id`).
    screenshot : path or None
        Save the window as PNG after ``after_s`` seconds and exit 0 (works offscreen).
    tab : str or None
        Tab shown first: live, protocol, result, before-after, history, calibration.
    guided : bool
        The demo's guided first run: the demo patient (added if missing) chosen, the primer
        protocol on the runner page at 10x speed, and a banner saying what to press.

    Returns
    -------
    int
        Exit status (0).
    """
    from PySide6.QtCore import QTimer

    app = qt_application()
    window = build_window(port=port, sim=sim, seed=seed, rate_hz=rate_hz, subject=subject, faults=faults,
                          board_id=board_id, sim_board=sim_board)
    if guided:
        window.guide_first_run(demo_patient(window.store))
    if tab:
        select_tab(window, tab)
    window.show()
    window.start()
    if screenshot is not None:
        target = Path(screenshot)

        def shoot():
            save_screenshot(window, target)
            window.close()
            app.quit()

        QTimer.singleShot(int(max(after_s, 0.0) * 1000), shoot)
    try:
        app.exec()
    finally:
        window.shutdown()
    return 0


TABS = {"live": 0, "protocol": 1, "result": 2, "before-after": 3, "history": 4, "calibration": 5}

#: the demo's patient (``station demo`` with a display)
DEMO_PATIENT = {"name": "Demo runner (virtual)", "body_mass_kg": 72.0, "birth_year": 1990, "sex": "female",
                "dominant_leg": "right", "notes": "virtual runner whose right hip drops"}


def demo_patient(store) -> int:
    """The demo patient's id (added on the first run)."""
    for p in store.list_patients():
        if p.name == DEMO_PATIENT["name"]:
            return p.id
    return store.add_patient(**DEMO_PATIENT)


def select_tab(window, name: str) -> None:
    if name not in TABS:
        raise StationError(f"unknown tab '{name}'; choose one of {', '.join(TABS)}.")
    window.tabs.setCurrentIndex(TABS[name])


def save_screenshot(widget, path: Path) -> Path:
    """Render ``widget`` to a PNG file (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path), "PNG"):
        raise StationError(f"could not write the screenshot {path}.")
    log.info("screenshot saved to %s", path)
    return path
