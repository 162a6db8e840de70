"""An independent, struct-based parse of board->host bytes for the virtual-board tests.

Deliberately not station.board.decode: the virtual board's bytes are checked against the protocol
spec directly (sync, LEN, TYPE, payload, CRC-16/CCITT-FALSE), one byte of resync per bad candidate.
"""

from __future__ import annotations

import binascii
import struct

import numpy as np

from station.board.protocol import DATA_PAYLOAD, FRAME_DTYPE, TYPE_DATA


def parse(data: bytes):
    """Return (data frames as FRAME_DTYPE array, [(type, payload) of other valid frames in order], crc_failures)."""
    frames, others, bad = [], [], 0
    i, n = 0, len(data)
    while i + 6 <= n:
        if data[i] != 0xA5 or data[i + 1] != 0x5A:
            i += 1
            continue
        length, kind = data[i + 2], data[i + 3]
        end = i + 4 + length + 2
        if end > n:
            break
        (crc,) = struct.unpack_from("<H", data, end - 2)
        if crc != binascii.crc_hqx(data[i + 2 : end - 2], 0xFFFF):
            bad += 1
            i += 1
            continue
        payload = data[i + 4 : end - 2]
        if kind == TYPE_DATA and length == DATA_PAYLOAD.size:
            seq, t_us, c0, c1, c2, c3, status, missed = DATA_PAYLOAD.unpack(payload)
            frames.append((seq, t_us, (c0, c1, c2, c3), status, missed))
        else:
            others.append((kind, payload))
        i = end
    return np.array(frames, dtype=FRAME_DTYPE), others, bad
