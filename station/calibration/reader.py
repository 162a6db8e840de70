"""Fresh raw counts from a board for the calibration wizard: "give me the next N seconds".

The wizard owns the link for the whole procedure and works in device time (the board's own
microsecond clock, unwrapped), so it runs the same against hardware (where a second of data takes
a second) and against a non-realtime virtual board (where it takes as long as the simulation).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from station.board.protocol import CHANNELS, STATUS_SATURATED_MASK, STATUS_TIMEOUT_MASK
from station.board.decode import StreamDecoder
from station.errors import CalibrationError, PortError

logger = logging.getLogger(__name__)


class CountsReader:
    """Read data frames from a started transport and hand out windows of device time.

    Parameters
    ----------
    transport : station.board.transport.Transport
        Opened and streaming.
    read_timeout_s : float
        Timeout of each ``transport.read`` call.
    idle_timeout_s : float
        Wall-clock time without a single data frame after which the board is declared silent.
    """

    def __init__(self, transport, *, read_timeout_s: float = 0.05, idle_timeout_s: float = 5.0):
        self.transport = transport
        self.decoder = StreamDecoder()
        self.read_timeout_s = read_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.acks: list[tuple[int, int]] = []
        self._pending_t: list[np.ndarray] = []
        self._pending_c: list[np.ndarray] = []
        self._last_t_us: int | None = None
        self._wrap_us = 0

    def _poll(self, timeout_s: float | None = None) -> int:
        data = self.transport.read(self.read_timeout_s if timeout_s is None else timeout_s)
        if not data:
            return 0
        batch = self.decoder.feed(data)
        self.acks.extend(batch.acks)
        frames = batch.frames
        if len(frames) == 0:
            return 0
        bad = frames["status"] & (STATUS_SATURATED_MASK | STATUS_TIMEOUT_MASK)
        if bad.any():
            bits = int(np.bitwise_or.reduce(bad))
            cells = [c for i, c in enumerate(CHANNELS) if bits & (0x11 << i)]
            raise CalibrationError(
                f"Load cell(s) {', '.join(cells)} saturated or stopped answering during calibration: "
                "check the wiring and that the masses are within the cells' range."
            )
        t_us = frames["t_us"].astype(np.int64)
        # unwrap the u32 microsecond clock (wraps every 71.6 min)
        prev = self._last_t_us if self._last_t_us is not None else int(t_us[0])
        steps = np.diff(np.concatenate([[prev], t_us]))
        if np.any((steps < 0) & (steps >= -(1 << 31))):
            raise CalibrationError(
                "The board restarted during calibration (its clock went backwards): run the calibration again."
            )
        wraps = np.cumsum(steps < -(1 << 31)) * (1 << 32)
        t_abs = t_us + self._wrap_us + wraps
        self._wrap_us += int(wraps[-1]) if len(wraps) else 0
        self._last_t_us = int(t_us[-1])
        self._pending_t.append(t_abs / 1e6)
        self._pending_c.append(frames["counts"].astype(np.int64))
        return len(frames)

    def drain(self) -> None:
        """Discard everything received so far: what the port buffered while the operator was
        busy (the old load, the bump of a mass being put down) must not count as the new reading."""
        self._poll(0.0)
        self._pending_t.clear()
        self._pending_c.clear()

    def read(self, seconds: float, *, progress=None) -> tuple[np.ndarray, np.ndarray]:
        """The next ``seconds`` of device time: ``(t_s (n,), counts (n, 4) int64)``.

        ``progress(fraction)`` is called as data arrives.
        """
        last_frame_wall = time.monotonic()
        while True:
            if self._pending_t:
                t_all = np.concatenate(self._pending_t)
                span = t_all[-1] - t_all[0]
                if progress is not None:
                    progress(min(1.0, span / seconds) if seconds > 0 else 1.0)
                if span >= seconds:
                    c_all = np.concatenate(self._pending_c)
                    stop = int(np.searchsorted(t_all, t_all[0] + seconds, side="right"))
                    self._pending_t = [t_all[stop:]] if stop < len(t_all) else []
                    self._pending_c = [c_all[stop:]] if stop < len(t_all) else []
                    return t_all[:stop], c_all[:stop]
            if self._poll():
                last_frame_wall = time.monotonic()
            elif time.monotonic() - last_frame_wall > self.idle_timeout_s:
                raise PortError(
                    f"{getattr(self.transport, 'name', 'the board')} sent no data for {self.idle_timeout_s:g} s: "
                    "is it streaming?"
                )
