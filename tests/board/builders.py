"""Shared builders of board test data: data frames with chosen sequence numbers, clock and counts."""

from __future__ import annotations

import numpy as np

from station.board.protocol import FRAME_DTYPE, BoardInfo

#: the station board's nominal frame period at 80 Hz
PERIOD_US = 12500


def make_frames(n_or_seqs, *, seq0: int = 0, t0_us: int = 0, period_us: float = PERIOD_US, counts=None,
                status=0, missed=0) -> np.ndarray:
    """FRAME_DTYPE frames: ``n`` consecutive ones from ``seq0``, or the given sequence numbers.

    Frame ``k`` numbers after ``seq0`` is stamped ``t0_us + k * period_us`` (the device clock and the
    u16 sequence wrap as on the wire). ``counts`` default to ``k * [1, 2, 3, 4] + [10, 20, 30, 40]``
    (distinct per frame and corner, well inside the 24-bit range).
    """
    if np.ndim(n_or_seqs) == 0:
        k = np.arange(int(n_or_seqs), dtype=np.int64)
    else:
        k = np.asarray(n_or_seqs, dtype=np.int64) - seq0
    f = np.zeros(len(k), dtype=FRAME_DTYPE)
    f["seq"] = (seq0 + k) & 0xFFFF
    f["t_us"] = (t0_us + np.rint(k * period_us).astype(np.int64)) & 0xFFFFFFFF
    f["counts"] = k[:, None] * np.array([1, 2, 3, 4]) + np.array([10, 20, 30, 40]) if counts is None else counts
    f["status"] = status
    f["missed"] = missed
    return f


def random_frames(n: int, *, seed: int = 0, seq0: int = 0) -> np.ndarray:
    """Consecutive frames whose counts, status and missed fields are random over their whole range."""
    rng = np.random.default_rng(seed)
    return make_frames(n, seq0=seq0, counts=rng.integers(-(1 << 23), 1 << 23, size=(n, 4)),
                       status=rng.integers(0, 256, n), missed=rng.integers(0, 4, n))


def board_info(board_id: int = 0x5B0000AA, *, protocol_major: int = 1, rate_hz: int = 80) -> BoardInfo:
    """The info frame of a test board."""
    return BoardInfo(protocol_major, 0, "1.0.0", board_id, "virtual", rate_hz, 4)
