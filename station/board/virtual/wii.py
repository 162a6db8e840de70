"""A virtual Wii Balance Board: the event stream hid-wiimote and the input core produce, from the virtual patient.

The chain, from the person to the evdev client, each step as the hardware and the kernel do it:

1. **Load**: the virtual patient (:mod:`station.board.virtual.motion`, the same one the Arduino virtual
   board carries) on a uniform 200 Hz physics grid; known masses for calibration; bilinear sharing
   onto the four feet of the 433 x 238 mm board.
2. **Sensors**: each corner's 16-bit reading ``raw = zero + kg x slope x (1 + gain error) + noise``. The
   factory calibration stored in the board (0, 17, 34 kg points, drawn per seed like real boards'
   differ) does not know the gain error: Bartlett, Ting & Bingham (2014, Gait Posture 39:224) measured
   a force uncertainty of ±9.1 N and a COP uncertainty of ±4.1 mm across boards, which a per-corner gain
   error of 2.5 % (SD) reproduces (force error SD about 9 N for a 70 kg person, COP 2-4 mm).
3. **Reports**: the board sends a report roughly every 10 ms over Bluetooth, some slots are missed and
   arrival times jitter (the kernel's time stamp is the arrival): intervals of 10, 20 or 30 ms
   (probability 0.80 / 0.17 / 0.03) with 1.5 ms SD jitter, so about 80 reports/s, irregular, as the
   Wii Balance Board's non-uniform acquisition frequency is described by Audiffren & Contal (2016,
   Sensors 16:1208). A report holds the latest physics sample.
4. **Driver** (``wiimod_bboard_in_ext``): the reading interpolated between the calibration points to
   10 g units in C integer arithmetic, 0 at or below the 0 kg point; ``ABS_HAT0X`` top-right, ``ABS_HAT0Y``
   bottom-right, ``ABS_HAT1X`` top-left, ``ABS_HAT1Y`` bottom-left; then ``input_sync``. The front button
   (``BTN_A``) in its own report.
5. **Input core** (drivers/input/input.c): each value through ``input_defuzz_abs_event`` with fuzz 2
   against the last passed value, dropped when equal to it; a SYN_REPORT with no event before it is
   dropped. **evdev** (drivers/input/evdev.c): a client buffer of 128 events (8 packets of the device's
   12 estimated events, rounded up to a power of two); when it overflows the unread events are replaced
   by SYN_DROPPED and the newest event, as ``__pass_event`` does.

:class:`VirtualWiiBoard` runs on board time (``advance``) like :class:`~station.board.virtual.VirtualBoard`,
whose scene handling (``CMD_SIM_SCENE`` subjects and masses), faults and ground truth it shares;
:class:`VirtualWiiDevice` is the evdev-like device the station's :class:`~station.board.wii.WiiBalanceBoardSource`
reads; :class:`VirtualWiiSource` is that source plus the scene command, so the assessment runner can
cue the virtual patient. Corner faults: ``dead=fr@5`` (the corner reads the driver's zero),
``saturate=..`` (the 16-bit reading pinned at 65535), ``timeout=..`` (the corner silent: no more events),
``disconnect=t:d`` (the Bluetooth link drops; the input device goes away).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from station.board import wii as W
from station.board.source import SourceInfo
from station.board.transport import LinkLost
from station.board.virtual.board import VirtualBoard
from station.board.virtual.board_model import BoardModel
from station.board.virtual.faults import FaultSpec
from station.board.virtual.subject import G_M_S2, Subject
from station.errors import StationError

logger = logging.getLogger(__name__)

#: rate of the load model (the patient and masses) behind the reports
PHYSICS_HZ = 200.0
#: report slots: the board's period and how many slots a report takes (missed slots), with their odds
REPORT_PERIOD_S = 0.010
REPORT_SLOTS = (1, 2, 3)
REPORT_SLOT_P = (0.80, 0.17, 0.03)
REPORT_JITTER_S = 0.0015
#: evdev client buffer (events) for this device: roundup_pow_of_two(8 * (1 + 4 + 7))
EVDEV_BUFFER_EVENTS = 128
#: the most board time a non-real-time device lets pass per wait: about 40 events, a third of the buffer
#: (a real reader that polls every few milliseconds never sees more; handing it 0.25 s at once would
#: overrun the kernel's buffer where the real one would not)
MAX_CHUNK_S = 0.1
#: kernel CLOCK_REALTIME at board time 0 (s): 2026-01-01, plus a per-seed hour so boards differ
KERNEL_EPOCH_S = 1_767_225_600
GAIN_ERROR_SD_PCT = 2.5
NOISE_RAW_RMS = 1.5
WII_POSITIONS_MM = ((-216.5, 119.0), (216.5, 119.0), (-216.5, -119.0), (216.5, -119.0))
RAW_MAX = 65535


@dataclass(frozen=True)
class InputEvent:
    """One event as ``evdev.InputEvent`` carries it."""

    sec: int
    usec: int
    type: int
    code: int
    value: int

    def timestamp(self) -> float:
        return self.sec + self.usec * 1e-6


@dataclass(frozen=True)
class AbsInfo:
    """``evdev.AbsInfo``: an axis's state and parameters."""

    value: int
    min: int
    max: int
    fuzz: int
    flat: int
    resolution: int


