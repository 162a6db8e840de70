"""The main window: side panel (link state, patient, sessions) and the tabbed views.

Redraws run on a :class:`QTimer` (``fps``, default 30) independent of the board's rate: each tick
takes the newest ``trail_s`` of the board's own clock from the acquisition's ring buffer (``board_window``: a
virtual board run faster than real time shows its own seconds), calibrates them once and
hands the result to the visible views (a tick with no new frame draws nothing). Nothing on the UI
thread reads a port, compiles a kernel or writes a file: start-up (numba warm-up, opening the board,
calibrating the virtual board), the protocol runner, the calibration wizard and exports run in worker
threads and report back through queued signals. The objects loaded at start-up are frozen out of
the garbage collector (``gc.freeze``): a full collection of them paused the UI thread 60-115 ms.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from station.core.health import cell_problems
from station.dashboard import theme
from station.dashboard.calibration_view import CalibrationPanel
from station.dashboard.live_data import cop_threshold_n, live_frame
from station.dashboard.live_views import (
    LinkQuality,
    LoadBars,
    Statokinesigram,
    SwaySeries,
)
from station.dashboard.history_view import HistoryView
from station.dashboard.patients_view import PatientPanel
from station.dashboard.protocol_view import ProtocolPanel
from station.dashboard.results_views import BeforeAfter, Scoreboard
from station.errors import StationError

log = logging.getLogger(__name__)

#: how often the link quality figures are refreshed (every n-th redraw)
QUALITY_EVERY = 10
#: seconds of the newest frames the live cell-health check looks at
CELL_CHECK_S = 2.0


class _StartupSignals(QObject):
    progress = Signal(float, str)
    done = Signal(object)
    exported = Signal(str, bool)


class MainWindow(QMainWindow):
    """The clinic dashboard.

    Parameters
    ----------
    link : BoardLink
        Not yet started; the window starts it in the background.
    store : station.store.Store
    fps : float
        Redraw rate of the live views.
    trail_s : float
        Seconds of COP trail and time series drawn.
    clock_factory : callable or None
        Clock for the protocol runner (``FastClock`` in tests).
    trials_per_side, duration_s : protocol defaults shown in the runner page.
    """

    def __init__(self, link, store, *, fps: float = 30.0, trail_s: float = 10.0, clock_factory=None,
                 trials_per_side: int | None = None, duration_s: float = 20.0, exclude_s: float = 3.0):
        super().__init__()
        self.link = link
        self.store = store
        self.trail_s = float(trail_s)
        self.frame_times_s: deque = deque(maxlen=100_000)  # seconds spent in each redraw (bench)
        self.frame_stamps_s: deque = deque(maxlen=100_000)  # when each redraw started (bench)
        self._tick = 0
        self._drawn = None  # (page, newest frame time) of the last redraw
        self._session_id: int | None = None
        self._guided = False
        self._last_state = None
        self.started = False  # the start-up finished and the window took it in (UI thread)
        self.setWindowTitle("Balance Station")
        self.setFont(theme.font(theme.BASE_PT))
        self.setStyleSheet(theme.STYLE_SHEET)
        self.signals = _StartupSignals()
        self.signals.progress.connect(self._on_startup_progress)
        self.signals.done.connect(self._on_started)
        self.signals.exported.connect(self._on_exported)

        # ---- side panel
        self.quality = LinkQuality()
        self.source = QLabel(link.source_text)
        self.source.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.source.setWordWrap(True)
        self.source.setStyleSheet(f"color: {theme.MUTED};")
        self.startup = QProgressBar()
        self.startup.setRange(0, 100)
        self.startup_text = QLabel("Starting…")
        self.startup_text.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.startup_text.setWordWrap(True)
        self.patients = PatientPanel(store)
        self.patients.patient_changed.connect(self._on_patient)
        self.patients.session_selected.connect(self.show_session)
        self.patients.sessions_changed.connect(self._on_sessions_changed)
        side = QWidget()
        sv = QVBoxLayout(side)
        sv.addWidget(self.quality)
        sv.addWidget(self.source)
        sv.addWidget(self.startup_text)
        sv.addWidget(self.startup)
        sv.addWidget(self.patients, 1)
        side.setMinimumWidth(330)
        side.setMaximumWidth(420)

        # ---- tabs
        positions = _positions(link)
        self.tabs = QTabWidget()
        live = QWidget()
        self.stato = Statokinesigram(positions, trail_s=trail_s)
        self.series = SwaySeries(span_s=trail_s)
        self.loads = LoadBars()
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.series)
        right.addWidget(self.loads)
        right.setSizes([420, 300])
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.stato)
        split.addWidget(right)
        split.setSizes([620, 520])
        QHBoxLayout(live).addWidget(split)
        self.tabs.addTab(live, "Live")

        self.protocol = ProtocolPanel(self._runner_context, clock_factory=clock_factory,
                                      trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s)
        self.protocol.session_finished.connect(self._on_session_finished)
        self.protocol.new_phase.connect(self._restart_protocol_trail)
        self._protocol_trail_since_t_s: float | None = None
        self.protocol_stato = Statokinesigram(positions, trail_s=5.0)
        protocol_page = QSplitter(Qt.Horizontal)
        protocol_page.addWidget(self.protocol)
        protocol_page.addWidget(self.protocol_stato)
        self.protocol_stato.setMinimumWidth(430)  # the plot title needs it (narrower clips the plot)
        protocol_page.setSizes([720, 440])
        self.tabs.addTab(protocol_page, "Protocol")

        results = QWidget()
        self.scoreboard = Scoreboard()
        self.export_pdf = QPushButton("Export PDF report…")
        self.export_data = QPushButton("Export data (CSV, JSON, C3D)…")
        self.export_pdf.clicked.connect(self._export_pdf)
        self.export_data.clicked.connect(self._export_data)
        self.export_status = QLabel("")
        self.export_status.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.export_status.setWordWrap(True)
        rv = QVBoxLayout(results)
        rv.addWidget(self.scoreboard, 1)
        row = QHBoxLayout()
        row.addWidget(self.export_pdf)
        row.addWidget(self.export_data)
        row.addWidget(self.export_status, 1)
        rv.addLayout(row)
        self.tabs.addTab(results, "L/R result")

        self.before_after = BeforeAfter()
        self.tabs.addTab(self.before_after, "Before / after")

        self.history = HistoryView(store)
        self.tabs.addTab(self.history, "History")

        self.calibration_panel = CalibrationPanel(start_calibration=self._start_calibration)
        self.calibration_panel.signals.finished.connect(self._after_calibration)
        self.tabs.addTab(self.calibration_panel, "Calibration")
        self._update_export_buttons()

        body = QSplitter(Qt.Horizontal)
        body.addWidget(side)
        body.addWidget(self.tabs)
        body.setSizes([340, 1160])
        self.setCentralWidget(body)
        self.resize(1500, 900)

        self.timer = QTimer(self)
        self.timer.setInterval(max(1, round(1000.0 / fps)))
        self.timer.timeout.connect(self.redraw)
        self.protocol.set_virtual(link.is_virtual)
        if link.sim is not None:
            self.protocol.subject.setCurrentText(link.sim.subject)
        self.protocol.start.setEnabled(False)
        self.calibration_panel.start.setEnabled(False)

    # ------------------------------------------------------------------ start-up
    def start(self) -> None:
        """Start the board link in the background and the redraw timer."""
        observer = self.calibration_panel.observer() if self.link.is_virtual else None
        self.link.start(on_progress=self.signals.progress.emit, on_done=self.signals.done.emit,
                        wizard_observer=observer)
        self.timer.start()

    def _on_startup_progress(self, fraction: float, text: str) -> None:
        self.startup.setValue(round(100 * fraction))
        self.startup_text.setText(text)
        self.quality.show_state("calibrating" if "alibrat" in text else "starting")

    def _on_started(self, error) -> None:
        if error is not None:
            self.quality.show_state("stopped", str(error))
            self.startup_text.setText(str(error))
            self.startup_text.setStyleSheet(f"color: {theme.BAD};")
            return
        self.startup.hide()
        self.startup_text.setText(self.link.status_text)
        info = self.link.info
        if info is not None:
            self.source.setText(f"{self.link.source_text} · board {info.board_id_hex} · firmware "
                                f"{info.firmware}")
        if self.link.calibration is not None:
            positions = self.link.calibration.geometry.positions_mm
            self.stato.set_geometry(positions)
            self.protocol_stato.set_geometry(positions)
        self.protocol.start.setEnabled(True)
        self.calibration_panel.start.setEnabled(True)
        if self.protocol.welcome.isVisible() or self._guided:
            self.protocol.show_welcome(self.patients.patient, ready=True)
        self.started = True
        # Qt, pyqtgraph, numba, scipy: several hundred thousand long-lived objects that every full
        # garbage collection walked (56-80 ms pauses of the UI thread measured at 1 kHz). Frozen,
        # the collector only looks at objects made from now on.
        gc.freeze()

    # ------------------------------------------------------------------ redraw
    def redraw(self, *, full: bool = False) -> None:
        """One timer tick: newest data -> visible views (never blocks on I/O).

        ``full`` also refreshes what normally follows at a slower rate (ellipse, read-outs, bars),
        e.g. before a screenshot.
        """
        t0 = time.perf_counter()
        self.frame_stamps_s.append(t0)
        self._tick += 1
        acq = self.link.acquisition
        if acq is None or not self.link.ready:
            return
        state = acq.state
        if self._tick % QUALITY_EVERY == 0 or state != self._last_state:
            quality = acq.quality
            self._last_state = state
            self.quality.show_state(state, state_detail(state, quality, _error_text(acq)))
            nominal = acq.info.nominal_rate_hz if acq.info is not None else None
            self.quality.show_quality(quality, nominal_rate_hz=nominal)
            self.quality.show_database(getattr(self.store, "offline_reason", None))
            recent = acq.snapshot(CELL_CHECK_S)
            if len(recent.t_s) >= 10:  # the core's cell health on the last seconds: the live view names a bad cell
                self.quality.show_cells(cell_problems(recent.counts, recent.status, fs_hz=float(nominal or 80.0)))
        page = self.tabs.currentIndex()
        if page not in (0, 1) or self.link.calibration is None:
            return  # the link state above still shows for a board without a calibration
        patient = self.patients.patient
        body_mass = patient.body_mass_kg if patient is not None else None
        window = acq.board_window(self.trail_s)
        newest = (page, float(window.t_s[-1]) if len(window.t_s) else None)
        if newest == self._drawn and not full:
            return  # no frame arrived since the last redraw (80 Hz board, link down): nothing changes
        self._drawn = newest
        frame = live_frame(window, self.link.calibration, threshold_n=cop_threshold_n(body_mass))
        if page == 0:
            self.stato.show_frame(frame, full=full)
            self.series.show_frame(frame)
            self.loads.show_frame(frame, full=full)
        else:
            self.protocol_stato.show_frame(frame, since_t_s=self._protocol_trail_since_t_s, full=full)
        self.frame_times_s.append(time.perf_counter() - t0)

    def _restart_protocol_trail(self) -> None:
        """The runner cued a new stance: the protocol page's trail and ellipse start afresh."""
        acq = self.link.acquisition
        if acq is not None:
            latest = acq.board_window(0.2).t_s
            self._protocol_trail_since_t_s = float(latest[-1]) if len(latest) else None

    # ------------------------------------------------------------------ protocol
    def _runner_context(self) -> dict:
        patient = self.patients.patient
        if patient is None:
            raise StationError("Choose or add a patient first.")
        if not self.link.ready or self.link.acquisition is None:
            raise StationError("The board is not ready yet.")
        if self.link.calibration is None:
            raise StationError("This board has no calibration: run the calibration wizard first.")
        return {"acquisition": self.link.acquisition, "calibration": self.link.calibration, "store": self.store,
                "patient_id": patient.id, "virtual": self.link.is_virtual, "set_speed": self.link.set_speed,
                "operator": self.patients.operator_name()}

    def _on_patient(self, patient) -> None:
        self.loads.set_body_mass(patient.body_mass_kg if patient is not None else None)
        self.protocol.set_patient(patient)
        if hasattr(self, "history"):
            self.history.show_patient(patient)

    def _on_sessions_changed(self) -> None:
        """A session or patient was deleted: forget a shown session that no longer exists."""
        if self._session_id is not None:
            try:
                gone = getattr(self.store.get_session(self._session_id), "deleted_at", None) is not None
            except StationError:
                gone = True
            if gone:
                self._session_id = None
                self.scoreboard.clear()
                self.before_after.show_scores(None)
                self._update_export_buttons()
        self.history.show_patient(self.patients.patient)

    def guide_first_run(self, patient_id: int, *, protocol: str = "primer") -> None:
        """The demo's first screen: the demo patient chosen, the protocol page open, one button to press."""
        self.patients.select(patient_id)
        self.protocol.set_protocol(protocol)
        self.protocol.speed.setCurrentIndex(self.protocol.speed.findData(10.0))
        self.protocol.show_welcome(self.patients.patient, ready=self.started)
        self._guided = True
        self.tabs.setCurrentIndex(1)

    def _on_session_finished(self, session_id: int, scores) -> None:
        self.patients.refresh_sessions()
        self.history.redraw()
        self.show_session(session_id, scores=scores, switch=False)
        if self._guided and self.scoreboard.verdicts.rowCount():
            # the demo promised it: the results page opens at the end, every block of the session on it
            self.tabs.setCurrentWidget(self.scoreboard.parentWidget())

    def show_session(self, session_id: int, *, scores=None, switch: bool = True) -> None:
        """Fill the L/R and before/after views from a stored session."""
        if scores is None:
            scores = self.store.get_session(session_id).scores
        self._session_id = session_id
        self.scoreboard.show_scores(scores)
        has_before_after = self.before_after.show_scores(scores)
        self._update_export_buttons()
        if switch:
            self.tabs.setCurrentWidget(self.before_after if has_before_after else self.scoreboard.parentWidget())

    # ------------------------------------------------------------------ calibration
    def _start_calibration(self, panel: CalibrationPanel):
        if self.protocol.running:
            panel.show_outcome(None, StationError("Stop the protocol before calibrating."))
            return None
        if self.link.is_virtual:
            from station.calibration.wizard import SimOperator
            from station.dashboard.station_link import ObservedOperator

            observer = panel.observer()
            operator = observer

            def make_operator(transport):
                return ObservedOperator(SimOperator(transport), observer)
        else:
            operator = panel.dashboard_operator()

            def make_operator(transport):
                return operator

        self.protocol.start.setEnabled(False)
        self.quality.show_state("calibrating", "The live view resumes when the calibration ends.")
        self.link.recalibrate(make_operator, operator_name="dashboard",
                              on_done=lambda outcome, error: panel.signals.finished.emit(outcome, error))
        return operator if not self.link.is_virtual else None

    def _after_calibration(self, outcome, error) -> None:
        self.protocol.start.setEnabled(self.link.ready)

    # ------------------------------------------------------------------ exports
    def _update_export_buttons(self) -> None:
        has_session = self._session_id is not None
        self.export_data.setEnabled(has_session)
        writer = _pdf_writer()
        self.export_pdf.setEnabled(has_session and writer is not None)
        if writer is None:
            self.export_pdf.setToolTip("The PDF report module (station.report.pdf) is not in this build yet.")

    def _export_pdf(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the PDF report", f"session-{self._session_id}.pdf",
                                              "PDF (*.pdf)")
        if path:
            self.export_to(Path(path), fmt="pdf")

    def _export_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the session into a folder")
        if folder:
            self.export_to(Path(folder), fmt=("csv", "json", "c3d"))

    def export_to(self, target: Path, *, fmt) -> None:
        """Write the current session in a worker thread: ``fmt`` "pdf" (``target`` is the file) or one
        or several of "csv", "json", "c3d" (``target`` is a folder); the status line names every file."""
        session_id = self._session_id
        if session_id is None:
            return
        formats = (fmt,) if isinstance(fmt, str) else tuple(fmt)
        self.export_status.setText(f"Writing {', '.join(f.upper() for f in formats)}…")

        def work():
            written: list[Path] = []
            try:
                for one in formats:
                    if one == "pdf":
                        written.append(Path(_pdf_writer()(self.store, session_id, target, force=True,
                                                          criterion=self.history.criterion())))
                    else:
                        from station.report.exports import export_session

                        written += [Path(p) for p in export_session(self.store, session_id, target, fmt=one)]
                self.signals.exported.emit(export_message(formats, written, target), True)
            except StationError as exc:
                self.signals.exported.emit(_partial(written, str(exc)), False)
            except Exception as exc:
                log.exception("export failed")
                self.signals.exported.emit(_partial(written, f"The export failed: {exc}"), False)

        threading.Thread(target=work, name="station-dashboard-export", daemon=True).start()

    def _on_exported(self, text: str, ok: bool) -> None:
        self.export_status.setText(text)
        self.export_status.setStyleSheet(f"color: {theme.GOOD if ok else theme.BAD};")

    # ------------------------------------------------------------------ shut-down
    def shutdown(self) -> None:
        """Stop the timer, abort a running protocol (its stop step stores the trial), close the board."""
        self.timer.stop()
        if self.protocol.runner is not None and self.protocol.running:
            self.protocol.runner.abort()
            self.protocol.wait(10.0)
        self.link.close()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


