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
