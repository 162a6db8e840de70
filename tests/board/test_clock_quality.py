"""Device-clock unwrapping, device->host fit, and the link-quality tally."""

from __future__ import annotations

import numpy as np
import pytest

from station.board.clock import DeviceClock, HostClockFit
from station.board.quality import LinkStats

from .builders import make_frames


def test_unwrap_across_u32_wrap_in_pieces():
    t_us = (np.arange(4_294_900_000, 4_295_100_000, 12_500, dtype=np.int64) % (1 << 32)).astype(np.uint32)
    clock = DeviceClock(nominal_period_s=0.0125)
    a, ja = clock.unwrap(t_us[:7])
    b, jb = clock.unwrap(t_us[7:])
    t = np.concatenate([a, b])
    assert not ja.any() and not jb.any()
    assert np.allclose(np.diff(t), 0.0125, atol=1e-9)
    assert t[0] == pytest.approx(4294.9)


def test_reboot_bridged_by_host_time_and_backward_jump_flagged():
    clock = DeviceClock(nominal_period_s=0.0125)
    clock.unwrap(np.array([1_000_000, 1_012_500], np.uint32))
    t, jumps = clock.unwrap(np.array([12_500, 25_000], np.uint32), restart=True, host_elapsed_s=0.5)
    assert t.tolist() == pytest.approx([1.0125 + 0.5, 1.0125 + 0.5125])
    assert jumps.tolist() == [True, False]
    # an unannounced backwards jump (reboot whose info frame was lost) bridges one period
    t, jumps = clock.unwrap(np.array([37_500, 100, 12_600], np.uint32))
    assert jumps.tolist() == [False, True, False]
    assert np.diff(t).tolist() == pytest.approx([0.0125, 0.0125])


def test_reconnect_keeps_a_plausible_forward_step():
    clock = DeviceClock(nominal_period_s=0.0125)
    clock.unwrap(np.array([1_000_000], np.uint32))
    t, _ = clock.unwrap(np.array([3_000_000], np.uint32), restart=True, host_elapsed_s=2.05, keep_forward=True)
    assert t[0] == pytest.approx(3.0)


def test_host_fit_recovers_drift_and_offset_despite_latency():
    rng = np.random.default_rng(0)
    fit = HostClockFit()
    device = np.arange(0, 60, 0.05)
    true_host = 1000.0 + device * (1 + 100e-6)
    arrival = true_host + 0.002 + rng.exponential(0.004, len(device))  # latency only ever delays
    for d, h in zip(device, arrival):
        fit.update(d, h)
    assert fit.slope == pytest.approx(1 + 100e-6, abs=60e-6)  # 20 s window, 4 ms latency noise
    err = fit.to_host(device[-200:]) - true_host[-200:]
    assert np.abs(err).max() < 0.004


def test_lost_by_sequence_with_wrap_and_segments():
    s = LinkStats()
    seqs = [65533, 65534, 0, 1, 4, 5]  # 65535 lost, 2 and 3 lost
    dev = np.arange(6) * 0.0125
    dev[4:] += 2 * 0.0125
    dev[2:] += 0.0125
    s.add_frames(make_frames(seqs[:3]), dev[:3], np.zeros(3, bool))
    s.add_frames(make_frames(seqs[3:], missed=[0, 3, 1], status=[0, 0x01, 0x20]), dev[3:], np.zeros(3, bool))
    q = s.as_dict()
    assert (q["frames"], q["lost"], q["missed_conversions"], q["saturated_frames"], q["timeout_frames"]) == (6, 3, 4, 1, 1)
    assert q["effective_rate_hz"] == pytest.approx(5 / (8 * 0.0125))
    assert q["jitter_ms"] == pytest.approx(0.0, abs=1e-6)
    # a new segment (reboot / reconnect) is not counted as lost
    s.add_frames(make_frames([0, 1]), np.array([10.0, 10.0125]), np.array([True, False]))
    s.add_gap(float(dev[-1]), 10.0)
    q = s.as_dict()
    assert (q["lost"], q["gaps"], q["frames"]) == (3, 1, 8)
    assert q["effective_rate_hz"] == pytest.approx((8 - 2) / (8 * 0.0125 + 0.0125))
