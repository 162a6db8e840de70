"""One interface for every way bytes come from a board: serial port or in-process virtual board.

A transport moves bytes only; decoding, clock fitting and accounting live in ``acquisition``. The
same acquisition code therefore runs against hardware, the virtual board and recorded files.
"""

from __future__ import annotations

import abc

from station.board.protocol import BoardInfo
from station.errors import StationError


class LinkLost(StationError):
    """The board went away (cable pulled, device path vanished, board reset the USB link)."""


class LinkContext:
    """``with`` support for a link to a board: open on entry; stop, then close, on exit."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.close()


class Transport(LinkContext, abc.ABC):
    """Byte pipe to a board.

    Life cycle: ``open()`` (returns the board's info; refuses unknown protocol majors) →
    ``start()`` → repeated ``read()`` → ``stop()`` → ``close()``. ``read`` raises ``LinkLost`` when
    the board disappears; ``reconnect()`` then blocks until it returns (or the timeout passes) and
    returns its info again, so a caller can resume streaming.
    """

    #: human-readable name of the endpoint ("/dev/ttyACM0", "virtual:seed=3")
    name: str = "?"
    #: the source kind a :class:`~station.board.source.SerialBoardSource` reports for this transport
    source_kind: str = "arduino-hx711"

    @abc.abstractmethod
    def open(self) -> BoardInfo:
        """Open the link, ask the board for its info frame and check the protocol version."""

    @abc.abstractmethod
    def start(self) -> None:
        """Ask the board to start streaming data frames."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Ask the board to stop streaming (best effort; never raises on a lost link)."""

    @abc.abstractmethod
    def read(self, timeout_s: float = 0.05) -> bytes:
        """Return the bytes received so far (possibly ``b""`` after ``timeout_s``)."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send raw bytes (encoded command frames) to the board."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the endpoint. Safe to call twice."""

    def reconnect(self, timeout_s: float = 10.0) -> BoardInfo:
        """Wait for the board to come back and reopen it. Default: cannot reconnect."""
        raise LinkLost(f"{self.name}: the link was lost and this transport cannot reconnect.")
