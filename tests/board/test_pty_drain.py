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


def test_frames_written_before_a_disconnect_reach_a_slow_host(tmp_path):
    link = tmp_path / "board"
    board = VirtualBoard(seed=2, faults="disconnect=1.0:0.5")
    server = threading.Thread(target=serve, args=(board,), kwargs={"link": link, "seconds": 2.0}, daemon=True)
    server.start()
    deadline = time.monotonic() + 10
    while not link.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    port = serial.Serial(str(link), timeout=0.05)
    received = bytearray()
    try:
        port.write(encode_command(CMD_START))
        while board.time_s < 0.8 and time.monotonic() < deadline:
            received += port.read(port.in_waiting or 1)
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
