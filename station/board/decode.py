"""Wire-frame decoding: a one-pass numba kernel, its plain-Python reference, and a streaming wrapper.

The decoder never assumes a buffer starts on a frame boundary. It scans for the sync word
``A5 5A``, reads LEN and TYPE, and accepts a candidate only when the CRC-16/CCITT-FALSE over
``LEN, TYPE, payload`` matches (hardware/PROTOCOL.md). A candidate whose CRC fails costs exactly
one byte: scanning resumes at the next byte, so a corrupted or false sync can never hide an intact
frame that starts inside it.

Accounting (per call):

- ``crc_errors``: complete candidates (sync + LEN + TYPE + payload + CRC present) whose CRC failed;
- ``skipped_bytes``: bytes that belong to no accepted frame;
- ``resyncs``: runs of skipped bytes, i.e. how often alignment was lost (a stream that starts
  mid-frame counts one).

A false sync whose LEN byte points far ahead makes a streaming decoder wait for up to 260 bytes
before its CRC can fail (about 0.1 s at 80 Hz); the frames behind it are then decoded, late but not
lost. At the end of a stream (``final=True``, :meth:`StreamDecoder.flush`) such a candidate is
skipped at once.

Data frames (TYPE 0x01, LEN >= 24; a newer minor version may append fields, which are ignored)
come back as a :data:`~station.board.protocol.FRAME_DTYPE` array — its 24-byte packed layout *is*
the data payload, so the kernel copies payload bytes straight into it. Every other valid frame
(info, ack, unknown types) is reported by position and parsed in Python.

This module is part of ``core`` and imports nothing of the station except the protocol constants.
"""

from __future__ import annotations

import binascii
import logging
from dataclasses import dataclass, field

import numpy as np

from station.board.protocol import (
    COUNT_MAX,
    COUNT_MIN,
    DATA_PAYLOAD_SIZE,
    FRAME_DTYPE,
    OVERHEAD,
    SYNC0,
    SYNC1,
    TYPE_ACK,
    TYPE_DATA,
    TYPE_INFO,
    BoardInfo,
    decode_info_payload,
)
from station.core._numba import jit

log = logging.getLogger(__name__)

#: the longest frame the protocol allows (LEN = 255): the most a stream decoder ever carries over
MAX_FRAME_SIZE = 255 + OVERHEAD


def _crc16_table() -> np.ndarray:
    """Table for the MSB-first CRC-16 with polynomial 0x1021 (CCITT-FALSE)."""
    table = np.zeros(256, dtype=np.uint16)
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
        table[byte] = crc
    return table


CRC16_TABLE = _crc16_table()


def _slicing_tables(n: int = 4) -> np.ndarray:
    """int64 (n, 256): row j = CRC register effect of a byte followed by j zero bytes (slicing-by-n).

    The kernel works in int64 so the inner loop needs no casts.
    """
    rows = [CRC16_TABLE.astype(np.int64)]
    for _ in range(n - 1):
        prev = rows[-1]
        rows.append(((prev << 8) & 0xFFFF) ^ rows[0][prev >> 8])
    return np.stack(rows)


_CRC16_TABLES = _slicing_tables()


