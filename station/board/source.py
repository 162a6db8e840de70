"""One interface for every way samples come from a board: a :class:`Source` yields decoded frames.

A source hides how a board talks: the Arduino HX711 board (real or virtual) sends framed bytes that a
:class:`~station.board.decode.StreamDecoder` turns into frames (:class:`SerialBoardSource`); other
boards (a Wii Balance Board through the kernel's input events) produce the same
:data:`~station.board.protocol.FRAME_DTYPE` frames their own way. Acquisition, journal, trial files,
calibration and reports only ever see frames plus a :class:`SourceInfo`, so they do not care which
source is plugged in. (PyMeasure's adapters are the model: one small interface, several back ends.)

Life cycle: ``open()`` (returns the :class:`SourceInfo`; errors raise here with one clear line) →
``start()`` → repeated ``read()`` → ``stop()`` → ``close()``. ``read`` raises
:class:`~station.board.transport.LinkLost` when the board disappears; ``reconnect()`` then blocks until
it returns (or the timeout passes).
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass

import numpy as np

from station.board.decode import DecodedBatch, StreamDecoder
from station.board.protocol import FRAME_DTYPE, PROTOCOL_MAJOR, BoardInfo
from station.board.transport import LinkContext, LinkLost, Transport
from station.errors import ProtocolError, StationError

log = logging.getLogger(__name__)

#: the geometry of the station's own four-cell board (a name in the calibration's board folder)
STATION_BOARD_GEOMETRY = "reference-400x300"
#: what the per-corner values of an HX711 board are
ADC_COUNTS = "adc_counts"


class NotSupported(StationError):
    """The source cannot do what was asked (e.g. a command frame sent to a board without commands)."""


@dataclass(frozen=True)
class SourceInfo:
    """What the station knows about the board behind a source.

    Attributes
    ----------
    kind : str
        ``"arduino-hx711"``, ``"virtual-arduino"``, ``"wii-balance-board"`` or ``"virtual-wii"``.
    name : str
        The endpoint: ``"/dev/ttyACM0"``, ``"virtual:seed=3"``, ``"/dev/input/event7"``, ...
    board_id : int
        Unique board id (Arduino: EEPROM id; Wii: derived from the Bluetooth address).
    geometry : str
        A board geometry name known to the calibration (e.g. ``"reference-400x300"``).
    nominal_rate_hz : float
        Nominal frame rate.
    value_unit : str
        What per-corner values are: ``"adc_counts"`` (HX711) or ``"wii_10g"`` (driver, 10 g units).
    board : BoardInfo
        The board description the rest of the station uses (synthesised for boards without one).
    """

    kind: str
    name: str
    board_id: int
    geometry: str
    nominal_rate_hz: float
    value_unit: str
    board: BoardInfo

    def to_dict(self) -> dict:
        """The fields a trial file or journal header records (``board`` is recorded on its own)."""
        return {"kind": self.kind, "name": self.name, "geometry": self.geometry,
                "nominal_rate_hz": float(self.nominal_rate_hz), "value_unit": self.value_unit}


def empty_batch() -> DecodedBatch:
    """A batch without frames (a read that timed out)."""
    return DecodedBatch(frames=np.zeros(0, dtype=FRAME_DTYPE))


class Source(LinkContext, abc.ABC):
    """One way samples come from a board.

    Attributes
    ----------
    info : SourceInfo or None
        Set by :meth:`open` (and :meth:`reconnect`).
    name : str
        Human-readable endpoint, known before :meth:`open` (for error messages).
    regular_timing : bool
        See below; the station's HX711 board: True.
    """

    info: SourceInfo | None = None
    name: str = "?"
    #: frames come every nominal period with consecutive sequence numbers (an ADC converting at a fixed
    #: rate), so a clock step that disagrees with the sequence step marks an impossible frame. False for
    #: a source that reports when a value changes (irregular timing, synthesised sequence numbers).
    regular_timing: bool = False

    @abc.abstractmethod
    def open(self) -> SourceInfo:
        """Open the board and describe it; raises PortError/ProtocolError with one clear line."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start streaming samples."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop streaming (best effort; never raises on a lost link)."""

    @abc.abstractmethod
    def read(self, timeout_s: float = 0.05) -> DecodedBatch:
        """Return the frames (and infos, acks, link counts) that arrived, waiting at most ``timeout_s``.

        Raises
        ------
        LinkLost
            The board went away.
        """

    @abc.abstractmethod
    def flush(self) -> DecodedBatch:
        """Whatever is still buffered (the stream ends or the link was lost)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the endpoint. Safe to call twice."""

    @property
    def can_reconnect(self) -> bool:
        """True when :meth:`reconnect` can bring a lost board back."""
        return type(self).reconnect is not Source.reconnect

    def reconnect(self, timeout_s: float) -> SourceInfo:
        """Wait for the board to come back and reopen it. Default: cannot reconnect."""
        raise LinkLost(f"{self.name}: the link was lost and this source cannot reconnect.")

    def send_command(self, data: bytes) -> None:
        """Send an encoded command frame to the board. Default: the board takes no commands."""
        raise NotSupported(f"{self.name}: this board does not take commands.")


class SerialBoardSource(Source):
    """The station's HX711 board (serial or virtual): a byte :class:`Transport` plus a stream decoder.

    Nothing changes on the wire; the transport's ``source_kind`` names the kind (``"arduino-hx711"``
    or ``"virtual-arduino"``).

    Parameters
    ----------
    transport : Transport
        Not yet opened; :meth:`open` opens it.
    geometry : str
        The board geometry name recorded with the data.
    """

    regular_timing = True

    def __init__(self, transport: Transport, *, geometry: str = STATION_BOARD_GEOMETRY):
        self.transport = transport
        self.geometry = geometry
        self.name = getattr(transport, "name", "?")
        self.kind = getattr(transport, "source_kind", "arduino-hx711")
        self.decoder = StreamDecoder()
        self.info: SourceInfo | None = None

    def _describe(self, board: BoardInfo) -> SourceInfo:
        if board.protocol_major != PROTOCOL_MAJOR:
            raise ProtocolError(f"the board on {self.name} speaks protocol {board.protocol_major}.x; "
                                f"this station understands {PROTOCOL_MAJOR}.x.")
        self.info = SourceInfo(kind=self.kind, name=self.name, board_id=board.board_id, geometry=self.geometry,
                               nominal_rate_hz=float(board.nominal_rate_hz or 80), value_unit=ADC_COUNTS,
                               board=board)
        return self.info

    def open(self) -> SourceInfo:
        return self._describe(self.transport.open())

    def start(self) -> None:
        self.transport.start()

    def stop(self) -> None:
        self.transport.stop()

    def read(self, timeout_s: float = 0.05) -> DecodedBatch:
        data = self.transport.read(timeout_s)
        return self.decoder.feed(data) if data else empty_batch()

    def flush(self) -> DecodedBatch:
        return self.decoder.flush()

    @property
    def can_reconnect(self) -> bool:
        return getattr(type(self.transport), "reconnect", Transport.reconnect) is not Transport.reconnect

    def reconnect(self, timeout_s: float) -> SourceInfo:
        board = self.transport.reconnect(timeout_s=timeout_s)
        self.decoder.reset()  # the old partial frame is meaningless after a reconnect
        return self._describe(board)

    def send_command(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.close()


def as_source(source_or_transport: Source | Transport) -> Source:
    """``source_or_transport`` as a :class:`Source` (a byte transport is wrapped in :class:`SerialBoardSource`).

    Anything with the transport's ``open``/``read``/``write`` counts as a transport.
    """
    if isinstance(source_or_transport, Source):
        return source_or_transport
    if all(hasattr(source_or_transport, m) for m in ("open", "read", "write")):
        return SerialBoardSource(source_or_transport)
    raise TypeError(f"expected a Source or a Transport, got {type(source_or_transport).__name__}")
