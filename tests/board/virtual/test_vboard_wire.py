"""The virtual board on the wire: exact bytes, frame counts, clocks, commands, determinism."""

import json
import struct

import numpy as np
import pytest

from station.board import protocol as P
from station.board.virtual import BoardModel, Subject, VirtualBoard
from station.board.virtual.board import BOOT_S, virtual_board_id
from station.errors import StationError
from vboard_wire import parse

START = P.encode_command(P.CMD_START)
STOP = P.encode_command(P.CMD_STOP)
INFO = P.encode_command(P.CMD_INFO)


def ack(cmd, result=P.ACK_OK):
    return P.encode_frame(P.TYPE_ACK, bytes((cmd, result)))


def truth_frames(truth, sl=slice(None)):
    f = np.zeros(len(truth.seq[sl]), dtype=P.FRAME_DTYPE)
    for name in ("seq", "t_us", "counts", "status", "missed"):
        f[name] = getattr(truth, name)[sl]
    return f


def test_silent_until_start_then_exact_bytes_for_a_known_seed():
    vb = VirtualBoard(seed=7, subject=Subject())
    assert vb.advance(2.0) == b""  # like the firmware: no stream before START
    vb.write(INFO + START)
    out = vb.advance(10.0)
    info = P.encode_info_frame(vb.info)
    assert out.startswith(info + ack(P.CMD_START))
    truth = vb.truth
    assert len(truth) == 800  # 10 s at 80 Hz, conversions at (2, 12] s
    assert out == info + ack(P.CMD_START) + P.encode_data_frames(truth_frames(truth))
    # the scalar encoder agrees with the vectorised one for the first frames
    first = out[len(info) + 8 : len(info) + 8 + 3 * P.DATA_FRAME_SIZE]
    expected = b"".join(P.encode_data_frame(int(s), int(t), c, int(st), int(m))
                        for s, t, c, st, m in zip(truth.seq[:3], truth.t_us[:3], truth.counts[:3], truth.status[:3], truth.missed[:3]))
    assert first == expected
    assert list(truth.seq[:3]) == [0, 1, 2]
    assert list(truth.t_us[:3]) == [2_012_500, 2_025_000, 2_037_500]
    np.testing.assert_allclose(np.diff(truth.t_s), 1 / 80.0, rtol=0, atol=1e-9)
    assert truth.intact.all()
    assert vb.info.adc_kind == "virtual" and vb.info.board_id == virtual_board_id(7) and vb.info.nominal_rate_hz == 80


def test_board_id_defaults_to_the_seeds_own_and_an_explicit_one_is_kept():
    boards = [VirtualBoard(seed=s, record_truth=False) for s in (0, 1, 2, 41)]
    assert [b.info.board_id for b in boards] == [virtual_board_id(s) for s in (0, 1, 2, 41)]
    assert len({b.info.board_id for b in boards}) == 4
    # the id is on the wire (the INFO frame) and in the ground truth's metadata
    boards[2].write(INFO)
    _, others, _ = parse(boards[2].advance(0.1))
    assert P.decode_info_payload(others[0][1]).board_id == virtual_board_id(2)
    assert boards[2].truth.meta["board_id"] == f"{virtual_board_id(2):08X}"
    # an explicit id wins over the seed's, whatever the seed (0 and FFFFFFFF included: a new chip)
    for seed, board_id in ((0, 0x5B0000AA), (5, 0x5B0000AA), (3, 0xFFFFFFFF), (3, 0)):
        assert VirtualBoard(seed=seed, board_id=board_id, record_truth=False).info.board_id == board_id
    with pytest.raises(StationError, match="32 bits"):
        VirtualBoard(seed=1, board_id=0x1_0000_0000)


def test_counts_are_hidden_gain_times_force_plus_offset():
    model = BoardModel(noise_counts_rms=0.0, drift_n_per_min=0.0, creep=0.0, skew=False)
    vb = VirtualBoard(seed=3, subject=Subject(), board=model)
    vb.write(START)
    vb.advance(2.0)
    t = vb.truth
    expected = np.rint(t.forces_n * vb.hidden_gains_counts_per_n + vb.hidden_offsets_counts)
    np.testing.assert_array_equal(t.counts, expected.astype(np.int32))
    assert np.all((vb.hidden_gains_counts_per_n > 52.0) & (vb.hidden_gains_counts_per_n < 58.0))
    assert np.all(np.abs(vb.hidden_offsets_counts) <= 200_000)
    other = VirtualBoard(seed=4, board=model)
    assert not np.array_equal(other.hidden_gains_counts_per_n, vb.hidden_gains_counts_per_n)


