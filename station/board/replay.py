"""Replay a recorded trial file as if its board were streaming it again.

The recorded frames are re-encoded with the wire protocol, so the replay runs through the same
decoder and acquisition code as a live board. With ``realtime=True`` frames are released at the
pace of their device timestamps; otherwise each ``read`` returns the next block at once.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from station.board.protocol import BoardInfo, encode_data_frames
from station.board.transport import Transport
from station.board.trialfile import read_trial

log = logging.getLogger(__name__)

#: frames per ``read`` when not replaying in real time
BLOCK_FRAMES = 4096


def board_info_from_dict(board: dict) -> BoardInfo:
    """Inverse of ``BoardInfo.to_dict()`` (missing fields get neutral defaults)."""
    major, _, minor = str(board.get("protocol", "1.0")).partition(".")
    return BoardInfo(
        protocol_major=int(major or 1),
        protocol_minor=int(minor or 0),
        firmware=str(board.get("firmware", "0.0.0")),
        board_id=int(str(board.get("board_id", "0")), 16),
        adc_kind=str(board.get("adc_kind", "unknown")),
        nominal_rate_hz=int(board.get("nominal_rate_hz", 0) or 0),
        channels=int(board.get("channels", 4) or 4),
    )


class ReplayTransport(Transport):
    """A :class:`Transport` that streams a trial file's frames.

    Parameters
    ----------
    trial_path : path
        A trial file (see :mod:`station.board.trialfile`).
    realtime : bool
        Pace the frames by their recorded device time.

    ``finished`` becomes True once every frame has been returned.
    """

    def __init__(self, trial_path, *, realtime: bool = False):
        self.trial = read_trial(trial_path)
        self.name = f"replay:{trial_path}"
        self.realtime = bool(realtime)
        self._pos = 0
        self._streaming = False
        self._t0: float | None = None
        self.finished = len(self.trial.frames) == 0

    def open(self) -> BoardInfo:
        self._pos = 0
        self.finished = len(self.trial.frames) == 0
        return board_info_from_dict(self.trial.board)

    def start(self) -> None:
        self._streaming = True
        self._t0 = time.monotonic()

    def stop(self) -> None:
        self._streaming = False

    def write(self, data: bytes) -> None:
        log.debug("replay ignores %d command bytes", len(data))

    def read(self, timeout_s: float = 0.05) -> bytes:
        n = len(self.trial.frames)
        if not self._streaming or self._pos >= n:
            if self._pos >= n:
                self.finished = True
            time.sleep(min(timeout_s, 0.01))
            return b""
        if self.realtime:
            elapsed = time.monotonic() - self._t0
            t = self.trial.device_time_s
            end = int(np.searchsorted(t, t[0] + elapsed, side="right"))
            if end <= self._pos:
                time.sleep(min(timeout_s, 0.005))
                return b""
        else:
            end = min(n, self._pos + BLOCK_FRAMES)
        data = encode_data_frames(self.trial.frames[self._pos : end])
        self._pos = end
        return data

    def close(self) -> None:
        self._streaming = False
