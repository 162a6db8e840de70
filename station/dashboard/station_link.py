"""The dashboard's link to one board: transport, acquisition, calibration, and the start-up work.

No widgets here: :class:`BoardLink` owns the board side of the dashboard (which transport, the
:class:`~station.board.acquisition.Acquisition`, the active calibration) and runs the slow start-up
steps — numba warm-up, opening the port, the scripted calibration of the virtual board — in a worker
thread, reporting progress through plain callbacks that the window turns into Qt signals.

The virtual board is uncalibrated like a real one (its gains and offsets are hidden and random per
seed), so ``--sim`` runs the calibration engineer's own wizard on it (procedure ``quick`` without the
drift and creep minutes, masses placed over the wire by :class:`SimOperator`) before the live view
starts: the same code path a technician uses, finished in about a second of CPU time because the
virtual board runs faster than real time while it calibrates.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from station.errors import CalibrationError, StationError

log = logging.getLogger(__name__)

#: geometry of the virtual board and of boards without a calibration file
DEFAULT_GEOMETRY = "reference-400x300"
#: modules the UI imports on a click, loaded at start-up in the worker thread instead
PRELOAD_MODULES = (
    "station.assessment.protocols", "station.assessment.runner", "station.assessment.scoring",
    "station.calibration.wizard", "station.calibration.reader", "station.calibration.protocol",
    "station.report.exports",
)


@dataclass(frozen=True)
class SimOptions:
    """The in-process virtual board of ``station dashboard --sim``.

    Attributes
    ----------
    seed : int
    rate_hz : float
        Frame rate (80 Hz like an HX711 board; up to 1000 Hz).
    subject : str
        Subject preset of the virtual patient (``healthy``, ``weak-right``, ``weak-left``).
    faults : str or None
        Fault spec (``FaultSpec.parse`` syntax), e.g. ``"disconnect=20:3"``.
    board_id : int or None
        The board's id; None = the seed's own (:func:`station.board.virtual.board.virtual_board_id`).
    realtime : bool
        Pace the board by the wall clock (False: as fast as the CPU allows, for tests).
    chunk_s : float
        Board time per read when not real-time.
    standing : bool
        The virtual patient stands on the board (both feet) while no protocol runs.
    board_model : BoardModel or None
        Board electronics (default: the reference geometry with hidden random gains per seed).
    board : {"station", "wii"}
        Which virtual board: the station's Arduino/HX711 board, or a virtual Wii Balance Board (its
        driver's 10 g units, tared at start-up; ``rate_hz`` and ``board_id`` do not apply to it).
    """

    seed: int = 0
    rate_hz: float = 80.0
    subject: str = "healthy"
    faults: str | None = None
    board_id: int | None = None
    realtime: bool = True
    chunk_s: float = 0.05
    standing: bool = True
    board_model: object = None
    board: str = "station"


class BoardLink:
    """Transport + acquisition + calibration of the board the dashboard shows.

    Parameters
    ----------
    port : str or None
        Serial device of a real board (or of ``station simulate``).
    sim : SimOptions or None
        Use an in-process virtual board instead.
    calibration : Calibration or None
        Use this calibration (skips looking one up or calibrating the virtual board).
    ring_seconds : float
        History kept for the live views.
    """

    def __init__(self, *, port: str | None = None, sim: SimOptions | None = None, calibration=None,
                 ring_seconds: float = 60.0):
        if (port is None) == (sim is None):
            raise StationError("Choose either a serial port or the virtual board.")
        self.port = port
        self.sim = sim
        self.calibration = calibration
        self.ring_seconds = float(ring_seconds)
        self.board = None  # VirtualBoard with --sim
        self.acquisition = None
        self.info = None
        self.ready = False
        self.error: StationError | None = None
        self.status_text = "Starting…"
        self._thread: threading.Thread | None = None
        self._transport_for_restart = None
        self._closed = threading.Event()

    # ------------------------------------------------------------------ description
    @property
    def is_virtual(self) -> bool:
        return self.sim is not None

    @property
    def source_text(self) -> str:
        if self.sim is not None and self.sim.board == "wii":
            return f"virtual Wii Balance Board (seed {self.sim.seed})"
        if self.sim is not None:
            return f"virtual board (seed {self.sim.seed}, {self.sim.rate_hz:g} Hz)"
        return str(self.port)

    # ------------------------------------------------------------------ start-up
    def start(self, *, on_progress: Callable[[float, str], None] | None = None,
              on_done: Callable[[StationError | None], None] | None = None,
              wizard_observer=None) -> None:
        """Run the start-up steps in a worker thread (never on the UI thread).

        ``on_progress(fraction, text)`` reports each step; ``on_done(error_or_None)`` ends it.
        ``wizard_observer`` (an operator-like object with ``say/place/clear/progress``) sees the
        virtual board's scripted calibration, so the calibration view can show it.
        """

        def work():
            try:
                self._startup(on_progress or (lambda f, t: None), wizard_observer)
                self.ready = True
                error = None
            except StationError as exc:
                log.error("%s", exc)
                self.error = error = exc
            except Exception as exc:  # a bug must still reach the window, not kill the thread silently
                log.exception("dashboard start-up failed")
                self.error = error = StationError(f"Start-up failed: {exc}")
            if on_done is not None and not self._closed.is_set():
                on_done(error)

        self._thread = threading.Thread(target=work, name="station-dashboard-startup", daemon=True)
        self._thread.start()

    def wait_started(self, timeout_s: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.ready

    def _startup(self, progress: Callable[[float, str], None], wizard_observer) -> None:
        from station.core.precompile import warmup

        progress(0.0, "Preparing the analysis core…")
        # A full garbage collection holds the GIL for as long as it walks every object; the modules
        # loaded here (numba, scipy, the assessment) add hundreds of thousands of them, and one
        # collection stalled the UI thread 60-115 ms. Frozen objects are never walked again.
        gc.freeze()
        warmup(lambda done, total, name: progress(0.55 * done / total, f"Preparing the analysis core: {name}"))
        gc.freeze()
        progress(0.58, "Loading the assessment and calibration modules…")
        for module in PRELOAD_MODULES:  # a first import on the UI thread (Start, Calibrate) would stall it
            importlib.import_module(module)
        gc.freeze()
        if self.sim is not None:
            self._start_sim(progress, wizard_observer)
        else:
            self._start_port(progress)
        progress(1.0, "Ready.")

    def _start_sim(self, progress, wizard_observer) -> None:
        if self.sim.board == "wii":
            self._start_sim_wii(progress)
            return
        from station.board.virtual import (
            BoardModel,
            Subject,
            VirtualBoard,
            VirtualTransport,
        )
        from station.calibration import load_geometry

        geometry = load_geometry(DEFAULT_GEOMETRY)
        sim = self.sim
        model = sim.board_model or BoardModel(positions_mm=tuple(map(tuple, geometry.positions_mm.tolist())),
                                              name=geometry.name)
        from station.board.virtual.faults import FaultSpec

        spec = FaultSpec.parse(sim.faults)
        # timed faults count from the moment the live view starts, not from the board's creation: the
        # scripted start-up calibration runs minutes of board time in a second, and a disconnect
        # "at 20 s" must not land in it (the dashboard stayed on "Board stopped")
        self.board = VirtualBoard(seed=sim.seed, rate_hz=sim.rate_hz, board=model, faults=untimed(spec),
                                  board_id=sim.board_id, record_truth=False)
        if self.calibration is None:
            progress(0.65, "Calibrating the virtual board with known masses…")
            self.calibration = calibrate_virtual(self.board, geometry, observer=wizard_observer)
        self.board.faults = shifted(spec, self.board.time_s)
        if sim.standing:
            self.board.set_subject(Subject.named(sim.subject))
        progress(0.95, "Connecting to the virtual board…")
        transport = paced_transport(self.board) if sim.realtime else VirtualTransport(self.board, realtime=False,
                                                                                       chunk_s=sim.chunk_s)
        self._start_acquisition(transport)

    def _start_sim_wii(self, progress) -> None:
        """The virtual Wii Balance Board: tared on the empty board, then the patient steps on (real time)."""
        from station.board.virtual import Subject
        from station.board.virtual.wii import VirtualWiiBoard, VirtualWiiDevice, VirtualWiiSource
        from station.board.wii import CORNER_AXES
        from station.calibration.wii import default_wii_calibration

        sim = self.sim
        self.board = VirtualWiiBoard(seed=sim.seed, faults=sim.faults, record_truth=False)
        self.board.advance(1.0)  # the empty board settles; its state is what a tare reads
        device = VirtualWiiDevice(self.board, realtime=sim.realtime, chunk_s=sim.chunk_s)
        if self.calibration is None:
            empty = [device.absinfo(code).value for code in CORNER_AXES]
            self.calibration = default_wii_calibration(self.board.info.board_id, offsets_units=empty)
        if sim.standing:
            self.board.set_subject(Subject.named(sim.subject))
        progress(0.95, "Connecting to the virtual Wii Balance Board…")
        self._start_acquisition(VirtualWiiSource(device))

    def _start_port(self, progress) -> None:
        from station.board.wii import WiiBalanceBoardSource, source_for_port
        from station.calibration import active_calibration

        progress(0.7, f"Opening {self.port}…")
        source = source_for_port(self.port)
        self._start_acquisition(source)
        if self.calibration is None:
            self.calibration = active_calibration(self.info.board_id)
            if self.calibration is None and isinstance(source, WiiBalanceBoardSource):
                from station.calibration.wii import default_wii_calibration

                self.calibration = default_wii_calibration(self.info.board_id)  # the runner tares it
            if self.calibration is None:
                self.status_text = (f"Board {self.info.board_id_hex} has no calibration: run the calibration "
                                    "wizard before assessing patients.")

    def _start_acquisition(self, transport) -> None:
        from station.board.acquisition import Acquisition

        acq = Acquisition(transport, ring_seconds=self.ring_seconds)
        self.info = acq.start()
        if self._closed.is_set():  # the window closed while the board was opening
            acq.stop()
            return
        given = getattr(self.calibration, "board_id", None)
        if given is not None and given != self.info.board_id_hex:  # never another board's calibration
            acq.stop()
            raise CalibrationError(f"The calibration given is board {given}'s, but this board is {self.info.board_id_hex}: "
                                   "calibrate this board before assessing patients.")
        self.acquisition = acq
        self.status_text = f"Connected to {self.source_text}."

    def set_speed(self, speed: float) -> None:
        """Run the in-process virtual board ``speed`` times faster than real time (1 = real time).

        Only a real-time virtual board has a speed; a serial board (or a test's free-running
        virtual board) ignores it.
        """
        acq = self.acquisition
        for name in ("transport", "source"):  # a byte transport, or a source (the virtual Wii board's)
            link = getattr(acq, name, None) if acq is not None else None
            if hasattr(link, "set_speed"):
                link.set_speed(speed)
                return

    # ------------------------------------------------------------------ calibration from the GUI
    def recalibrate(self, make_operator, *, protocol: str = "quick", operator_name: str = "",
                    on_done: Callable[[object, StationError | None], None] | None = None) -> None:
        """Stop the live stream, run the calibration wizard on the board, restart the stream.

        ``make_operator(transport)`` builds the wizard's operator (a person at the dashboard, or
        :class:`SimOperator` on the virtual board). Runs in a worker thread;
        ``on_done(outcome_or_None, error_or_None)`` ends it. A passing
        calibration becomes the link's calibration (and, for a real board, the board's active one).
        """

        def work():
            outcome, error = None, None
            try:
                outcome = self._recalibrate(make_operator, protocol, operator_name)
            except StationError as exc:
                error = exc
            except Exception as exc:
                log.exception("calibration failed")
                error = StationError(f"The calibration failed: {exc}")
            finally:
                try:
                    self._restart_after_calibration()
                except StationError as exc:
                    error = error or exc
            if on_done is not None and not self._closed.is_set():
                on_done(outcome, error)

        threading.Thread(target=work, name="station-dashboard-calibration", daemon=True).start()

    def _recalibrate(self, make_operator, protocol_name: str, operator_name: str):
        from station.calibration import load_geometry, save_calibration

        if self.sim is not None and self.sim.board == "wii":
            raise StationError("The virtual Wii Balance Board uses its driver's 10 g units (tared at each session "
                               "start); its known-mass calibration runs from the command line, not here.")
        acq, self.acquisition = self.acquisition, None
        if acq is None:
            raise StationError("The board is not connected: nothing to calibrate.")
        self.ready = False
        transport = acq.transport
        acq.stop()
        self._transport_for_restart = transport
        if self.board is not None:
            from station.board.virtual import VirtualTransport

            self.board.set_subject(None)  # the virtual patient steps off for the calibration
            # the virtual board calibrates faster than real time (the live stream resumes in real time)
            transport = VirtualTransport(self.board, realtime=False, chunk_s=0.25)
        geometry = self.calibration.geometry if self.calibration is not None else load_geometry(DEFAULT_GEOMETRY)
        outcome = run_calibration_wizard(transport, make_operator, geometry=geometry, protocol=protocol_name,
                                         operator_name=operator_name)
        if outcome.passed:
            self.calibration = outcome.calibration
            if not self.is_virtual:
                save_calibration(outcome.calibration)
        return outcome

    def _restart_after_calibration(self) -> None:
        transport = self._transport_for_restart
        if self.acquisition is None and transport is not None:
            if self.board is not None and self.sim is not None and self.sim.standing:
                from station.board.virtual import Subject

                self.board.set_subject(Subject.named(self.sim.subject))
            self._start_acquisition(transport)
            self.ready = True

    # ------------------------------------------------------------------ shut-down
    def close(self) -> None:
        """Stop the stream and close the port (safe at any time, and twice)."""
        self._closed.set()
        acq, self.acquisition = self.acquisition, None
        if acq is not None:
            acq.stop()


def run_calibration_wizard(transport, make_operator, *, geometry, protocol: str = "quick", operator_name: str = ""):
    """Open ``transport``, run the calibration wizard on it, stop and close it (always).

    Parameters
    ----------
    transport : Transport
        Not yet opened.
    make_operator : callable(transport) -> operator
        ``SimOperator`` for the virtual board, a person at the dashboard for hardware.
    geometry : BoardGeometry
    protocol : str
        Calibration procedure (``calibration/protocols``); its drift and creep checks are skipped
        (minutes of waiting that belong to ``station calibrate``, not to a clinic session).

    Returns
    -------
    CalibrationOutcome
    """
    from station.calibration.protocol import load_protocol
    from station.calibration.wizard import calibrate_over

    return calibrate_over(transport, make_operator=make_operator,
                          protocol=load_protocol(protocol).replace(drift=None, creep=None),
                          geometry=geometry, operator_name=operator_name)


def calibrate_virtual(board, geometry, *, observer=None, protocol: str = "quick"):
    """:func:`station.calibration.wizard.calibrate_virtual` on ``board`` (a VirtualBoard), with ``observer``
    (the calibration view) told every prompt and progress step and, at the end, ``finished(outcome)``."""
    from station.board.virtual import VirtualTransport
    from station.calibration.wizard import calibrate_virtual as calibrate

    return calibrate(VirtualTransport(board, realtime=False, chunk_s=0.25), geometry=geometry, protocol=protocol,
                     wrap_operator=None if observer is None else (lambda op: ObservedOperator(op, observer)),
                     on_finished=getattr(observer, "finished", None))


_TIMED = ("disconnects", "reboots", "dead", "saturate", "timeout", "forge", "reflashes")


def untimed(spec):
    """``spec`` without its timed faults (the byte faults stay)."""
    import dataclasses

    return dataclasses.replace(spec, **{name: () for name in _TIMED})


def shifted(spec, t0_s: float):
    """``spec`` with every fault time moved ``t0_s`` seconds later (board time of the live start)."""
    import dataclasses

    return dataclasses.replace(
        spec,
        disconnects=tuple((t + t0_s, d) for t, d in spec.disconnects),
        reboots=tuple(t + t0_s for t in spec.reboots),
        forge=tuple((t + t0_s, kind) for t, kind in spec.forge),
        reflashes=tuple((t + t0_s, major) for t, major in spec.reflashes),
        **{name: tuple(dataclasses.replace(f, start_s=f.start_s + t0_s) for f in getattr(spec, name))
           for name in ("dead", "saturate", "timeout")},
    )


def paced_transport(board, *, speed: float = 1.0):
    """A real-time :class:`~station.board.virtual.VirtualTransport` whose clock runs ``speed`` times the wall clock.

    ``transport.set_speed(s)`` changes the pace at any time (the guided demo runs a primer session
    at 10x); the board's frames keep their own time stamps, so every analysis is unchanged.
    """
    import time

    from station.board.virtual import VirtualTransport
    from station.board.virtual.transport import MIN_BATCH_S

    class PacedVirtualTransport(VirtualTransport):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.speed = 1.0

        def set_speed(self, factor: float) -> None:
            if factor <= 0:
                raise StationError("the virtual board's speed must be above 0.")
            if self._wall0 is not None:
                self._sync_clock()
            self.speed = float(factor)

        def _due_s(self) -> float:
            return (time.monotonic() - self._wall0) * self.speed - (self.board.time_s - self._board0)

        def _step(self, timeout_s: float) -> bytes:
            wait_board_s = max(self.board.next_conversion_s - self.board.time_s, MIN_BATCH_S * self.speed)
            wait_s = (wait_board_s - self._due_s()) / self.speed
            if wait_s > 0:
                time.sleep(min(timeout_s, wait_s))
            return self.board.advance(max(0.0, self._due_s()))

    transport = PacedVirtualTransport(board, realtime=True)
    transport.set_speed(speed)
    return transport


class ObservedOperator:
    """An operator that does what ``inner`` does and tells ``observer`` about it."""

    def __init__(self, inner, observer):
        self.inner = inner
        self.observer = observer

    def say(self, text: str) -> None:
        self.observer.say(text)
        self.inner.say(text)

    def place(self, masses, text: str) -> None:
        self.observer.place(masses, text)
        self.inner.place(masses, text)

    def clear(self, text: str) -> None:
        self.observer.clear(text)
        self.inner.clear(text)

    def progress(self, label: str, fraction: float) -> None:
        self.observer.progress(label, fraction)
        self.inner.progress(label, fraction)
