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

With a virtual board (``adc_kind == "virtual"``) the runner makes the virtual patient follow the cues
by sending ``CMD_SIM_SCENE`` commands; with real hardware it never sends them.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import threading
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from station.assessment import analysis, scoring
from station.assessment.protocols import AdaptiveStance, Exercise, Protocol, RdlSet, StanceTrial
from station.board.protocol import CMD_SIM_SCENE, encode_command
from station.errors import StationError

log = logging.getLogger(__name__)

class RunState(str, enum.Enum):
    """State of a runner (a ``str``, so ``runner.state == "finished"`` reads as before)."""

    IDLE = "idle"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    ABORTED = "aborted"


RUNNER_STATES = tuple(s.value for s in RunState)


class LiveOutcome(enum.Enum):
    """How the live watch of a trial ended (decides whether the recording is analysed)."""

    DONE = "done"
    NO_STANCE = "no_stance"
    STEPPED_OFF = "stepped_off"


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
    """Timers finish at once: ``sleep`` advances the clock and only yields the CPU briefly."""

    def __init__(self, *, yield_s: float = 0.001):
        self._t = 0.0
        self._yield_s = yield_s

    def now(self) -> float:
        return self._t

    def sleep(self, seconds: float) -> None:
        self._t += max(seconds, 0.0)
        time.sleep(self._yield_s)


