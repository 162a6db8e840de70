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
from station.dashboard.results_views import badge_text, headline_block
from station.errors import StationError

log = logging.getLogger(__name__)

PROTOCOLS = {
    "single-leg": "Single-leg stance, left / right",
    "rdl": "Single-leg Romanian dead-lift, left / right",
    "primer": "Primer session: baseline, primer, re-test",
}
SUBJECTS = ("healthy", "weak-right", "weak-left")
#: speeds of the virtual board offered in the runner (factor of real time -> label)
SPEEDS = {1.0: "Real time", 4.0: "4× faster", 10.0: "10× faster", 20.0: "20× faster"}
#: what the runner page says before a run
PICK_PATIENT = "Pick or add a patient (left panel), then press Start protocol."


def _default(protocol: str, key: str):
    """A protocol's default setting (``station.assessment.protocols`` is the one place they live)."""
    from station.assessment import protocols

    return protocols.get(protocol).settings[key]


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

    def __init__(self, context: Callable[[], dict], *, clock_factory=None, trials_per_side: int | None = None,
                 duration_s: float = 20.0, exclude_s: float = 3.0, parent=None):
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
        self._set_speed = None

        self.protocol = QComboBox()
        self.protocol.setSizeAdjustPolicy(QComboBox.AdjustToContents)  # the whole title, never cut
        for key, title in PROTOCOLS.items():
            self.protocol.addItem(title, key)
        # scored trials per side: by default each protocol's own design (single-leg: adaptive 3-12 until
        # decided, shown as the spin box's special value 0; primer: 6 before the primer, 3-8 after it; RDL sets:
        # adaptive 1-3, the sets box's special value 0), the designs whose error
        # rates and power bench/verdicts.py measures; a number fixes the trials (no adaptive stopping)
        self._fixed_trials = trials_per_side
        self.trials = QSpinBox()
        self.trials.setRange(0, 10)
        self.trials.setSpecialValueText(  # 0: the single-leg protocol's adaptive design
            f"adaptive ({_default('single-leg', 'min_trials')}–{_default('single-leg', 'max_trials')})")
        self.reps = QSpinBox()
        self.reps.setRange(1, 30)
        self.reps.setValue(_default("rdl", "reps"))
        self.sets = QSpinBox()
        self.sets.setRange(0, 5)
        self.sets.setSpecialValueText(  # 0: the RDL protocol's adaptive design
            f"adaptive ({_default('rdl', 'min_sets')}–{_default('rdl', 'max_sets')})")
        self.sets.setValue(_default("rdl", "sets_per_side") or 0)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(5.0, 120.0)
        self.duration.setDecimals(0)
        self.duration.setSuffix(" s")
        self.duration.setValue(duration_s)
        self.exclude_s = float(exclude_s)
        self.subject = QComboBox()
        self.subject.addItems(SUBJECTS)
        self.subject.setToolTip("How the virtual patient balances (virtual board only)")
        self.speed = QComboBox()
        for factor, text in SPEEDS.items():
            self.speed.addItem(text, factor)
        self.speed.setToolTip("How fast the virtual board and the runner's timers run (virtual board only)")
        self.form = form = QFormLayout()
        form.addRow("Protocol", self.protocol)
        self.trials_label = QLabel("Trials per side")
        self.duration_label = QLabel("Stance duration")
        self.reps_label = QLabel("Repetitions per set")
        self.sets_label = QLabel("Sets per side")
        form.addRow(self.trials_label, self.trials)
        form.addRow(self.duration_label, self.duration)
        form.addRow(self.reps_label, self.reps)
        form.addRow(self.sets_label, self.sets)
        self.subject_label = QLabel("Virtual patient")
        form.addRow(self.subject_label, self.subject)
        self.speed_label = QLabel("Speed")
        form.addRow(self.speed_label, self.speed)
        self._virtual = False
        self.protocol.currentIndexChanged.connect(self._show_protocol_fields)
        self.protocol.currentIndexChanged.connect(lambda *_: self.set_patient(self._patient))
        self._patient = None

        self.welcome = QLabel("")
        self.welcome.setWordWrap(True)
        self.welcome.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.welcome.setFont(theme.font(theme.LARGE_PT))
        self.welcome.setStyleSheet("background: #e8f3ea; border: 2px solid #1b7f3b; border-radius: 8px; padding: 10px;")
        self.welcome.hide()
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

        self.step = QLabel(PICK_PATIENT)
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
        #: the runner's estimate of the patient time still to come (and, in an adaptive block, why more)
        self.time_left = QLabel("")
        self.time_left.setAlignment(Qt.AlignCenter)
        self.time_left.setWordWrap(True)
        self.result = QLabel("")
        self.result.setFont(theme.font(theme.VERDICT_PT, bold=True))
        self.result.setAlignment(Qt.AlignCenter)
        self.result.setWordWrap(True)

        for label in (self.step, self.cue, self.status, self.time_left, self.result):
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
        layout.addWidget(self.welcome)
        layout.addLayout(top)
        layout.addWidget(self.step)
        layout.addWidget(self.progress)
        layout.addWidget(self.time_left)
        layout.addStretch(1)
        layout.addWidget(self.cue)
        layout.addWidget(self.countdown)
        layout.addStretch(1)
        layout.addWidget(self.status)
        layout.addWidget(self.result)
        self._show_protocol_fields()

    def set_virtual(self, virtual: bool) -> None:
        self._virtual = bool(virtual)
        for widget in (self.subject, self.subject_label, self.speed, self.speed_label):
            widget.setVisible(virtual)

    def _show_protocol_fields(self, *_) -> None:
        """Only the chosen protocol's settings: trials and duration for stance, repetitions for RDL."""
        name = self.protocol.currentData()
        stance = name in ("single-leg", "primer")
        for widget in (self.duration, self.duration_label):
            widget.setVisible(stance)
        for widget in (self.trials, self.trials_label):
            widget.setVisible(stance)
        for widget in (self.reps, self.reps_label):
            widget.setVisible(name in ("rdl", "primer"))
        for widget in (self.sets, self.sets_label):
            widget.setVisible(name == "rdl")
        self.reps_label.setText("Repetitions per set" if name == "rdl" else "Primer RDL repetitions")
        if stance:  # the protocol's own design unless the panel was built with a fixed number
            self.trials.setMinimum(0 if name == "single-leg" else 2)
            default = _default(name, "trials_per_side")
            self.trials.setValue(self._fixed_trials or default or 0)

    def set_patient(self, patient) -> None:
        """The side panel's patient changed: say what to press next (when no run is on)."""
        self._patient = patient
        if self.running:
            return
        if patient is None:
            self.step.setText(PICK_PATIENT)
        else:
            title = self.protocol.currentText()
            self.step.setText(f"{patient.name}: press Start protocol — {title}.")

    def show_welcome(self, patient, *, ready: bool = False) -> None:
        """The demo's first screen: who is on the board and the one button to press."""
        name = patient.name if patient is not None else "the demo patient"
        board = ("The virtual board is calibrated and ready" if ready else
                 "The virtual board is being calibrated (a few seconds)")
        self.welcome.setText(
            f"Welcome. {board}; the patient is {name}. Press the green Start protocol button: the primer "
            "session runs by itself (tests on each leg, the guided primer, the re-test) and the results open "
            "at the end. Choose the speed first: real time, or faster on the virtual board.")
        self.welcome.show()

    def set_protocol(self, name: str) -> None:
        index = self.protocol.findData(name)
        if index < 0:
            raise StationError(f"unknown protocol {name!r}")
        self.protocol.setCurrentIndex(index)

    @property
    def speed_factor(self) -> float:
        """Speed of the virtual board chosen for the run (1 = real time; always 1 for hardware)."""
        return float(self.speed.currentData()) if self._virtual else 1.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def build_protocol(self):
        """The protocol the form describes (raises ValueError on settings no protocol can run)."""
        from station.assessment import protocols

        name = self.protocol.currentData()
        duration = float(self.duration.value())
        exclude = min(self.exclude_s, duration / 3.0)
        trials = self.trials.value() or None  # 0: the adaptive design
        if name == "single-leg":
            return protocols.get(name, trials_per_side=trials, duration_s=duration, exclude_s=exclude)
        if name == "primer":
            return protocols.get(name, trials_per_side=trials, duration_s=duration, exclude_s=exclude,
                                 rfe_rdl_reps=self.reps.value())
        return protocols.get(name, reps=self.reps.value(), sets_per_side=self.sets.value() or None)  # 0: adaptive

    # ------------------------------------------------------------------ actions
    def start_protocol(self) -> None:
        from station.assessment.runner import Runner

        if self.running:
            return
        try:
            ctx = self.context()
            protocol = self.build_protocol()
            speed = self.speed_factor if ctx.get("virtual") else 1.0
            if self.clock_factory is not None:
                clock = self.clock_factory()
            else:
                clock = ScaledClock(speed) if speed != 1.0 else None
            if ctx.get("set_speed") is not None:
                ctx["set_speed"](speed)
            runner = Runner(protocol, acquisition=ctx["acquisition"], store=ctx["store"], patient_id=ctx["patient_id"],
                            calibration=ctx["calibration"], on_event=self.signals.event.emit, clock=clock,
                            operator=ctx.get("operator", ""),
                            sim_subject={"preset": self.subject.currentText()} if ctx.get("virtual") else None)
        except (StationError, ValueError) as exc:
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
        self.time_left.setText("")
        self.cue.setText("")
        self.countdown.setText("")
        self.start.setEnabled(False)
        self.stop.setEnabled(True)
        self.step.setText(f"{protocol.title}: starting…")
        self.welcome.hide()
        self._set_speed = ctx.get("set_speed")

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
        if "remaining_text" in data:
            self.time_left.setText(data["remaining_text"])
        if kind == "step":
            self.progress.setValue(int(data.get("index", 0)) + 1)
            index, total = data.get("index", 0) + 1, data.get("total", self._steps_total)
            self.step.setText(f"Step {index} of {total}: {event.text}")
            # the previous step's cue must not stay up under the new header
            self.cue.setText(step_cue(data.get("step") or {}))
            self.cue.setStyleSheet(_side_style((data.get("step") or {}).get("side")))
            self.countdown.setText("")
            self.status.setText("")
            self.status.setStyleSheet("")
        elif kind in ("cue", "tare"):
            self.cue.setText(event.text)
            self.cue.setStyleSheet(_side_style(data.get("side")))
            if kind == "tare":
                self.countdown.setText("")
        elif kind == "rest":
            self.status.setText(event.text)
            self.status.setStyleSheet("")
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
        elif kind == "adaptive":  # why the block goes on (or stops), and the time that leaves
            self.status.setText(event.text)
            self.status.setStyleSheet("")
        elif kind == "exercise_end":
            self.countdown.setText("✓")
        elif kind == "session_end":
            self.progress.setValue(self._steps_total)
            minutes = data.get("minutes")
            self.time_left.setText(f"Patient time: {minutes:.1f} min." if minutes is not None else "")
            finished = data.get("status") == "finished"
            self.step.setText(f"Done: all {self._steps_total} steps." if finished else
                              f"Stopped after {self._trials_done} trials.")
            self.cue.setText("Session finished." if finished else event.text)
            self.cue.setStyleSheet("")
            self.countdown.setText("")
            self._show_verdict(data.get("scores") or {})

    def _show_verdict(self, scores: dict) -> None:
        found = headline_block(scores)
        if found is None:
            self.result.setText("No result: not enough valid trials.")
            return
        text, side_named = badge_text(found[1])
        self.result.setText(text)
        self.result.setStyleSheet(theme.badge_style(theme.BAD if side_named else theme.MUTED))

    def _on_finished(self, session_id, error) -> None:
        if getattr(self, "_set_speed", None) is not None:
            self._set_speed(1.0)  # the live view runs in real time again
        self.start.setEnabled(True)
        self.stop.setEnabled(False)
        if error is not None:
            self.status.setText(str(error))
            self.status.setStyleSheet(f"color: {theme.BAD};")
        runner = self.runner
        if session_id is not None:
            self.session_finished.emit(int(session_id), runner.scores if runner is not None else None)


class ScaledClock:
    """The runner's clock running ``speed`` times faster than the wall clock (virtual board only)."""

    def __init__(self, speed: float):
        import time

        self._time = time
        self.speed = float(speed)
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (self._time.monotonic() - self._t0) * self.speed

    def sleep(self, seconds: float) -> None:
        self._time.sleep(max(seconds, 0.0) / self.speed)


def step_cue(step: dict) -> str:
    """What the big cue says as soon as a step starts (the runner's own cues follow)."""
    side = step.get("side")
    if not side:
        return ""
    return f"Next: {side.upper()} leg"


def _side_style(side: str | None) -> str:
    if side == "left":
        return f"color: {theme.LEFT};"
    if side == "right":
        return f"color: {theme.RIGHT};"
    return ""
