"""Serve a virtual board on a pseudo-terminal, so any serial client (pyserial, the dashboard,
``station record``) talks to it as to an Arduino on ``/dev/ttyACM0``.

The slave side is put in raw mode; the optional ``link`` path is a symlink to the slave device. A
``disconnect`` fault closes the pty and removes the link; when the link returns, a new pty is created
and ``link`` points at it again (its device name may differ, as after a real re-plug).

The server does not hold the slave open itself, so it can tell whether a host has the port open
(reading the master then fails with EIO when nobody does). While no host is attached the board's
output goes nowhere and the ground truth flags those frames as not intact — as with a USB board whose
port is closed. (A batch written in the instant a host opens or closes the port may still be lost
on the host side: pyserial flushes its input when it opens a port.) If a host holds the port open
without reading, the pty buffer fills and further bytes are dropped and counted.

Closing a pty discards whatever the host has not read yet, although the ground truth already says
those frames reached the wire. So before a disconnect (or the end) closes the pty, the server waits
until the host has read everything written so far (at most ``DRAIN_TIMEOUT_S``; bytes still unread
then are counted as dropped, and the ground truth marks their frames not intact) — the truth stays exact
however slowly the host reads.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import struct
import termios
import time
import tty
from pathlib import Path

from station.board.virtual.board import VirtualBoard
from station.errors import PortError

logger = logging.getLogger(__name__)

#: longest wait for the host to read what was written before a pty is closed
DRAIN_TIMEOUT_S = 2.0


class _Pty:
    """One pseudo-terminal pair, the slave in raw mode, optionally linked from ``link``."""

    def __init__(self, link: Path | None):
        self.master, slave = os.openpty()
        try:
            tty.setraw(slave)  # the settings stay with the pty after we close our slave descriptor
            self.path = os.ttyname(slave)
        finally:
            os.close(slave)
        os.set_blocking(self.master, False)
        self.link = link
        self.dropped_bytes = 0
        self.attached = False
        #: position in the board's wire stream just after the last byte written here
        self.stream_end = 0
        if link is not None:
            _replace_symlink(link, self.path)

    def read(self) -> bytes:
        """Host bytes waiting on the master (``b""`` if none); updates :attr:`attached`."""
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            self.attached = True
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # no process has the slave open
                self.attached = False
                return b""
            raise
        self.attached = True
        return data

    def write(self, data: bytes) -> int:
        """Write ``data``; returns how many of its bytes the pty took (the rest are dropped and counted)."""
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                self.dropped_bytes += len(view)
                break
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EAGAIN):
                    self.dropped_bytes += len(view)
                    break
                raise
            view = view[n:]
        return len(data) - len(view)

    def unread(self) -> int:
        """Bytes written to the master that the host has not read yet (0 when nobody has the port open)."""
        try:
            # A second descriptor on the slave shares the host's input queue; opening it is harmless.
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return 0
        try:
            return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        except OSError:
            return 0
        finally:
            os.close(fd)

    def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> int:
        """Wait until the host has read everything written (closing the master would discard it)."""
        deadline = time.monotonic() + timeout_s
        # The kernel moves written bytes to the slave's input queue a moment later (a work queue), so
        # let the last write land first, and count "all read" only when seen twice.
        time.sleep(0.02)
        zeros = 0
        while zeros < 2:
            left = self.unread()
            zeros = zeros + 1 if left == 0 else 0
            if left and time.monotonic() >= deadline:
                break
            time.sleep(0.01 if left == 0 else 0.005)
        if left:
            logger.warning("virtual board: the host left %d bytes unread on %s; they are lost", left, self.path)
            self.dropped_bytes += left
        return left

    def close(self, *, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> int:
        """Close the pty (after the host has read what was written) and remove the link; returns how many
        written bytes the host had not read (closing discarded them)."""
        left = self.drain(drain_timeout_s) if drain_timeout_s > 0 else self.unread()
        try:
            os.close(self.master)
        except OSError:
            pass
        if self.link is not None:
            try:
                if self.link.is_symlink() and os.readlink(self.link) == self.path:
                    self.link.unlink()
            except OSError:
                pass
        return left


def _send(pty: _Pty, board: VirtualBoard, out: bytes) -> None:
    """Write ``out``, the newest bytes of the board's wire stream; what the pty cannot take is lost to the host
    and said so in the ground truth."""
    end = board.wire_bytes
    taken = pty.write(out)
    if taken < len(out):
        board.host_lost(end - len(out) + taken, end)
    pty.stream_end = end


def _close(pty: _Pty, board: VirtualBoard) -> int:
    """Close ``pty``; the bytes the host had not read are lost and said so in the ground truth. Returns the
    bytes this pty dropped in all."""
    left = pty.close()
    if left:
        board.host_lost(pty.stream_end - left, pty.stream_end)
    return pty.dropped_bytes


def _replace_symlink(link: Path, target: str) -> None:
    if link.exists() and not link.is_symlink():
        raise PortError(f"cannot create the link {link}: a file that is not a symlink is in the way.")
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, link)
    except OSError as exc:
        raise PortError(f"cannot create the link {link}: {exc.strerror or exc}.") from None


def serve(board: VirtualBoard, *, link=None, seconds: float | None = None, realtime: bool = True,
          on_ready=None, min_batch_s: float = 0.01, chunk_s: float = 0.02) -> dict:
    """Run ``board`` on a pseudo-terminal until ``seconds`` of board time have passed (forever if None).

    Parameters
    ----------
    board : VirtualBoard
    link : str or Path, optional
        Symlink to create (and re-create after a disconnect) pointing at the device.
    seconds : float, optional
        Stop when the board's time reaches this.
    realtime : bool
        Follow the wall clock (True) or advance ``chunk_s`` per loop as fast as possible.
    on_ready : callable(str), optional
        Called with the device path each time a pty is (re)created.
    min_batch_s : float
        Shortest stretch of board time written at once in real time (fewer wake-ups at high rates).
    chunk_s : float
        Board time per loop when not real-time.

    Returns
    -------
    dict
        ``{"device": last path, "dropped_bytes": bytes the pty could not take}``.

    Interrupt with KeyboardInterrupt (or any exception raised from a signal handler): the pty is
    closed and the link removed on the way out.
    """
    link_path = Path(link) if link is not None else None
    pty = _Pty(link_path) if board.link_up else None
    board.host_attached = False  # until a host opens the port
    last_path = pty.path if pty else None
    dropped = 0
    # Board time starts before the path is announced: whoever sees the path knows that at least
    # as much board time has passed since as wall time.
    wall0 = time.monotonic()
    board0 = board.time_s
    if pty is not None:
        logger.info("virtual board on %s%s", pty.path, f" (link {link_path})" if link_path else "")
        if on_ready:
            on_ready(pty.path)
    try:
        while seconds is None or board.time_s < seconds:
            # sleep until the next conversion is due (at least min_batch_s of board time per write),
            # waking early for host commands
            wait = 0.0
            if realtime:
                due_board_s = max(board.next_conversion_s, board.time_s + min_batch_s)
                wait = min(0.05, max(0.0, wall0 + (due_board_s - board0) - time.monotonic()))
            if pty is not None and pty.attached:
                select.select([pty.master], [], [], wait)
            elif wait:
                time.sleep(wait)  # a master with no slave open is always "readable" (EIO)
            if pty is not None:
                data = pty.read()
                if data:
                    board.write(data)
                board.host_attached = pty.attached
            target = board0 + (time.monotonic() - wall0) if realtime else board.time_s + chunk_s
            if seconds is not None:
                target = min(target, seconds)
            out = board.advance(max(0.0, target - board.time_s))
            if pty is not None and not board.link_up:
                if out:
                    _send(pty, board, out)
                logger.info("virtual board: link down, closing %s", pty.path)
                dropped += _close(pty, board)
                pty = None
                board.host_attached = False  # nobody can have the next pty open yet
            elif pty is None and board.link_up:
                pty = _Pty(link_path)
                last_path = pty.path
                logger.info("virtual board: link back on %s", pty.path)
                if on_ready:
                    on_ready(pty.path)
            elif pty is not None and out:
                _send(pty, board, out)
    finally:
        board.host_attached = True
        if pty is not None:
            dropped += _close(pty, board)
    if dropped:
        logger.warning("virtual board: %d bytes dropped because nobody read the pty", dropped)
    return {"device": last_path, "dropped_bytes": dropped}
