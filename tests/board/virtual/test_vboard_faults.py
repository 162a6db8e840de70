"""Faults on demand: the spec parser, damage in the bytes, and ground-truth flags that match it."""

import numpy as np
import pytest

from station.board import protocol as P
from station.board.transport import LinkLost
from station.board.virtual import FaultSpec, Subject, VirtualBoard, VirtualTransport
from station.board.virtual.faults import CellFault
from station.errors import StationError
from vboard_wire import parse

START = P.encode_command(P.CMD_START)


def test_parse_full_spec():
    f = FaultSpec.parse("corrupt=0.01,drop=0.001,burst=0.02:64,disconnect=12.0:2.0,disconnect=3:0.5,reboot=20,dead=fr,saturate=bl@5,timeout=br@2.5")
    assert (f.corrupt, f.drop, f.burst_p, f.burst_bytes) == (0.01, 0.001, 0.02, 64)
    assert f.disconnects == ((3.0, 0.5), (12.0, 2.0))
    assert f.reboots == (20.0,)
    assert f.dead == (CellFault(1, 0.0),) and f.saturate == (CellFault(2, 5.0),) and f.timeout == (CellFault(3, 2.5),)
    assert FaultSpec.parse("") == FaultSpec() == FaultSpec.parse(None) == FaultSpec.parse("none")


@pytest.mark.parametrize("spec, message", [
    ("foo=1", "unknown fault 'foo'; known: corrupt, drop, burst, disconnect, reboot, dead, saturate, timeout, forge, reflash, swap."),
    ("corrupt=2", "malformed fault 'corrupt=2'; expected e.g. corrupt=0.01."),
    ("corrupt", "fault 'corrupt' needs a value (e.g. corrupt=0.01)."),
    ("disconnect=5", "malformed fault 'disconnect=5'; expected e.g. disconnect=12.0:2.0."),
    ("dead=xx", "fault 'dead' names unknown cell 'xx'; cells: fl, fr, bl, br."),
    ("burst=0.1:0", "malformed fault 'burst=0.1:0'; expected e.g. burst=0.01:64."),
])
def test_parse_errors_are_clear_sentences(spec, message):
    with pytest.raises(StationError) as err:
        FaultSpec.parse(spec)
    assert str(err.value) == message


def assert_truth_matches_wire(vb, out):
    frames, _, _ = parse(out)
    t = vb.truth
    intact = t.intact
    assert 0 < intact.sum() < len(t)
    # exactly the frames flagged intact come through CRC-valid, with their generated content
    got = {(int(f["seq"]), int(f["t_us"])): f for f in frames}
    want = {(int(s), int(u)): i for i, (s, u) in enumerate(zip(t.seq, t.t_us))}
    assert set(got) == {k for k, i in want.items() if intact[i]}
    for key, f in got.items():
        i = want[key]
        assert list(f["counts"]) == list(t.counts[i]) and f["status"] == t.status[i]
    return frames, t


def test_corrupted_bytes_flagged_in_truth():
    vb = VirtualBoard(seed=1, subject=Subject(), faults="corrupt=0.002")
    vb.write(START)
    out = vb.advance(30.0)
    frames, t = assert_truth_matches_wire(vb, out)
    assert len(out) == 2400 * 30 + 8 + 30  # corruption changes bytes, never their number
    # per byte probability 0.002 over 30 bytes: about 6 % of frames damaged
    assert 0.03 < 1 - t.intact.mean() < 0.09


def test_dropped_bytes_and_bursts_flagged_in_truth():
    vb = VirtualBoard(seed=2, faults="drop=0.001,burst=0.01:50")
    vb.write(START)
    out = vb.advance(30.0)
    frames, t = assert_truth_matches_wire(vb, out)
    lost = (2401 * 30 + 8) - len(out)
    assert lost > 24 * 50 * 0.5  # ~24 bursts of 50 bytes + ~72 single bytes
    assert 0.02 < 1 - t.intact.mean() < 0.12


