"""The calibration wizard page: steps with prompts, a stability indicator, the verification table.

It drives the calibration engineer's :class:`~station.calibration.wizard.CalibrationWizard` (run by
:meth:`BoardLink.recalibrate` in a worker thread). The wizard talks to an *operator*; here that is
:class:`DashboardOperator` (a person who clicks "Done" after placing each mass) or, on the virtual
board, ``SimOperator`` observed by this page. Prompts and progress cross to the UI thread through
queued signals.

Stability indicator: the wizard only starts a hold once the reading is steady, so "waiting for a
steady reading" lasts from a prompt to the first progress report, and "steady — holding" from then
until the hold completes.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from station.core.registry import format_value
from station.dashboard import theme
from station.dashboard.results_views import _set_row, _table
from station.errors import CalibrationError


class WizardSignals(QObject):
    prompt = Signal(str, str)  # kind (say/place/clear), text
    progress = Signal(str, float)
    finished = Signal(object, object)  # outcome or None, error or None


class WizardObserver:
    """Operator-shaped object that forwards what the wizard says to the page (any thread)."""

    def __init__(self, signals: WizardSignals):
        self.signals = signals

    def say(self, text: str) -> None:
        self.signals.prompt.emit("say", text)

    def place(self, masses, text: str) -> None:
        self.signals.prompt.emit("place", text)

    def clear(self, text: str) -> None:
        self.signals.prompt.emit("clear", text)

    def progress(self, label: str, fraction: float) -> None:
        self.signals.progress.emit(label, float(fraction))

    def finished(self, outcome) -> None:
        self.signals.finished.emit(outcome, None)


class DashboardOperator(WizardObserver):
    """A technician at the dashboard: each placement waits until "Done" is clicked (or Cancel)."""

    def __init__(self, signals: WizardSignals):
        super().__init__(signals)
        self._done = threading.Event()
        self._cancelled = threading.Event()

    def confirm(self) -> None:
        self._done.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._done.set()

    def _wait(self) -> None:
        self._done.wait()
        self._done.clear()
        if self._cancelled.is_set():
            raise CalibrationError("Calibration cancelled by the operator; nothing was saved.")

    def place(self, masses, text: str) -> None:
        super().place(masses, text)
        self._wait()

    def clear(self, text: str) -> None:
        super().clear(text)
        self._wait()


class CalibrationPanel(QWidget):
    """Run the calibration wizard and show its steps, prompts, stability and verification."""

    def __init__(self, *, start_calibration, parent=None):
        super().__init__(parent)
        self._start_calibration = start_calibration
        self.signals = WizardSignals()
        self.signals.prompt.connect(self._on_prompt)
        self.signals.progress.connect(self._on_progress)
        self.signals.finished.connect(self.show_outcome)
        self.operator: DashboardOperator | None = None

        self.board = QLabel("Calibration")
        self.board.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.steps = QListWidget()
        self.steps.setWordWrap(True)
        self.steps.setMinimumWidth(300)
        self.steps.setMaximumWidth(380)
        self.prompt = QLabel("Calibrate the board with known masses: tare, a 3 × 3 grid of placements, "
                             "then a verification of force and COP errors.")
        self.prompt.setFont(theme.font(theme.CUE_PT - 12, bold=True))
        self.prompt.setWordWrap(True)
        self.prompt.setAlignment(Qt.AlignCenter)
        self.stability = QLabel("")
        self.stability.setFont(theme.font(theme.STATE_PT, bold=True))
        self.stability.setAlignment(Qt.AlignCenter)
        self.hold = QProgressBar()
        self.hold.setRange(0, 100)
        self.start = QPushButton("Start calibration")
        self.start.setObjectName("primary")
        self.done = QPushButton("Done — next step")
        self.done.setEnabled(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.start.clicked.connect(self._on_start)
        self.done.clicked.connect(self._on_done)
        self.cancel.clicked.connect(self._on_cancel)
        self.result = QLabel("")
        self.result.setFont(theme.font(theme.BASE_PT + 2, bold=True))
        self.result.setWordWrap(True)
        self.table = _table(["mass · position (ML, AP)", "force (N)", "error (N)", "error (%)", "COP error (mm)", "result"])

        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.done)
        buttons.addWidget(self.cancel)
        buttons.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.prompt, 1)
        right.addWidget(self.stability)
        right.addWidget(self.hold)
        right.addLayout(buttons)
        right.addWidget(self.result)
        right.addWidget(self.table, 2)
        left = QVBoxLayout()
        left.addWidget(self.board)
        left.addWidget(self.steps, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 0)
        layout.addLayout(right, 1)

    # ------------------------------------------------------------------ actions
    def _on_start(self) -> None:
        self.steps.clear()
        self.table.setRowCount(0)
        self.result.setText("")
        self.start.setEnabled(False)
        self.cancel.setEnabled(True)
        self.operator = self._start_calibration(self)

    def _on_done(self) -> None:
        if self.operator is not None:
            self.done.setEnabled(False)
            self.operator.confirm()

    def _on_cancel(self) -> None:
        if self.operator is not None:
            self.operator.cancel()

    def observer(self) -> WizardObserver:
        return WizardObserver(self.signals)

    def dashboard_operator(self) -> DashboardOperator:
        return DashboardOperator(self.signals)

    # ------------------------------------------------------------------ wizard reports (UI thread)
    def _on_prompt(self, kind: str, text: str) -> None:
        self.prompt.setText(text)
        if kind in ("place", "clear"):
            self.steps.addItem(f"{self.steps.count() + 1}. {text}")
            self.steps.setCurrentRow(self.steps.count() - 1)
            self.steps.scrollToBottom()
            self.stability.setText("Waiting for a steady reading…")
            self.stability.setStyleSheet(theme.badge_style(theme.WARN))
            self.hold.setValue(0)
            manual = isinstance(self.operator, DashboardOperator)
            self.done.setEnabled(manual)

    def _on_progress(self, label: str, fraction: float) -> None:
        self.hold.setValue(round(100 * fraction))
        self.hold.setFormat(f"{label}: %p %")
        if fraction < 1.0:
            self.stability.setText("Steady — holding")
            self.stability.setStyleSheet(theme.badge_style(theme.GOOD))
        else:
            self.stability.setText("Reading taken")
            self.stability.setStyleSheet(theme.badge_style(theme.GOOD))

    def show_outcome(self, outcome, error=None) -> None:
        """The end of a calibration: the verification table and PASS/FAIL (or the error)."""
        self.start.setEnabled(True)
        self.done.setEnabled(False)
        self.cancel.setEnabled(False)
        self.operator = None
        if error is not None:
            self.result.setText(str(error))
            self.result.setStyleSheet(f"color: {theme.BAD};")
            self.stability.setText("")
            self.stability.setStyleSheet("")
            return
        if outcome is None:
            return
        cal = outcome.calibration
        self.board.setText(f"Board {cal.board_id} · {cal.geometry.name}")
        report = outcome.verification
        rows = report.points if report is not None else []
        self.table.setRowCount(len(rows))
        for r, p in enumerate(rows):
            passed = report.point_passed(p)
            _set_row(self.table, r, [
                f"{p.mass_kg:g} kg at {format_value(p.x_mm, 0, sign=True)}, {format_value(p.y_mm, 0, sign=True)} mm",
                format_value(p.force_n, 2), format_value(p.force_error_n, 2, sign=True),
                format_value(p.force_error_pct, 2, sign=True),
                f"{p.cop_error_mm:.2f}", "pass" if passed else "FAIL",
            ], colour=theme.GOOD if passed else theme.BAD)
        r = outcome.fit.residuals()
        text = (f"{'PASS' if outcome.passed else 'FAIL'} — fit over {r['n_placements']} placements: force RMS "
                f"{r['force_rms_n']:.2f} N, COP RMS {r['cop_rms_mm']:.2f} mm")
        if report is not None:
            text += (f"; verification: force error max {report.force_max_pct:.2f} %, "
                     f"COP error RMS {report.cop_rms_mm:.2f} mm")
        for problem in outcome.problems:
            text += f"\n• {problem}"
        self.result.setText(text)
        self.result.setStyleSheet(f"color: {theme.GOOD if outcome.passed else theme.BAD};")
        self.prompt.setText("Calibration finished." if outcome.passed else "Calibration failed: see below.")
        self.stability.setText("")
        self.stability.setStyleSheet("")
        self.hold.setValue(100)
        self.hold.setFormat("all steps done")
