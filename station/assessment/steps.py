"""Step types of the protocol runner, PyMeasure-Procedure style: ``start`` / ``execute`` / ``stop``.

:meth:`StepRun.run` calls the three in order and ``stop`` always runs, whatever went wrong in
``execute`` -- so a recording is always ended and stored, and the virtual patient always rests.

- :class:`TareStep` -- zero the cells with the board empty;
- :class:`ExerciseStep` -- a guided primer exercise (cue and timer, nothing recorded);
- :class:`TrialStep` -- one recorded attempt of a stance trial or an RDL set: queue, rest, record, watch
  live, analyse, store;
- :class:`RecordedStep` -- a trial, repeated when it fails (up to the protocol's ``max_repeats``);
- :class:`AdaptiveStanceStep` -- pairs of stance trials until the L/R verdict is decided;
- :class:`AdaptiveRdlStep` -- pairs of RDL sets until the L/R verdict is decided;
- :class:`AdaptivePostStep` -- the post-primer block, stopped early when the before/after question is futile.

Every wait goes through :meth:`Runner.wait` (one primitive: abort and link checks, then the runner's
clock); the live watch of a trial is a :class:`TrialWatch` polled by it.
"""

from __future__ import annotations

import dataclasses
import enum
import logging

import numpy as np

from station.assessment import analysis, scoring
from station.assessment.results import Interval, estimate_text, level_text
from station.assessment.protocols import (AdaptiveBlock, AdaptivePost, AdaptiveRdl, AdaptiveStance, Exercise, RdlSet,
                                          StanceTrial, _sides)
from station.core.segments import leg_from_shift
from station.errors import CalibrationError, StationError

log = logging.getLogger(__name__)

#: a stance held this long on the other leg than the cued one ends the attempt as "wrong leg" (board s)
WRONG_LEG_HOLD_S = 1.0
#: the stored recording of a stance trial (or of an RDL set stopped by its time limit) ends this long after
#: the analysed window, so the window lies wholly inside it
WINDOW_END_MARGIN_S = 0.3
#: the stored recording of an RDL set ends this long after the end of its last repetition
RDL_END_MARGIN_S = 1.0


class Aborted(Exception):
    """The operator stopped the session (``Runner.abort()``)."""


class LiveOutcome(enum.Enum):
    """How the live watch of a trial ended (decides whether the recording is analysed)."""

    DONE = "done"
    NO_STANCE = "no_stance"
    WRONG_LEG = "wrong_leg"
    STEPPED_OFF = "stepped_off"
    ABORTED = "aborted"
    ERROR = "error"


