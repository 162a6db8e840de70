"""Wire protocol constants and the Python frame encoder (hardware/PROTOCOL.md is normative).

Every frame, in both directions::

    offset  size  field
    0       2     sync word 0xA5 0x5A
    2       1     LEN: payload length in bytes (0..255)
    3       1     TYPE
    4       LEN   payload (little-endian fields)
    4+LEN   2     CRC-16/CCITT-FALSE over bytes 2 .. 3+LEN (LEN, TYPE, payload), little-endian

CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor; check value
``crc16(b"123456789") == 0x29B1``. On the host it is ``binascii.crc_hqx(data, 0xFFFF)``.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

import numpy as np

SYNC = b"\xa5\x5a"
SYNC0, SYNC1 = 0xA5, 0x5A
HEADER_SIZE = 4  # sync(2) + len(1) + type(1)
CRC_SIZE = 2
OVERHEAD = HEADER_SIZE + CRC_SIZE

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0

# Frame types, board -> host
TYPE_DATA = 0x01
TYPE_INFO = 0x02
TYPE_ACK = 0x03  # payload: u8 command type acknowledged, u8 result (0 = ok)
# Frame types, host -> board (empty payload unless noted)
CMD_START = 0x10
CMD_STOP = 0x11
CMD_INFO = 0x12
CMD_SET_BOARD_ID = 0x13  # payload: u32 board id, written to EEPROM
# Simulator-only commands (0x40..0x4F): real firmware answers ACK with result 1 (unsupported).
# CMD_SIM_SCENE payload: UTF-8 JSON object telling the virtual board what is on it, e.g.
#   {"subject": {"stance": "left", "task": "single_leg"}}   the virtual patient follows a cue
#   {"subject": null}                                        nobody on the board
#   {"masses": [[20.0, 0.0, 0.0]]}                          known masses (kg, x_mm, y_mm) for calibration
CMD_SIM_SCENE = 0x40
ACK_OK = 0
ACK_UNSUPPORTED = 1
ACK_BAD_PAYLOAD = 2

N_CHANNELS = 4
CHANNELS = ("fl", "fr", "bl", "br")

# Data payload: u16 seq, u32 t_us, 4 x i32 counts, u8 status, u8 missed
DATA_PAYLOAD = struct.Struct("<HI4iBB")
DATA_PAYLOAD_SIZE = DATA_PAYLOAD.size  # 24
DATA_FRAME_SIZE = DATA_PAYLOAD_SIZE + OVERHEAD  # 30

# Info payload: u8 proto major, u8 proto minor, u8 fw major, u8 fw minor, u8 fw patch,
# u32 board id, u8 adc kind, u16 nominal rate (Hz), u8 channel count
INFO_PAYLOAD = struct.Struct("<BBBBBIBHB")
INFO_PAYLOAD_SIZE = INFO_PAYLOAD.size  # 13

# Status byte: bit i (0..3) = channel i saturated (count at the 24-bit rail);
# bit 4+i = channel i timed out (no data-ready within 2 conversion periods).
STATUS_SATURATED_MASK = 0x0F
STATUS_TIMEOUT_MASK = 0xF0

COUNT_MIN = -(1 << 23)
COUNT_MAX = (1 << 23) - 1

ADC_KINDS = {1: "HX711", 2: "ADS131M04", 3: "ADS1256", 0x7F: "virtual"}

#: numpy dtype of decoded data frames (one row per frame)
FRAME_DTYPE = np.dtype(
    [
        ("seq", "<u2"),
        ("t_us", "<u4"),
        ("counts", "<i4", (N_CHANNELS,)),
        ("status", "u1"),
        ("missed", "u1"),
    ]
)


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, init 0xFFFF)."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(frame_type: int, payload: bytes = b"") -> bytes:
    """Wrap ``payload`` in sync, length, type and CRC."""
    if len(payload) > 255:
        raise ValueError(f"payload of {len(payload)} bytes exceeds 255")
    body = bytes((len(payload), frame_type)) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


def encode_data_frame(seq: int, t_us: int, counts, status: int = 0, missed: int = 0) -> bytes:
    """Encode one data frame. ``counts`` are four signed 24-bit ADC counts (fl, fr, bl, br)."""
    c = [int(x) for x in counts]
    if len(c) != N_CHANNELS:
        raise ValueError("a data frame carries exactly four counts")
    for x in c:
        if not COUNT_MIN <= x <= COUNT_MAX:
            raise ValueError(f"count {x} outside the signed 24-bit range")
    payload = DATA_PAYLOAD.pack(seq & 0xFFFF, t_us & 0xFFFFFFFF, *c, status & 0xFF, min(missed, 255))
    return encode_frame(TYPE_DATA, payload)


def encode_data_frames(frames: np.ndarray) -> bytes:
    """Vectorised encoder for a FRAME_DTYPE array (used by the virtual board and benchmarks)."""
    n = len(frames)
    out = np.zeros((n, DATA_FRAME_SIZE), dtype=np.uint8)
    out[:, 0] = SYNC0
    out[:, 1] = SYNC1
    out[:, 2] = DATA_PAYLOAD_SIZE
    out[:, 3] = TYPE_DATA
    payload = np.ascontiguousarray(frames.astype(FRAME_DTYPE, copy=False)).view(np.uint8)
    out[:, 4 : 4 + DATA_PAYLOAD_SIZE] = payload.reshape(n, DATA_PAYLOAD_SIZE)
    for i in range(n):
        crc = crc16(out[i, 2 : 4 + DATA_PAYLOAD_SIZE].tobytes())
        out[i, -2] = crc & 0xFF
        out[i, -1] = crc >> 8
    return out.tobytes()


@dataclass(frozen=True)
class BoardInfo:
    """What a board says about itself in its info frame."""

    protocol_major: int
    protocol_minor: int
    firmware: str  # "major.minor.patch"
    board_id: int
    adc_kind: str
    nominal_rate_hz: int
    channels: int

    @property
    def board_id_hex(self) -> str:
        return f"{self.board_id:08X}"

    def to_dict(self) -> dict:
        return {
            "protocol": f"{self.protocol_major}.{self.protocol_minor}",
            "firmware": self.firmware,
            "board_id": self.board_id_hex,
            "adc_kind": self.adc_kind,
            "nominal_rate_hz": self.nominal_rate_hz,
            "channels": self.channels,
        }


def encode_info_frame(info: BoardInfo) -> bytes:
    fw = [int(x) for x in info.firmware.split(".")]
    kind = {v: k for k, v in ADC_KINDS.items()}.get(info.adc_kind, 0)
    payload = INFO_PAYLOAD.pack(
        info.protocol_major, info.protocol_minor, fw[0], fw[1], fw[2],
        info.board_id, kind, info.nominal_rate_hz, info.channels,
    )
    return encode_frame(TYPE_INFO, payload)


def decode_info_payload(payload: bytes) -> BoardInfo:
    """Parse an info payload. Newer minor versions may append fields; they are ignored."""
    if len(payload) < INFO_PAYLOAD_SIZE:
        raise ValueError(f"info payload of {len(payload)} bytes, expected at least {INFO_PAYLOAD_SIZE}")
    pmaj, pmin, fmaj, fmin, fpat, board_id, kind, rate, ch = INFO_PAYLOAD.unpack_from(payload)
    return BoardInfo(pmaj, pmin, f"{fmaj}.{fmin}.{fpat}", board_id, ADC_KINDS.get(kind, f"unknown({kind})"), rate, ch)


def encode_command(cmd: int, payload: bytes = b"") -> bytes:
    return encode_frame(cmd, payload)
