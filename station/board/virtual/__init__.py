"""The virtual board: a seeded simulator speaking the exact wire protocol.

``VirtualBoard`` is the simulator (time moves when told: ``advance``), ``VirtualTransport`` plugs it
into acquisition in-process, and ``pty_server.serve`` (``station simulate``) makes it a serial device.

Typical use in a test::

    vb = VirtualBoard(seed=3, subject=Subject.named("weak-right:single-right"), faults="corrupt=0.001")
    vb.write(encode_command(CMD_START))        # streams only after START, like the firmware
    data = vb.advance(30.0)                    # 30 s of board time, at CPU speed
    truth = vb.truth                           # per frame: counts, true forces and COP, intact; events
    vb.set_subject(None); vb.place_mass(20.0, 100.0, 50.0)   # or CMD_SIM_SCENE over the wire

Modules: ``subject`` (who stands there), ``motion`` (their load over time), ``board_model`` (geometry,
load cells, ADCs), ``faults`` (spec and byte damage), ``truth`` (ground truth), ``board`` (the
simulator and its firmware behaviour), ``scenes`` (scenarios: a whole test's changes of stance at set
board times, :meth:`VirtualBoard.follow`), ``transport`` and ``pty_server`` (how a host reaches it).
"""

from station.board.virtual.board import VirtualBoard
from station.board.virtual.board_model import GEOMETRIES, BoardModel
from station.board.virtual.faults import FaultSpec
from station.board.virtual.subject import G_M_S2, Subject
from station.board.virtual.transport import VirtualTransport
from station.board.virtual.truth import GroundTruth

__all__ = ["VirtualBoard", "VirtualTransport", "Subject", "BoardModel", "FaultSpec", "GroundTruth", "GEOMETRIES", "G_M_S2"]
