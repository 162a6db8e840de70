"""The virtual board as an in-process :class:`~station.board.transport.Transport`.

``realtime=True`` lets the board's time follow the wall clock (the dashboard and demos);
``realtime=False`` advances a fixed ``chunk_s`` of board time per ``read`` without sleeping, so tests
of acquisition run at CPU speed and deterministically.
"""

from __future__ import annotations

import logging
import time

from station.board import protocol as P
from station.board.protocol import BoardInfo
from station.board.transport import LinkLost, Transport
from station.board.virtual.board import VirtualBoard
from station.errors import PortError

logger = logging.getLogger(__name__)

#: shortest stretch of board time handed over per read in real time (USB full-speed bulk transfers
#: and the FTDI latency timer batch bytes in the same way)
MIN_BATCH_S = 0.01


class VirtualTransport(Transport):
    """Byte pipe to a :class:`VirtualBoard` in the same process.

    Parameters
    ----------
    board : VirtualBoard
    realtime : bool
        Pace the board by the wall clock (True) or advance ``chunk_s`` per read (False).
    chunk_s : float
        Board time per ``read`` when not real-time.
    """

    source_kind = "virtual-arduino"

    def __init__(self, board: VirtualBoard, *, realtime: bool = True, chunk_s: float = 0.05):
        self.board = board
        self.realtime = bool(realtime)
        self.chunk_s = float(chunk_s)
        self.name = f"virtual:seed={board.seed}"
        self._open = False
        self._wall0 = None
        self._board0 = 0.0
        self._pending = b""  # bytes that arrived while reconnecting
        self.allowed_s: float | None = None  # demand pacing (see allow)
        self.paced_from_open = False  # open() starts paused instead of free-running (see allow)

    # --- clock -------------------------------------------------------------------------------------
    def _sync_clock(self) -> None:
        self._wall0 = time.monotonic()
        self._board0 = self.board.time_s

    def _due_s(self) -> float:
        """Board time owed to the wall clock."""
        return (time.monotonic() - self._wall0) - (self.board.time_s - self._board0)

    def allow(self, seconds: float) -> None:
        """Demand pacing (non-realtime only): from now on the board runs ``seconds`` further, then waits.

        A consumer that needs "the next N seconds" (the calibration wizard) asks for them, so a
        free-running simulation does not race minutes ahead between two readings. Without a call to
        ``allow`` the board runs free, as before.
        """
        base = self.board.time_s if self.allowed_s is None else max(self.allowed_s, self.board.time_s)
        self.allowed_s = base + float(seconds)

    def _step(self, timeout_s: float) -> bytes:
        if not self.realtime:
            if self.allowed_s is not None:
                ahead = self.allowed_s - self.board.time_s
                if ahead <= 1e-9:
                    time.sleep(min(timeout_s, 0.002))
                    return b""
                return self.board.advance(min(self.chunk_s, ahead))
            return self.board.advance(self.chunk_s)
        # wait for the next conversion, but hand over at most every MIN_BATCH_S (like USB transfers)
        wait = max(self.board.next_conversion_s - self.board.time_s, MIN_BATCH_S) - self._due_s()
        if wait > 0:
            time.sleep(min(timeout_s, wait))
        return self.board.advance(max(0.0, self._due_s()))

    # --- Transport ---------------------------------------------------------------------------------
    def open(self) -> BoardInfo:
        if not self.board.link_up:
            raise PortError(f"{self.name}: the virtual board is disconnected.")
        self._open = True
        # a new owner starts free-running (demand pacing belongs to whoever asked for it), unless it asked
        # to be paced from the first byte (``paced_from_open``: the calibration reader; no race at start)
        self.allowed_s = self.board.time_s if self.paced_from_open and not self.realtime else None
        self._sync_clock()
        info = self.board.info
        logger.info("opened %s (board %s, %d Hz)", self.name, info.board_id_hex, info.nominal_rate_hz)
        return info

    def start(self) -> None:
        self.write(P.encode_command(P.CMD_START))

    def stop(self) -> None:
        if self._open and self.board.link_up:
            self.board.write(P.encode_command(P.CMD_STOP))

    def read(self, timeout_s: float = 0.05) -> bytes:
        if not self._open:
            raise LinkLost(f"{self.name}: read on a closed transport.")
        if not self.board.link_up:
            raise LinkLost(f"{self.name}: the virtual board's link is down.")
        data, self._pending = self._pending + self._step(timeout_s), b""
        if not data and not self.board.link_up:
            raise LinkLost(f"{self.name}: the virtual board's link went down.")
        return data

    def write(self, data: bytes) -> None:
        if not self._open:
            raise LinkLost(f"{self.name}: write on a closed transport.")
        if not self.board.link_up:
            raise LinkLost(f"{self.name}: the virtual board's link is down.")
        self.board.write(data)

    def close(self) -> None:
        self._open = False

    def reconnect(self, timeout_s: float = 10.0) -> BoardInfo:
        """Wait (board time when not real-time, wall time otherwise) until the link returns; reopen."""
        waited = 0.0
        step = 0.05
        while not self.board.link_up:
            if waited >= timeout_s:
                raise LinkLost(f"{self.name}: the board did not come back within {timeout_s:g} s.")
            if self.realtime:
                time.sleep(step)
                self._pending += self.board.advance(max(0.0, self._due_s()))
            else:
                restored = self.board.link_restored_at_s
                dt = step if restored is None else min(step, max(0.0, restored - self.board.time_s))
                self._pending += self.board.advance(dt)  # empty while down; what follows is kept
            waited += step
        self._open = True
        self._sync_clock()
        return self.board.info