def c_div(a: int, b: int) -> int:
    """C integer division (truncates towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def defuzz(value: int, old: int, fuzz: int = W.ABS_FUZZ) -> int:
    """``input_defuzz_abs_event`` of drivers/input/input.c."""
    if fuzz:
        if old - c_div(fuzz, 2) < value < old + c_div(fuzz, 2):
            return old
        if old - fuzz < value < old + fuzz:
            return c_div(old * 3 + value, 4)
        if old - fuzz * 2 < value < old + fuzz * 2:
            return c_div(old + value, 2)
    return value


def driver_units(raw: int, calib: tuple[int, int, int]) -> int:
    """``wiimod_bboard_in_ext``: a 16-bit reading to 10 g units with the board's (0, 17, 34 kg) points."""
    c0, c17, c34 = calib
    if raw <= c0:
        return 0
    if raw < c17:
        div = c17 - c0
        return c_div((raw - c0) * 1700, div if div else 1)
    div = c34 - c17
    return c_div((raw - c17) * 1700, div if div else 1) + 1700


def address_of_seed(seed: int) -> str:
    """A Nintendo-style Bluetooth address (OUI 00:1E:35) distinct per seed."""
    low = (0x5B0000 + int(seed) + 1) & 0xFFFFFF
    return "00:1E:35:" + ":".join(f"{(low >> s) & 0xFF:02X}" for s in (16, 8, 0))


