"""Run a protocol end to end on an in-process virtual board, faster than real time and deterministic.

Used by ``station assess --sim``, by ``bench/verdicts.py`` and by the tests of the runner: the same
runner, analysis, store and scoring, the board in lockstep with the runner's clock.

The board runs in lockstep with the runner's clock: :class:`PacedTransport` advances the board only
up to the time :class:`LockstepClock` allows, and the clock's ``sleep`` returns once the acquisition
has received everything up to then. Scene commands therefore land at the same board time on every
run, and a seed always gives the same session. (A free-running non-realtime board races the runner's
thread: its results vary from run to run, and its live decisions lag the board -- the trial's own end is
then cut from the recording by the runner, but the patient's cues still land late.)

:func:`run_sim_session` is the one path of a simulated session: ``station assess --sim`` and the bench
both call it, so the bench's patient minutes are those ``assess`` prints for the same seed and subject.
:func:`run_protocol` is the tests' shortcut: a board whose gains and offsets are fixed here (instead of
drawn per seed), so the tests can build the matching calibration directly; the calibration procedure
itself is tested by tests/calibration.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from station.assessment import runner as runner_mod
from station.board.acquisition import Acquisition
from station.board.virtual import BoardModel, VirtualBoard, VirtualTransport
from station.board.virtual.wii import VirtualWiiBoard, VirtualWiiDevice, VirtualWiiSource
from station.calibration import Calibration, load_geometry

GAINS_COUNTS_PER_N = (55.0, 54.0, 56.0, 55.5)
OFFSETS_COUNTS = (1200, -2100, 3050, 480)


class _Lockstep:
    """A virtual board that never runs ahead of ``lockstep_s`` (board time): the runner's
    :class:`LockstepClock` moves ``lockstep_s`` and waits on ``cond`` for the board to reach it."""

    board: VirtualBoard | VirtualWiiBoard

    def _init_lockstep(self, *, engaged: bool) -> None:
        #: board time the board may run to; None: not in lockstep (a plain non-realtime board, e.g. for the
        #: calibration wizard, which paces the board itself, or a real-time demonstration)
        self.lockstep_s: float | None = self.board.time_s if engaged else None
        self.reads = 0
        self.cond = threading.Condition()

    def engage(self) -> None:
        """From now on the board runs only as far as ``lockstep_s`` (starting where it is)."""
        with self.cond:
            if self.lockstep_s is None:
                self.lockstep_s = self.board.time_s

    def _lockstep_step(self) -> bool:
        """One read's worth of the board (at most ``chunk_s``, never beyond ``lockstep_s``); False when it
        has to wait for the clock."""
        with self.cond:
            self.reads += 1
            self.cond.notify_all()
            ahead = self.lockstep_s - self.board.time_s
        if ahead > 1e-9:
            self._advance(min(self.chunk_s, ahead))
            return True
        time.sleep(0.0002)
        return False


class PacedTransport(_Lockstep, VirtualTransport):
    """A non-realtime virtual transport in lockstep with the runner's clock (see :class:`_Lockstep`)."""

    def __init__(self, board: VirtualBoard, *, chunk_s: float = 0.25, engaged: bool = True):
        super().__init__(board, realtime=False, chunk_s=chunk_s)
        self._init_lockstep(engaged=engaged)
        self._bytes = b""

    def _advance(self, seconds: float) -> None:
        self._bytes = self.board.advance(seconds)

    def _step(self, timeout_s: float) -> bytes:
        if self.lockstep_s is None:
            return super()._step(timeout_s)
        self._bytes = b""
        self._lockstep_step()
        return self._bytes