@jit
def _decode_kernel(buf, table, skipping_in, final, data_out, other_out):  # pragma: no cover
    """Decode ``buf`` (uint8, n) in one pass.

    Parameters
    ----------
    buf : uint8 array (n,)
    table : int64 array (4, 256), CRC-16/CCITT-FALSE tables for slicing-by-4
    skipping_in : bool, True when the previous call ended inside a run of skipped bytes
    final : bool, the stream ends here: an incomplete candidate is skipped, not carried over
    data_out : uint8 array (>= n // 30, 24): receives data payloads (FRAME_DTYPE layout)
    other_out : int64 array (>= n // 6, 4): (offset, LEN, TYPE, data frames before it) of valid non-data frames

    Returns
    -------
    (n_data, n_other, consumed, crc_errors, resyncs, skipped, skipping)
        ``consumed`` bytes were fully dealt with; ``buf[consumed:]`` is an incomplete frame (or a
        lone trailing sync byte) to carry into the next call.
    """
    n = buf.shape[0]
    i = 0
    n_data = 0
    n_other = 0
    crc_errors = 0
    resyncs = 0
    skipped = 0
    skipping = skipping_in
    while i < n:
        if buf[i] != 0xA5:
            if not skipping:
                resyncs += 1
                skipping = True
            skipped += 1
            i += 1
            continue
        incomplete = i + 1 >= n  # lone sync byte at the end
        if not incomplete:
            if buf[i + 1] != 0x5A:
                if not skipping:
                    resyncs += 1
                    skipping = True
                skipped += 1
                i += 1
                continue
            incomplete = i + 4 > n or i + np.int64(buf[i + 2]) + 6 > n
        if incomplete:
            if not final:
                break  # wait for more bytes
            # end of stream: this candidate can never complete; look for a frame inside it
            if not skipping:
                resyncs += 1
                skipping = True
            skipped += 1
            i += 1
            continue
        length = np.int64(buf[i + 2])
        total = length + 6
        # slicing-by-4: four independent look-ups per 4 bytes (table[j]: a byte then j zero bytes)
        crc = 0xFFFF
        k = i + 2
        end = i + 4 + length
        while k + 3 < end:
            crc = (table[3, (crc >> 8) ^ buf[k]] ^ table[2, (crc & 0xFF) ^ buf[k + 1]]
                   ^ table[1, buf[k + 2]] ^ table[0, buf[k + 3]])
            k += 4
        while k < end:
            crc = ((crc << 8) & 0xFFFF) ^ table[0, (crc >> 8) ^ buf[k]]
            k += 1
        got = buf[i + 4 + length] | (np.int64(buf[i + 5 + length]) << 8)
        if crc != got:
            crc_errors += 1
            if not skipping:
                resyncs += 1
                skipping = True
            skipped += 1
            i += 1
            continue
        skipping = False
        ftype = buf[i + 3]
        if ftype == 0x01 and length >= 24:
            for k in range(24):
                data_out[n_data, k] = buf[i + 4 + k]
            n_data += 1
        else:
            other_out[n_other, 0] = i
            other_out[n_other, 1] = length
            other_out[n_other, 2] = ftype
            other_out[n_other, 3] = n_data
            n_other += 1
        i += total
    return n_data, n_other, i, crc_errors, resyncs, skipped, skipping


