"""Frame decoding: shared test vectors, kernel == reference, and hostile streams (hypothesis)."""

from __future__ import annotations

import binascii
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.board.protocol import (
    CMD_START,
    TYPE_ACK,
    BoardInfo,
    encode_command,
    encode_data_frame,
    encode_data_frames,
    encode_frame,
    encode_info_frame,
)
from station.board.decode import CRC16_TABLE, StreamDecoder, decode_frames, decode_kernel_numpy, decode_reference

from .builders import random_frames

VECTORS = Path(__file__).resolve().parents[2] / "hardware" / "vectors" / "frames.tsv"


def _vectors():
    rows = []
    for line in VECTORS.read_text().splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def test_crc_table_check_value():
    crc = 0xFFFF
    for b in b"123456789":
        crc = ((crc << 8) & 0xFFFF) ^ int(CRC16_TABLE[((crc >> 8) ^ b) & 0xFF])
    assert crc == 0x29B1 == binascii.crc_hqx(b"123456789", 0xFFFF)


@pytest.mark.parametrize("reference", [False, True])
def test_vectors_decode_exactly(reference):
    rows = _vectors()
    data_rows = [r for r in rows if r[0] == "data"]
    info_rows = [r for r in rows if r[0] == "info"]
    cmd_rows = [r for r in rows if r[0] == "cmd"]
    stream = b"".join(bytes.fromhex(r[-1]) for r in rows)
    batch = decode_frames(stream, reference=reference)
    assert (batch.crc_errors, batch.resyncs, batch.skipped_bytes) == (0, 0, 0)
    assert len(batch.frames) == len(data_rows) == 12
    for f, r in zip(batch.frames, data_rows):
        seq, t_us, c0, c1, c2, c3, status, missed = (int(x) for x in r[2:10])
        assert (int(f["seq"]), int(f["t_us"]), int(f["status"]), int(f["missed"])) == (seq, t_us, status, missed), r[1]
        assert f["counts"].tolist() == [c0, c1, c2, c3], r[1]
    assert len(batch.infos) == len(info_rows) == 2
    for info, r in zip(batch.infos, info_rows):
        assert (info.protocol_major, info.protocol_minor, info.firmware, info.board_id, info.nominal_rate_hz,
                info.channels) == (int(r[2]), int(r[3]), r[4], int(r[5]), int(r[7]), int(r[8]))
    assert batch.infos[0].adc_kind == "HX711" and batch.infos[1].adc_kind == "virtual"
    # commands are valid frames of types the host does not interpret
    assert [t for t, _ in batch.other_frames] == [int(r[2]) for r in cmd_rows]
    assert batch.other_frames[-1][1] == (0x5B000002).to_bytes(4, "little")


def test_vector_bytes_match_encoder():
    for r in _vectors():
        if r[0] == "data":
            seq, t_us, c0, c1, c2, c3, status, missed = (int(x) for x in r[2:10])
            assert encode_data_frame(seq, t_us, [c0, c1, c2, c3], status, missed).hex() == r[-1]


def test_info_and_ack_positions():
    info = BoardInfo(1, 0, "1.0.0", 7, "virtual", 80, 4)
    f = random_frames(5)
    stream = (encode_data_frames(f[:2]) + encode_info_frame(info) + encode_data_frames(f[2:])
              + encode_frame(TYPE_ACK, bytes((CMD_START, 0))))
    batch = decode_frames(stream)
    assert batch.info_positions == [2]
    assert batch.acks == [(CMD_START, 0)]
    assert batch.frames.tobytes() == f.tobytes()


def test_longer_data_payload_from_newer_minor_is_accepted():
    f = random_frames(1)
    payload = f.tobytes() + b"\x01\x02\x03"  # a 1.1 board appends a field
    batch = decode_frames(encode_frame(0x01, payload))
    assert batch.frames.tobytes() == f.tobytes()


def test_kernel_equals_reference_on_a_dirty_stream():
    rng = np.random.default_rng(5)
    f = random_frames(3000, seed=1, seq0=65000)
    clean = bytearray(encode_data_frames(f))
    for pos in rng.integers(0, len(clean), 200):  # bit flips
        clean[pos] ^= 1 << int(rng.integers(0, 8))
    for pos in sorted(rng.integers(0, len(clean), 50), reverse=True):  # garbage and stray sync words
        clean[pos:pos] = bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8)) + b"\xa5\x5a"
    data = bytes(clean)
    k = decode_kernel_numpy(np.frombuffer(data, np.uint8))
    r = decode_reference(data)
    assert k[0].tobytes() == r[0].tobytes()
    assert k[1].tolist() == r[1].tolist()
    assert k[2:] == r[2:]
    assert k[3] > 100 and k[4] > 100 and 2000 < len(k[0]) < 3000