class Aborted(Exception):
    """The operator stopped the session (``Runner.abort()``)."""


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
        sent once at the session start. None (default): the virtual patient stays who it is (e.g. the
        subject chosen with ``station simulate --subject``); the runner only sends cues (stance, task).
    sim_adjust : callable(step) -> dict, optional
        Extra subject fields sent with each cue (e.g. smaller sway after the primer).
    tare : bool
        Zero the cells with the board empty before the first step.
    rest_s : float
        Rest on both feet before every recorded trial (board time), so each trial starts from a
        settled two-footed stance (the COP reference of the stance detection).
    stance_timeout_s : float
        How long (board time) to wait for the cued stance before failing the trial.
    operator : str
    """

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
        self.sim_adjust = sim_adjust
        self.tare = tare
        self.rest_s = float(rest_s)
        self.stance_timeout_s = float(stance_timeout_s)
        self.poll_s = float(poll_s)
        self.operator = operator
        self.state = RunState.IDLE
        self.session_id: int | None = None
        self.calibration_id: int | None = None
        self.trial_states: dict[int, str] = {}
        self.scores: dict | None = None
        self._abort = threading.Event()
        self._t0 = self.clock.now()
        self._recording = False

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
        self._emit("session_start", f"{self.protocol.title} for {self.patient.name}",
                   session_id=self.session_id, steps=len(self.protocol.steps))
        final = "failed"
        try:
            if self.simulate and self.sim_subject is not None:
                self._send_subject(self._initial_subject())
            if self.tare:
                self._tare()
            self.calibration_id = self.store.add_calibration(self.calibration)
            self.store.update_session(self.session_id, calibration_id=self.calibration_id)
            for index, step in enumerate(self.protocol.steps):
                self._check_abort()
                self._emit("step", step.label or step.kind, index=index, total=len(self.protocol.steps),
                           step={"kind": step.kind, **dataclasses.asdict(step)})
                if isinstance(step, Exercise):
                    self._exercise(step)
                elif isinstance(step, AdaptiveStance):
                    self._adaptive_block(step)
                else:
                    self._recorded_step(step)
            final = "finished"
        except (Aborted, KeyboardInterrupt):
            final = "aborted"
        finally:
            self._stop_step(final)
        return self.session_id

    # ------------------------------------------------------------------ steps
    def _adaptive_block(self, block: AdaptiveStance) -> None:
        """Pairs of trials (one per side) until the block's headline verdict is decided (docs/ASSESSMENT.md §5).

        After ``min_trials`` pairs, a look: stop when the verdict names a side, or when its resolution is
        within ``target_resolution_pct``, or at ``max_trials``; otherwise say why another pair is needed.
        """
        from station.assessment.protocols import _sides

        pairs = 0
        while True:
            pairs += 1
            for side in _sides(block.first_side):
                self._check_abort()
                self._recorded_step(block.trial(side, pairs))
            if pairs < block.min_trials:
                continue
            stop, text, headline = self._adaptive_look(block, pairs)
            self._emit("adaptive", text, block=block.block, pairs=pairs, stop=stop,
                       verdict=headline.get("verdict"), estimate=headline.get("estimate"),
                       ci_low=headline.get("ci_low"), ci_high=headline.get("ci_high"),
                       resolution=headline.get("resolution"))
            if stop:
                return

    def _adaptive_look(self, block: AdaptiveStance, pairs: int) -> tuple[bool, str, dict]:
        rows = self.store.metrics_table(self.session_id)
        headline = scoring.score_stance(rows, phase=block.phase, condition=block.condition, alpha=block.alpha)["headline"]
        level = f"{100 * (1 - block.alpha):.1f} % CI"
        est = headline.get("estimate")
        if not np.isfinite(est if est is not None else np.nan):
            detail = "not enough valid trials yet"
        else:
            detail = (f"SI {est:+.0f} %, {level} {headline['ci_low']:+.0f} to {headline['ci_high']:+.0f} %, "
                      f"resolution ±{headline['resolution']:.0f} %")
        if headline.get("less_stable"):
            return True, f"Decided after {pairs} trials per leg: {headline['verdict']} ({detail}).", headline
        if np.isfinite(headline.get("resolution", np.nan)) and headline["resolution"] <= block.target_resolution_pct:
            return True, (f"Decided after {pairs} trials per leg: no detectable asymmetry, within "
                          f"±{block.target_resolution_pct:g} % ({detail})."), headline
        if pairs >= block.max_trials:
            return True, (f"Stopping at the maximum of {block.max_trials} trials per leg: {headline['verdict']} "
                          f"({detail})."), headline
        return False, (f"Another trial per leg ({pairs + 1} of up to {block.max_trials}): the left/right verdict is "
                       f"undecided and its interval is wider than ±{block.target_resolution_pct:g} % ({detail})."), headline

    def _recorded_step(self, step) -> None:
        repeat_of = None
        for attempt in range(self.protocol.max_repeats + 1):
            trial_id, status, reason = self._record(step, repeat_of=repeat_of)
            if status == "finished":
                return
            if status == "aborted":
                raise Aborted
            if attempt < self.protocol.max_repeats:
                self._emit("repeat", f"Trial failed ({reason}); repeating it.", trial_id=trial_id, reason=reason,
                           attempt=attempt + 2)
                repeat_of = trial_id
        self._emit("repeat", f"Giving up on '{step.label}' after {self.protocol.max_repeats + 1} attempts.",
                   trial_id=trial_id, reason=reason, attempt=None)

    def _record(self, step, *, repeat_of: int | None) -> tuple[int, str, str]:
        """Cue, record and analyse one trial; return ``(trial_id, status, reason)``."""
        sid = self.session_id
        condition = getattr(step, "condition", "eyes_open")
        tid = self.store.add_trial(sid, task=step.task, side=step.side, phase=step.phase, condition=condition,
                                   step=step.label, status="queued", repeat_of=repeat_of)
        self.trial_states[tid] = "queued"
        meta = {
            "session_id": sid, "trial_id": tid, "patient_id": self.patient.id, "task": step.task, "side": step.side,
            "phase": step.phase, "condition": condition, "step": step.label, "protocol": self.protocol.name,
            "repeat_of": repeat_of,
        }
        try:
            self._pause(self.rest_s, "Rest on both feet.")
        except Aborted:
            self.store.update_trial(tid, status="aborted", reason="stopped by the operator")
            self.trial_states[tid] = "aborted"
            raise
        info = self.acq.info
        self.store.update_trial(tid, status="running", started=_now_iso(), calibration_id=self.calibration_id,
                                board=info.to_dict() if info else None, meta=meta)
        self.trial_states[tid] = "running"
        path = self.store.journal_path(session_id=sid, trial_id=tid)
        self.acq.begin_recording(path, meta, calibration=self.calibration.to_dict())
        self._recording = True
        live_status, live_reason = "failed", "the trial did not complete"
        outcome = LiveOutcome.DONE
        error: BaseException | None = None
        cue_at = 0.0
        try:
            reference = self._rest_position()
            cue_at = float(self.acq.recording_duration_s)
            self._cue(step)
            outcome, live_status, live_reason = self._watch(step, reference_ml_mm=reference, cue_at_s=cue_at)
        except (Aborted, KeyboardInterrupt):  # Ctrl-C at the terminal is the operator's stop too
            self._abort.set()
            live_status, live_reason = "aborted", "stopped by the operator"
        except BaseException as exc:  # stored as the trial's reason, then re-raised below
            error = exc
            live_status, live_reason = "failed", f"the recording stopped: {exc}"
        finally:
            trial = self.acq.end_recording()
            self._recording = False
            try:
                self._rest()
            except StationError as exc:
                log.debug("rest scene: %s", exc)
        if live_status == "aborted" or error is not None:
            result = analysis.TrialAnalysis(live_status, live_reason)
        elif outcome is LiveOutcome.NO_STANCE:
            result = analysis.TrialAnalysis("failed", live_reason)
        else:
            result = self._analyse(step, trial)
        self.store.save_trial_data(tid, trial, calibration_id=self.calibration_id)
        fields = dict(status=result.status, reason=result.reason, events=_events(trial, result, cue_at_s=cue_at),
                      window_start_s=result.window_start_s, window_end_s=result.window_end_s)
        self.store.update_trial(tid, **fields)
        metrics = dict(result.metrics)
        if isinstance(step, StanceTrial) and metrics:
            metrics["sway_index"] = scoring.sway_index(metrics)
            metrics["stability_score"] = scoring.stability_score(metrics["sway_index"])
        if metrics:
            self.store.set_metrics(tid, metrics)
        for k, rep in enumerate(result.rep_metrics, start=1):
            self.store.set_metrics(tid, rep, rep=k)
        path.unlink(missing_ok=True)  # safely in the database now
        self.trial_states[tid] = result.status
        if error is not None:
            raise error
        text = "Trial complete." if result.status == "finished" else f"Trial {result.status}: {result.reason}."
        self._emit("trial_end", text, trial_id=tid, status=result.status, reason=result.reason,
                   metrics={k: metrics.get(k) for k in ("mean_velocity_ml_mm_s", "stability_score", "reps_counted")
                            if k in metrics})
        return tid, result.status, result.reason

    def _analyse(self, step, trial) -> analysis.TrialAnalysis:
        try:
            if isinstance(step, StanceTrial):
                return analysis.analyze_stance(trial, self.calibration, side=step.side, duration_s=step.duration_s,
                                               exclude_s=step.exclude_s, body_mass_kg=self._body_mass())
            return analysis.analyze_rdl(trial, self.calibration, side=step.side, reps=step.reps,
                                        body_mass_kg=self._body_mass())
        except (StationError, ValueError) as exc:
            log.warning("trial analysis failed: %s", exc)
            return analysis.TrialAnalysis("failed", f"the recording could not be analysed ({exc})")

    def _rest_position(self) -> float:
        """Wait for the first 0.25 s of the recording (before the cue) and return its ML COP reference."""
        rate = self._rate()
        need = max(int(analysis.REFERENCE_S * rate), 2)
        while self.acq.recording_frames < need:
            self._check_abort()
            self._check_link()
            self.clock.sleep(self.poll_s)
        n = self.acq.recording_frames
        counts = self.acq.snapshot(n / rate + 1.0).counts[-n:][:need]
        min_load = analysis.min_load_n(self._body_mass())
        ml, _, total = self.calibration.cop_mm(counts, threshold_n=min_load / 4.0)
        return analysis.reference_ml(total, ml, min_load=min_load)

    def _rate(self) -> float:
        info = self.acq.info
        return float(info.nominal_rate_hz or 80) if info is not None else 80.0

    def _watch(self, step, *, reference_ml_mm: float, cue_at_s: float) -> tuple[LiveOutcome, str, str]:
        """Live loop: wait for the stance, then for the trial's end, a step-off, or enough reps."""
        rate = self._rate()
        min_load = analysis.min_load_n(self._body_mass())
        hold_n = max(int(analysis.HOLD_S * rate), 2)
        reference = reference_ml_mm
        stance_at = None
        weight = None
        last_count = -1
        reps_seen = 0
        is_rdl = isinstance(step, RdlSet)
        target = step.max_duration_s if is_rdl else step.duration_s
        while True:
            self._check_abort()
            self._check_link()
            if stance_at is None:
                total, ml, elapsed = self._latest(hold_n)
                if len(total) >= hold_n and analysis.stance_mask(
                    total, ml, side=step.side, min_load=min_load, reference_ml_mm=reference
                ).all():
                    stance_at = max(elapsed - analysis.HOLD_S, 0.0)
                    weight = float(np.median(total))
                    self._emit("stance_start", f"{step.side.upper()} leg stance detected.", side=step.side)
                    what = f"{step.reps} repetitions" if is_rdl else f"{step.duration_s:g} s"
                    self._emit("recording", f"Recording: {what}.", side=step.side)
                elif elapsed - cue_at_s > self.stance_timeout_s:
                    return (LiveOutcome.NO_STANCE, "failed",
                            f"no single-leg stance on the {step.side} leg within {self.stance_timeout_s:g} s")
            else:
                total, _, elapsed = self._latest(int(analysis.STEP_OFF_S * rate))
                remaining = stance_at + target - elapsed
                whole = int(np.ceil(remaining))
                if not is_rdl and whole != last_count and whole >= 0:
                    last_count = whole
                    self._emit("countdown", f"{whole} s", remaining_s=float(max(remaining, 0.0)))
                if len(total) and (total < analysis.STEP_OFF_FRACTION * weight).all() and \
                        elapsed - stance_at > analysis.STEP_OFF_S:
                    return LiveOutcome.STEPPED_OFF, "failed", "stepped off the board"
                if is_rdl:
                    count = self._live_reps(elapsed - stance_at, rate, weight)
                    if count > reps_seen:
                        reps_seen = count
                        self._emit("rep", f"{count}", count=count, target=step.reps)
                    if count >= step.reps:
                        # let the last repetition end and the patient stand still briefly
                        self._wait_board(1.0)
                        return LiveOutcome.DONE, "finished", ""
                if remaining < -0.3:  # a little beyond the window so it lies wholly inside the recording
                    return LiveOutcome.DONE, "finished", "" if not is_rdl else "time limit reached"
            self.clock.sleep(self.poll_s)

    def _live_reps(self, seconds: float, rate: float, weight: float) -> int:
        n = int(seconds * rate)
        if n < int(2 * rate):
            return 0
        win = self.acq.snapshot(n / rate + 1.0)
        counts = win.counts[-n:]
        if len(counts) < 2:
            return 0
        ml, ap, total = self.calibration.cop_mm(counts, threshold_n=analysis.COP_GATE_FRACTION * weight)
        t = np.arange(len(counts)) / rate
        try:
            return len(analysis.segment_reps(t, total, ml, ap, weight_n=weight))
        except Exception as exc:  # a live count is a display aid: the recorded trial is analysed again
            log.debug("live repetition count failed: %r", exc)
            return 0

    def _latest(self, n: int) -> tuple[np.ndarray, np.ndarray, float]:
        """The newest ``n`` recorded frames as ``(total_n, cop_ml_mm, elapsed_s)``.

        ``elapsed_s`` is the recording's board time read *after* the frames, so it is never older than
        the newest frame looked at. (Read before, a board running ahead of the runner's thread -- a
        free-running virtual board, a busy host -- would deliver frames newer than that time, the
        stance would be dated too early and the recording ended before the analysed trial's end:
        "the recording stopped 29.8 s into a 30 s trial".)
        """
        rate = self._rate()
        n = min(n, self.acq.recording_frames)
        if n <= 0:
            return np.zeros(0), np.zeros(0), float(self.acq.recording_duration_s)
        win = self.acq.snapshot(n / rate + 1.0)
        elapsed = float(self.acq.recording_duration_s)
        counts = win.counts[-n:]
        ml, _, total = self.calibration.cop_mm(counts, threshold_n=analysis.min_load_n(self._body_mass()) / 4.0)
        return total, ml, elapsed

    def _pause(self, seconds: float, text: str) -> None:
        """Let ``seconds`` of board time pass (counted in frames), e.g. a rest between trials."""
        if seconds <= 0:
            return
        self._emit("rest", text, seconds=seconds)
        goal = self.acq.frames_total + int(seconds * self._rate())
        while self.acq.frames_total < goal:
            self._check_abort()
            self._check_link()
            self.clock.sleep(self.poll_s)

    def _wait_board(self, seconds: float) -> None:
        """Wait until the board's clock has moved on by ``seconds`` (recording time)."""
        goal = self.acq.recording_duration_s + seconds
        while self.acq.recording_duration_s < goal:
            self._check_abort()
            self._check_link()
            self.clock.sleep(self.poll_s)

    def _exercise(self, step: Exercise) -> None:
        """A guided primer exercise: a cue and a timer (nothing recorded)."""
        if self.simulate:
            self._scene({"subject": None})
        if step.duration_s is not None:
            text = f"{step.label}: hold for {step.duration_s:g} s."
        else:
            text = f"{step.label}: {step.reps} repetitions, {step.seconds_per_rep:g} s each."
        self._emit("cue", text, side=step.side, exercise=step.name)
        total = step.total_s
        start = self.clock.now()
        last = None
        while True:
            self._check_abort()
            remaining = total - (self.clock.now() - start)
            if remaining <= 1e-6:  # float steps of the clock need not land on 0 exactly
                break
            if step.reps:
                done = int((total - remaining) // step.seconds_per_rep)
                if done != last:
                    last = done
                    self._emit("rep", f"{done}", count=done, target=step.reps)
            else:
                whole = int(np.ceil(remaining))
                if whole != last:
                    last = whole
                    self._emit("countdown", f"{whole} s", remaining_s=float(remaining))
            self.clock.sleep(min(1.0, remaining))
        self._emit("exercise_end", f"{step.label}: done.", side=step.side, exercise=step.name)
        if self.simulate:
            self._rest()

    def _tare(self) -> None:
        """Zero the cells with the board empty (2 s of data); keeps the calibration's zero if loaded."""
        from station.calibration.fit import tare

        if self.simulate:
            self._scene({"subject": None})
        self._emit("tare", "Step off the board: zeroing the load cells.")
        rate = self._rate()
        start_frames = self.acq.frames_total
        # let the patient step off (1 s), then average 2 s
        while self.acq.frames_total - start_frames < int(3.0 * rate):
            self._check_abort()
            self._check_link()
            self.clock.sleep(self.poll_s)
        counts = self.acq.snapshot(2.0 + 1.0).counts[-int(2.0 * rate):]
        result = tare(counts)
        total = float(self.calibration.forces_n(counts).sum(axis=1).mean())
        if abs(total) > 50.0:
            self._emit("tare", f"The board is not empty ({total:.0f} N): keeping the calibration's zero.")
            log.warning("tare skipped: %.0f N on the board", total)
        else:
            self.calibration = dataclasses.replace(self.calibration, offsets_counts=np.asarray(result.offsets_counts))
            self._emit("tare", "Zeroed.", offsets_counts=[float(x) for x in result.offsets_counts])
        if self.simulate:
            self._rest()

    # ------------------------------------------------------------------ stop step
    def _stop_step(self, final: str) -> None:
        """Always runs: end a recording left open, step the virtual patient down, close the session."""
        try:
            if self._recording:
                try:
                    self.acq.end_recording()
                except RuntimeError:
                    pass
                self._recording = False
            if self.simulate:
                try:
                    self._scene({"subject": None})
                except StationError as exc:
                    log.debug("final scene: %s", exc)
        finally:
            scores = None
            try:
                scores = scoring.score_session(self.store.metrics_table(self.session_id), design=self.protocol.design())
            except Exception:  # scoring must never hide the real outcome
                log.exception("scoring the session failed")
            minutes = self.patient_minutes
            if scores is not None:
                scores["minutes"] = minutes
            self.scores = scores
            self.store.finish_session(self.session_id, status=final, scores=scores)
            self.state = RunState(final)
            self._emit("session_end", f"Session {final} ({minutes:.1f} min of patient time).", status=final,
                       session_id=self.session_id, scores=scores or {}, minutes=minutes)

    @property
    def patient_minutes(self) -> float:
        """Board time from the session's start to now (min): the patient's time on the protocol."""
        frames = self.acq.frames_total - getattr(self, "_frames0", self.acq.frames_total)
        return float(frames / self._rate() / 60.0)

    # ------------------------------------------------------------------ helpers
    def _cue(self, step) -> None:
        side = step.side.upper()
        if isinstance(step, StanceTrial):
            eyes = "eyes closed" if step.condition == "eyes_closed" else "eyes open"
            text = f"Stand on your {side} leg, {eyes}, hands on hips."
            scene = {"stance": step.side, "task": "single_leg"}
        else:
            text = f"Stand on your {side} leg and do {step.reps} Romanian dead-lifts."
            scene = {"stance": step.side, "task": "rdl", "rdl_reps": int(step.reps)}
        self._emit("cue", text, side=step.side, task=step.task)
        if self.simulate:
            if self.sim_adjust is not None:
                scene.update(self.sim_adjust(step) or {})
            self._scene({"subject": scene})

    def _rest(self) -> None:
        if self.simulate:
            self._scene({"subject": {"stance": "both", "task": "quiet"}})

    def _initial_subject(self) -> dict:
        subject = {"preset": "healthy"} | (self.sim_subject or {})
        if "body_mass_kg" not in subject and self.patient.body_mass_kg:
            subject["body_mass_kg"] = float(self.patient.body_mass_kg)
        return subject | {"stance": "both", "task": "quiet"}

    def _scene(self, scene: dict) -> None:
        self.acq.send_command(encode_command(CMD_SIM_SCENE, json.dumps(scene).encode()))

    def _send_subject(self, fields: dict) -> None:
        """Describe the virtual patient in as many scene commands as the 255-byte payload needs.

        The first carries the preset (a fresh subject); the others update it field by field.
        """
        first = {k: v for k, v in fields.items() if k == "preset"}
        messages, current = [], dict(first)
        for key, value in fields.items():
            if key == "preset":
                continue
            trial = current | {key: value}
            if len(json.dumps({"subject": trial})) > 240 and current:
                messages.append(current)
                current = {key: value}
            else:
                current = trial
        messages.append(current)
        for message in messages:
            self._scene({"subject": message})

    def _body_mass(self) -> float | None:
        if self.patient.body_mass_kg:
            return float(self.patient.body_mass_kg)
        if self.simulate and self.sim_subject and "body_mass_kg" in self.sim_subject:
            return float(self.sim_subject["body_mass_kg"])
        return None

    def _check_abort(self) -> None:
        if self._abort.is_set():
            raise Aborted

    def _check_link(self) -> None:
        if self.acq.state == "stopped":
            raise self.acq.error or StationError("The board stopped streaming.")

    def _emit(self, kind: str, text: str, **data) -> None:
        event = RunnerEvent(kind, text, data, self.clock.now() - self._t0)
        log.info("%s: %s", kind, text)
        if self.on_event is not None:
            self.on_event(event)


def _events(trial, result: analysis.TrialAnalysis, *, cue_at_s: float) -> list[dict]:
    """Trial events: the cue, the acquisition's (gaps, reboots) and the analysis' (stance, window, reps...)."""
    events = [{"t_s": cue_at_s, "kind": "cue"}] + list(trial.events or []) + list(result.events)
    return sorted(events, key=lambda e: e.get("t_s", 0.0))


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