class PacedWiiDevice(_Lockstep, VirtualWiiDevice):
    """The virtual Wii Balance Board's device in lockstep with the runner's clock (see :class:`_Lockstep`)."""

    def __init__(self, board: VirtualWiiBoard, *, chunk_s: float = 0.25):
        super().__init__(board, realtime=False, chunk_s=chunk_s)
        self._init_lockstep(engaged=True)

    def _advance(self, seconds: float) -> None:
        self.board.advance(seconds)

    def wait_readable(self, timeout_s: float) -> bool:
        if self.lockstep_s is None:  # released from lockstep (a real-time demonstration)
            return super().wait_readable(timeout_s)
        self._lockstep_step()
        return bool(self.board.pending_events)


class LockstepClock(runner_mod.Clock):
    """Board time as the runner's clock: ``sleep`` lets the board advance and waits for its data."""

    def __init__(self, transport: PacedTransport | PacedWiiDevice):
        self.transport = transport
        transport.engage()

    def now(self) -> float:
        return self.transport.lockstep_s

    def sleep(self, seconds: float) -> None:
        tr = self.transport
        with tr.cond:
            tr.lockstep_s += max(seconds, 0.0)
            deadline = time.monotonic() + 30.0
            while tr.board.time_s < tr.lockstep_s - 1e-9 and time.monotonic() < deadline:
                tr.cond.wait(0.05)
            # two more reads: the acquisition has decoded and stored the batch that reached lockstep_s
            target = tr.reads + 2
            while tr.reads < target and time.monotonic() < deadline:
                tr.cond.wait(0.05)


def calibration_for(board: VirtualBoard) -> Calibration:
    return Calibration(
        board_id=board.info.board_id_hex,
        geometry=load_geometry("reference-400x300"),
        offsets_counts=np.asarray(OFFSETS_COUNTS, dtype=float),
        gains_n_per_count=1.0 / np.asarray(GAINS_COUNTS_PER_N),
        created="2026-11-25T08:00:00+00:00",
    )


@dataclass
class SimRun:
    store: object  # station.store.Store (a higher layer: passed in, never imported here)
    session_id: int
    board: VirtualBoard
    runner: runner_mod.Runner
    events: list


#: the runner's poll step (board time) in lockstep: every live decision is dated by the frames themselves,
#: so the step changes only how often the runner looks (CPU), not the patient time
SIM_POLL_S = 0.5


def sim_transport(seed: int, *, board_id: int | None = None, record_truth: bool = False, subject=None,
                  faults=None, board_kind: str = "station"):
    """The virtual board of a simulated session (its gains and offsets drawn from ``seed``), in lockstep
    from its first frame: every run of a seed gives the same session. ``board_kind="wii"``: the virtual Wii
    Balance Board's source (its paced device is ``source.device``; its id comes from the seed)."""
    if board_kind == "wii":
        board = VirtualWiiBoard(seed=seed, record_truth=record_truth, subject=subject, faults=faults)
        return VirtualWiiSource(PacedWiiDevice(board))
    board = VirtualBoard(seed=seed, board_id=board_id, record_truth=record_truth, subject=subject, faults=faults)
    return PacedTransport(board)


def sim_calibration(seed: int, *, board_id: int | None = None,
                    operator_name: str = "station assess --sim") -> Calibration:
    """Calibrate the board of ``seed`` with the quick known-mass procedure (it places the masses itself).

    The procedure runs on a twin of the session's board (the same seed: the same cells, gains and
    offsets): the wizard paces the board itself, by a varying amount of board time, and run on the
    session's own board it would shift every draw of the virtual patient that follows.
    """
    from station.board.virtual import VirtualTransport
    from station.calibration.wizard import calibrate_virtual

    twin = VirtualBoard(seed=seed, board_id=board_id, record_truth=False)
    return calibrate_virtual(VirtualTransport(twin, realtime=False, chunk_s=0.25), operator_name=operator_name)


def subject_fields(subject) -> dict:
    """The scene fields that make the virtual patient ``subject`` (a ``Subject``): those that differ from a
    bare ``Subject()``, its stance and task left to the cues."""
    from station.board.virtual import Subject

    defaults = Subject().to_dict()
    return {k: v for k, v in subject.to_dict().items() if k not in ("stance", "task") and v != defaults.get(k)}


