"""Acquisition end to end over a real pseudo-terminal (pyserial), against the fake board's ground truth."""

from __future__ import annotations

import time

import numpy as np
import pytest

from station.board.acquisition import Acquisition, LinkState
from station.board.serial_transport import SerialTransport

from .fakeboard import FakeBoard, frames_of


def _record(link, tmp_path, seconds, **acq_kw):
    acq = Acquisition(SerialTransport(link), **acq_kw)
    acq.start()
    try:
        acq.begin_recording(tmp_path / "t.journal", {"test": True})
        deadline = time.monotonic() + seconds + 10
        while acq.recording_duration_s < seconds and time.monotonic() < deadline:
            time.sleep(0.02)
        window = acq.snapshot(1.0)
        quality = acq.quality
        trial = acq.end_recording(duration_s=seconds)
    finally:
        acq.stop()
    return trial, window, quality, acq


def _truth_window(truth, trial):
    """Truth rows whose seq lies within the recorded seq range (no u16 wrap in these short tests)."""
    s0, s1 = int(trial.frames["seq"][0]), int(trial.frames["seq"][-1])
    return truth[(truth[:, 0] >= s0) & (truth[:, 0] <= s1)]


def test_clean_link_records_exact_frames(tmp_path):
    with FakeBoard(tmp_path / "board") as board:
        trial, window, live_q, acq = _record(board.link, tmp_path, 2.0)
        truth = board.truth
    assert acq.state == LinkState.STOPPED and acq.info.board_id_hex == "5B0000AA"
    assert trial.n_frames == 160  # 2 s at 80 Hz, exactly
    expected = frames_of(_truth_window(truth, trial))
    assert trial.frames.tobytes() == expected.tobytes()  # bit-exact against what was sent
    assert np.allclose(np.diff(trial.device_time_s), 0.0125, atol=1e-6)
    assert trial.device_time_s[0] == 0.0
    q = trial.quality
    assert (q["frames"], q["lost"], q["crc_errors"], q["resyncs"], q["gaps"]) == (160, 0, 0, 0, 0)
    assert q["effective_rate_hz"] == pytest.approx(80.0, abs=0.01)
    # host times follow the wall clock to within the link latency, at the device's spacing
    assert abs(trial.host_time_s[-1] - time.time()) < 5.0
    assert np.allclose(np.diff(trial.host_time_s), 0.0125, atol=1e-4)
    # live window: the last second, counts as sent
    assert 70 <= len(window.t_s) <= 81
    assert window.counts.dtype == np.int32 and window.counts.shape[1] == 4
    assert live_q["frames"] >= 160
    assert trial.meta["test"] is True and trial.board["nominal_rate_hz"] == 80
    # journal left for the caller to delete, and it holds the same frames
    from station.board.journal import read_journal

    assert read_journal(acq.last_journal_path).frames[:160].tobytes() == trial.frames.tobytes()


@pytest.mark.slow
def test_corrupted_frames_never_accepted_and_all_counted(tmp_path):
    with FakeBoard(tmp_path / "board", corrupt=0.05, seed=3) as board:
        trial, *_ = _record(board.link, tmp_path, 2.0)
        truth = board.truth
    win = _truth_window(truth, trial)
    intact = win[win[:, 6] == 1]
    assert len(win) - len(intact) >= 3  # the fault really happened
    assert trial.frames.tobytes() == frames_of(intact).tobytes()  # every intact frame, nothing else
    q = trial.quality
    assert q["lost"] == len(win) - len(intact)
    assert q["crc_errors"] >= 1 and q["resyncs"] >= 1


@pytest.mark.slow
def test_disconnect_marks_a_gap_and_resumes(tmp_path):
    with FakeBoard(tmp_path / "board", disconnect=(0.8, 0.8)) as board:
        # 3 s: frames follow the gap even when a busy machine takes a second longer to reopen the port
        trial, *_ = _record(board.link, tmp_path, 3.0)
        truth = board.truth
    q = trial.quality
    assert q["gaps"] == 1 and q["lost"] == 0
    (t0, t1), = trial.gaps
    assert 0.2 < t0 < 1.1 and 0.7 < t1 - t0 < 1.4
    win = _truth_window(truth, trial)
    delivered = win[win[:, 7] == 1]
    missing = sorted(set(delivered[:, 0].tolist()) - set(trial.frames["seq"].tolist()))
    assert not missing, (missing, trial.gaps, trial.frames["seq"][75:90].tolist(), win[75:90, [0, 7]].tolist())
    assert trial.frames.tobytes() == frames_of(delivered).tobytes()  # nothing lost before or after
    assert q["lost_in_gaps"] == len(win) - len(delivered) > 40  # 0.1 s quiet + 0.8 s away
    assert trial.events[0]["kind"] == "link_lost"
    # time keeps going through the gap: 3 s of board time in total
    assert trial.device_time_s[-1] == pytest.approx(3.0 - 0.0125, abs=0.02)


@pytest.mark.slow
def test_board_reboot_restarts_sequence_without_loss(tmp_path):
    with FakeBoard(tmp_path / "board", reboot_at_s=0.8) as board:
        trial, *_ = _record(board.link, tmp_path, 2.0)
    q = trial.quality
    assert q["reboots"] == 1 and q["lost"] == 0 and q["gaps"] == 1
    seq = trial.frames["seq"].astype(int)
    restart = int(np.flatnonzero(np.diff(seq) < 0)[0]) + 1
    assert seq[restart] == 0 and np.all(np.diff(seq[:restart]) == 1) and np.all(np.diff(seq[restart:]) == 1)
    assert np.all(np.diff(trial.device_time_s) > 0)  # the unwrapped clock never runs backwards


@pytest.mark.slow
def test_a_gap_straddling_the_end_is_cut_at_the_end(tmp_path):
    # fake board: quiet from 0.9 s after START, away from 1.0 s to 1.8 s; the trial ends at 1.3 s
    with FakeBoard(tmp_path / "board", disconnect=(0.9, 0.8)) as board:
        trial, _, _, acq = _record(board.link, tmp_path, 1.3)
        truth = board.truth
    (t0, t1), = trial.gaps
    assert t0 < 1.0 and t1 == pytest.approx(1.3)
    assert trial.device_time_s[-1] == pytest.approx(t0)  # the last frame before the gap
    assert trial.events == [{"t_s": t0, "kind": "link_lost", "t_end_s": t1}]
    q = trial.quality
    assert (q["gaps"], q["lost"]) == (1, 0)
    assert q["lost_in_gaps"] == int(round((t1 - t0) * 80)) - 1
    win = _truth_window(truth, trial)
    assert trial.frames.tobytes() == frames_of(win[win[:, 7] == 1]).tobytes()
