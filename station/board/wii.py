"""The Nintendo Wii Balance Board through Linux's hid-wiimote driver, read with ``evdev``.

What the kernel emits (drivers/hid/hid-wiimote-modules.c, the balance-board module ``wiimod_bboard_*``,
and the input core drivers/input/input.c):

- one input device named ``"Nintendo Wii Remote Balance Board"`` (``WIIMOTE_NAME " Balance Board"``),
  ``uniq`` = the board's Bluetooth address;
- four absolute axes, one per load cell: ``ABS_HAT0X`` top-right, ``ABS_HAT0Y`` bottom-right,
  ``ABS_HAT1X`` top-left, ``ABS_HAT1Y`` bottom-left (``wiimod_bboard_in_ext``), declared with
  ``input_set_abs_params(..., 0, 65535, 2, 4)``: min 0, max 65535, fuzz 2, flat 4;
- values in 10 g units: the driver reads the board's three factory calibration points per sensor
  (0, 17 and 34 kg, at 0xa40024) and interpolates the 16-bit reading linearly between them, integer
  arithmetic, so 1700 = 17 kg; a reading at or below the 0 kg point is clipped to 0 (the only clip:
  above 34 kg it extrapolates);
- ``BTN_A`` for the front (power) button (``wiimod_bboard_in_keys``), in its own report;
- ``input_sync`` (SYN_REPORT) after each board report; the input core drops an axis value equal to the
  last one, and its fuzz filter (``input_defuzz_abs_event``) holds changes of less than fuzz/2 and
  averages changes below 2 x fuzz with the old value; a SYN_REPORT with nothing before it is dropped.
  So events come only on change, at the irregular times the Bluetooth reports arrive, each with the
  kernel's time stamp. Battery level is a power-supply device (``wiimote_battery_<address>``), not
  an input event.

A frame here is one SYN_REPORT that carries a corner value: ``seq`` is synthesised (+1 per frame, +1
more for each overrun of the kernel's event buffer, SYN_DROPPED, so lost reports count as lost frames),
``t_us`` is the SYN_REPORT's kernel time stamp in microseconds modulo 2**32 (the Arduino clock's wrap),
``counts`` the latest value of each corner in station order fl, fr, bl, br (unchanged corners carry
their last value), ``status`` bit ``i`` (saturated) set when corner ``i`` reads at least
:data:`SATURATED_UNITS` (200 kg on one foot of a board rated for 150 kg in all: the board's 16-bit
converter is at its end), ``missed`` 0. The driver's only clip is at zero: a corner that stays at 0
while the others carry a person, or that stays silent while the others move, repeats one value, which
:func:`station.core.health.cell_problems` names as a dead cell. Timing is kept as it came: the analysis resamples.

The device object only needs what ``evdev.InputDevice`` offers and this module uses: ``name``,
``uniq``, ``phys``, ``path``, ``capabilities()``, ``absinfo(code)``, ``read()`` (raising
``BlockingIOError`` when empty), ``fileno()`` and ``close()``. A device without a file descriptor
(the virtual board, :mod:`station.board.virtual.wii`) answers ``wait_readable(timeout_s)`` instead
of ``select``.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import select
import time
from dataclasses import dataclass

import numpy as np

from station.board.decode import DecodedBatch
from station.board.protocol import FRAME_DTYPE, N_CHANNELS, BoardInfo
from station.board.source import Source, SourceInfo, empty_batch
from station.board.transport import LinkLost
from station.errors import PortError

logger = logging.getLogger(__name__)

# linux/input-event-codes.h (so this module and the virtual board need no evdev to know them)
EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT, SYN_DROPPED = 0, 3
ABS_HAT0X, ABS_HAT0Y, ABS_HAT1X, ABS_HAT1Y = 0x10, 0x11, 0x12, 0x13
BTN_A = 0x130

#: the input device's name (hid-wiimote: WIIMOTE_NAME " Balance Board")
WII_BOARD_NAME = "Nintendo Wii Remote Balance Board"
#: the driver's axis of each station cell, in station order fl, fr, bl, br
CORNER_AXES = (ABS_HAT1X, ABS_HAT0X, ABS_HAT1Y, ABS_HAT0Y)
AXIS_CELL = {code: i for i, code in enumerate(CORNER_AXES)}
#: the cells in the order the driver reports them (HAT0X, HAT0Y, HAT1X, HAT1Y = fr, br, fl, bl)
DRIVER_REPORT_ORDER = tuple(sorted(range(N_CHANNELS), key=lambda i: CORNER_AXES[i]))
#: input_set_abs_params(dev, ABS_HAT*, 0, 65535, 2, 4)
ABS_MIN, ABS_MAX, ABS_FUZZ, ABS_FLAT = 0, 65535, 2, 4
#: one driver unit is 10 g: newtons per unit at standard gravity
N_PER_UNIT = 0.0980665
#: a corner value (driver units) no load can give: the board's converter is at its end (flagged saturated)
SATURATED_UNITS = 20000
#: the board's report rate as the station states it (Bluetooth reports at up to 100 Hz; change-only
#: events arrive irregularly at about 50-100 Hz)
NOMINAL_RATE_HZ = 100
GEOMETRY = "wii-balance-board"
VALUE_UNIT = "wii_10g"
KIND = "wii-balance-board"


def board_id_from_address(address: str) -> int:
    """The station's 32-bit board id of a Bluetooth address: its low 32 bits (``00:1E:35:AB:CD:EF`` -> 0x35ABCDEF).

    Raises
    ------
    PortError
        ``address`` is not six hex bytes (a device that reports no address cannot be told apart).
    """
    parts = str(address or "").strip().split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise PortError(f"the balance board reports no Bluetooth address ({address!r}), so the station cannot tell it "
                        "apart from another board.")
    try:
        value = int("".join(parts), 16)
    except ValueError:
        raise PortError(f"the balance board's Bluetooth address {address!r} is not hexadecimal.") from None
    return value & 0xFFFFFFFF


@dataclass(frozen=True)
class ButtonEvent:
    """The front button went down (``pressed``) or up, at kernel time ``t_us`` (µs, modulo 2**32)."""

    t_us: int
    pressed: bool


def _event_us(ev) -> int:
    return (int(ev.sec) * 1_000_000 + int(ev.usec)) & 0xFFFFFFFF


class WiiFrameAssembler:
    """Turns the driver's event stream into station frames (no I/O; see the module docstring).

    Parameters
    ----------
    values : sequence of four int
        The corners' current values (fl, fr, bl, br) when reading starts (``absinfo(code).value``).
    seq_start : int
        Sequence number of the first frame.
    """

    def __init__(self, values=(0, 0, 0, 0), *, seq_start: int = 0):
        self.values = np.asarray(values, dtype=np.int32).reshape(N_CHANNELS).copy()
        self.seq = int(seq_start) & 0xFFFF
        self._changed = False
        self._dropping = False
        #: True after a SYN_DROPPED until :meth:`resync` gave the device's state again
        self.resync_needed = False
        self._lost = 0
        self._button: list[bool] = []  # front-button changes waiting for their SYN_REPORT
        #: SYN_DROPPED overruns seen so far
        self.overruns = 0

    def resync(self, values) -> None:
        """The corners' state queried from the device after an overrun (evdev's EVIOCGABS)."""
        self.values[:] = np.asarray(values, dtype=np.int32).reshape(N_CHANNELS)
        self.resync_needed = False

    @staticmethod
    def status_of(values: np.ndarray) -> int:
        """Status byte of one frame: bit ``i`` = corner ``i`` at or above :data:`SATURATED_UNITS`."""
        status = 0
        for i in range(N_CHANNELS):
            if values[i] >= SATURATED_UNITS:
                status |= 1 << i
        return status

    def feed(self, events) -> tuple[np.ndarray, list[ButtonEvent]]:
        """Consume events (objects with ``type``, ``code``, ``value``, ``sec``, ``usec``).

        Returns
        -------
        frames : FRAME_DTYPE array
            One per SYN_REPORT that followed at least one corner value.
        buttons : list of ButtonEvent
            Front-button changes, stamped with their SYN_REPORT.
        """
        rows: list[tuple] = []
        buttons: list[ButtonEvent] = []
        for ev in events:
            etype, code = int(ev.type), int(ev.code)
            if self._dropping:
                # evdev: after SYN_DROPPED ignore everything up to and including the next SYN_REPORT
                if etype == EV_SYN and code == SYN_REPORT:
                    self._dropping = False
                    self.resync_needed = True
                continue
            if etype == EV_ABS and code in AXIS_CELL:
                self.values[AXIS_CELL[code]] = int(ev.value)
                self._changed = True
            elif etype == EV_KEY and code == BTN_A:
                self._button.append(bool(ev.value))
            elif etype == EV_SYN and code == SYN_REPORT:
                t_us = _event_us(ev)
                if self._changed:
                    self.seq = (self.seq + self._lost) & 0xFFFF
                    self._lost = 0
                    rows.append((self.seq, t_us, self.values.copy(), self.status_of(self.values), 0))
                    self.seq = (self.seq + 1) & 0xFFFF
                    self._changed = False
                buttons += [ButtonEvent(t_us, pressed) for pressed in self._button]
                self._button.clear()
            elif etype == EV_SYN and code == SYN_DROPPED:
                self._dropping = True
                self._changed = False
                self._button.clear()
                self._lost += 1
                self.overruns += 1
                logger.warning("Wii Balance Board: the kernel's event buffer overran (SYN_DROPPED); reports were lost")
        frames = np.zeros(len(rows), dtype=FRAME_DTYPE)
        for k, (seq, t_us, counts, status, missed) in enumerate(rows):
            frames[k] = (seq, t_us, counts, status, missed)
        return frames, buttons


# --- finding and opening devices -----------------------------------------------------------------------

def import_evdev():
    """The ``evdev`` module, or a one-line :class:`PortError` saying how to install it."""
    try:
        import evdev
    except ImportError:
        raise PortError("reading a Wii Balance Board needs the Python package evdev, which is not installed: "
                        "pip install 'balance-station[wii]' (Linux only).") from None
    return evdev


def is_balance_board(device) -> bool:
    """True for the hid-wiimote balance-board input device (its name and its four corner axes)."""
    if WII_BOARD_NAME not in str(getattr(device, "name", "")):
        return False
    try:
        abs_codes = {c if isinstance(c, int) else c[0] for c in device.capabilities().get(EV_ABS, [])}
    except (OSError, AttributeError):
        return False
    return set(CORNER_AXES) <= abs_codes


def open_event_device(path: str):
    """Open ``/dev/input/eventN`` with evdev; every failure is one clear :class:`PortError` line."""
    evdev = import_evdev()
    try:
        return evdev.InputDevice(path)
    except PermissionError:
        raise PortError(f"{path}: permission denied. Input devices are readable by root and the 'input' group only: "
                        "install the udev rule from hardware/README.md ('Using a Wii Balance Board'), then switch the "
                        "board off and on.") from None
    except FileNotFoundError:
        raise PortError(f"{path}: no such input device (is the balance board paired, connected and switched on? "
                        "`station ports` lists the boards it finds).") from None
    except OSError as exc:
        raise PortError(f"{path}: cannot open the input device: {exc.strerror or exc}.") from None


@dataclass(frozen=True)
class WiiBoardPort:
    """A balance board found by :func:`list_wii_boards`."""

    path: str
    address: str
    phys: str = ""


def list_wii_boards(pattern: str = "/dev/input/event*") -> list[WiiBoardPort]:
    """Balance boards among the readable input devices (empty without evdev or without permission)."""
    try:
        evdev = import_evdev()
    except PortError:
        return []
    found = []
    for path in sorted(glob.glob(pattern), key=lambda p: (len(p), p)):
        try:
            dev = evdev.InputDevice(path)
        except OSError:
            continue
        try:
            if is_balance_board(dev):
                found.append(WiiBoardPort(path, str(dev.uniq or ""), str(dev.phys or "")))
        finally:
            dev.close()
    return found


def unreadable_input_devices(pattern: str = "/dev/input/event*") -> int:
    """How many input devices exist that this user may not read (a board may hide among them)."""
    return sum(1 for p in glob.glob(pattern) if not os.access(p, os.R_OK))


def looks_like_wii_port(port: str) -> bool:
    """True for what ``--port`` takes for a balance board: ``wii``, a Bluetooth address, ``/dev/input/...``."""
    p = str(port)
    return p.lower() == "wii" or p.startswith("/dev/input/") or (p.count(":") == 5 and len(p) == 17)


def resolve_wii_port(port: str) -> str:
    """The event device path of ``port`` (``wii`` = the only board found; an address = that board).

    Raises
    ------
    PortError
        No board found, several found for ``wii``, or no board with that address.
    """
    p = str(port)
    if p.startswith("/dev/input/"):
        return p
    import_evdev()
    boards = list_wii_boards()
    hidden = unreadable_input_devices()
    hint = (f" {hidden} input devices are not readable by this user: install the udev rule from hardware/README.md."
            if hidden and not boards else "")
    if p.lower() == "wii":
        if not boards:
            raise PortError("no Wii Balance Board found (pair it with bluetoothctl and switch it on; see hardware/README.md)."
                            + hint)
        if len(boards) > 1:
            raise PortError("several Wii Balance Boards are connected: give one with --port ADDRESS ("
                            + ", ".join(b.address for b in boards) + ").")
        return boards[0].path
    for b in boards:
        if b.address.lower() == p.lower():
            return b.path
    raise PortError(f"no connected Wii Balance Board has the address {p}." + hint)


# --- the source ----------------------------------------------------------------------------------------

class WiiBalanceBoardSource(Source):
    """Frames from a Wii Balance Board's evdev device (see the module docstring).

    Parameters
    ----------
    device : evdev.InputDevice or alike
        An open device (:func:`open_event_device`, or a virtual board's device).
    kind : str
        The source kind written into trial files (``"wii-balance-board"``; the virtual board says
        ``"virtual-wii"``).
    adc_kind : str
        ``adc_kind`` of the synthesised :class:`BoardInfo` (``"virtual"`` lets the runner drive a
        virtual patient).
    on_button : callable(ButtonEvent), optional
        Called from the reading thread for each front-button change.
    """

    def __init__(self, device, *, kind: str = KIND, adc_kind: str = KIND, on_button=None):
        self._device = device
        self._kind = kind
        self._adc_kind = adc_kind
        self.on_button = on_button
        self.info: SourceInfo | None = None
        self._assembler: WiiFrameAssembler | None = None
        self._streaming = False
        self._buttons: list[ButtonEvent] = []
        self._address = ""

    @property
    def name(self) -> str:
        return str(getattr(self._device, "path", "") or "wii")

    def _corner_values(self) -> list[int]:
        return [int(self._device.absinfo(code).value) for code in CORNER_AXES]

    def open(self) -> SourceInfo:
        dev = self._device
        if not is_balance_board(dev):
            raise PortError(f"{self.name} is not a Wii Balance Board (it is {getattr(dev, 'name', '?')!r}; the board "
                            f"appears as {WII_BOARD_NAME!r}).")
        self._address = str(dev.uniq or "")
        board_id = board_id_from_address(self._address)
        board = BoardInfo(1, 0, "hid-wiimote", board_id, self._adc_kind, NOMINAL_RATE_HZ, N_CHANNELS)
        self.info = SourceInfo(kind=self._kind, name=self.name, board_id=board_id, geometry=GEOMETRY,
                               nominal_rate_hz=float(NOMINAL_RATE_HZ), value_unit=VALUE_UNIT, board=board)
        self._assembler = WiiFrameAssembler(self._corner_values())
        logger.info("opened Wii Balance Board %s at %s (board id %s)", self._address, self.name, board.board_id_hex)
        return self.info

    def start(self) -> None:
        """Stream from now on: events queued since the device was opened update the corners, no frames."""
        self._require_open()
        self._drain_without_frames()
        self._streaming = True

    def stop(self) -> None:
        self._streaming = False

    def _require_open(self) -> WiiFrameAssembler:
        if self._assembler is None:
            raise LinkLost(f"{self.name}: the balance board is not open.")
        return self._assembler

    def _gone(self) -> LinkLost:
        return LinkLost(f"{self.name}: the Wii Balance Board went away (Bluetooth link lost, board switched off or "
                        "batteries flat).")

    def _wait(self, timeout_s: float) -> bool:
        try:
            wait = getattr(self._device, "wait_readable", None)
            if wait is not None:
                return bool(wait(timeout_s))
            ready, _, _ = select.select([self._device], [], [], max(0.0, timeout_s))
            return bool(ready)
        except (OSError, ValueError):  # the descriptor went away under select
            raise self._gone() from None

    def _events(self) -> list:
        try:
            return list(self._device.read())
        except BlockingIOError:
            return []
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.EBADF, errno.EIO):
                raise self._gone() from None
            raise

    def _drain_without_frames(self) -> None:
        asm = self._require_open()
        while True:
            events = self._events()
            if not events:
                return
            asm.feed(events)

    def read(self, timeout_s: float = 0.05) -> DecodedBatch:
        asm = self._require_open()
        if not self._wait(timeout_s):
            return empty_batch()
        frames, buttons = asm.feed(self._events())
        if asm.resync_needed:
            asm.resync(self._corner_values())
        for b in buttons:
            self._buttons.append(b)
            if self.on_button is not None:
                self.on_button(b)
        if not self._streaming:
            frames = frames[:0]
        return DecodedBatch(frames=frames)

    def flush(self) -> DecodedBatch:
        return empty_batch()

    def take_button_events(self) -> list[ButtonEvent]:
        """Front-button changes since the last call (oldest first)."""
        out, self._buttons = self._buttons, []
        return out

    def reconnect(self, timeout_s: float) -> SourceInfo:
        """Wait (wall clock) for the same board (by address) to reappear under /dev/input and reopen it."""
        if not self._address or not hasattr(self._device, "fd"):
            return super().reconnect(timeout_s)
        deadline = time.monotonic() + float(timeout_s)
        while True:
            for port in list_wii_boards():
                if port.address.lower() == self._address.lower():
                    self.close()
                    self._device = open_event_device(port.path)
                    info = self.open()
                    self.start()
                    return info
            if time.monotonic() >= deadline:
                raise LinkLost(f"the Wii Balance Board {self._address} did not come back within {timeout_s:g} s.")
            time.sleep(0.5)

    def close(self) -> None:
        self._streaming = False
        try:
            self._device.close()
        except OSError:
            pass


def open_wii_source(port: str, *, on_button=None) -> WiiBalanceBoardSource:
    """The source of ``--port`` for a balance board (``wii``, an address or an event device path)."""
    return WiiBalanceBoardSource(open_event_device(resolve_wii_port(port)), on_button=on_button)


def source_for_port(port: str, *, baudrate: int = 500_000) -> Source:
    """The source behind a ``--port`` argument: a Wii Balance Board (``wii``, its Bluetooth address or a
    ``/dev/input/eventN`` path) or the station's serial board (any other path). Not yet opened."""
    if looks_like_wii_port(port):
        return open_wii_source(port)
    from station.board.serial_transport import SerialTransport
    from station.board.source import SerialBoardSource

    return SerialBoardSource(SerialTransport(port, baudrate=baudrate))