@pytest.mark.parametrize("faults", [None, "corrupt=0.002,drop=0.001,burst=0.01:40"])
def test_deterministic_for_a_seed_and_independent_of_chunking(faults):
    def run(steps):
        vb = VirtualBoard(seed=11, subject=Subject.named("weak-right:single-right"), faults=faults)
        vb.write(START)
        return b"".join(vb.advance(dt) for dt in steps), vb.truth

    whole, t1 = run([12.0])
    chunked, t2 = run([0.05] * 240)
    odd, _ = run([0.077] * 155 + [12.0 - 0.077 * 155])
    assert whole == chunked == odd
    np.testing.assert_array_equal(t1.intact, t2.intact)
    assert t1.events == t2.events
    vb = VirtualBoard(seed=12, subject=Subject.named("weak-right:single-right"), faults=faults)
    vb.write(START)
    assert vb.advance(12.0) != whole


def test_sequence_and_clock_wrap():
    vb = VirtualBoard(seed=0, seq_start=65530, clock_start_us=2**32 - 40_000)
    vb.write(START)
    frames, _, bad = parse(vb.advance(0.2))
    assert bad == 0
    assert list(frames["seq"][:8]) == [65530, 65531, 65532, 65533, 65534, 65535, 0, 1]
    steps = np.diff(frames["t_us"].astype(np.int64)) % 2**32
    assert set(steps.tolist()) == {12_500}
    assert frames["t_us"][0] > frames["t_us"][-1]  # wrapped


def test_fast_rate_and_clock_drift():
    vb = VirtualBoard(seed=0, rate_hz=1000.0, clock_ppm=+200.0)
    vb.write(START)
    frames, _, _ = parse(vb.advance(20.0))
    # the board's clock runs 200 ppm fast: 20 s * 1000 Hz * 1.0002 conversion periods in 20 host
    # seconds, plus the conversion at t = 0
    assert len(frames) == 20_005
    assert set(np.diff(frames["t_us"].astype(np.int64)).tolist()) == {1000}
    t = vb.truth
    slope = np.polyfit(t.t_s, t.t_us.astype(np.float64) * 1e-6, 1)[0]
    assert slope == pytest.approx(1.0002, abs=1e-9)


def test_commands_are_acknowledged_like_firmware():
    vb = VirtualBoard(seed=0)
    vb.write(START)
    assert vb.advance(0.5).startswith(ack(P.CMD_START))
    vb.write(STOP)
    out = vb.advance(1.0)
    assert out == ack(P.CMD_STOP)  # nothing streams after STOP
    vb.write(P.encode_command(P.CMD_SET_BOARD_ID, struct.pack("<I", 0x5B0000AB)) + INFO)
    frames, others, _ = parse(vb.advance(0.1))
    assert len(frames) == 0
    assert others[0] == (P.TYPE_ACK, bytes((P.CMD_SET_BOARD_ID, P.ACK_OK)))
    assert P.decode_info_payload(others[1][1]).board_id == 0x5B0000AB
    vb.write(P.encode_command(0x2F) + P.encode_command(P.CMD_SET_BOARD_ID, b"\x01"))
    assert vb.advance(0.1) == ack(0x2F, P.ACK_UNSUPPORTED) + ack(P.CMD_SET_BOARD_ID, P.ACK_BAD_PAYLOAD)
    broken = bytearray(START)
    broken[-1] ^= 0xFF
    vb.write(bytes(broken) + b"\x00junk")
    assert vb.advance(0.5) == b""  # a command with a bad CRC is ignored
    vb.write(START[:3])
    vb.write(START[3:])  # a command split across writes still counts
    assert vb.advance(0.1).startswith(ack(P.CMD_START))


