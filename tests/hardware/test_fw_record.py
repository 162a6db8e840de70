"""The simulated firmware's own bytes, served on a pseudo-terminal, recorded by ``station record``.

The harness runs the firmware offline (boot, start command, streaming); a small feeder then plays
the board on a pty: it answers the host's info request with the firmware's boot info frame, a
start with the firmware's ACK followed by its data frames paced in real time by their timestamps,
and a stop with the firmware's stop ACK. Every byte it sends was produced by the firmware.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
import tty

import numpy as np

from station.board.protocol import CMD_INFO, CMD_START, CMD_STOP, DATA_FRAME_SIZE, SYNC, encode_command
from station.board.decode import StreamDecoder, decode_frames

RECORD_SECONDS = 2.0


def _split_frames(uart: bytes) -> list[bytes]:
    """Cut a clean firmware capture into whole frames (sync, LEN, TYPE, payload, CRC)."""
    frames, i = [], 0
    while i + 4 <= len(uart):
        assert uart[i : i + 2] == SYNC
        end = i + uart[i + 2] + 6
        if end > len(uart):
            break
        frames.append(uart[i:end])
        i = end
    return frames


class FirmwareReplayBoard:
    """Plays back firmware-made frames on a pty the way the board would send them."""

    def __init__(self, uart: bytes):
        frames = _split_frames(uart)
        self.info = next(f for f in frames if f[3] == 0x02)
        acks = [f for f in frames if f[3] == 0x03]
        self.start_ack = next(f for f in acks if f[4] == CMD_START)
        self.stop_ack = next(f for f in acks if f[4] == CMD_STOP)
        self.data = [f for f in frames if f[3] == 0x01 and len(f) == DATA_FRAME_SIZE]
        self.t_s = np.array([int.from_bytes(f[6:10], "little") for f in self.data]) / 1e6
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.sent_data = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        os.write(self.master, data)

    def _run(self) -> None:
        dec = StreamDecoder()
        streaming_since = None
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.005)
            if ready:
                try:
                    batch = dec.feed(os.read(self.master, 4096))
                except OSError:
                    batch = None
                for ftype, _payload in batch.other_frames if batch else ():
                    if ftype == CMD_INFO:
                        self._write(self.info)
                    elif ftype == CMD_START and streaming_since is None:
                        self._write(self.start_ack)
                        streaming_since = time.monotonic() - self.t_s[self.sent_data] + self.t_s[0]
                    elif ftype == CMD_STOP:
                        self._write(self.stop_ack)
                        streaming_since = None
            if streaming_since is not None:
                due = self.t_s[0] + (time.monotonic() - streaming_since)
                while self.sent_data < len(self.data) and self.t_s[self.sent_data] <= due:
                    self._write(self.data[self.sent_data])
                    self.sent_data += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


def test_station_record_records_the_firmware_stream(run_sim, tmp_path):
    run = run_sim(seconds=RECORD_SECONDS + 1.6, pattern="ramp",
                  cmds=[(0.1, encode_command(CMD_START)), (RECORD_SECONDS + 1.5, encode_command(CMD_STOP))])
    produced = decode_frames(run.uart).frames
    board = FirmwareReplayBoard(run.uart)
    try:
        out = tmp_path / "fw.trial"
        env = dict(os.environ, STATION_DATA_DIR=str(tmp_path / "data"))
        proc = subprocess.run(
            [sys.executable, "-m", "station.cli", "record", "--port", board.path, "--seconds", str(RECORD_SECONDS),
             "--out", str(out)],
            capture_output=True, text=True, timeout=120, env=env,
        )
    finally:
        board.close()
    assert proc.returncode == 0, proc.stderr

    from station.board.trialfile import read_trial

    trial = read_trial(out)
    assert trial.board["adc_kind"] == "HX711" and trial.board["firmware"] == "1.0.0"
    assert trial.board["board_id"] == "FFFFFFFF" and trial.board["nominal_rate_hz"] == 80
    q = trial.quality
    assert q["lost"] == 0 and q["crc_errors"] == 0 and q["missed_conversions"] == 0
    rec = trial.frames
    # what was recorded is exactly a run of the frames the firmware produced (recording begins
    # once the stream is up, so it may start a frame or two after the firmware's first)
    assert len(rec) >= RECORD_SECONDS * 80 - 2
    first = int(rec["seq"][0])
    assert first <= 3 and np.array_equal(produced["seq"][: first + 1], np.arange(first + 1))
    assert np.array_equal(rec, produced[first : first + len(rec)])
    assert abs(trial.device_time_s[-1] - trial.device_time_s[0] - (len(rec) - 1) * 0.0125) < 1e-4