def test_disconnect_loses_frames_and_the_transport_reconnects():
    vb = VirtualBoard(seed=0, faults="disconnect=2.0:1.5")
    tr = VirtualTransport(vb, realtime=False, chunk_s=0.25)
    info = tr.open()
    assert info == vb.info
    tr.start()
    received = b""
    with pytest.raises(LinkLost):
        for _ in range(100):
            received += tr.read()
    assert vb.time_s == pytest.approx(2.0, abs=0.26)
    back = tr.reconnect(timeout_s=5.0)
    assert back.board_id == 0x5B000001 and vb.link_up
    tr.start()  # the host restarts the stream after re-opening, as with hardware
    for _ in range(8):
        received += tr.read()
    tr.stop()
    tr.close()
    frames, others, bad = parse(received)
    t = vb.truth
    gone = (t.t_s >= 2.0) & (t.t_s < 3.5)
    assert not t.intact[gone].any() and t.intact[~gone].all()
    assert gone.sum() == 120
    np.testing.assert_array_equal(frames["seq"], t.seq[t.intact])
    assert [e["kind"] for e in t.events if e["kind"] in ("disconnect", "reconnect")] == ["disconnect", "reconnect"]
    assert bad == 0 and [k for k, _ in others] == [P.TYPE_ACK, P.TYPE_ACK]


def test_a_disconnect_after_start_counts_from_the_first_start_command():
    assert FaultSpec.parse("disconnect=+3:1.5,disconnect=2:1").disconnects_after_start == ((3.0, 1.5),)
    vb = VirtualBoard(seed=0, faults="disconnect=+1.0:0.5")
    vb.advance(4.0)  # a host that takes 4 s to start: the link stays up meanwhile
    assert vb.link_up
    vb.write(START)
    vb.advance(2.0)
    vb.write(START)  # a second start (after a reconnect) does not move it again
    vb.advance(1.0)
    t = vb.truth
    gone = t.intact == 0
    assert [(e["kind"], e["t_s"]) for e in t.events if e["kind"] in ("disconnect", "reconnect")] == [
        ("disconnect", 5.0), ("reconnect", 5.5)]
    assert t.t_s[gone].min() >= 5.0 and t.t_s[gone].max() < 5.5 and gone.sum() == 40


def test_reconnect_times_out_with_link_lost():
    vb = VirtualBoard(seed=0, faults="disconnect=0.1:30")
    tr = VirtualTransport(vb, realtime=False)
    tr.open()
    vb.advance(0.2)
    with pytest.raises(LinkLost, match="did not come back within 2 s"):
        tr.reconnect(timeout_s=2.0)


def test_cell_faults_in_counts_and_status():
    vb = VirtualBoard(seed=3, subject=Subject(), faults="dead=fr,saturate=bl@1.0,timeout=br@2.0")
    vb.write(START)
    frames, _, _ = parse(vb.advance(3.0))
    t = vb.truth
    assert np.all(frames["counts"][:, 1] == vb.hidden_offsets_counts[1])  # no signal, no noise
    sat = t.t_s >= 1.0
    assert np.all(frames["counts"][sat, 2] == P.COUNT_MAX) and np.all(frames["status"][sat] & 0x04)
    assert not np.any(frames["status"][~sat] & 0x0F)
    tout = t.t_s >= 2.0
    assert np.all(frames["status"][tout] & 0x80) and not np.any(frames["status"][~tout] & 0xF0)
    assert len(set(frames["counts"][tout, 3].tolist())) == 1  # stuck at its last value
    assert frames["counts"][tout, 3][0] == frames["counts"][np.argmax(tout) - 1, 3]
    assert np.all(frames["missed"][tout] == 1) and np.all(frames["missed"][~tout] == 0)
    assert len(set(frames["counts"][:, 0].tolist())) > 50  # a healthy cell keeps moving