def test_scene_command_over_the_wire():
    vb = VirtualBoard(seed=2, subject=Subject.named("weak-left"))
    vb.write(START)
    vb.advance(2.0)
    vb.write(P.encode_command(P.CMD_SIM_SCENE, json.dumps({"subject": {"stance": "left", "task": "single_leg"}}).encode()))
    assert vb.advance(0.01).startswith(ack(P.CMD_SIM_SCENE))
    assert vb.subject.stance == "left" and vb.subject.sway_scale_left == 1.5  # same person, new cue
    vb.advance(3.0)
    vb.write(P.encode_command(P.CMD_SIM_SCENE, b'{"subject": null}'))
    vb.advance(3.0)
    vb.write(P.encode_command(P.CMD_SIM_SCENE, b'{"masses": [[10.0, 50.0, -20.0], [5.0, -100.0, 0.0]]}'))
    vb.advance(1.0)
    for bad in (b"{not json", b'{"subject": {"stance": "sideways"}}', b'{"wings": 2}', b'{"masses": [[1, 2]]}'):
        vb.write(P.encode_command(P.CMD_SIM_SCENE, bad))
        assert vb.advance(0.0) == ack(P.CMD_SIM_SCENE, P.ACK_BAD_PAYLOAD)
    t = vb.truth
    kinds = [e["kind"] for e in t.events]
    assert kinds.count("scene") == 2 and kinds.count("step_off") == 1
    on_left = (t.t_s > 3.0) & (t.t_s < 5.0)
    assert np.median(t.cop_ml_mm[on_left]) < -85  # standing on the left foot (x = -100 mm, hip drop outwards)
    assert np.all(t.cop_ml_mm[on_left] < -25)
    empty = (t.t_s > 6.0) & (t.t_s < 8.0)
    assert np.all(t.total_n[empty] == 0) and np.all(np.isnan(t.cop_ml_mm[empty]))
    loaded = t.t_s > 8.01
    np.testing.assert_allclose(t.total_n[loaded], 15.0 * 9.80665, rtol=1e-12)
    np.testing.assert_allclose(t.cop_ml_mm[loaded], (10 * 50 - 5 * 100) / 15.0, atol=1e-9)
    np.testing.assert_allclose(t.cop_ap_mm[loaded], (10 * -20) / 15.0, atol=1e-9)


def test_wii_geometry_cop_from_forces():
    vb = VirtualBoard(seed=1, board=BoardModel.named("wii-balance-board"))
    vb.place_mass(20.0, 150.0, 80.0)
    vb.write(START)
    vb.advance(0.5)
    t = vb.truth
    np.testing.assert_allclose(t.forces_n.sum(axis=1), 20 * 9.80665)
    np.testing.assert_allclose(t.cop_ml_mm, 150.0)
    np.testing.assert_allclose(t.cop_ap_mm, 80.0)
    assert t.forces_n[0, 1] > t.forces_n[0, 0] > 0 and t.forces_n[0, 3] > t.forces_n[0, 2] > 0


def test_tare_and_known_mass_recover_the_hidden_gains():
    """What a calibration does: tare (empty), then masses at known places, least squares per cell."""
    vb = VirtualBoard(seed=5)
    vb.write(START)
    zero = parse(vb.advance(2.0))[0]["counts"].mean(axis=0)
    rows, rhs = [], []
    for kg, x, y in [(20.0, -100.0, 60.0), (20.0, 120.0, -70.0), (10.0, 0.0, 0.0), (20.0, 150.0, 100.0)]:
        vb.place_mass(kg, x, y)
        vb.advance(0.5)  # let it settle
        c = parse(vb.advance(2.0))[0]["counts"].mean(axis=0) - zero
        rows.append(c)
        rhs.append(vb.board.cell_forces(kg * 9.80665, x, y)[0])
        vb.clear_masses()
        vb.advance(0.5)
    gains = np.array(rows) / np.array(rhs)
    good = np.array(rhs) > 20.0  # cells with enough load to estimate
    rel = np.abs(gains[good] / np.broadcast_to(vb.hidden_gains_counts_per_n, gains.shape)[good] - 1)
    assert rel.max() < 0.003
    assert np.abs(zero - vb.hidden_offsets_counts).max() < 5.0


def test_reboot_restarts_sequence_and_clock_and_announces_itself():
    vb = VirtualBoard(seed=0, faults="reboot=3.0")
    vb.write(START)
    out = vb.advance(6.0)
    frames, others, bad = parse(out)
    assert bad == 0
    assert [k for k, _ in others] == [P.TYPE_ACK, P.TYPE_INFO]
    seq = frames["seq"].astype(int)
    wrap = int(np.argmax(np.diff(seq) < 0)) + 1
    assert wrap == 241  # conversions at 0, 0.0125, .. 3.0 s: 241 frames, then a fresh boot
    assert seq[wrap] == 0 and frames["t_us"][wrap] == 0
    t = vb.truth
    assert t.t_s[wrap] == pytest.approx(3.0 + BOOT_S)
    assert len(frames) == 241 + int((6.0 - 3.0 - BOOT_S) * 80) + 1
    assert [e["kind"] for e in t.events].count("reboot") == 1
