"""Kernels of the research toolkit against independent implementations (scipy, brute force)."""

import numpy as np
import pytest
from scipy import signal

from station.core.features import (
    planar_range,
    extended_features,
    planar_range_reference,
    savgol_derivative,
    welch_linear,
)
from station.core.swarii import swarii_reference, swarii_resample
from station.core.twoplate import load_share_measures, net_cop
from station.core.zerolag import butter_lowpass_sos, sosfilt_zi, sosfiltfilt


@pytest.mark.parametrize("order,cutoff,fs", [(1, 5, 100), (2, 10, 100), (3, 7.3, 80), (4, 2.5, 100), (4, 10, 25), (5, 30, 1000)])
def test_butterworth_and_sosfiltfilt_equal_scipy(order, cutoff, fs):
    sos = butter_lowpass_sos(order, cutoff, fs)
    ref = signal.butter(order, cutoff, fs=fs, output="sos")
    # same filter: equal frequency responses and steady states
    w = np.linspace(0, np.pi, 256)
    np.testing.assert_allclose(np.abs(signal.sosfreqz(sos, w)[1]), np.abs(signal.sosfreqz(ref, w)[1]), atol=1e-12)
    np.testing.assert_allclose(sosfilt_zi(ref), signal.sosfilt_zi(ref), atol=1e-12)
    x = np.cumsum(np.random.default_rng(order).normal(size=(2000, 2)), axis=0)
    np.testing.assert_allclose(sosfiltfilt(sos, x, padlen=15), signal.sosfiltfilt(ref, x, axis=0, padlen=15), atol=1e-9)
    np.testing.assert_allclose(sosfiltfilt(sos, x[:, 0]), signal.sosfiltfilt(ref, x[:, 0]), atol=1e-9)
    b, a = signal.butter(order, cutoff, fs=fs)
    np.testing.assert_allclose(sosfiltfilt(sos, x, padlen=3 * (order + 1)), signal.filtfilt(b, a, x, axis=0), atol=1e-8)


def test_planar_range_is_the_largest_distance():
    rng = np.random.default_rng(0)
    for n in (3, 10, 200, 777):
        p = rng.normal(size=(n, 2)) * [3, 7]
        assert planar_range(p[:, 0], p[:, 1]) == pytest.approx(planar_range_reference(p[:, 0], p[:, 1]), rel=1e-12)
    # collinear points and duplicates; a rounded Lissajous figure (many equal coordinates on the hull)
    x = np.array([0.0, 1.0, 2.0, 2.0, 5.0])
    assert planar_range(x, 2 * x) == pytest.approx(5 * np.sqrt(5))
    for n in range(3, 200, 7):  # rounded clouds: ties in x and points on the extreme quadrilateral's edges
        p = np.round(rng.normal(size=(n, 2)) * rng.uniform(0.1, 10, 2), 1)
        assert planar_range(p[:, 0], p[:, 1]) == pytest.approx(planar_range_reference(p[:, 0], p[:, 1]), rel=1e-12)
    i = np.arange(3000)
    lx, ly = np.round(np.sin(i / 50), 3), np.round(np.cos(i / 70), 3)
    assert planar_range(lx, ly) == pytest.approx(planar_range_reference(lx, ly), rel=1e-12)


def test_savgol_derivative_equals_scipy():
    x = np.cumsum(np.random.default_rng(2).normal(size=500))
    np.testing.assert_allclose(savgol_derivative(x, fs_hz=25.0), signal.savgol_filter(x, 5, 3, deriv=1, delta=1 / 25.0), atol=1e-9)


def test_welch_linear_equals_scipy():
    x = np.cumsum(np.random.default_rng(3).normal(size=(2, 1500)), axis=1)
    f, p = welch_linear(x, fs_hz=25.0)
    fr, pr = signal.welch(x, fs=25.0, detrend="linear", nperseg=250, noverlap=125, nfft=1500, axis=1)
    np.testing.assert_allclose(f, fr)
    np.testing.assert_allclose(p, pr, rtol=1e-9, atol=1e-12)


def test_swarii_kernel_equals_its_reference_and_keeps_a_slow_signal():
    rng = np.random.default_rng(4)
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(0.01, 0.04, 1500))])
    t[600:640] = t[600] + np.linspace(0, 1e-3, 40) + np.arange(40) * 1e-5  # a burst of close samples
    t = np.unique(t)
    y = np.column_stack([np.sin(2 * np.pi * 0.3 * t), np.cos(2 * np.pi * 0.2 * t)])
    g, out = swarii_resample(t, y, fs_hz=25.0)
    g2, ref = swarii_reference(t, y, fs_hz=25.0)
    np.testing.assert_allclose(g, g2)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    assert g[1] - g[0] == pytest.approx(0.04)
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(0.01, 0.04, 1500))])  # no gap: close to the truth
    g, out = swarii_resample(t, np.sin(2 * np.pi * 0.3 * t), fs_hz=25.0)
    err = np.abs(out - np.sin(2 * np.pi * 0.3 * g))
    assert err[2:-2].max() < 0.02 and err[0] < 0.05  # a 0.08 s average of a 0.3 Hz sine (one-sided at the ends)


def test_net_cop_and_load_share():
    fl, fr = np.full(500, 300.0), np.full(500, 500.0)
    ml, ap, total = net_cop(fl, np.full(500, -100.0), np.zeros(500), fr, np.full(500, 100.0), np.full(500, 8.0), threshold_n=100)
    assert ml[0] == pytest.approx(25.0) and ap[0] == pytest.approx(5.0) and total[0] == 800
    # a lifted foot (its COP undefined) adds no moment
    ml2, _, _ = net_cop(np.full(5, 3.0), np.full(5, np.nan), np.zeros(5), fr[:5], np.full(5, 100.0), np.zeros(5), threshold_n=100)
    assert ml2[0] == 100.0
    s = load_share_measures(fl, fr, fs_hz=100.0)
    assert s["right_share_pct"] == pytest.approx(62.5) and s["load_asymmetry_pct"] == pytest.approx(25.0)
    assert s["right_share_sd_pct"] == pytest.approx(0.0) and s["right_share_per_s_pct"] == [pytest.approx(62.5)] * 5


def test_extended_features_of_a_circle():
    fs, r, f0 = 100.0, 10.0, 0.5
    t = np.arange(6000) / fs
    ml, ap = r * np.cos(2 * np.pi * f0 * t), r * np.sin(2 * np.pi * f0 * t)
    out = extended_features(ml, ap, fs_hz=fs)
    assert out["planar_range_mm"] == pytest.approx(2 * r, rel=1e-4)
    assert out["max_distance_ml_mm"] == pytest.approx(r) and out["range_ratio_ml_ap"] == pytest.approx(1.0, abs=1e-3)
    assert out["sway_direction_coefficient"] == pytest.approx(0.0, abs=1e-9)
    assert out["velocity_zero_crossings_ml"] == 60  # the velocity of a 0.5 Hz cosine changes sign once a second
    assert out["peak_velocity_all_ml_mm_s"] == pytest.approx(2 * np.pi * f0 * r, rel=1e-3)
    assert out["frequency_mode_ml_hz"] == pytest.approx(f0, abs=0.02) and out["centroid_frequency_ap_hz"] == pytest.approx(f0, rel=0.02)
    assert out["energy_below_05hz_ml_mm2"] + out["energy_05_2hz_ml_mm2"] == pytest.approx(r**2 / 2, rel=0.05)