class VirtualWiiBoard(VirtualBoard):
    """A simulated Wii Balance Board with its driver and input core (see the module docstring).

    Parameters
    ----------
    seed : int
        Seeds the patient, the factory calibration and gain errors, noise and report timing.
    subject : Subject or None
        Who stands on the board from time 0 (settled); None = empty.
    faults : FaultSpec or str or None
        Corner faults and disconnects (``dead=fr@5``, ``timeout=bl@3``, ``saturate=br``, ``disconnect=10:2``).
    address : str or None
        Bluetooth address (default: :func:`address_of_seed`).
    gain_error_sd_pct : float
        SD of each corner's true gain against its factory calibration (0 = a perfect board).
    noise_raw_rms : float
        Sensor noise in 16-bit reading steps (about 10 g each).
    record_truth : bool
        Keep per-report ground truth (values, true forces and COP).
    """

    def __init__(self, *, seed: int = 0, subject: Subject | None = None, faults: FaultSpec | str | None = None,
                 address: str | None = None, gain_error_sd_pct: float = GAIN_ERROR_SD_PCT,
                 noise_raw_rms: float = NOISE_RAW_RMS, record_truth: bool = True):
        spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        if spec.any_byte_faults or spec.reboots or spec.forge or spec.reflashes or spec.swap_board_id is not None:
            raise StationError("the virtual Wii Balance Board takes corner faults (dead, saturate, timeout) and "
                               "disconnect only: it has no byte stream to damage and no firmware to reboot.")
        self.address = address or address_of_seed(seed)
        board = BoardModel(positions_mm=WII_POSITIONS_MM, name=W.GEOMETRY, noise_counts_rms=0.0, drift_n_per_min=0.0,
                           creep=0.0, skew=False)
        super().__init__(seed=seed, rate_hz=PHYSICS_HZ, subject=subject, board=board, faults=spec,
                         board_id=W.board_id_from_address(self.address), record_truth=record_truth)
        rng_cal, self._rng_noise, self._rng_timing = [np.random.default_rng(s) for s in
                                                      np.random.SeedSequence([int(seed), 0x57494921]).spawn(3)]
        c0 = rng_cal.integers(1500, 4500, 4)
        span = rng_cal.integers(1650, 2050, 4)
        c34 = c0 + span + np.rint(span * (1.0 + rng_cal.uniform(-0.004, 0.004, 4))).astype(np.int64)
        #: the factory calibration per corner (0, 17, 34 kg readings), fl fr bl br
        self.factory_calibration = [(int(a), int(a + s), int(b)) for a, s, b in zip(c0, span, c34)]
        self.gain_errors = rng_cal.standard_normal(4) * float(gain_error_sd_pct) / 100.0
        self._zero_raw = c0 + rng_cal.integers(0, 40, 4)  # an empty board reads 0-0.4 kg per corner
        self._raw_per_kg = span / 17.0 * (1.0 + self.gain_errors)
        self._noise_raw = float(noise_raw_rms)
        self._epoch_us = (KERNEL_EPOCH_S + 3600 * (int(seed) % 10_000)) * 1_000_000
        self._next_report_s = float(self._rng_timing.uniform(0.0, REPORT_PERIOD_S))
        self._report_seq = 0
        self._hold_forces = np.zeros(4)
        self._abs = [0, 0, 0, 0]  # the input core's last passed value per corner (station order)
        self._frozen: dict[int, int] = {}
        self._button = 0
        self._button_schedule: list[tuple[float, int]] = []
        self._events: deque = deque()
        self.overruns = 0
        self._events_lock = threading.Lock()

    # --- what an evdev client can see -------------------------------------------------------------
    def abs_value(self, cell: int) -> int:
        """The input core's current value of a corner (station order), what EVIOCGABS returns."""
        return int(self._abs[cell])

    def take_events(self) -> list[InputEvent]:
        """Everything in the client buffer (complete reports only: every report ends in SYN_REPORT)."""
        with self._events_lock:
            out = list(self._events)
            self._events.clear()
        return out

    @property
    def pending_events(self) -> int:
        return len(self._events)

    def press_button(self, *, at_s: float | None = None, hold_s: float = 0.2) -> None:
        """Press the front button at board time ``at_s`` (default: now) for ``hold_s``."""
        t = self.time_s if at_s is None else float(at_s)
        with self._lock:
            self._button_schedule += [(t, 1), (t + float(hold_s), 0)]
            self._button_schedule.sort()

    def kernel_us(self, t_s: float) -> int:
        """The kernel's time stamp (µs since 1970) of board time ``t_s``."""
        return self._epoch_us + int(round(t_s * 1e6))

    # --- the chain --------------------------------------------------------------------------------
    def _push(self, t_s: float, etype: int, code: int, value: int) -> None:
        us = self.kernel_us(t_s)
        ev = InputEvent(us // 1_000_000, us % 1_000_000, etype, code, int(value))
        with self._events_lock:
            if len(self._events) >= EVDEV_BUFFER_EVENTS - 1:
                # evdev.c __pass_event: the ring is full; keep SYN_DROPPED and the newest event
                self._events.clear()
                self._events.append(InputEvent(ev.sec, ev.usec, W.EV_SYN, W.SYN_DROPPED, 0))
                self.overruns += 1
            self._events.append(ev)

    def _report_times(self, t_end: float) -> np.ndarray:
        times = []
        while self._next_report_s <= t_end:
            times.append(self._next_report_s)
            slots = self._rng_timing.choice(REPORT_SLOTS, p=REPORT_SLOT_P)
            step = slots * REPORT_PERIOD_S + self._rng_timing.normal(0.0, REPORT_JITTER_S)
            self._next_report_s += max(step, 0.002)
        return np.asarray(times, dtype=float)

    def _readings(self, forces_n: np.ndarray, t: np.ndarray) -> np.ndarray:
        """16-bit sensor readings of true corner forces, shape (n, 4)."""
        kg = forces_n / G_M_S2
        raw = self._zero_raw + kg * self._raw_per_kg + self._rng_noise.standard_normal(forces_n.shape) * self._noise_raw
        raw = np.clip(np.rint(raw), 0, RAW_MAX).astype(np.int64)
        for fault in self.faults.saturate:
            raw[t >= fault.start_s, fault.cell] = RAW_MAX
        return raw

    def _run_until(self, t_end: float, out: bytearray, chunks: list, offsets: list) -> None:
        # the load on the physics grid (as the Arduino board's conversions)
        rate = self.rate_hz
        k_last = int(np.floor((t_end - self._boot_t_s) * rate + 1e-9))
        if k_last >= self._tick:
            k = np.arange(self._tick, k_last + 1)
            self._tick = k_last + 1
            t_phys = self._boot_t_s + k / rate
            total, x, y, events = self._motion.sample(t_phys)
            self._truth.add_events(events)
            forces_phys = self.board.cell_forces(total, x, y) + self._mass_forces_n
        else:
            t_phys, forces_phys = np.zeros(0), np.zeros((0, 4))
        t_rep = self._report_times(t_end)
        if not len(t_rep):
            self._button_events(t_end)
            return
        idx = np.searchsorted(t_phys, t_rep + 1e-12, side="right") - 1
        forces = np.empty((len(t_rep), 4))
        for j, i in enumerate(idx):
            forces[j] = forces_phys[i] if i >= 0 else self._hold_forces
        if len(forces_phys):
            self._hold_forces = forces_phys[-1].copy()
        raw = self._readings(forces, t_rep)
        values = np.zeros((len(t_rep), 4), dtype=np.int32)
        for j, tr in enumerate(t_rep):
            self._button_events(tr)
            up = self.link_up_at(tr)
            changed = False
            for cell in W.DRIVER_REPORT_ORDER:
                v = driver_units(int(raw[j, cell]), self.factory_calibration[cell])
                v = self._corner_fault(cell, tr, v)
                new = defuzz(v, self._abs[cell])
                if new != self._abs[cell]:
                    self._abs[cell] = new
                    if up:
                        self._push(tr, W.EV_ABS, W.CORNER_AXES[cell], new)
                    changed = True
            if changed and up:
                self._push(tr, W.EV_SYN, W.SYN_REPORT, 0)
            values[j] = self._abs
        self._button_events(t_end)
        n = len(t_rep)
        seq = (self._report_seq + np.arange(n)) & 0xFFFF
        self._report_seq += n
        t_us = np.array([self.kernel_us(tr) & 0xFFFFFFFF for tr in t_rep], dtype=np.uint32)
        offsets.extend([0] * n)
        chunks.append(dict(t_s=t_rep, seq=seq.astype(np.uint16), t_us=t_us, counts=values,
                           status=np.zeros(n, dtype=np.uint8), missed=np.zeros(n, dtype=np.uint8), forces_n=forces,
                           forged=np.zeros(n, dtype=bool)))

    def _corner_fault(self, cell: int, t_s: float, value: int) -> int:
        for fault in self.faults.dead:
            if fault.cell == cell and t_s >= fault.start_s:
                return 0
        for fault in self.faults.timeout:
            if fault.cell == cell and t_s >= fault.start_s:
                return self._frozen.setdefault(cell, self._abs[cell])
        return value

    def _button_events(self, t_until: float) -> None:
        while self._button_schedule and self._button_schedule[0][0] <= t_until:
            t, value = self._button_schedule.pop(0)
            if value != self._button and self.link_up_at(t):
                self._button = value
                self._push(t, W.EV_KEY, W.BTN_A, value)
                self._push(t, W.EV_SYN, W.SYN_REPORT, 0)


class VirtualWiiDevice:
    """The evdev-like device of a :class:`VirtualWiiBoard` (what ``evdev.InputDevice`` offers, see :mod:`station.board.wii`).

    Parameters
    ----------
    board : VirtualWiiBoard
    realtime : bool
        Board time follows the wall clock (the dashboard) or moves ``chunk_s`` per wait (tests).
    chunk_s : float
        Board time per :meth:`wait_readable` when not real-time.
    """

    name = W.WII_BOARD_NAME

    def __init__(self, board: VirtualWiiBoard, *, realtime: bool = False, chunk_s: float = 0.05):
        self.board = board
        self.realtime = bool(realtime)
        self.chunk_s = min(float(chunk_s), MAX_CHUNK_S)
        self.path = f"virtual-wii:seed={board.seed}"
        self.uniq = board.address
        self.phys = "virtual-bluetooth"
        self._wall0 = time.monotonic()
        self._board0 = board.time_s
        self.speed = 1.0
        self.closed = False

    def capabilities(self, verbose: bool = False, absinfo: bool = True) -> dict:
        axes = sorted(W.CORNER_AXES)
        abs_list = [(c, self.absinfo(c)) for c in axes] if absinfo else axes
        return {W.EV_SYN: [W.SYN_REPORT, W.EV_KEY, W.EV_ABS], W.EV_KEY: [W.BTN_A], W.EV_ABS: abs_list}

    def absinfo(self, code: int) -> AbsInfo:
        return AbsInfo(self.board.abs_value(W.AXIS_CELL[code]), W.ABS_MIN, W.ABS_MAX, W.ABS_FUZZ, W.ABS_FLAT, 0)

    def _gone(self) -> OSError:
        return OSError(errno.ENODEV, "No such device")

    def read(self):
        """Events in the buffer; ``BlockingIOError`` when there are none, ``ENODEV`` while the link is down."""
        if self.closed or not self.board.link_up:
            raise self._gone()
        events = self.board.take_events()
        if not events:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return iter(events)

    def read_one(self):
        try:
            return next(self.read())
        except BlockingIOError:
            return None

    def _due_s(self) -> float:
        return (time.monotonic() - self._wall0) * self.speed - (self.board.time_s - self._board0)

    def wait_readable(self, timeout_s: float) -> bool:
        """Let board time pass until events are buffered (at most ``timeout_s`` of it); True if there are any."""
        if self.closed or not self.board.link_up:
            raise self._gone()
        if not self.realtime:
            if not self.board.pending_events:
                self.board.advance(self.chunk_s)
            return bool(self.board.pending_events)
        wait = min(float(timeout_s), max(0.0, (REPORT_PERIOD_S - self._due_s()) / self.speed))
        if wait > 0 and not self.board.pending_events:
            time.sleep(wait)
        self.board.advance(max(0.0, self._due_s()))
        return bool(self.board.pending_events)

    def resync_clock(self) -> None:
        """Real time: from now on board time follows the wall clock again (after a pause)."""
        self._wall0 = time.monotonic()
        self._board0 = self.board.time_s

    def set_speed(self, factor: float) -> None:
        """Real time: board time runs ``factor`` times the wall clock from now on (the guided demo's 10x)."""
        if not factor > 0:
            raise StationError("the virtual board's speed must be above 0.")
        self.resync_clock()
        self.speed = float(factor)

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "a virtual device has no file descriptor; use wait_readable")

    def close(self) -> None:
        self.closed = True


