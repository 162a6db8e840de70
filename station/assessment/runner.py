"""The protocol runner: walks a protocol's steps, cues the patient, records, analyses, stores, scores.

States (explicit, inspectable from another thread):

- runner: ``idle -> running -> finished | failed | aborted``;
- each recorded trial: ``queued -> running -> finished | failed | aborted`` (``interrupted`` is set by
  journal recovery after a crash, never by a live runner).

Cues ("Stand on your LEFT leg", countdowns, repetition counts) are :class:`RunnerEvent` objects passed
to ``on_event``; the CLI prints them and the dashboard shows them. The *stop step* always runs
(``try/finally``): a recording in progress is ended and stored, the virtual patient steps down, the
session gets its final status and scores.

Time: live decisions use the board's own clock (``acquisition.recording_duration_s``) and the newest
frames; guided exercises use a :class:`Clock`. With a virtual board running faster than real time
(``VirtualTransport(realtime=False)``) and a :class:`FastClock`, a whole session runs in seconds.

Structure (PyMeasure's Procedure): the runner holds the session and the shared services (one wait
primitive :meth:`Runner.wait`, events, the board's newest frames); each protocol step is run by a step
type of :mod:`station.assessment.steps` with its own ``start / execute / stop``. Who follows the cues
is behind one seam, :mod:`station.assessment.patient_script`: with a virtual board (``adc_kind ==
"virtual"``) a :class:`VirtualPatient` sends ``CMD_SIM_SCENE`` commands; with real hardware nothing is
sent.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import Callable, Iterable


from station.assessment import scoring, steps
from station.assessment.patient_script import NoScript, VirtualPatient
from station.assessment.protocols import Protocol
from station.assessment.steps import Aborted, LiveOutcome  # noqa: F401  (public names of the runner)
from station.errors import StationError

log = logging.getLogger(__name__)

class RunState(str, enum.Enum):
    """State of a runner (a ``str``, so ``runner.state == "finished"`` reads as before)."""

    IDLE = "idle"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    ABORTED = "aborted"






@dataclass(frozen=True)
class RunnerEvent:
    """Something the operator or patient should see or hear.

    ``kind``: session_start, tare, step, rest, cue, countdown, stance_start, recording, rep, trial_end,
    repeat, exercise_end, session_end. ``t_s``: seconds since the session started (host clock).
    """

    kind: str
    text: str
    data: dict = field(default_factory=dict)
    t_s: float = 0.0


class Clock:
    """Time for timers and polling. ``RealClock`` for people; ``FastClock`` for tests and fast simulations."""

    def now(self) -> float:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError


class RealClock(Clock):
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


class FastClock(Clock):
    """Timers finish at once: ``sleep`` advances the clock and only yields the CPU briefly.

    The yield is long enough for the board's reader and the UI to run between two looks: with 1 ms the
    runner's looks took the interpreter lock from a free-running virtual board, and a dashboard session
    that takes 13 s took 4 minutes with another process on the second core.
    """

    def __init__(self, *, yield_s: float = 0.005):
        self._t = 0.0
        self._yield_s = yield_s

    def now(self) -> float:
        return self._t

    def sleep(self, seconds: float) -> None:
        self._t += max(seconds, 0.0)
        time.sleep(self._yield_s)


def remaining_text(low_min: float, high_min: float) -> str:
    """The patient time still to come as a sentence: "About 4.2 min of patient time left (up to 6.5 min)."."""
    if high_min <= 0.0:
        return "No patient time left."
    text = f"About {low_min:.1f} min of patient time left"
    return text + (f" (up to {high_min:.1f} min)." if high_min - low_min >= 0.05 else ".")


class Runner:
    """Run ``protocol`` for one patient on one board and store everything.

    Parameters
    ----------
    protocol : Protocol
    acquisition : station.board.acquisition.Acquisition
        Already started (the runner never opens or stops the board).
    store : station.store.Store
    patient_id : int
    calibration : station.calibration.Calibration
        Turns counts into forces. With ``tare=True`` the runner re-zeroes it at the session start.
    on_event : callable(RunnerEvent), optional
    clock : Clock, optional
        ``RealClock()`` by default.
    simulate : bool or None
        Drive the virtual patient with CMD_SIM_SCENE; None = only when the board says ``adc_kind ==
        "virtual"``. Forced off for any other board.
    sim_subject : dict, optional
        Subject fields (``station.board.virtual.Subject``; ``"preset"`` allowed) of the virtual patient,
        sent once at the session start (with the patient's body mass unless given). None (default): the
        virtual patient stays who it is (e.g. the subject chosen with ``station simulate --subject``);
        the runner only sends cues (stance, task).
    sim_adjust : callable(step) -> dict, optional
        Extra subject fields sent with each cue (e.g. smaller sway after the primer).
    sim_wrong_leg_trials : iterable of int
        Recorded trials (1 = the first, repeats not counted) in which the virtual patient first stands on
        the wrong leg (:class:`VirtualPatient`); the runner detects it, tells it, and repeats the trial.
    tare : bool
        Zero the cells with the board empty before the first step.
    rest_s : float
        Rest on both feet before every recorded trial (board time), so each trial starts from a
        settled two-footed stance (the COP reference of the stance detection).
    stance_timeout_s : float
        How long (board time) to wait for the cued stance before failing the trial.
    poll_s : float
        Clock step of the wait primitive.
    operator : str
    """

    Aborted = Aborted

    def __init__(
        self,
        protocol: Protocol,
        *,
        acquisition,
        store,
        patient_id: int,
        calibration,
        on_event: Callable[[RunnerEvent], None] | None = None,
        clock: Clock | None = None,
        simulate: bool | None = None,
        sim_subject: dict | None = None,
        sim_adjust: Callable[[object], dict] | None = None,
        sim_wrong_leg_trials: Iterable[int] = (),
        tare: bool = True,
        rest_s: float = 3.0,
        stance_timeout_s: float = 30.0,
        poll_s: float = 0.02,
        operator: str = "",
    ):
        self.protocol = protocol
        self.acq = acquisition
        self.store = store
        self.patient = store.get_patient(patient_id)
        self.calibration = calibration
        self.on_event = on_event
        self.clock = clock or RealClock()
        info = acquisition.info
        is_virtual = info is not None and info.adc_kind == "virtual"
        self.simulate = is_virtual if simulate is None else (bool(simulate) and is_virtual)
        self.sim_subject = dict(sim_subject) if sim_subject is not None else None
        if self.simulate:
            subject = self.sim_subject
            if subject is not None and "body_mass_kg" not in subject and self.patient.body_mass_kg:
                subject = subject | {"body_mass_kg": float(self.patient.body_mass_kg)}
            self.patient_script = VirtualPatient(acquisition.send_command, subject=subject, adjust=sim_adjust,
                                                 wrong_leg_trials=sim_wrong_leg_trials)
        else:
            self.patient_script = NoScript()
        self.tare = tare
        self.rest_s = float(rest_s)
        self.stance_timeout_s = float(stance_timeout_s)
        self.poll_s = float(poll_s)
        self.operator = operator
        self.state = RunState.IDLE
        self.session_id: int | None = None
        self.calibration_id: int | None = None
        self.scores: dict | None = None
        self.recording = False
        self.patient_s = 0.0
        #: patient seconds per block (``steps.block_of``): practice, each stance block, rdl, primer, setup
        self.block_s: dict[str, float] = {}
        self.current_block = "setup"
        #: the protocol's steps not yet started (the step running now excluded)
        self._steps_left: tuple = tuple(protocol.steps)
        #: per-block test levels for the session's scoring (adaptive blocks record where they stopped)
        self.design = protocol.design()
        self._abort = threading.Event()
        self._t0 = self.clock.now()
        self._frames0 = None

    # ------------------------------------------------------------------ public
    def abort(self) -> None:
        """Stop at the next check (thread-safe): the current trial ends ``aborted``, the session too."""
        self._abort.set()

    def run(self) -> int:
        """Run the whole protocol; return the session id. The stop step always runs."""
        if self.state != RunState.IDLE:
            raise RuntimeError("a runner runs once")
        self.state = RunState.RUNNING
        self._t0 = self.clock.now()
        self._frames0 = self.acq.frames_total
        info = self.acq.info
        self.session_id = self.store.create_session(
            patient_id=self.patient.id, protocol=self.protocol.name, settings=self.protocol.to_dict(),
            board=info.to_dict() if info else None, operator=self.operator,
        )
        self.emit("session_start", f"{self.protocol.title} for {self.patient.name}",
                  session_id=self.session_id, steps=len(self.protocol.steps))
        final = RunState.FAILED
        try:
            self.patient_script.introduce()
            if self.tare:
                steps.TareStep(self).run()
            self.calibration_id = self.store.add_calibration(self.calibration)
            self.store.update_session(self.session_id, calibration_id=self.calibration_id)
            for index, step in enumerate(self.protocol.steps):
                self.check_abort()
                self.current_block = steps.block_of(step)
                self._steps_left = tuple(self.protocol.steps[index + 1:])
                self.emit("step", step.label or step.kind, index=index, total=len(self.protocol.steps),
                          step={"kind": step.kind, **dataclasses.asdict(step)}, **self.remaining(step))
                steps.step_run(self, step).run()
            self._steps_left = ()
            final = RunState.FINISHED
        except (Aborted, KeyboardInterrupt):
            final = RunState.ABORTED
        finally:
            self._stop_step(final)
        return self.session_id

    @property
    def patient_minutes(self) -> float:
        """The patient's time on the protocol so far (min): recordings (board time), rests, the tare and
        the guided exercises, summed by the steps -- exact whether the board runs in real time, in lockstep
        or free-running ahead of a fast clock."""
        return float(self.patient_s / 60.0)

    def add_patient_time(self, seconds: float) -> None:
        """Count ``seconds`` of the patient's time, to the session and to the block running now."""
        seconds = max(float(seconds), 0.0)
        self.patient_s += seconds
        self.block_s[self.current_block] = self.block_s.get(self.current_block, 0.0) + seconds

    @property
    def block_minutes(self) -> dict[str, float]:
        """Patient time per block so far (min), in the order the blocks began."""
        return {block: float(s / 60.0) for block, s in self.block_s.items()}

    def remaining(self, current=None, *, current_left_s: tuple[float, float] | None = None) -> dict:
        """The expected patient time still to come (min): ``remaining_min`` (adaptive blocks stopping at
        their first look) and ``remaining_max_min`` (every adaptive block to its last trial).

        ``current``: the step running now, counted whole unless ``current_left_s`` (its own low/high
        seconds left) is given; the steps not yet started are counted whole.
        """
        low = high = 0.0
        for step in self._steps_left:
            lo, hi = steps.expected_s(step, rest_s=self.rest_s)
            low, high = low + lo, high + hi
        if current_left_s is not None:
            low, high = low + current_left_s[0], high + current_left_s[1]
        elif current is not None:
            lo, hi = steps.expected_s(current, rest_s=self.rest_s)
            low, high = low + lo, high + hi
        return {"remaining_min": low / 60.0, "remaining_max_min": high / 60.0,
                "remaining_text": remaining_text(low / 60.0, high / 60.0)}

    # ------------------------------------------------------------------ services for the steps
    def wait(self, done: Callable[[], bool], *, link: bool = True, step_s: Callable[[], float] | None = None) -> None:
        """The one wait primitive: until ``done()``, check for an abort (and the link), then let the clock run.

        ``step_s`` gives the clock step (default ``poll_s``).
        """
        while True:
            self.check_abort()
            if link:
                self.check_link()
            if done():
                return
            self.clock.sleep(step_s() if step_s is not None else self.poll_s)

    def pause(self, seconds: float, text: str) -> None:
        """Let ``seconds`` of board time pass (counted in frames), e.g. a rest between trials."""
        if seconds <= 0:
            return
        self.emit("rest", text, seconds=seconds)
        goal = self.acq.frames_total + int(seconds * self.rate_hz)
        self.wait(lambda: self.acq.frames_total >= goal, step_s=lambda: self.frames_step_s(goal))
        self.add_patient_time(seconds)

    def frames_step_s(self, goal_frames: int) -> float:
        """A clock step that ends a wait for ``goal_frames`` frames on time: the frames still missing (at the
        nominal rate), at most ``poll_s`` (so the next cue lands when the wait is over, not a poll later)."""
        missing = (goal_frames - self.acq.frames_total) / self.rate_hz
        return min(self.poll_s, max(missing, 1.0 / self.rate_hz))

    @property
    def rate_hz(self) -> float:
        info = self.acq.info
        return float(info.nominal_rate_hz or 80) if info is not None else 80.0

    def body_mass_kg(self) -> float | None:
        if self.patient.body_mass_kg:
            return float(self.patient.body_mass_kg)
        if self.simulate and self.sim_subject and "body_mass_kg" in self.sim_subject:
            return float(self.sim_subject["body_mass_kg"])
        return None

    def check_abort(self) -> None:
        if self._abort.is_set():
            raise Aborted

    def check_link(self) -> None:
        if self.acq.state.ended:
            raise self.acq.error or StationError("The board stopped streaming.")

    def emit(self, kind: str, text: str, **data) -> None:
        event = RunnerEvent(kind, text, data, self.clock.now() - self._t0)
        log.info("%s: %s", kind, text)
        if self.on_event is not None:
            self.on_event(event)

    @staticmethod
    def now_iso() -> str:
        return datetime.now(timezone.utc).isoformat(timespec="seconds")

    # ------------------------------------------------------------------ stop step
    def _stop_step(self, final: RunState) -> None:
        """Always runs: end a recording left open, step the virtual patient down, close the session."""
        try:
            if self.recording:
                try:
                    self.acq.end_recording()
                except RuntimeError:
                    pass
                self.recording = False
            try:
                self.patient_script.leave()
            except StationError as exc:
                log.debug("final scene: %s", exc)
        finally:
            scores = None
            try:
                scores = scoring.score_session(self.store.metrics_table(self.session_id), design=self.design)
            except Exception:  # scoring must never hide the real outcome
                log.exception("scoring the session failed")
            minutes = self.patient_minutes
            if scores is not None:
                scores["minutes"] = minutes
                scores["minutes_by_block"] = self.block_minutes
            self.scores = scores
            self.store.finish_session(self.session_id, status=final.value, scores=scores)
            self.state = final
            self.emit("session_end", f"Session {final.value} ({minutes:.1f} min of patient time).", status=final.value,
                      session_id=self.session_id, scores=scores or {}, minutes=minutes,
                      minutes_by_block=self.block_minutes)
