"""The protocol runner page: large cues and countdowns (readable from 3 m), start/stop, the verdict.

The :class:`~station.assessment.runner.Runner` runs in a worker thread (it blocks while trials
record); its events reach this page through a queued Qt signal, so every widget is touched on the
UI thread only. "Stop" calls ``runner.abort()``: the runner's stop step ends the trial, stores it
and closes the session.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from station.dashboard import theme
from station.dashboard.results_views import headline_block, verdict_headline
from station.errors import StationError

log = logging.getLogger(__name__)

PROTOCOLS = {
    "single-leg": "Single-leg stance, left / right",
    "rdl": "Single-leg Romanian dead-lift, left / right",
    "primer": "Primer session: baseline, primer, re-test",
}
SUBJECTS = ("healthy", "weak-right", "weak-left")


class RunnerSignals(QObject):
    """Carries runner events and the end of the run from the worker thread to the UI thread."""

    event = Signal(object)
    finished = Signal(object, object)  # session_id or None, error or None


class ProtocolPanel(QWidget):
    """Choose a protocol, run it, follow the cues.

    Parameters
    ----------
    context : callable() -> dict
        Gives ``acquisition``, ``calibration``, ``store``, ``patient_id`` and ``virtual`` (bool) at
        the moment Start is pressed; raises StationError with a sentence when something is missing.
    clock_factory : callable() -> Clock or None
        The runner's clock (``FastClock`` in tests; None = real time).
    """

    session_finished = Signal(int, object)  # session id, scores
    new_phase = Signal()  # a cue or a detected stance: live trails restart here

    def __init__(self, context: Callable[[], dict], *, clock_factory=None, trials_per_side: int = 3,
                 duration_s: float = 30.0, exclude_s: float = 5.0, parent=None):
        super().__init__(parent)
        self.context = context
        self.clock_factory = clock_factory
        self.runner = None
        self._thread: threading.Thread | None = None
        self.signals = RunnerSignals()
        self.signals.event.connect(self._on_event)
        self.signals.finished.connect(self._on_finished)
        self._steps_total = 0
        self._trials_done = 0

        self.protocol = QComboBox()
        self.protocol.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.protocol.setMinimumContentsLength(18)
        for key, title in PROTOCOLS.items():
            self.protocol.addItem(title, key)
        self.trials = QSpinBox()
        self.trials.setRange(1, 10)
        self.trials.setValue(trials_per_side)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(5.0, 120.0)
        self.duration.setDecimals(0)
        self.duration.setSuffix(" s")
        self.duration.setValue(duration_s)
        self.exclude_s = float(exclude_s)
        self.subject = QComboBox()
        self.subject.addItems(SUBJECTS)
        self.subject.setToolTip("How the virtual patient balances (virtual board only)")
        form = QFormLayout()
        form.addRow("Protocol", self.protocol)
        form.addRow("Trials per side", self.trials)
        form.addRow("Stance duration", self.duration)
        self.subject_label = QLabel("Virtual patient")
        form.addRow(self.subject_label, self.subject)

        self.start = QPushButton("Start protocol")
        self.start.setObjectName("primary")
        self.stop = QPushButton("Stop")
        self.stop.setObjectName("danger")
        self.stop.setEnabled(False)
        self.start.clicked.connect(self.start_protocol)
        self.stop.clicked.connect(self.stop_protocol)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.stop)

        self.step = QLabel("Pick a patient, then press Start.")
        self.step.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.step.setAlignment(Qt.AlignCenter)
        self.step.setWordWrap(True)
        self.cue = QLabel("")
        self.cue.setFont(theme.font(theme.CUE_PT, bold=True))
        self.cue.setAlignment(Qt.AlignCenter)
        self.cue.setWordWrap(True)
        self.countdown = QLabel("")
        self.countdown.setFont(theme.font(theme.COUNTDOWN_PT, bold=True))
        self.countdown.setAlignment(Qt.AlignCenter)
        self.status = QLabel("")
        self.status.setFont(theme.font(theme.LARGE_PT))
        self.status.setAlignment(Qt.AlignCenter)
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("step %v of %m")
        self.progress.setTextVisible(True)
        self.result = QLabel("")
        self.result.setFont(theme.font(theme.VERDICT_PT, bold=True))
        self.result.setAlignment(Qt.AlignCenter)
        self.result.setWordWrap(True)

        for label in (self.step, self.cue, self.status, self.result):
            # long texts wrap instead of widening the window
            label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
            label.setMinimumWidth(240)
        buttons.setDirection(QBoxLayout.TopToBottom)
        top = QHBoxLayout()
        top.addLayout(form)
        top.addSpacing(24)
        top.addLayout(buttons)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.step)
        layout.addWidget(self.progress)
        layout.addStretch(1)
        layout.addWidget(self.cue)
        layout.addWidget(self.countdown)
        layout.addStretch(1)
        layout.addWidget(self.status)
        layout.addWidget(self.result)

    def set_virtual(self, virtual: bool) -> None:
        self.subject.setVisible(virtual)
        self.subject_label.setVisible(virtual)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ actions
    def start_protocol(self) -> None:
        from station.assessment import protocols
        from station.assessment.runner import Runner

        if self.running:
            return
        try:
            ctx = self.context()
            name = self.protocol.currentData()
            duration = float(self.duration.value())
            exclude = min(self.exclude_s, duration / 3.0)
            if name == "single-leg":
                protocol = protocols.get(name, trials_per_side=self.trials.value(), duration_s=duration,
                                         exclude_s=exclude)
            elif name == "primer":
                protocol = protocols.get(name, duration_s=duration, exclude_s=exclude)
            else:
                protocol = protocols.get(name)
            runner = Runner(protocol, acquisition=ctx["acquisition"], store=ctx["store"], patient_id=ctx["patient_id"],
                            calibration=ctx["calibration"], on_event=self.signals.event.emit,
                            clock=self.clock_factory() if self.clock_factory else None,
                            sim_subject={"preset": self.subject.currentText()} if ctx.get("virtual") else None)
        except StationError as exc:
            self.status.setText(str(exc))
            self.status.setStyleSheet(f"color: {theme.BAD};")
            return
        self.runner = runner
        self._steps_total = len(protocol.steps)
        self._trials_done = 0
        self.progress.setRange(0, self._steps_total)
        self.progress.setValue(0)
        self.result.setText("")
        self.result.setStyleSheet("")
        self.status.setText("")
        self.status.setStyleSheet("")
        self.cue.setText("")
        self.countdown.setText("")
        self.start.setEnabled(False)
        self.stop.setEnabled(True)

        def work():
            session_id, error = None, None
            try:
                session_id = runner.run()
            except StationError as exc:
                error = exc
            except Exception as exc:
                log.exception("the protocol runner failed")
                error = StationError(f"The protocol stopped: {exc}")
            self.signals.finished.emit(session_id if session_id is not None else runner.session_id, error)

        self._thread = threading.Thread(target=work, name="station-dashboard-runner", daemon=True)
        self._thread.start()

    def stop_protocol(self) -> None:
        if self.runner is not None:
            self.runner.abort()
            self.status.setText("Stopping: the current trial is being saved…")

    def wait(self, timeout_s: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ------------------------------------------------------------------ events (UI thread)
    def _on_event(self, event) -> None:
        kind, data = event.kind, event.data
        if kind in ("cue", "stance_start", "tare"):
            self.new_phase.emit()
        if kind == "step":
            self.progress.setValue(int(data.get("index", 0)) + 1)
            index, total = data.get("index", 0) + 1, data.get("total", self._steps_total)
            self.step.setText(f"Step {index} of {total}: {event.text}")
            self.countdown.setText("")
        elif kind in ("cue", "tare"):
            self.cue.setText(event.text)
            self.cue.setStyleSheet(_side_style(data.get("side")))
            if kind == "tare":
                self.countdown.setText("")
        elif kind == "stance_start" or kind == "recording":
            self.status.setText(event.text)
        elif kind == "countdown":
            self.countdown.setText(f"{round(data.get('remaining_s', 0))}")
        elif kind == "rep":
            target = data.get("target")
            self.countdown.setText(f"{data.get('count', 0)}" + (f" / {target}" if target else ""))
        elif kind == "trial_end":
            self._trials_done += 1
            self.status.setText(event.text)
            ok = data.get("status") == "finished"
            self.status.setStyleSheet(f"color: {theme.GOOD if ok else theme.BAD};")
        elif kind == "repeat":
            self.status.setText(event.text)
            self.status.setStyleSheet(f"color: {theme.WARN};")
        elif kind == "exercise_end":
            self.countdown.setText("✓")
        elif kind == "session_end":
            self.progress.setValue(self._steps_total)
            self.cue.setText("Session finished." if data.get("status") == "finished" else event.text)
            self.cue.setStyleSheet("")
            self.countdown.setText("")
            self._show_verdict(data.get("scores") or {})

    def _show_verdict(self, scores: dict) -> None:
        found = headline_block(scores)
        if found is None:
            self.result.setText("No result: not enough valid trials.")
            return
        text, side_named = verdict_headline(found[1])
        self.result.setText(text)
        self.result.setStyleSheet(theme.badge_style(theme.BAD if side_named else theme.MUTED))

    def _on_finished(self, session_id, error) -> None:
        self.start.setEnabled(True)
        self.stop.setEnabled(False)
        if error is not None:
            self.status.setText(str(error))
            self.status.setStyleSheet(f"color: {theme.BAD};")
        runner = self.runner
        if session_id is not None:
            self.session_finished.emit(int(session_id), runner.scores if runner is not None else None)


def _side_style(side: str | None) -> str:
    if side == "left":
        return f"color: {theme.LEFT};"
    if side == "right":
        return f"color: {theme.RIGHT};"
    return ""