def test_split_reads_carry_the_partial_frame():
    f = random_frames(200, seed=2)
    data = encode_data_frames(f)
    dec = StreamDecoder()
    got = []
    for i in range(0, len(data), 7):
        got.append(dec.feed(data[i : i + 7]).frames)
    assert np.concatenate(got).tobytes() == f.tobytes()
    assert dec.totals == {"frames": 200, "crc_errors": 0, "resyncs": 0, "skipped_bytes": 0}


def test_stream_starting_mid_frame_counts_one_resync():
    f = random_frames(10)
    data = encode_data_frames(f)[13:]
    batch = decode_frames(data)
    assert len(batch.frames) == 9
    assert (batch.resyncs, batch.skipped_bytes, batch.crc_errors) == (1, 17, 0)


def test_corrupted_length_byte_does_not_swallow_following_frames():
    f = random_frames(20)
    data = bytearray(encode_data_frames(f))
    data[2] = 255  # first frame claims a 255-byte payload
    batch = decode_frames(bytes(data))
    assert batch.frames.tobytes() == f[1:].tobytes()
    assert batch.crc_errors == 1 and batch.skipped_bytes == 30 and batch.resyncs == 1


# ---------------------------------------------------------------- properties
_VALID = encode_data_frames(random_frames(3, seed=9))
_pieces = st.one_of(
    st.binary(max_size=40),
    st.just(b"\xa5\x5a"),
    st.just(b"\xa5\x5a\x18\x01"),
    st.integers(0, len(_VALID)).map(lambda k: _VALID[:k]),  # whole or truncated frames
    st.integers(0, 29).map(lambda k: _VALID[k:]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.one_of(st.binary(max_size=2000), st.lists(_pieces, max_size=30).map(b"".join)))
def test_garbage_never_crashes_and_never_yields_bad_frames(garbage):
    for reference in (False, True):
        batch = decode_frames(garbage, reference=reference)
        # every accepted frame re-encodes to bytes present in the input with a valid CRC
        for row in batch.frames:
            assert row.tobytes() in garbage
        assert batch.skipped_bytes <= len(garbage)
    for final in (False, True):
        k = decode_kernel_numpy(np.frombuffer(garbage, np.uint8), False, final)
        r = decode_reference(garbage, False, final)
        assert k[0].tobytes() == r[0].tobytes() and k[1].tolist() == r[1].tolist() and k[2:] == r[2:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 40),
    inserts=st.lists(st.tuples(st.integers(0, 40), st.binary(min_size=1, max_size=60)), max_size=8),
    flips=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 29), st.integers(0, 7)), max_size=6),
    truncate=st.integers(0, 29),
    cuts=st.lists(st.integers(1, 200), max_size=10),
)
def test_hostile_stream_recovers_every_intact_frame(n, inserts, flips, truncate, cuts):
    f = random_frames(n, seed=n)
    pieces = [bytearray(encode_data_frames(f[i : i + 1])) for i in range(n)]
    for i, byte, bit in flips:
        if i < n:
            pieces[i][byte] ^= 1 << bit
    if truncate:
        pieces[-1] = pieces[-1][:-truncate]
    damaged = {i for i in range(n) if bytes(pieces[i]) != encode_data_frames(f[i : i + 1])}
    garbage = {i: g for i, g in inserts}
    stream = b"".join(garbage.get(i, b"") + bytes(p) for i, p in enumerate(pieces))
    intact = [i for i in range(n) if i not in damaged]
    # split the stream into reads at the drawn cut sizes
    dec = StreamDecoder()
    got, pos = [], 0
    for c in cuts:
        got.append(dec.feed(stream[pos : pos + c]).frames)
        pos += c
    got.append(dec.feed(stream[pos:]).frames)
    got.append(dec.flush().frames)
    out = np.concatenate(got)
    whole = decode_frames(stream, reference=True)
    assert out.tobytes() == whole.frames.tobytes()  # split reads == one read == reference
    out_rows = [r.tobytes() for r in out]
    for i in intact:
        assert f[i].tobytes() in out_rows  # every intact frame recovered
    for row in out_rows:  # nothing accepted that was not sent (a damaged frame would differ)
        assert row in [f[i].tobytes() for i in intact] or any(row in g for g in garbage.values())


def test_encode_command_is_a_valid_frame():
    batch = decode_frames(encode_command(CMD_START))
    assert batch.other_frames == [(CMD_START, b"")]
