"""The virtual board through the station's own acquisition (same code path as hardware)."""

import time

import pytest

from station.board.virtual import Subject, VirtualBoard, VirtualTransport

import station.board.acquisition as acquisition


def test_acquisition_receives_exactly_the_intact_frames():
    vb = VirtualBoard(seed=1, subject=Subject(), faults="corrupt=0.001,reboot=5,disconnect=8:1")
    acq = acquisition.Acquisition(VirtualTransport(vb, realtime=False, chunk_s=0.05), reconnect_timeout_s=5.0)
    info = acq.start()
    assert info == vb.info
    deadline = time.monotonic() + 60.0
    try:
        while vb.time_s < 12.0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        acq.stop()
    assert vb.time_s >= 12.0
    truth = vb.truth
    kinds = [e["kind"] for e in truth.events]
    assert kinds.count("reboot") == 1 and kinds.count("disconnect") == 1
    q = acq.quality
    assert q["frames"] == int(truth.intact.sum())
    assert q["gaps"] >= 1


def _run_until(vb: VirtualBoard, acq, board_s: float) -> None:
    deadline = time.monotonic() + 60.0
    try:
        while vb.time_s < board_s and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        acq.stop()
    assert vb.time_s >= board_s


def test_the_live_window_is_dated_by_the_boards_clock_since_its_last_restart():
    """A free-running virtual board runs many times faster than the host: the live window still holds the
    board's last 10 s at its own 80 Hz, also across a reboot of the board."""
    vb = VirtualBoard(seed=2, subject=Subject())
    acq = acquisition.Acquisition(VirtualTransport(vb, realtime=False, chunk_s=0.05))
    acq.start()
    _run_until(vb, acq, 25.0)
    win = acq.board_window(10.0)
    assert len(win.t_s) == pytest.approx(10.0 * 80, abs=2)
    assert win.t_s[-1] - win.t_s[0] == pytest.approx(10.0, abs=2 / 80)
    assert win.t_s[-1] > 15.0 and (win.t_s == win.device_s).all()
    steps = (win.t_s[1:] - win.t_s[:-1])
    assert steps.min() > 0 and steps.max() == pytest.approx(1 / 80, rel=0.01)

    rebooted = VirtualBoard(seed=2, subject=Subject(), faults="reboot=20")
    acq = acquisition.Acquisition(VirtualTransport(rebooted, realtime=False, chunk_s=0.05), reconnect_timeout_s=5.0)
    acq.start()
    _run_until(rebooted, acq, 24.0)
    win = acq.board_window(10.0)  # across the reboot at 20 s: the stream carries the board's clock on
    steps = win.t_s[1:] - win.t_s[:-1]
    assert win.t_s[-1] - win.t_s[0] == pytest.approx(10.0, abs=2 / 80)
    assert steps.min() > 0 and steps.max() < 1.5 / 80
