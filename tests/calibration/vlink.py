"""A virtual board behind the station's Acquisition, as the calibration wizard sees a real one."""

from __future__ import annotations

from contextlib import contextmanager

from station.board.acquisition import Acquisition
from station.board.virtual import VirtualTransport
from station.calibration.reader import CountsReader
from station.calibration.wizard import CommandLink


@contextmanager
def virtual_link(vb, *, chunk_s: float = 0.25, realtime: bool = False):
    """Yield ``(reader, link, info)`` for a virtual board; always stops the acquisition."""
    transport = VirtualTransport(vb, realtime=realtime, chunk_s=chunk_s)
    transport.paced_from_open = True  # as calibrate_over does: the board waits for the reader from the start
    acq = Acquisition(transport, ring_seconds=5.0)
    info = acq.start()
    reader = CountsReader(acq)
    try:
        yield reader, CommandLink(acq), info
    finally:
        acq.stop()
        reader.close()