def export_message(formats, written: list[Path], target: Path) -> str:
    """``"PDF written to /x/s.pdf."`` or ``"CSV, JSON, C3D written to /x: a.csv, b.json, c.c3d."``."""
    kinds = ", ".join(f.upper() for f in formats)
    if formats == ("pdf",) and written:
        return f"PDF written to {written[0]}."
    names = ", ".join(p.name for p in written)
    return f"{kinds} written to {target}: {names}." if written else f"{kinds}: nothing written."


def _partial(written: list[Path], error: str) -> str:
    return error if not written else f"{error} (already written: {', '.join(p.name for p in written)})"


def _positions(link):
    if link.calibration is not None:
        return link.calibration.geometry.positions_mm
    from station.calibration import load_geometry
    from station.dashboard.station_link import DEFAULT_GEOMETRY

    return load_geometry(DEFAULT_GEOMETRY).positions_mm


def state_detail(state: str, quality: dict, error: str = "") -> str:
    """The line under the link badge: why it stopped, that it is reconnecting, or the gaps recovered from."""
    if state in ("stopped", "failed"):
        return error
    if state == "reconnecting":
        return "The link dropped; a trial in progress keeps recording and marks the gap."
    gaps = int(quality.get("gaps") or 0)
    if gaps and state == "connected":
        return (f"Recovered: {gaps} gap{'s' if gaps > 1 else ''} ({float(quality.get('gap_s') or 0.0):.1f} s in all), "
                "marked in the recording.")
    return ""


def _error_text(acq) -> str:
    """The acquisition's error for people: without the virtual board's internal transport name."""
    if getattr(acq, "error", None) is None:
        return ""
    text = str(acq.error)
    name = str(getattr(getattr(acq, "transport", None), "name", "") or "")
    if name.startswith("virtual:") and text.startswith(name):
        text = text[len(name):].lstrip(": ")
    return text[:1].upper() + text[1:]


def _pdf_writer():
    """``station.report.pdf.write_session_report(store, session_id, path)``, or None if not in this build."""
    try:
        from station.report import pdf
    except ImportError:
        return None
    return getattr(pdf, "write_session_report", None)
