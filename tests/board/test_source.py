"""The Source interface: the HX711 board (virtual here) as a SerialBoardSource."""

import numpy as np
import pytest

from station.board import protocol as P
from station.board.source import NotSupported, SerialBoardSource, Source, SourceInfo, as_source
from station.board.transport import LinkLost
from station.board.virtual import Subject, VirtualBoard, VirtualTransport
from station.errors import StationError


def test_serial_source_yields_exactly_the_boards_frames():
    vb = VirtualBoard(seed=5, subject=Subject.named("healthy"), faults="corrupt=0.002")
    src = SerialBoardSource(VirtualTransport(vb, realtime=False, chunk_s=0.037))
    assert isinstance(src, Source) and src.name == "virtual:seed=5"
    info = src.open()
    assert isinstance(info, SourceInfo) and src.info is info
    assert (info.kind, info.name, info.value_unit, info.geometry) == (
        "virtual-arduino", "virtual:seed=5", "adc_counts", "reference-400x300")
    assert info.board == vb.info and info.board_id == vb.info.board_id
    assert info.nominal_rate_hz == vb.info.nominal_rate_hz
    src.start()
    batches = [src.read() for _ in range(200)]
    batches.append(src.flush())
    src.stop()
    src.close()
    frames = np.concatenate([b.frames for b in batches])
    t = vb.truth
    np.testing.assert_array_equal(frames["seq"], t.seq[t.intact])
    np.testing.assert_array_equal(frames["counts"], t.counts[t.intact])
    # a corrupted sync or LEN byte hides the candidate (no CRC to fail): at most one error per damaged frame
    assert 0 < sum(b.crc_errors for b in batches) <= int(np.count_nonzero(~t.intact))


def test_serial_source_sends_commands_and_names_the_kind_of_a_real_port():
    vb = VirtualBoard(seed=1)
    tr = VirtualTransport(vb, realtime=False)
    src = as_source(tr)
    assert isinstance(src, SerialBoardSource) and src.transport is tr and as_source(src) is src
    src.open()
    src.send_command(P.encode_command(P.CMD_START))
    assert vb.streaming
    assert src.can_reconnect  # the virtual transport can wait for its board to come back
    tr.source_kind = "arduino-hx711"  # what a serial port reports
    assert SerialBoardSource(tr).open().kind == "arduino-hx711"


class _Silent(Source):
    """The smallest source: no reconnect, no commands."""

    name = "silent"

    def open(self):
        raise NotImplementedError

    start = stop = close = lambda self: None

    def read(self, timeout_s=0.05):
        raise LinkLost("silent: gone")

    def flush(self):
        raise NotImplementedError


def test_default_source_cannot_reconnect_or_take_commands():
    src = _Silent()
    assert not src.can_reconnect
    with pytest.raises(LinkLost, match="cannot reconnect"):
        src.reconnect(1.0)
    with pytest.raises(NotSupported, match="does not take commands") as err:
        src.send_command(b"\x00")
    assert isinstance(err.value, StationError)
    with pytest.raises(TypeError):
        as_source(object())
