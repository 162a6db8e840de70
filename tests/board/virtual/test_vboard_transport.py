"""The virtual board as a Transport (in-process) and as a serial device (`station simulate`)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from station.board import protocol as P
from station.board.transport import Transport
from station.board.virtual import GroundTruth, Subject, VirtualBoard, VirtualTransport
from vboard_wire import parse

REPO = Path(__file__).resolve().parents[3]


def test_transport_fast_mode_streams_exact_frames():
    vb = VirtualBoard(seed=9, subject=Subject.named("healthy"))
    tr = VirtualTransport(vb, realtime=False, chunk_s=0.1)
    assert isinstance(tr, Transport)
    with tr as t:
        assert t is tr and tr.name == "virtual:seed=9"
        tr.start()
        data = b"".join(tr.read() for _ in range(50))  # 5 s of board time, no sleeping
    assert vb.time_s == pytest.approx(5.0)
    frames, others, bad = parse(data)
    assert bad == 0 and others == [(P.TYPE_ACK, bytes((P.CMD_START, 0)))]
    assert len(frames) == 401  # conversions at 0, 0.0125, ..., 5.0 s
    np.testing.assert_array_equal(frames["counts"], vb.truth.counts)
    assert not vb.streaming  # __exit__ stopped the stream


def test_transport_agrees_with_the_station_decoder():
    import station.board.decode as decode
    vb = VirtualBoard(seed=4, subject=Subject(stance="right", task="single_leg"), faults="corrupt=0.001")
    tr = VirtualTransport(vb, realtime=False, chunk_s=0.037)
    tr.open()
    tr.write(P.encode_command(P.CMD_INFO))
    tr.start()
    dec = decode.StreamDecoder()
    batches = [dec.feed(tr.read()) for _ in range(300)]
    frames = np.concatenate([b.frames for b in batches])
    t = vb.truth
    np.testing.assert_array_equal(frames["seq"], t.seq[t.intact])
    np.testing.assert_array_equal(frames["counts"], t.counts[t.intact])
    assert sum(len(b.infos) for b in batches) == 1 and batches[0].infos[0] == vb.info


def test_transport_realtime_paces_by_the_wall_clock():
    vb = VirtualBoard(seed=0, rate_hz=200.0)
    tr = VirtualTransport(vb, realtime=True)
    tr.open()
    tr.start()
    data = b""
    wall0 = time.monotonic()
    while time.monotonic() - wall0 < 0.3:
        data += tr.read(timeout_s=0.02)
    elapsed = time.monotonic() - wall0
    tr.stop()
    frames, _, bad = parse(data)
    # the board's time follows the wall clock: every conversion up to "now" and none from the future
    assert bad == 0 and vb.time_s <= elapsed + 1e-3
    assert len(frames) == len(vb.truth) == int(np.floor(vb.time_s * 200.0 + 1e-9)) + 1


def _simulate(tmp_path, *extra):
    link = tmp_path / "board"
    truth = tmp_path / "truth.npz"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "station", "simulate", "--seed", "3", "--link", str(link), "--truth", str(truth), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    return proc, link, truth


def test_simulate_serves_a_pty_end_to_end(tmp_path):
    serial = pytest.importorskip("serial")
    proc, link, truth_path = _simulate(tmp_path, "--seconds", "60", "--board-id", "5B0000C3", "--rate", "100")
    try:
        device = proc.stdout.readline().strip()
        assert device.startswith("/dev/") and os.path.realpath(link) == device
        port = serial.Serial(str(link), 500000, timeout=0.5)
        port.write(P.encode_command(P.CMD_INFO))
        reply = port.read(P.OVERHEAD + P.INFO_PAYLOAD.size)
        _, others, _ = parse(reply)
        info = P.decode_info_payload(others[0][1])
        assert (info.board_id, info.adc_kind, info.nominal_rate_hz, info.protocol_major) == (0x5B0000C3, "virtual", 100, 1)
        assert port.read(30) == b""  # nothing streams before START
        port.write(P.encode_command(P.CMD_START))
        data = b""
        deadline = time.monotonic() + 20.0
        while len(data) < 8 + 60 * P.DATA_FRAME_SIZE and time.monotonic() < deadline:
            data += port.read(4096)
        port.write(P.encode_command(P.CMD_STOP))
        time.sleep(0.2)
        data += port.read(port.in_waiting or 1)
        port.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert not link.exists()  # the link goes with the pty
    frames, others, bad = parse(data)
    assert bad == 0 and others[0] == (P.TYPE_ACK, bytes((P.CMD_START, 0)))
    assert len(frames) >= 60
    assert np.all(np.diff(frames["seq"].astype(int)) == 1)
    assert set(np.diff(frames["t_us"].astype(np.int64)).tolist()) == {10_000}
    truth = GroundTruth.load_npz(truth_path)  # written on SIGTERM
    n = len(frames)
    np.testing.assert_array_equal(truth.seq[:n], frames["seq"])
    np.testing.assert_array_equal(truth.counts[:n], frames["counts"])
    assert truth.meta["board_id"] == "5B0000C3" and truth.meta["rate_hz"] == 100.0


def test_pty_disconnect_removes_and_recreates_the_link(tmp_path):
    serial = pytest.importorskip("serial")
    import threading

    from station.board.virtual.pty_server import serve

    link = tmp_path / "ttyBOARD"
    vb = VirtualBoard(seed=6, rate_hz=100.0, faults="disconnect=1.0:0.8")
    paths = []
    ready = threading.Event()

    def on_ready(path):
        paths.append(path)
        ready.set()

    result = {}
    server = threading.Thread(target=lambda: result.update(serve(vb, link=link, seconds=3.0, on_ready=on_ready)), daemon=True)
    server.start()
    assert ready.wait(10.0)
    ready.clear()
    first = b""
    port = serial.Serial(str(link), 500000, timeout=0.1)
    port.write(P.encode_command(P.CMD_START))
    with pytest.raises(serial.SerialException):
        for _ in range(200):  # the board vanishes at 1.0 s
            first += port.read(4096)
    port.close()
    assert ready.wait(10.0)  # the pty comes back after 0.8 s
    assert os.path.realpath(link) == paths[-1]
    port = serial.Serial(str(link), 500000, timeout=0.1)
    port.write(P.encode_command(P.CMD_START))
    second = b""
    while server.is_alive():
        try:
            second += port.read(4096)
        except serial.SerialException:  # the server closed the pty at the end
            break
    server.join(10.0)
    port.close()
    assert not link.exists() and len(paths) == 2
    f1, _, bad1 = parse(first)
    f2, o2, bad2 = parse(second)
    t = vb.truth
    assert bad1 == bad2 == 0 and o2[0] == (P.TYPE_ACK, bytes((P.CMD_START, 0)))
    lost = (t.t_s >= 1.0) & (t.t_s < 1.8)
    assert not t.intact[lost].any() and lost.sum() == 80
    # before the drop, every frame arrived in order; after the re-plug the stream continues (pyserial
    # flushes what arrived before it opened the new pty, as it would with a real board)
    assert len(f1) > 50 and len(f2) > 50
    np.testing.assert_array_equal(f1["seq"], t.seq[: len(f1)])
    assert np.all(t.t_s[: len(f1)] < 1.0)
    i = int(np.flatnonzero(t.seq == f2["seq"][0])[0])
    assert t.t_s[i] >= 1.8
    # until the host re-opened the port the board's output went nowhere and is flagged so (allow one
    # 10 ms batch that pyserial may flush while it opens the port)
    assert t.intact[(t.t_s >= 1.8) & (t.t_s < t.t_s[i])].sum() <= 2
    np.testing.assert_array_equal(f2["seq"], t.seq[i : i + len(f2)])
    assert t.intact[i : i + len(f2)].all()


def test_simulate_bad_input_is_one_clear_line(capsys):
    from station.cli import main

    for args, message in [
        (["--subject", "nobody"], "station: error: unknown subject 'nobody'; known: empty, healthy, weak-left, weak-right (or a .json/.toml file).\n"),
        (["--faults", "foo=1"], "station: error: unknown fault 'foo'; known: corrupt, drop, burst, disconnect, reboot, dead, saturate, timeout, forge, reflash, swap.\n"),
        (["--board-id", "xyz"], "station: error: board id 'xyz' is not 1-8 hexadecimal digits (e.g. 5B000002).\n"),
        (["--rate", "5000"], "station: error: rate 5000.0 Hz is outside the virtual board's 1-1000 Hz.\n"),
        (["--board", "round"], "station: error: unknown board geometry 'round'; known: reference-400x300, wii-balance-board.\n"),
    ]:
        assert main(["simulate", *args, "--seconds", "1"]) == 2
        captured = capsys.readouterr()
        assert captured.err == message and captured.out == ""


def test_demand_pacing_ends_with_its_owner():
    """A consumer that paced the board (the calibration wizard) must not freeze it for the next owner
    (`station assess --sim` hung at the tare after calibrating)."""
    vb = VirtualBoard(seed=1)
    tr = VirtualTransport(vb, realtime=False, chunk_s=0.05)
    tr.open()
    tr.allow(0.5)
    for _ in range(40):
        tr.read(0.001)
    assert vb.time_s == pytest.approx(0.5)  # paced: no further than allowed
    tr.close()
    tr.open()  # the next owner
    for _ in range(20):
        tr.read()
    assert vb.time_s == pytest.approx(1.5)  # free-running again
