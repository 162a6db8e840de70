"""The pty server lets the host read everything the ground truth calls intact before a disconnect."""

from __future__ import annotations

import threading
import time

import numpy as np
import serial

from station.board.protocol import CMD_START, encode_command
from station.board.virtual import VirtualBoard
from station.board.virtual.pty_server import serve
from station.board.decode import decode_frames


def _serve_and_read_until(tmp_path, *, seconds: float, read_until_s: float):
    """A board with a disconnect at 1.0 s served on a pty for ``seconds``; a host that starts the stream and reads
    until board time ``read_until_s``. Returns ``(board, server thread, port, bytes received)``."""
    link = tmp_path / "board"
    board = VirtualBoard(seed=2, faults="disconnect=1.0:0.5")
    server = threading.Thread(target=serve, args=(board,), kwargs={"link": link, "seconds": seconds}, daemon=True)
    server.start()
    deadline = time.monotonic() + 10
    while not link.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    port = serial.Serial(str(link), timeout=0.05)
    received = bytearray()
    port.write(encode_command(CMD_START))
    while board.time_s < read_until_s and time.monotonic() < deadline:
        received += port.read(port.in_waiting or 1)
    return board, server, port, received


def test_frames_written_before_a_disconnect_reach_a_slow_host(tmp_path):
    board, server, port, received = _serve_and_read_until(tmp_path, seconds=2.0, read_until_s=0.8)
    try:
        time.sleep(0.5)  # a busy host: not reading when the link goes down at 1.0 s
        while True:
            try:
                chunk = port.read(port.in_waiting or 1)  # never more than waits: the pty may vanish
            except serial.SerialException:  # the pty is gone
                break
            if not chunk and not board.link_up:
                break
            received += chunk
    finally:
        port.close()
    server.join(timeout=10)
    truth = board.truth
    frames = decode_frames(bytes(received)).frames
    before = truth.t_s < 1.0
    assert before.sum() > 40 and truth.intact[before].all()
    np.testing.assert_array_equal(frames["seq"], truth.seq[before])
    np.testing.assert_array_equal(frames["counts"], truth.counts[before])


def test_frames_a_host_never_read_before_a_disconnect_are_not_intact_in_the_truth(tmp_path):
    """A host that stops reading for good (a hung recorder, a very busy machine): once the drain gives up and
    the pty closes, the kernel discards what the host had not read, and the ground truth says so -- what the
    host received is exactly the frames the truth calls intact, however slow the host was."""
    board, server, port, received = _serve_and_read_until(tmp_path, seconds=1.2, read_until_s=0.5)
    try:
        # stop reading until the board has closed this pty (the drain waits for us, then gives up)
        deadline = time.monotonic() + 30
        while board.link_up and time.monotonic() < deadline:
            time.sleep(0.05)
        server.join(timeout=20)
    finally:
        port.close()
    truth = board.truth
    frames = decode_frames(bytes(received)).frames
    sent = truth.t_s < 1.0  # the board put these on the wire (the link was up)
    lost = sent & ~truth.intact
    assert lost.sum() >= 20  # about 0.5 s at 80 Hz that the host never read
    np.testing.assert_array_equal(frames["seq"], truth.seq[sent & truth.intact])
    np.testing.assert_array_equal(frames["counts"], truth.counts[sent & truth.intact])
