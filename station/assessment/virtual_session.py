"""Run a protocol end to end on an in-process virtual board, faster than real time and deterministic.

Used by the tests of the runner and by ``bench/verdicts.py`` (the same runner, analysis, store and
scoring as ``station assess --sim``; only the clock differs: lockstep instead of free running).

The board runs in lockstep with the runner's clock: :class:`PacedTransport` advances the board only
up to the time :class:`LockstepClock` allows, and the clock's ``sleep`` returns once the acquisition
has received everything up to then. Scene commands therefore land at the same board time on every
run, and a seed always gives the same session (a free-running non-realtime board races the runner's
thread, so its results vary slightly from run to run).

The board's gains and offsets are fixed here (instead of drawn per seed) so the tests can build the
matching calibration directly; the calibration procedure itself is tested by tests/calibration.
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


class PacedTransport(VirtualTransport):
    """A non-realtime virtual transport that never runs ahead of ``lockstep_s`` (board time)."""

    def __init__(self, board: VirtualBoard, *, chunk_s: float = 0.25):
        super().__init__(board, realtime=False, chunk_s=chunk_s)
        self.lockstep_s = board.time_s
        self.reads = 0
        self.cond = threading.Condition()

    def _step(self, timeout_s: float) -> bytes:
        with self.cond:
            self.reads += 1
            self.cond.notify_all()
            ahead = self.lockstep_s - self.board.time_s
        if ahead > 1e-9:
            return self.board.advance(min(self.chunk_s, ahead))
        time.sleep(0.0002)
        return b""


class PacedWiiDevice(VirtualWiiDevice):
    """The virtual Wii Balance Board's device, never running ahead of ``lockstep_s`` (as :class:`PacedTransport`)."""

    def __init__(self, board: VirtualWiiBoard, *, chunk_s: float = 0.25):
        super().__init__(board, realtime=False, chunk_s=chunk_s)
        self.lockstep_s = board.time_s
        self.reads = 0
        self.cond = threading.Condition()

    def wait_readable(self, timeout_s: float) -> bool:
        with self.cond:
            self.reads += 1
            self.cond.notify_all()
            ahead = self.lockstep_s - self.board.time_s
        if ahead > 1e-9:
            self.board.advance(min(self.chunk_s, ahead))
        else:
            time.sleep(0.0002)
        return bool(self.board.pending_events)


class LockstepClock(runner_mod.Clock):
    """Board time as the runner's clock: ``sleep`` lets the board advance and waits for its data."""

    def __init__(self, transport: PacedTransport | PacedWiiDevice):
        self.transport = transport

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


def run_protocol(protocol, *, store, seed: int, sim_subject: dict | None, body_mass_kg: float = 70.0,
                 sim_adjust=None, on_event=None, poll_s: float = 0.5,
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