class VirtualWiiSource(W.WiiBalanceBoardSource):
    """The station's Wii source reading a :class:`VirtualWiiDevice`, plus the virtual patient's scene command.

    ``send_command`` takes the same encoded ``CMD_SIM_SCENE`` frames the Arduino virtual board takes
    (the runner's virtual patient and the calibration's mass placements); a real board has no such
    command (the base class refuses every command).
    """

    def __init__(self, device: VirtualWiiDevice, *, on_button=None):
        super().__init__(device, kind="virtual-wii", adc_kind="virtual", on_button=on_button)
        self.device = device

    @property
    def board(self) -> VirtualWiiBoard:
        return self.device.board

    def open(self) -> SourceInfo:
        if not self.board.link_up:
            raise LinkLost(f"{self.name}: the virtual Wii Balance Board is disconnected.")
        self.device.closed = False
        self.device.resync_clock()
        self.board.take_events()  # evdev gives a new reader an empty buffer: nothing from before it opened
        return super().open()

    def send_command(self, data: bytes) -> None:
        self.board.write(bytes(data))

    def set_speed(self, factor: float) -> None:
        self.device.set_speed(factor)

    def reconnect(self, timeout_s: float) -> SourceInfo:
        """Wait (board time, or wall time in real time) until the link is back; open again."""
        waited, step = 0.0, 0.05
        while not self.board.link_up:
            if waited >= timeout_s:
                raise LinkLost(f"{self.name}: the virtual Wii Balance Board did not come back within {timeout_s:g} s.")
            if self.device.realtime:
                time.sleep(step)
                self.board.advance(max(0.0, self.device._due_s()))
            else:
                self.board.advance(step)
            waited += step
        self.board.take_events()  # a new input device: what the old one had queued is gone
        info = self.open()
        self.start()
        return info


def virtual_wii_source(*, seed: int = 0, subject: Subject | None = None, faults=None, realtime: bool = False,
                       chunk_s: float = 0.05, record_truth: bool = False, **board_options) -> VirtualWiiSource:
    """A ready-to-open source on a new :class:`VirtualWiiBoard` (``station ... --sim --board wii``)."""
    board = VirtualWiiBoard(seed=seed, subject=subject, faults=faults, record_truth=record_truth, **board_options)
    return VirtualWiiSource(VirtualWiiDevice(board, realtime=realtime, chunk_s=chunk_s))