class StepRun:
    """One protocol step being run: ``start`` (prepare), ``execute`` (the work), ``stop`` (always runs)."""

    def __init__(self, runner, step):
        self.runner = runner
        self.step = step

    def start(self) -> None:
        pass

    def execute(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass

    def run(self) -> None:
        self.start()
        try:
            self.execute()
        finally:
            self.stop()


class TareStep(StepRun):
    """Zero the cells with the board empty (2 s of data); keeps the calibration's zero if the board is loaded."""

    def __init__(self, runner):
        super().__init__(runner, None)

    def start(self) -> None:
        self.runner.patient_script.leave()
        self.runner.emit("tare", "Step off the board: zeroing the load cells.")

    def execute(self) -> None:
        from station.calibration.fit import tare

        r = self.runner
        rate = r.rate_hz
        goal = r.acq.frames_total + int(3.0 * rate)  # let the patient step off (1 s), then average 2 s
        r.wait(lambda: r.acq.frames_total >= goal, step_s=lambda: r.frames_step_s(goal))
        r.add_patient_time(3.0)
        counts = r.acq.snapshot(2.0 + 1.0).counts[-int(2.0 * rate):]
        result = tare(counts)
        total = float(r.calibration.forces_n(counts).sum(axis=1).mean())
        if abs(total) > 50.0:
            r.emit("tare", f"The board is not empty ({total:.0f} N): keeping the calibration's zero.")
            log.warning("tare skipped: %.0f N on the board", total)
        else:
            r.calibration = dataclasses.replace(r.calibration, offsets_counts=np.asarray(result.offsets_counts))
            r.emit("tare", "Zeroed.", offsets_counts=[float(x) for x in result.offsets_counts])

    def stop(self) -> None:
        try:
            self.runner.patient_script.rest()
        except StationError as exc:
            log.debug("rest scene: %s", exc)


class ExerciseStep(StepRun):
    """A guided primer exercise: a cue and a timer on the runner's clock (nothing recorded)."""

    step: Exercise

    def start(self) -> None:
        self.runner.patient_script.leave()
        s = self.step
        text = (f"{s.label}: hold for {s.duration_s:g} s." if s.duration_s is not None
                else f"{s.label}: {s.reps} repetitions, {s.seconds_per_rep:g} s each.")
        self.runner.emit("cue", text, side=s.side, exercise=s.name)

    def execute(self) -> None:
        r, s = self.runner, self.step
        total = s.total_s
        start = r.clock.now()
        last = {"shown": None}

        def remaining() -> float:
            return total - (r.clock.now() - start)

        def done() -> bool:
            left = remaining()
            if left <= 1e-6:  # float steps of the clock need not land on 0 exactly
                return True
            shown = int((total - left) // s.seconds_per_rep) if s.reps else int(np.ceil(left))
            if shown != last["shown"]:
                last["shown"] = shown
                if s.reps:
                    r.emit("rep", f"{shown}", count=shown, target=s.reps)
                else:
                    r.emit("countdown", f"{shown} s", remaining_s=float(left))
            return False

        r.wait(done, link=False, step_s=lambda: min(1.0, max(remaining(), 0.0)))
        r.add_patient_time(total)
        r.emit("exercise_end", f"{s.label}: done.", side=s.side, exercise=s.name)

    def stop(self) -> None:
        try:
            self.runner.patient_script.rest()
        except StationError as exc:
            log.debug("rest scene: %s", exc)


class TrialWatch:
    """The live decisions of one trial, polled by :meth:`Runner.wait`: stance start, end, step-off, reps."""

    def __init__(self, runner, step, *, reference_ml_mm: float, cue_at_s: float):
        self.r = runner
        self.step = step
        self.reference = reference_ml_mm
        self.cue_at_s = cue_at_s
        self.rate = runner.rate_hz
        self.min_load = analysis.min_load_n(runner.body_mass_kg())
        self.hold_n = max(int(analysis.HOLD_S * self.rate), 2)
        self.wrong_leg_n = max(int(WRONG_LEG_HOLD_S * self.rate), self.hold_n)
        #: the trial event of a stance held on the other leg (then ``result`` is WRONG_LEG)
        self.wrong_leg: dict | None = None
        self.is_rdl = isinstance(step, RdlSet)
        self.target_s = step.max_duration_s if self.is_rdl else step.duration_s
        self.stance_at: float | None = None
        #: the newest frame checked for a step-off (s into the recording)
        self.checked_s = 0.0
        self.weight: float | None = None
        self.last_count = -1
        self.reps_seen = 0
        #: board time (s into the recording) of the end of the last repetition counted live
        self.last_rep_end_s: float | None = None
        #: where the stored recording ends (s into the recording): the trial's own end plus a margin, so
        #: a board that ran ahead of the live decision adds nothing to the trial or to the patient time
        self.end_s: float | None = None
        self.result: tuple[LiveOutcome, str, str] | None = None

    def poll(self) -> bool:
        """One look at the newest frames; True once the trial's live part is over (see ``result``)."""
        self.result = self._stance() if self.stance_at is None else self._running()
        return self.result is not None

    def _stance(self):
        r, step = self.r, self.step
        total, ml, t_s, elapsed = self._since_cue()
        first = _first_run(analysis.stance_mask(total, ml, side=step.side, min_load=self.min_load,
                                                reference_ml_mm=self.reference), self.hold_n)
        if first is not None:
            # dated by the frames themselves: a board that ran ahead of this look moves nothing
            self.stance_at = max(float(t_s[first]), 0.0)
            self.weight = float(np.median(total[first:first + self.hold_n]))
            r.emit("stance_start", f"{step.side.upper()} leg stance detected.", side=step.side)
            what = f"{step.reps} repetitions" if self.is_rdl else f"{step.duration_s:g} s"
            r.emit("recording", f"Recording: {what}.", side=step.side)
        elif self._on_wrong_leg(total, ml, t_s):
            stood = self.wrong_leg["side"]
            self.end_s = float(t_s[-1])  # the attempt ends where the wrong leg was seen held
            r.emit("cue", f"You are standing on your {stood.upper()} leg — stand on your "
                   f"{step.side.upper()} leg.", side=step.side, task=step.task, wrong_leg=True, stood_on=stood)
            return LiveOutcome.WRONG_LEG, "failed", f"wrong leg: stood on the {stood} leg, not the {step.side}"
        elif elapsed - self.cue_at_s > r.stance_timeout_s:
            return (LiveOutcome.NO_STANCE, "failed",
                    f"no single-leg stance on the {step.side} leg within {r.stance_timeout_s:g} s")
        return None

    def _on_wrong_leg(self, total: np.ndarray, ml: np.ndarray, t_s: np.ndarray) -> bool:
        """Whether the newest :data:`WRONG_LEG_HOLD_S` of the frames since the cue (``t_s``: their board time
        in the recording) are a stance held on the other leg (:func:`held_on_wrong_leg`); if so, its trial
        event is kept in ``self.wrong_leg``."""
        if len(total) < self.wrong_leg_n or t_s[-1] - self.cue_at_s < WRONG_LEG_HOLD_S:
            return False
        n = self.wrong_leg_n
        found = held_on_wrong_leg(total[-n:], ml[-n:], cued_side=self.step.side, min_load=self.min_load,
                                  reference_ml_mm=self.reference)
        if found is None:
            return False
        side, shift_mm, how = found
        self.wrong_leg = {"t_s": float(t_s[-n]), "kind": "wrong_leg", "side": side,
                          "cued_side": self.step.side, "shift_mm": shift_mm, "reason": how}
        log.info("wrong leg: cued %s, %s", self.step.side, how)
        return True

    def _recorded(self, since_s: float) -> tuple[np.ndarray, np.ndarray, float]:
        """The recorded frames from ``since_s`` on: ``(counts, t_s, elapsed_s)``, ``t_s`` on the recording's
        board time (the board's own clock from the first recorded frame) and ``elapsed_s`` the recording's
        duration read after the frames.

        The frames are dated by the board's clock, not by when this look happens, so a board that runs ahead
        of the look cannot shift the times -- and a source whose samples come irregularly (the Wii Balance
        Board reports on change, about 80 of a nominal 100 per second) is dated as exactly as a regular one.
        """
        win = self.r.acq.recording_window(since_s)
        elapsed = float(self.r.acq.recording_duration_s)
        t_s = np.asarray(win.device_s, dtype=float)
        return win.counts, t_s, max(elapsed, float(t_s[-1]) if len(t_s) else 0.0)

    def _since_cue(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The recorded frames since the cue: ``(total_n, cop_ml_mm, t_s, elapsed_s)`` (see ``_recorded``)."""
        r = self.r
        counts, t_s, elapsed = self._recorded(self.cue_at_s)
        if not len(counts):
            return np.zeros(0), np.zeros(0), np.zeros(0), elapsed
        ml, _, total = r.calibration.cop_mm(counts, threshold_n=analysis.cop_gate_n(r.body_mass_kg()))
        return total, ml, t_s, elapsed

    def _running(self):
        r, step = self.r, self.step
        # the frames not yet checked for a step-off (and the last STEP_OFF_S before them, so a step-off that
        # spans two looks is seen whole)
        counts, t_s, elapsed = self._recorded(max(self.checked_s - analysis.STEP_OFF_S, self.stance_at))
        if len(t_s):
            self.checked_s = float(t_s[-1])
        remaining = self.stance_at + self.target_s - elapsed
        whole = int(np.ceil(remaining))
        if not self.is_rdl and whole != self.last_count and whole >= 0:
            self.last_count = whole
            r.emit("countdown", f"{whole} s", remaining_s=float(max(remaining, 0.0)))
        stepped_off_s = self._step_off_s(counts, t_s)
        if stepped_off_s is not None:
            self.end_s = stepped_off_s
            return LiveOutcome.STEPPED_OFF, "failed", "stepped off the board"
        if self.is_rdl:
            count = self._live_reps(elapsed - self.stance_at)
            if count > self.reps_seen:
                self.reps_seen = count
                r.emit("rep", f"{count}", count=count, target=step.reps)
            if self._set_over_at_pace(count, elapsed):
                # the patient has stopped and the board missed (reps - count) repetitions: a primer set is
                # kept with those it recognised, any other fails (too few) and is repeated -- either way
                # without keeping the patient on one leg to the set's time limit
                self.end_s = self._set_end_at_pace_s()
                return LiveOutcome.DONE, "finished", ""
            if count >= step.reps and self.last_rep_end_s is not None:
                # the set ends with its last repetition; the recording keeps RDL_END_MARGIN_S of standing after
                # it (the analysis fits each repetition with 0.5 s either side), however far the board ran on.
                # The end is dated again once that standing is on the board: a repetition counted as soon as it
                # ends is dated at the end of the data it was found in
                r.wait(lambda: r.acq.recording_duration_s >= self.last_rep_end_s + 2.0 * RDL_END_MARGIN_S)
                recount = self._live_reps(r.acq.recording_duration_s - self.stance_at)
                if recount < step.reps:
                    # the count ran ahead of the repetitions (a repetition seen in two parts before the
                    # standing after it was on the board): the set goes on until the last one is done
                    log.debug("live count %d -> %d after %.1f s more", count, recount, 2.0 * RDL_END_MARGIN_S)
                    self.reps_seen = recount
                    return None
                self.end_s = self.last_rep_end_s + RDL_END_MARGIN_S
                return LiveOutcome.DONE, "finished", ""
        if remaining < -WINDOW_END_MARGIN_S:  # a little beyond the window so it lies wholly inside the recording
            self.end_s = self.stance_at + self.target_s + WINDOW_END_MARGIN_S
            return LiveOutcome.DONE, "finished", "time limit reached" if self.is_rdl else ""
        return None

    def _set_end_at_pace_s(self) -> float:
        """When a set whose board missed repetitions is over (s into the recording): not before the patient
        had time for all of them at a person's tempo (and a breath), nor within :data:`SET_IDLE_S` of the last
        one recognised."""
        paced = self.stance_at + RDL_FIRST_REP_S + (self.step.reps + 1) * RDL_REP_S
        return max(paced, self.last_rep_end_s + SET_IDLE_S)

    def _set_over_at_pace(self, count: int, elapsed_s: float) -> bool:
        """Whether a set with ``count`` (1 .. reps - 1) recognised repetitions is over (board time, dated by
        the frames: see :meth:`_set_end_at_pace_s`)."""
        if count < 1 or count >= self.step.reps or self.last_rep_end_s is None:
            return False
        return elapsed_s >= self._set_end_at_pace_s()

    def _step_off_s(self, counts: np.ndarray, t_s: np.ndarray) -> float | None:
        """Where a stepped-off trial's recording ends (s into the recording: ``WINDOW_END_MARGIN_S`` after the
        first ``STEP_OFF_S`` below ``STEP_OFF_FRACTION`` of the weight within the trial's own time), or None."""
        r = self.r
        inside = t_s <= self.stance_at + self.target_s + WINDOW_END_MARGIN_S
        n_off = max(int(analysis.STEP_OFF_S * self.rate), 2)
        if np.count_nonzero(inside) < n_off:
            return None
        total = r.calibration.forces_n(counts[inside]).sum(axis=1)
        first = _first_run(total < analysis.STEP_OFF_FRACTION * self.weight, n_off)
        return None if first is None else float(t_s[first]) + analysis.STEP_OFF_S + WINDOW_END_MARGIN_S

    def _live_reps(self, seconds: float) -> int:
        """Repetitions counted since the stance; dates the last one's end (``last_rep_end_s``, on the
        recording's board time)."""
        r, rate = self.r, self.rate
        if int(seconds * rate) < int(2 * rate):
            return 0
        counts, t_s, _ = self._recorded(self.stance_at)
        if len(counts) < 2:
            return 0
        ml, ap, total = r.calibration.cop_mm(counts, threshold_n=analysis.cop_gate_n(r.body_mass_kg()))
        t = t_s - t_s[0]
        try:
            reps = analysis.segment_reps(t, total, ml, ap, weight_n=self.weight, max_reps=self.step.reps)
        except Exception as exc:  # a live count is a display aid: the recorded trial is analysed again
            log.debug("live repetition count failed: %r", exc)
            return 0
        if reps:
            self.last_rep_end_s = float(t_s[0]) + float(reps[-1]["t_end_s"])
        return len(reps)


def held_on_wrong_leg(total_n, cop_ml_mm, *, cued_side: str, min_load: float,
                      reference_ml_mm: float) -> tuple[str, float, str] | None:
    """The other leg than ``cued_side`` when these samples are a stance held on it, else None.

    Held: the live stance criterion (:func:`analysis.stance_mask`) for the other side, on every sample.
    The leg: the recording segmenter's rule (:func:`station.core.segments.leg_from_shift`), the median ML
    COP's shift from the pre-cue bipedal reference, named only when it clearly exceeds the sway -- so the
    weight shift of lifting a foot is not taken for a stance.

    Parameters
    ----------
    total_n, cop_ml_mm : array_like (n,)
        Total vertical force (N) and ML COP (mm, + right) of the newest samples.
    cued_side : {"left", "right"}
    min_load : float
        Standing load (N).
    reference_ml_mm : float
        ML COP on both feet before the cue (mm).

    Returns
    -------
    (side, shift_mm, reason) or None
    """
    other = "left" if cued_side == "right" else "right"
    ml = np.asarray(cop_ml_mm, dtype=float)
    if ml.size == 0 or not analysis.stance_mask(total_n, ml, side=other, min_load=min_load,
                                                reference_ml_mm=reference_ml_mm).all():
        return None
    shift_mm = float(np.median(ml)) - reference_ml_mm
    side, how = leg_from_shift(shift_mm, float(np.std(ml)))
    return (side, shift_mm, how) if side == other else None


class TrialStep(StepRun):
    """One recorded attempt: ``start`` queues it, rests and starts the journal; ``execute`` cues and
    watches; ``stop`` ends the recording, rests the patient, analyses and stores (always)."""

    def __init__(self, runner, step, *, repeat_of: int | None = None):
        super().__init__(runner, step)
        self.repeat_of = repeat_of
        self.trial_id: int | None = None
        self.status, self.reason = "failed", "the trial did not complete"
        self.failure: analysis.Failure | None = None
        self.live: tuple[LiveOutcome, str, str] = (LiveOutcome.ERROR, "failed", "the trial did not complete")
        self.error: BaseException | None = None
        self.cue_at_s = 0.0
        self.watch: TrialWatch | None = None
        #: where the live watch ended the trial (s into the recording); None keeps every recorded frame
        self.end_s: float | None = None
        self._path = None

    def start(self) -> None:
        r, step = self.runner, self.step
        sid = r.session_id
        condition = getattr(step, "condition", "eyes_open")
        tid = r.store.add_trial(sid, task=step.task, side=step.side, phase=step.phase, condition=condition,
                                step=step.label, status="queued", repeat_of=self.repeat_of)
        self.trial_id = tid
        meta = {
            "session_id": sid, "trial_id": tid, "patient_id": r.patient.id, "task": step.task, "side": step.side,
            "phase": step.phase, "condition": condition, "step": step.label, "protocol": r.protocol.name,
            "repeat_of": self.repeat_of,
        }
        try:
            r.pause(r.rest_s, "Rest on both feet.")
        except Aborted:
            r.store.update_trial(tid, status="aborted", reason="stopped by the operator")
            raise
        info = r.acq.info
        r.store.update_trial(tid, status="running", started=r.now_iso(), calibration_id=r.calibration_id,
                             board=info.to_dict() if info else None, meta=meta)
        self._path = r.store.journal_path(session_id=sid, trial_id=tid)
        r.acq.begin_recording(self._path, meta, calibration=r.calibration.to_dict())
        r.recording = True

    def run(self) -> None:
        self.start()  # an abort during the rest leaves no recording to stop
        try:
            self.execute()
        finally:
            self.stop()
        if self.error is not None:
            raise self.error

    def execute(self) -> None:
        r, step = self.runner, self.step
        try:
            reference = self._rest_position()
            self.cue_at_s = float(r.acq.recording_duration_s)
            self._cue()
            watch = self.watch = TrialWatch(r, step, reference_ml_mm=reference, cue_at_s=self.cue_at_s)
            r.wait(watch.poll)
            self.live = watch.result
            self.end_s = watch.end_s
        except (Aborted, KeyboardInterrupt):  # Ctrl-C at the terminal is the operator's stop too
            r.abort()
            self.live = (LiveOutcome.ABORTED, "aborted", "stopped by the operator")
        except BaseException as exc:  # stored as the trial's reason, re-raised after stop
            self.error = exc
            self.live = (LiveOutcome.ERROR, "failed", f"the recording stopped: {exc}")

    def _cue(self) -> None:
        r, step = self.runner, self.step
        side = step.side.upper()
        if isinstance(step, StanceTrial):
            eyes = "eyes closed" if step.condition == "eyes_closed" else "eyes open"
            text = f"Stand on your {side} leg, {eyes}, hands on hips."
        else:
            text = f"Stand on your {side} leg and do {step.reps} Romanian dead-lifts."
        r.emit("cue", text, side=step.side, task=step.task)
        r.patient_script.cue(step, repeat=self.repeat_of is not None)

    def _rest_position(self) -> float:
        """Wait for the first 0.25 s of the recording (before the cue) and return its ML COP reference."""
        r = self.runner
        rate = r.rate_hz
        need = max(int(analysis.REFERENCE_S * rate), 2)
        goal = r.acq.frames_total + need - r.acq.recording_frames
        r.wait(lambda: r.acq.recording_frames >= need, step_s=lambda: r.frames_step_s(goal))
        counts = r.acq.recording_window(0.0).counts[:need]
        min_load = analysis.min_load_n(r.body_mass_kg())
        ml, _, total = r.calibration.cop_mm(counts, threshold_n=analysis.cop_gate_n(r.body_mass_kg()))
        return analysis.reference_ml(total, ml, min_load=min_load)

    def stop(self) -> None:
        r, step = self.runner, self.step
        trial = r.acq.end_recording(duration_s=self.end_s)
        r.recording = False
        times = getattr(trial, "device_time_s", None)
        times = np.asarray(times if times is not None else [], dtype=float)
        if times.size > 1:
            r.add_patient_time(times[-1] - times[0])
        try:
            r.patient_script.rest()
        except StationError as exc:
            log.debug("rest scene: %s", exc)
        outcome, live_status, live_reason = self.live
        if outcome in (LiveOutcome.ABORTED, LiveOutcome.ERROR, LiveOutcome.NO_STANCE):
            result = analysis.TrialAnalysis(live_status, live_reason)
        elif outcome is LiveOutcome.WRONG_LEG:  # never analysed as the cued leg's trial
            result = analysis.TrialAnalysis(live_status, live_reason, events=[self.watch.wrong_leg])
        else:
            result = self._analyse(trial)
        tid = self.trial_id
        r.store.save_trial_data(tid, trial, calibration_id=r.calibration_id)
        r.store.update_trial(tid, status=result.status, reason=result.reason,
                             events=_events(trial, result, cue_at_s=self.cue_at_s),
                             window_start_s=result.window_start_s, window_end_s=result.window_end_s)
        metrics = dict(result.metrics)
        if isinstance(step, StanceTrial) and metrics:
            metrics["sway_index"] = scoring.sway_index(metrics)
            metrics["stability_score"] = scoring.stability_score(metrics["sway_index"])
        if metrics:
            r.store.set_metrics(tid, metrics)
        for k, rep in enumerate(result.rep_metrics, start=1):
            r.store.set_metrics(tid, rep, rep=k)
        self._path.unlink(missing_ok=True)  # safely in the database now
        self.status, self.reason = result.status, result.reason
        self.failure = result.failure
        if self.error is None:
            if result.status != "finished":
                text = f"Trial {result.status}: {result.reason}."
            elif getattr(self.step, "exercise", False) and result.reason:  # kept short: the board missed some
                text = f"Set complete: {result.reason} (a primer set is not repeated)."
            else:
                text = "Trial complete."
            r.emit("trial_end", text, trial_id=tid, status=result.status, reason=result.reason,
                   metrics={k: metrics.get(k) for k in ("mean_velocity_ml_mm_s", "stability_score", "reps_counted")
                            if k in metrics})

    def _analyse(self, trial) -> analysis.TrialAnalysis:
        r, step = self.runner, self.step
        try:
            if isinstance(step, StanceTrial):
                return analysis.analyze_stance(trial, r.calibration, side=step.side, duration_s=step.duration_s,
                                               exclude_s=step.exclude_s, body_mass_kg=r.body_mass_kg())
            return analysis.analyze_rdl(trial, r.calibration, side=step.side, reps=step.reps,
                                        body_mass_kg=r.body_mass_kg(), keep_short=step.exercise)
        except (StationError, ValueError) as exc:
            log.warning("trial analysis failed: %s", exc)
            return analysis.TrialAnalysis("failed", f"the recording could not be analysed ({exc})")


class RecordedStep(StepRun):
    """A recorded step, repeated when it fails (at most ``protocol.max_repeats`` more times)."""

    def execute(self) -> None:
        r = self.runner
        repeat_of = None
        attempts = r.protocol.max_repeats + 1
        for attempt in range(attempts):
            trial = TrialStep(r, self.step, repeat_of=repeat_of)
            trial.run()
            if trial.status == "finished":
                return
            if trial.status == "aborted":
                raise Aborted
            if trial.failure is analysis.Failure.CALIBRATION:
                # the numbers cannot be trusted and repeating the trial cannot help: stop the assessment
                r.emit("repeat", f"Assessment stopped: {trial.reason}.", trial_id=trial.trial_id, reason=trial.reason,
                       attempt=None)
                raise CalibrationError(f"the assessment stopped: {trial.reason}.")
            if attempt < r.protocol.max_repeats:
                r.emit("repeat", f"Trial failed ({trial.reason}); repeating it.", trial_id=trial.trial_id,
                       reason=trial.reason, attempt=attempt + 2)
                repeat_of = trial.trial_id
        r.emit("repeat", f"Giving up on '{self.step.label}' after {attempts} attempts.", trial_id=trial.trial_id,
               reason=trial.reason, attempt=None)


def look_sentence(outcome, headline: dict, *, pairs: int, max_pairs: int, unit: str, what: str, target: str,
                  futility_level: float, detail: str) -> tuple[bool, str]:
    """An adaptive L/R block's look for the clinician: ``(stop, sentence)`` after ``pairs`` ``unit``s per leg
    ("trial" or "set"), ``what`` the block's question ("asymmetry", "difference") and ``target`` its size."""
    from station.assessment import sequential

    done = f"{pairs} {unit}{'' if pairs == 1 else 's'} per leg"
    if outcome.decision is sequential.Decision.EFFICACY:
        return True, f"Decided after {done}: {headline['verdict']} ({detail})."
    if outcome.decision is sequential.Decision.FUTILITY:
        return True, (f"Decided after {done}: no detectable {what}, and one as large as {target} is unlikely "
                      f"(its {level_text(futility_level)} interval lies inside {target}; {detail}).")
    if outcome.decision is sequential.Decision.LAST:
        return True, f"Stopping at the maximum of {max_pairs} {unit}s per leg: {headline['verdict']} ({detail})."
    article = "an" if what[0] in "aeiou" else "a"
    return False, (f"Another {unit} per leg ({pairs + 1} of up to {max_pairs}): the left/right verdict is undecided "
                   f"— no side is clear yet and {article} {what} of {target} is not excluded ({detail}).")


class AdaptiveStanceStep(StepRun):
    """Pairs of trials (one per side) until the block's headline verdict is decided (docs/ASSESSMENT.md §5).

    After ``min_trials`` pairs, a look (:func:`station.assessment.sequential.look`): stop when the verdict
    names a side (efficacy), when its interval already excludes an asymmetry as large as the target
    (futility), or at ``max_trials``; otherwise the runner says why another pair is needed and how much
    patient time is left (an ``adaptive`` event, shown to the clinician).
    """

    step: AdaptiveStance

    def execute(self) -> None:
        r, block = self.runner, self.step
        pairs = 0
        while True:
            pairs += 1
            for side in _sides(block.first_side):
                r.check_abort()
                RecordedStep(r, block.trial(side, pairs)).run()
            if pairs < block.min_trials:
                continue
            stop, text, headline, outcome = self.look(pairs)
            remaining = r.remaining(current_left_s=self.left_s(pairs, stop))
            r.emit("adaptive", f"{text} {remaining['remaining_text']}", block=block.block, pairs=pairs, stop=stop,
                   decision=outcome.decision.value, verdict=headline.get("verdict"), estimate=headline.get("estimate"),
                   ci_low=headline.get("ci_low"), ci_high=headline.get("ci_high"),
                   resolution=headline.get("resolution"), alpha=outcome.alpha, **remaining)
            if stop:
                self.record_stop(pairs, outcome)
                return

    def record_stop(self, pairs: int, outcome) -> None:
        """The session's verdict is the test of the look where the block stopped, at that look's level."""
        self.runner.design.setdefault(self.step.block, {}).update(alpha=outcome.alpha,
                                                                  decision=outcome.decision.value, pairs=pairs)

    def left_s(self, pairs: int, stop: bool) -> tuple[float, float]:
        """Patient seconds this block still needs after the look at ``pairs``: ``(low, high)`` -- the next
        look stopping it, or every pair up to the last."""
        block = self.step
        if stop:
            return 0.0, 0.0
        pair = pair_s(block, rest_s=self.runner.rest_s)
        return pair, (block.max_trials - pairs) * pair

    def look(self, pairs: int) -> tuple[bool, str, dict, object]:
        """The stopping rule after ``pairs`` pairs: ``(stop, text for the clinician, headline verdict, the
        :class:`station.assessment.sequential.Look`)``."""
        from station.assessment import sequential

        r, block = self.runner, self.step
        design = block.sequential()
        rows = r.store.metrics_table(r.session_id)
        headline = scoring.score_stance(rows, phase=block.phase, condition=block.condition,
                                        alpha=design.alpha(pairs))["headline"]
        outcome = sequential.look(design, pairs=pairs, log_ratio=float(headline.get("log_ratio", np.nan)),
                                  log_se=float(headline.get("log_se", np.nan)), df=float(headline.get("df") or 0))
        if not np.isfinite(outcome.log_ratio):
            detail = "not enough valid trials yet"
        else:
            detail = "SI " + estimate_text(outcome.si_pct, Interval(*outcome.si_ci_pct, 1 - outcome.alpha), 0, unit="%")
        stop, text = look_sentence(outcome, headline, pairs=pairs, max_pairs=block.max_trials, unit="trial",
                                   what="asymmetry", target=f"±{design.target_si_pct:g} %",
                                   futility_level=1 - design.futility_alpha, detail=detail)
        return stop, text, headline, outcome


class AdaptiveRdlStep(AdaptiveStanceStep):
    """Pairs of RDL sets (one per side) until the L/R verdict of the lateral shift is decided: the looks of
    :class:`AdaptiveStanceStep` on the difference R − L (mm) of the repetitions' test."""

    step: AdaptiveRdl

    def look(self, pairs: int) -> tuple[bool, str, dict, object]:
        from station.assessment import sequential
        from station.assessment.stats import t_quantile

        r, block = self.runner, self.step
        design = block.sequential()
        alpha = design.alpha(pairs)
        rows = r.store.metrics_table(r.session_id)
        verdict = scoring.rdl_scores(rows, task=block.task, phase=block.phase, alpha=alpha, adaptive=True).headline
        headline = verdict.to_dict()
        d, df = float(verdict.estimate), float(verdict.df or 0)
        se = float(verdict.resolution) / t_quantile(alpha, df) if df > 0 and np.isfinite(verdict.resolution) else np.nan
        outcome = sequential.look(design, pairs=pairs, log_ratio=d, log_se=se, df=df)
        if not np.isfinite(outcome.log_ratio):
            detail = "not enough valid repetitions yet"
        else:
            detail = "R − L " + estimate_text(outcome.log_ratio, Interval(outcome.ci_low, outcome.ci_high,
                                                                         1 - outcome.alpha), 1, unit="mm")
        stop, text = look_sentence(outcome, headline, pairs=pairs, max_pairs=block.max_sets, unit="set",
                                   what="difference", target=f"±{design.target:g} mm",
                                   futility_level=1 - design.futility_alpha, detail=detail)
        return stop, text, headline, outcome


class AdaptivePostStep(AdaptiveStanceStep):
    """The post-primer block: pairs of stance trials, stopped early only when the before/after question is
    futile (:class:`station.assessment.protocols.AdaptivePost`); its looks never call anything."""

    step: AdaptivePost

    def record_stop(self, pairs: int, outcome) -> None:
        # where the block stopped, for the record; the before/after and left/right tests keep their fixed levels
        self.runner.design.setdefault(f"before_after/{self.step.condition}", {}).update(
            decision=outcome.decision.value, pairs=pairs, adaptive_post=True)

    def look(self, pairs: int) -> tuple[bool, str, dict, object]:
        from station.assessment import sequential

        r, block = self.runner, self.step
        rows = r.store.metrics_table(r.session_id)
        verdicts = scoring.before_after_scores(rows, condition=block.condition).headline
        legs = [v for v in verdicts if v.side]
        called = sequential.changes_called(verdicts)
        futile = sequential.post_primer_futile(verdicts, target_change_pct=block.target_change_pct,
                                               futility_alpha=block.futility_alpha)
        last = pairs >= block.max_trials
        decision = (sequential.Decision.FUTILITY if futile and not last else
                    sequential.Decision.LAST if last else sequential.Decision.CONTINUE)
        weakest = min(legs, key=lambda v: v.estimate if np.isfinite(v.estimate) else np.inf) if legs else None
        headline = weakest.to_dict() if weakest is not None else {}
        outcome = sequential.Look(pairs, decision, weakest.alpha if weakest is not None else np.nan,
                                  headline.get("log_ratio", np.nan), np.nan, np.nan)
        target = f"−{block.target_change_pct:g} %"
        changes = "; ".join(f"{v.side.upper()} {estimate_text(v.estimate, v.interval, 0, unit='%')}"
                            for v in legs if np.isfinite(v.estimate))
        if decision is sequential.Decision.FUTILITY:
            return True, (f"Decided after {pairs} trials per leg after the primer: no change is called, and an "
                          f"improvement of {target} is unlikely on either leg (each leg's "
                          f"{level_text(1 - block.futility_alpha)} interval "
                          f"excludes it; {changes})."), headline, outcome
        if last:
            return True, f"The post-primer block is complete ({pairs} trials per leg; {changes}).", headline, outcome
        named = ", ".join(f"{v.side.upper() + ' leg' if v.side else 'asymmetry'} {v.outcome.value}" for v in called)
        why = (f"a change is called ({named}), so the block goes on" if called else
               f"an improvement of {target} is not yet excluded on both legs")
        return False, (f"Another trial per leg after the primer ({pairs + 1} of up to {block.max_trials}): {why} "
                       f"({changes or 'not enough valid trials yet'})."), headline, outcome


def step_run(runner, step) -> StepRun:
    """The step type that runs ``step``."""
    if isinstance(step, Exercise):
        return ExerciseStep(runner, step)
    if isinstance(step, AdaptiveRdl):
        return AdaptiveRdlStep(runner, step)
    if isinstance(step, AdaptivePost):
        return AdaptivePostStep(runner, step)
    if isinstance(step, AdaptiveStance):
        return AdaptiveStanceStep(runner, step)
    return RecordedStep(runner, step)


#: expected time from the cue to a detected single-leg stance (lifting the other foot, then the 0.5 s hold)
STEP_ON_S = 2.0
#: an RDL repetition at a person's tempo (about 1.2 s down, a pause, 1 s up, a breath), and the time from
#: the stance to the first repetition
RDL_REP_S = 3.0
RDL_FIRST_REP_S = 2.0
#: an RDL set whose board missed repetitions is over once none has been recognised for this long (and the
#: patient had time for all of them): a missed repetition at a slow tempo (4 s) leaves a gap of 8 s between
#: two recognised ones
SET_IDLE_S = 3.0 * RDL_REP_S


def block_of(step) -> str:
    """The block a step's patient time is counted to: ``practice``, ``stance/<phase>/<condition>``, ``rdl``,
    ``primer`` (its exercises and rear-foot-elevated RDL sets)."""
    if isinstance(step, AdaptiveBlock):
        return step.block
    if isinstance(step, StanceTrial):
        return "practice" if step.task != "single_leg" else f"stance/{step.phase}/{step.condition}"
    if isinstance(step, RdlSet) and step.task == "rdl":
        return "rdl"
    return "primer"


def expected_s(step, *, rest_s: float) -> tuple[float, float]:
    """Expected patient seconds of a step, ``(low, high)``: equal for a fixed step; for an adaptive block,
    stopping at its first look and running to its last trial. A repeated (failed) trial is not foreseen."""
    recorded = rest_s + analysis.REFERENCE_S + STEP_ON_S
    if isinstance(step, Exercise):
        return step.total_s, step.total_s
    if isinstance(step, RdlSet):
        s = recorded + RDL_FIRST_REP_S + step.reps * RDL_REP_S + RDL_END_MARGIN_S
        return s, s
    if isinstance(step, AdaptiveBlock):
        pair = pair_s(step, rest_s=rest_s)
        return step.min_trials * pair, step.max_trials * pair
    s = recorded + step.duration_s + WINDOW_END_MARGIN_S
    return s, s


def pair_s(block: AdaptiveBlock, *, rest_s: float) -> float:
    """Expected patient seconds of one pair (left, right) of an adaptive block's trials or sets."""
    return 2.0 * expected_s(block.trial(block.first_side, 1), rest_s=rest_s)[0]


def _first_run(mask: np.ndarray, length: int) -> int | None:
    """Index of the first of ``length`` consecutive True values in ``mask`` (None if there is none)."""
    if length <= 0 or mask.size < length:
        return None
    runs = np.convolve(mask.astype(np.int32), np.ones(length, np.int32), mode="valid")
    hits = np.flatnonzero(runs == length)
    return int(hits[0]) if hits.size else None


def _events(trial, result: analysis.TrialAnalysis, *, cue_at_s: float) -> list[dict]:
    """Trial events: the cue, the acquisition's (gaps, reboots) and the analysis' (stance, window, reps...)."""
    events = [{"t_s": cue_at_s, "kind": "cue"}] + list(trial.events or []) + list(result.events)
    return sorted(events, key=lambda e: e.get("t_s", 0.0))
