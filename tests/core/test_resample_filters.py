"""Resampling of irregular time stamps, the zero-lag low-pass, centring and detrending."""

import numpy as np
import pytest
from scipy import signal

from station.core.errors import SignalError
from station.core.filters import butter_lowpass_sos, centre, detrend_linear, lowpass_zero_lag
from station.core.resample import check_time, resample_uniform, resample_uniform_reference


def wii_like_times(seconds=20.0, seed=0):
    """A Wii-balance-board-like stream: ~40 Hz, intervals 13..37 ms (uniform jitter)."""
    rng = np.random.default_rng(seed)
    dt = rng.uniform(0.013, 0.037, size=int(seconds / 0.025) + 10)
    t = np.concatenate([[0.0], np.cumsum(dt)])
    return t[t <= seconds]


def test_resample_wii_like_stream_onto_uniform_grid():
    t = wii_like_times()
    y = np.column_stack([10 * np.sin(2 * np.pi * 0.4 * t), 5 * np.cos(2 * np.pi * 0.25 * t)])
    grid, out = resample_uniform(t, y, fs_hz=100.0)
    assert grid.size == int(np.floor(t[-1] * 100)) + 1
    np.testing.assert_allclose(np.diff(grid), 0.01, atol=1e-12)
    truth = np.column_stack([10 * np.sin(2 * np.pi * 0.4 * grid), 5 * np.cos(2 * np.pi * 0.25 * grid)])
    # linear-interpolation error bound: max|y''| dt^2 / 8 with dt <= 37 ms
    bound = 10 * (2 * np.pi * 0.4) ** 2 * 0.037**2 / 8
    assert np.abs(out - truth).max() <= bound
    assert np.abs(out - truth).max() > 0


def test_resample_matches_numpy_interp():
    t = wii_like_times(seed=5)
    y = np.random.default_rng(5).normal(size=(t.size, 3))
    g1, a = resample_uniform(t, y, fs_hz=60.0)
    g2, b = resample_uniform_reference(t, y, fs_hz=60.0)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_resample_nan_neighbours_give_nan_only_there():
    t = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    y = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    grid, out = resample_uniform(t, y, fs_hz=20.0)
    np.testing.assert_allclose(grid, np.arange(9) * 0.05)
    np.testing.assert_array_equal(np.isnan(out), [False, False, False, True, True, True, False, False, False])
    np.testing.assert_allclose(out[[0, 1, 2, 6, 7, 8]], [0, 0.5, 1.0, 3.0, 3.5, 4.0])


def test_time_going_backwards_is_reported_with_its_sample():
    with pytest.raises(SignalError, match="backwards .* at sample 3"):
        check_time([0.0, 0.1, 0.2, 0.15, 0.3])
    with pytest.raises(SignalError, match="Too few samples"):
        resample_uniform([0.0], [1.0], fs_hz=10)


def test_zero_lag_lowpass_is_minus_3db_at_cutoff_effective_order_4():
    fs, fc = 100.0, 10.0
    sos = butter_lowpass_sos(fs_hz=fs, cutoff_hz=fc, order=4)
    assert sos.shape == (1, 6)  # designed order 2: one second-order section, run twice
    w, h = signal.sosfreqz(sos, worN=[fc, 2 * fc, 1.0], fs=fs)
    two_pass = np.abs(h) ** 2
    assert 20 * np.log10(two_pass[0]) == pytest.approx(-3.0103, abs=1e-3)
    # effective order 4: about -24 dB per octave well above the cut-off (-20 dB at 2 fc here, warped)
    assert 20 * np.log10(two_pass[1]) < -20.0
    assert two_pass[2] == pytest.approx(1.0, abs=1e-4)


def test_zero_lag_lowpass_has_no_phase_lag():
    fs = 100.0
    t = np.arange(3000) / fs
    x = np.sin(2 * np.pi * 1.0 * t)
    y = lowpass_zero_lag(x, fs_hz=fs, cutoff_hz=10.0)
    core = slice(300, -300)
    lag = np.argmax(np.correlate(y[core], x[core], "full")) - (x[core].size - 1)
    assert lag == 0
    np.testing.assert_allclose(y[core], x[core], atol=2e-3)


def test_lowpass_rejects_nan_and_bad_cutoff():
    with pytest.raises(SignalError, match="NaN"):
        lowpass_zero_lag(np.array([1.0, np.nan] * 20), fs_hz=100, cutoff_hz=10)
    with pytest.raises(SignalError, match="below half the sampling rate"):
        lowpass_zero_lag(np.zeros(100), fs_hz=15, cutoff_hz=10)


def test_centre_and_detrend():
    k = np.arange(101.0)
    x = np.column_stack([3.0 + 0.5 * k + np.sin(k), -2.0 + np.cos(k)])
    np.testing.assert_allclose(centre(x).mean(axis=0), 0, atol=1e-12)
    d = detrend_linear(x)
    slope = np.polyfit(k, d[:, 0], 1)[0]
    assert abs(slope) < 1e-12
    np.testing.assert_allclose(d[:, 0], (x[:, 0] - np.polyval(np.polyfit(k, x[:, 0], 1), k)), atol=1e-9)
