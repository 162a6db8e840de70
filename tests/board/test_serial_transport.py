"""SerialTransport's error sentences and handshake, on real pseudo-terminals."""

from __future__ import annotations

import errno

import pytest

from station.board.protocol import CMD_START, CMD_STOP
from station.board.serial_transport import SerialTransport
from station.errors import PortError, ProtocolError

from .fakeboard import FakeBoard


def test_busy_port_is_refused_with_a_clear_sentence(tmp_path):
    with FakeBoard(tmp_path / "board") as board:
        first = SerialTransport(board.link)
        info = first.open()
        try:
            assert info.board_id == 0x5B0000AA and info.nominal_rate_hz == 80
            with pytest.raises(PortError, match="is busy: another program"):
                SerialTransport(board.link).open()
        finally:
            first.close()
        # released: a second station can open it now
        second = SerialTransport(board.link)
        assert second.open() == info
        second.close()


@pytest.mark.parametrize(
    "code, needle",
    [
        (errno.EACCES, "permission denied opening /dev/ttyACM9: add your user to the 'dialout' group"),
        (errno.ENOENT, "no serial port at /dev/ttyACM9"),
        (errno.EBUSY, "/dev/ttyACM9 is busy"),
        (errno.ENOTTY, "/dev/ttyACM9 is not a serial port"),
    ],
)
def test_os_errors_become_sentences(code, needle):
    err = SerialTransport("/dev/ttyACM9")._port_error(OSError(code, "x"))
    assert isinstance(err, PortError) and needle in str(err)


def test_protocol_major_2_is_refused(tmp_path):
    with FakeBoard(tmp_path / "board", protocol_major=2) as board:
        with pytest.raises(ProtocolError, match="speaks protocol 2.0; this station understands 1.x"):
            SerialTransport(board.link).open()


def test_start_and_stop_are_acknowledged(tmp_path):
    from station.board.decode import StreamDecoder

    with FakeBoard(tmp_path / "board") as board:
        t = SerialTransport(board.link)
        t.open()
        try:
            t.start()
            dec, acks, frames = StreamDecoder(), [], 0
            while frames < 8:
                batch = dec.feed(t.read(0.2))
                acks += batch.acks
                frames += len(batch.frames)
            t.stop()
            for _ in range(20):
                acks += dec.feed(t.read(0.05)).acks
                if (CMD_STOP, 0) in acks:
                    break
        finally:
            t.close()
    assert acks == [(CMD_START, 0), (CMD_STOP, 0)]
    assert frames >= 8 and len(board.sent) >= 8