def run_sim_session(protocol, *, transport, calibration: Calibration, store, patient_id: int,
                    sim_subject: dict | None, sim_adjust=None, on_event=None, operator: str = "",
                    realtime: bool = False, wrong_leg_trials=()) -> runner_mod.Runner:
    """Run ``protocol`` on a simulated board: the one path of ``station assess --sim`` and of the bench.

    ``transport``: from :func:`sim_transport` (the station's virtual board or the virtual Wii Balance
    Board's source). ``realtime``: pace the board by the wall clock (a demonstration) instead of in
    lockstep. ``wrong_leg_trials``: the recorded trials (1 = the first) the virtual patient first does on
    the wrong leg. Returns the runner once the session has ended (``runner.session_id``,
    ``runner.scores``, ``runner.patient_minutes``).
    """
    paced = getattr(transport, "device", transport)  # a Wii source paces through its device
    if realtime:  # the board paced by the wall clock, not by the runner
        with paced.cond:
            paced.lockstep_s = None
        paced.realtime = True
        clock = runner_mod.RealClock()
    else:
        clock = LockstepClock(paced)
    acq = Acquisition(transport)
    acq.start()
    try:
        run = runner_mod.Runner(protocol, acquisition=acq, store=store, patient_id=patient_id, calibration=calibration,
                                on_event=on_event, clock=clock, sim_subject=sim_subject, sim_adjust=sim_adjust,
                                poll_s=SIM_POLL_S if not realtime else 0.02, operator=operator,
                                sim_wrong_leg_trials=wrong_leg_trials)
        run.run()
    finally:
        acq.stop()
    return run


def run_protocol(protocol, *, store, seed: int, sim_subject: dict | None, body_mass_kg: float = 70.0,
                 sim_adjust=None, on_event=None, poll_s: float = SIM_POLL_S,
                 rest_s: float = 1.5, faults=None, subject=None, record_truth: bool = True,
                 board_kind: str = "station", wrong_leg_trials=()) -> SimRun:
    """Run ``protocol`` for a new virtual patient; ``sim_subject`` as in :class:`runner.Runner` (None: the
    board's own ``subject`` keeps its traits, as over ``--port``). ``board_kind="wii"`` runs it on the
    virtual Wii Balance Board (its driver units as forces, tared by the runner). ``wrong_leg_trials``: the
    recorded trials (1 = the first) the virtual patient first does on the wrong leg."""
    if board_kind == "wii":
        from station.calibration.wii import default_wii_calibration

        board = VirtualWiiBoard(seed=seed, faults=faults, subject=subject, record_truth=record_truth)
        transport = PacedWiiDevice(board)
        acq = Acquisition(VirtualWiiSource(transport))
        calibration = default_wii_calibration(board.info.board_id)
    else:
        board = VirtualBoard(seed=seed, board=BoardModel(gains_counts_per_n=GAINS_COUNTS_PER_N,
                                                         offsets_counts=OFFSETS_COUNTS),
                             faults=faults, subject=subject, record_truth=record_truth)
        transport = PacedTransport(board)
        acq = Acquisition(transport)
        calibration = calibration_for(board)
    patient = store.add_patient(name=f"virtual {seed}", body_mass_kg=body_mass_kg)
    events: list = []

    def record(event):
        events.append(event)
        if on_event is not None:
            on_event(event, acq)

    acq.start()
    try:
        run = runner_mod.Runner(protocol, acquisition=acq, store=store, patient_id=patient,
                                calibration=calibration, on_event=record, clock=LockstepClock(transport),
                                sim_subject=sim_subject, sim_adjust=sim_adjust, poll_s=poll_s,
                                rest_s=rest_s, sim_wrong_leg_trials=wrong_leg_trials)
        session_id = run.run()
    finally:
        acq.stop()
    return SimRun(store, session_id, board, run, events)
