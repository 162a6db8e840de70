"""A tiny board on a real pseudo-terminal, built from the protocol encoder (test fixture).

It answers CMD_INFO, streams data frames after CMD_START at an exact device-clock rate, and can
misbehave on purpose: corrupt frames, disconnect for a while (the pty and its symlink vanish and come
back), reboot (sequence and clock restart, info frame), announce another protocol major, or spew
random text. Everything it sent is kept as ground truth.
"""

from __future__ import annotations

import errno
import os
import random
import select
import threading
import time
import tty
from pathlib import Path

import numpy as np

from station.board.protocol import (
    CMD_INFO,
    CMD_START,
    CMD_STOP,
    FRAME_DTYPE,
    TYPE_ACK,
    BoardInfo,
    encode_data_frame,
    encode_frame,
    encode_info_frame,
)
from station.board.decode import StreamDecoder


class FakeBoard:
    def __init__(self, link, *, rate_hz=80.0, seed=0, corrupt=0.0, disconnect=None, reboot_at_s=None,
                 protocol_major=1, text=False, t0_us=0, seq0=0):
        self.link = Path(link)
        self.rate_hz = rate_hz
        self.period_us = 1e6 / rate_hz
        self.rng = random.Random(seed)
        self.corrupt = corrupt
        self.disconnect = disconnect  # (at_s after first start, for_s)
        self.reboot_at_s = reboot_at_s
        self.text = text
        self.info = BoardInfo(protocol_major, 0, "1.0.0", 0x5B0000AA, "virtual", int(rate_hz), 4)
        self.t0_us = t0_us
        self.seq0 = seq0
        self.sent = []  # (seq, t_us, c0..c3, intact, delivered)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.master = self.slave = None

    # -- pty
    def _open_pty(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        tmp = self.link.with_name(self.link.name + ".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        os.replace(tmp, self.link)

    def _close_pty(self):
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None

    def __enter__(self):
        from station.board.decode import warm_up

        warm_up()  # compile before serving: a slow first compile must not look like a dead board
        self._open_pty()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        if self.master is not None:
            self._close_pty()

    def _write(self, data):
        if self.master is None:
            return False
        try:
            os.write(self.master, data)
            return True
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EIO):
                return False
            raise

    # -- truth
    @property
    def truth(self):
        arr = np.array(self.sent, dtype=np.int64).reshape(-1, 8)
        return arr

    # -- main loop
    def _run(self):
        dec = StreamDecoder()
        streaming = False
        boot = time.monotonic()
        first_start = None
        slot = 0  # frame slots since boot
        seq = self.seq0
        down_until = None
        quiet_until = None
        awaiting_host = False
        rebooted = False
        while not self._stop.is_set():
            now = time.monotonic()
            if self.text:
                self._write(bytes(self.rng.choice(b"abcdefghij klmnop\r\n0123456789") for _ in range(64)))
                time.sleep(0.05)
                continue
            if self.master is not None:
                r, _, _ = select.select([self.master], [], [], 0.002)
                if r:
                    try:
                        data = os.read(self.master, 4096)
                    except OSError:
                        data = b""
                    cmds = dec.feed(data).other_frames
                    if cmds:
                        awaiting_host = False
                    for ftype, _payload in cmds:
                        if ftype == CMD_INFO:
                            self._write(encode_info_frame(self.info))
                        elif ftype == CMD_START:
                            streaming = True
                            if first_start is None:
                                first_start = time.monotonic()
                                slot = int((first_start - boot) * self.rate_hz) + 1
                            self._write(encode_frame(TYPE_ACK, bytes((ftype, 0))))
                        elif ftype == CMD_STOP:
                            streaming = False
                            self._write(encode_frame(TYPE_ACK, bytes((ftype, 0))))
            else:
                time.sleep(0.002)
            if down_until is not None and now >= down_until:
                self._open_pty()
                down_until = None
                # pyserial flushes what arrived before it opened the port: until the host speaks,
                # frames go nowhere (the ground truth marks them undelivered)
                awaiting_host = True
            if (self.disconnect and first_start is not None and down_until is None and self.master is not None
                    and now - first_start >= self.disconnect[0]):
                # Bytes still in the pty when it closes are lost, as on a real unplug; go quiet for
                # 0.1 s first so the ground truth ("delivered") is exact.
                if quiet_until is None:
                    quiet_until = now + 0.1
                elif now >= quiet_until:
                    at, dur = self.disconnect
                    self.disconnect = None
                    self._close_pty()
                    down_until = now + dur
                    quiet_until = None
            if (self.reboot_at_s is not None and not rebooted and first_start is not None
                    and now - first_start >= self.reboot_at_s):
                rebooted = True
                boot = now
                slot = 1
                seq = 0
                self.t0_us = 0
                streaming = False  # a rebooted board waits for a start command
                self._write(encode_info_frame(self.info))
            if not streaming:
                continue
            while boot + slot / self.rate_hz <= time.monotonic():
                t_us = int(round(self.t0_us + slot * self.period_us)) & 0xFFFFFFFF
                counts = [self.rng.randint(-100000, 100000) for _ in range(4)]
                frame = bytearray(encode_data_frame(seq & 0xFFFF, t_us, counts))
                intact = True
                if self.corrupt and self.rng.random() < self.corrupt:
                    frame[self.rng.randrange(len(frame))] ^= 1 << self.rng.randrange(8)
                    intact = False
                delivered = quiet_until is None and not awaiting_host and self._write(bytes(frame))
                self.sent.append((seq & 0xFFFF, t_us, *counts, int(intact), int(delivered)))
                seq += 1
                slot += 1

    def start(self):
        return self.__enter__()

    def close(self):
        return self.__exit__()


def frames_of(truth: np.ndarray) -> np.ndarray:
    out = np.zeros(len(truth), dtype=FRAME_DTYPE)
    out["seq"] = truth[:, 0]
    out["t_us"] = truth[:, 1]
    out["counts"] = truth[:, 2:6]
    return out
