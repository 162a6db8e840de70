"""The virtual board (DESIGN §5): a seeded simulator speaking the exact wire protocol.

``VirtualBoard`` is the simulator (time moves when told: ``advance``), ``VirtualTransport`` plugs it
into acquisition in-process, and ``pty_server.serve`` (``station simulate``) makes it a serial device.
"""

from station.board.virtual.board import VirtualBoard
from station.board.virtual.board_model import GEOMETRIES, BoardModel
from station.board.virtual.faults import FaultSpec
from station.board.virtual.subject import G_M_S2, Subject
from station.board.virtual.transport import VirtualTransport
from station.board.virtual.truth import GroundTruth

__all__ = ["VirtualBoard", "VirtualTransport", "Subject", "BoardModel", "FaultSpec", "GroundTruth", "GEOMETRIES", "G_M_S2"]