def decode_kernel_numpy(buf: np.ndarray, skipping: bool = False, final: bool = False):
    """Run the kernel on a uint8 buffer; return (frames, others, consumed, crc, resyncs, skipped, skipping).

    ``others`` is an int64 array (m, 4): offset, LEN, TYPE and the number of data frames that
    preceded the frame in this buffer.
    """
    buf = np.ascontiguousarray(buf, dtype=np.uint8)
    if buf.flags.writeable:
        # numba types read-only and writable arrays differently: one signature, one compilation
        buf = buf.view()
        buf.flags.writeable = False
    n = buf.shape[0]
    data_out = np.empty((n // (DATA_PAYLOAD_SIZE + OVERHEAD) + 1, DATA_PAYLOAD_SIZE), dtype=np.uint8)
    other_out = np.empty((n // OVERHEAD + 1, 4), dtype=np.int64)
    n_data, n_other, consumed, crc_errors, resyncs, skipped, skipping = _decode_kernel(
        buf, _CRC16_TABLES, bool(skipping), bool(final), data_out, other_out
    )
    frames = data_out[:n_data].view(FRAME_DTYPE).reshape(n_data)
    return frames, other_out[:n_other].copy(), int(consumed), int(crc_errors), int(resyncs), int(skipped), bool(skipping)


def decode_reference(data: bytes, skipping: bool = False, final: bool = False):
    """Plain-Python reference of the kernel (same contract as :func:`decode_kernel_numpy`).

    Uses ``binascii.crc_hqx`` for the CRC, an implementation independent of the kernel's table.
    """
    n = len(data)
    i = 0
    rows: list[bytes] = []
    others: list[tuple[int, int, int, int]] = []
    crc_errors = resyncs = skipped = 0

    def skip_one():
        nonlocal skipping, resyncs, skipped
        if not skipping:
            resyncs += 1
            skipping = True
        skipped += 1

    while i < n:
        if data[i] != SYNC0:
            skip_one()
            i += 1
            continue
        if i + 1 < n and data[i + 1] != SYNC1:
            skip_one()
            i += 1
            continue
        if i + 4 > n or i + data[i + 2] + 6 > n:
            if not final:
                break
            skip_one()
            i += 1
            continue
        length = data[i + 2]
        body = data[i + 2 : i + 4 + length]
        if binascii.crc_hqx(body, 0xFFFF) != int.from_bytes(data[i + 4 + length : i + 6 + length], "little"):
            crc_errors += 1
            skip_one()
            i += 1
            continue
        skipping = False
        if data[i + 3] == TYPE_DATA and length >= DATA_PAYLOAD_SIZE:
            rows.append(bytes(data[i + 4 : i + 4 + DATA_PAYLOAD_SIZE]))
        else:
            others.append((i, length, data[i + 3], len(rows)))
        i += length + 6
    frames = np.frombuffer(b"".join(rows), dtype=FRAME_DTYPE).copy()
    other = np.array(others, dtype=np.int64).reshape(len(others), 4)
    return frames, other, i, crc_errors, resyncs, skipped, skipping


def warm_up() -> float:
    """Compile (or load from the on-disk cache) the decoding kernel now; return the seconds it took.

    The first call in a process otherwise pays it inside a time-critical step (a handshake with a
    timeout, the dashboard's first frame). Cheap after the first call.
    """
    import time

    t0 = time.perf_counter()
    decode_kernel_numpy(np.frombuffer(b"\xa5\x5a\x00\x12\x00\x00", dtype=np.uint8))
    return time.perf_counter() - t0


@dataclass
class DecodedBatch:
    """What one :meth:`StreamDecoder.feed` call found.

    Attributes
    ----------
    frames : FRAME_DTYPE array (n,)
        Data frames in arrival order.
    infos : list of BoardInfo
        Info frames (a board announces itself on boot and on request).
    info_positions : list of int
        For each info, how many of ``frames`` arrived before it (a mid-stream info means the board
        rebooted: the frames after it start a new sequence).
    acks : list of (command, result)
    other_frames : list of (type, payload bytes)
        Valid frames of a type this host does not interpret.
    crc_errors, resyncs, skipped_bytes : int
        Counts for this call.
    """

    frames: np.ndarray
    infos: list[BoardInfo] = field(default_factory=list)
    info_positions: list[int] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)
    other_frames: list[tuple[int, bytes]] = field(default_factory=list)
    crc_errors: int = 0
    resyncs: int = 0
    skipped_bytes: int = 0


def decode_frames(data: bytes, *, reference: bool = False) -> DecodedBatch:
    """Decode a complete byte buffer: the stream ends with it (an incomplete last frame is skipped)."""
    return StreamDecoder(reference=reference).feed(data, final=True)


class StreamDecoder:
    """Decode a byte stream that arrives in arbitrary pieces.

    Keeps the incomplete frame at the end of each piece (at most :data:`MAX_FRAME_SIZE` - 1 bytes)
    and prepends it to the next. ``totals`` holds cumulative counts.
    """

    def __init__(self, *, reference: bool = False):
        self._tail = b""
        self._skipping = False
        self._reference = reference
        self.totals = {"frames": 0, "crc_errors": 0, "resyncs": 0, "skipped_bytes": 0}

    @property
    def tail(self) -> bytes:
        """The bytes carried over to the next call (an incomplete frame, or nothing)."""
        return self._tail

    def reset(self) -> None:
        """Forget the carried tail (after a reconnect the old partial frame is meaningless)."""
        self._tail = b""
        self._skipping = False

    def feed(self, data: bytes, *, final: bool = False) -> DecodedBatch:
        """Decode ``data`` (plus the tail carried from the previous call).

        With ``final=True`` the stream ends here: nothing is carried over, and a frame inside an
        incomplete candidate (a false sync whose LEN points past the end) is still found.
        """
        buf = self._tail + bytes(data) if self._tail else bytes(data)
        if self._reference:
            frames, others, consumed, crc, resyncs, skipped, self._skipping = decode_reference(
                buf, self._skipping, final
            )
        else:
            frames, others, consumed, crc, resyncs, skipped, self._skipping = decode_kernel_numpy(
                np.frombuffer(buf, dtype=np.uint8), self._skipping, final
            )
        self._tail = buf[consumed:]
        if final:
            self._skipping = False
        batch = DecodedBatch(frames=frames, crc_errors=crc, resyncs=resyncs, skipped_bytes=skipped)
        for offset, length, ftype, position in others.tolist():
            payload = buf[offset + 4 : offset + 4 + length]
            if ftype == TYPE_INFO:
                try:
                    batch.infos.append(decode_info_payload(payload))
                    batch.info_positions.append(position)
                except ValueError:
                    log.warning("ignored a short info frame (%d bytes)", length)
            elif ftype == TYPE_ACK and length >= 2:
                batch.acks.append((payload[0], payload[1]))
            else:
                batch.other_frames.append((ftype, payload))
        t = self.totals
        t["frames"] += len(frames)
        t["crc_errors"] += crc
        t["resyncs"] += resyncs
        t["skipped_bytes"] += skipped
        return batch

    def flush(self) -> DecodedBatch:
        """End of stream: decode what the carried tail still holds and drop the rest."""
        return self.feed(b"", final=True)


def counts_in_range(frames: np.ndarray) -> np.ndarray:
    """bool (n,): every count of the frame lies in the signed 24-bit range ±2^23 (PROTOCOL.md)."""
    c = frames["counts"]
    return np.all((c >= COUNT_MIN) & (c <= COUNT_MAX), axis=1)


class FrameSanity:
    """Reject data frames that passed their CRC but cannot be true (hardware/PROTOCOL.md, "implausible").

    CRC-16 lets about one damaged frame in 65 536 through (one in ~250 000 was seen on a noisy
    link). Such a frame is refused when

    - a count lies outside the signed 24-bit range (an HX711 cannot produce it), or
    - its device-clock step disagrees with its sequence step: a frame ``k`` numbers after the last
      good one must be stamped ``k`` periods later (within ``-50 % .. +50 %`` plus the conversions
      the firmware reports missed). The period is learnt from the stream (real HX711s run at ≈ 93
      SPS on a nominal 80 Hz board), starting from the nominal one.

    A frame that disagrees with the last good one is *held* until the next frame decides: if the
    next one agrees with the last good frame, the held one was an isolated outlier and is rejected;
    if it agrees with the held one, the stream really jumped (an unannounced restart) and both are
    kept — so a single corrupted frame can never make the following good frames look wrong. (The first
    frame after a start, reboot or reconnect has nothing to be compared with; a count outside the
    24-bit range is refused even there.)

    Parameters
    ----------
    nominal_period_s : float
        The board's nominal frame period.
    check_timing : bool
        Compare clock steps with sequence steps (a board that converts at a fixed rate). False for a
        source whose frames come when a value changes (their sequence numbers are synthesised): only
        the count range is checked.
    """

    TOLERANCE = 0.5

    def __init__(self, *, nominal_period_s: float, check_timing: bool = True):
        self.check_timing = bool(check_timing)
        self.nominal_period_us = float(nominal_period_s) * 1e6
        self.period_us = self.nominal_period_us
        self.rejected = 0
        self._ref = None  # (seq, t_us) of the last accepted frame
        self._held = None  # a one-frame FRAME_DTYPE array awaiting the next frame's verdict

    def reset(self) -> None:
        """Forget the reference (after a reboot or a reconnect the stream legitimately restarts)."""
        self._ref = None

    @property
    def holding(self) -> bool:
        return self._held is not None

    def _agrees(self, ref, frame) -> bool:
        step = (int(frame["seq"]) - ref[0]) % 65536
        dt_us = (int(frame["t_us"]) - ref[1]) % (1 << 32)
        if step == 0:
            return dt_us == 0  # the same frame again (counted as a repeat, not a loss, by the tally)
        if step >= 4096:
            return False
        expected = step * self.period_us
        upper = (step + int(frame["missed"])) * self.period_us * (1 + self.TOLERANCE) + self.period_us
        return (1 - self.TOLERANCE) * expected <= dt_us <= upper

    def _accept(self, frame, out: list) -> None:
        if self._ref is not None and self._agrees(self._ref, frame):
            step = (int(frame["seq"]) - self._ref[0]) % 65536
            if step and int(frame["missed"]) == 0:
                dt_us = (int(frame["t_us"]) - self._ref[1]) % (1 << 32)
                self.period_us += 0.02 * (dt_us / step - self.period_us)  # follow the board's real rate
        self._ref = (int(frame["seq"]), int(frame["t_us"]))
        out.append(frame)

    def feed(self, frames: np.ndarray, *, final: bool = False) -> np.ndarray:
        """Return the plausible frames of ``frames`` (in order); count the rejected ones in :attr:`rejected`.

        A held frame is returned with a later call (or now, with ``final=True``).
        """
        ok_range = counts_in_range(frames)
        self.rejected += int(np.count_nonzero(~ok_range))
        if not self.check_timing:
            return frames[ok_range]
        if not self.holding and self._ref is not None and len(frames) and ok_range.all():
            # fast path: every step agrees with the one before (the normal case)
            seq = frames["seq"].astype(np.int64)
            t = frames["t_us"].astype(np.int64)
            prev_seq = np.concatenate(([self._ref[0]], seq[:-1]))
            prev_t = np.concatenate(([self._ref[1]], t[:-1]))
            step = (seq - prev_seq) % 65536
            dt = (t - prev_t) % (1 << 32)
            upper = (step + frames["missed"].astype(np.int64)) * self.period_us * (1 + self.TOLERANCE) + self.period_us
            if np.all((step > 0) & (step < 4096) & (dt >= (1 - self.TOLERANCE) * step * self.period_us) & (dt <= upper)):
                # (step 0 and other rare cases take the frame-by-frame path below)
                clean = step == 1
                if clean.any() and not frames["missed"][clean].any():
                    self.period_us += 0.02 * (float(np.mean(dt[clean])) - self.period_us)
                self._ref = (int(seq[-1]), int(t[-1]))
                return frames
        out: list = []
        for frame in frames[ok_range]:
            if self._ref is None:
                self._accept(frame, out)
            elif self._held is None:
                if self._agrees(self._ref, frame):
                    self._accept(frame, out)
                else:
                    self._held = frame
            else:
                held, self._held = self._held, None
                if self._agrees(self._ref, frame):
                    self.rejected += 1  # the held frame was an isolated outlier
                    log.warning("rejected a frame that passed its CRC but could not be true (seq %d, t_us %d)",
                                int(held["seq"]), int(held["t_us"]))
                    self._accept(frame, out)
                elif self._agrees((int(held["seq"]), int(held["t_us"])), frame):
                    self._ref = None  # a real jump: keep both, the clock logic bridges it
                    self._accept(held, out)
                    self._accept(frame, out)
                else:  # neither agrees: the held frame is refused, this one waits for the next verdict
                    self.rejected += 1
                    self._held = frame
        if final and self._held is not None:
            held, self._held = self._held, None
            self._accept(held, out)
        return np.array(out, dtype=FRAME_DTYPE) if out else np.zeros(0, dtype=FRAME_DTYPE)
