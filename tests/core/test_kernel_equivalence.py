"""Every numba kernel of the metric suite agrees with its plain-numpy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from station.core import diffusion, entropy, spectral, sway


def cop_like(n, seed):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=(2, n)), axis=1)
    return x - x.mean(axis=1, keepdims=True)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 400), seed=st.integers(0, 10_000))
def test_sway_stats_kernel_matches_reference(n, seed):
    ml, ap = cop_like(n, seed)
    np.testing.assert_allclose(sway.sway_stats(ml, ap), sway.sway_stats_reference(ml, ap), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("n", [100, 2501, 6000, 6001])
def test_welch_psd_matches_scipy(n):
    x = cop_like(n, n)
    f1, p1 = signal.welch(x, fs=100.0, window="hann", nperseg=n // 2, noverlap=n // 4, detrend="constant")
    f2, p2 = spectral.welch_psd(x, fs_hz=100.0)
    np.testing.assert_allclose(f2, f1, rtol=1e-12)
    np.testing.assert_allclose(p2, p1, rtol=1e-9, atol=1e-12 * p1.max())


@pytest.mark.parametrize("seed", range(5))
def test_spectral_stats_kernel_matches_reference(seed):
    x = cop_like(3000, seed)
    f, p = spectral.welch_psd(x[0], fs_hz=80.0)
    np.testing.assert_allclose(spectral.spectral_stats(f, p), spectral.spectral_stats_reference(f, p), rtol=1e-10)


def test_msd_fft_matches_direct():
    x = cop_like(1500, 3)
    np.testing.assert_allclose(diffusion.msd_fft(x, 700), diffusion.msd_reference(x, 700), rtol=1e-8, atol=1e-8)


def test_line_fit_kernel_matches_polyfit():
    rng = np.random.default_rng(0)
    t = np.arange(500) / 100.0
    y = 3.0 * t + 1.0 + rng.normal(0, 0.1, t.size)
    for lo, hi in ((1, 101), (250, 500), (0, 2)):
        np.testing.assert_allclose(diffusion.line_fit(t, y, lo, hi), diffusion.line_fit_reference(t, y, lo, hi), rtol=1e-9)
    assert np.isnan(diffusion.line_fit(t, y, 3, 4)[0])


def test_diffusion_measures_same_with_reference_kernels():
    ml, ap = cop_like(3000, 8)
    a = diffusion.diffusion_measures(ml, ap, fs_hz=100.0)
    b = diffusion.diffusion_measures(ml, ap, fs_hz=100.0, msd=diffusion.msd_reference, fit=diffusion.line_fit_reference)
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-7), k


@settings(max_examples=20, deadline=None)
@given(n=st.integers(3, 300), seed=st.integers(0, 10_000), rf=st.floats(0.05, 1.0))
def test_sample_entropy_kernel_matches_reference(n, seed, rf):
    x = np.random.default_rng(seed).normal(size=n).round(1)  # rounding makes ties and exact-r cases
    r = rf * (x.std() or 1.0)
    a = entropy.sample_entropy(x, r=r)
    b = entropy.sample_entropy_reference(x, r=r)
    assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-12)


def test_whole_suite_same_with_reference_kernels():
    from station.core.metrics import suite

    ml, ap = cop_like(3000, 21)
    a = suite(ml, ap, fs_hz=100.0)
    b = suite(ml, ap, fs_hz=100.0, reference=True)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-7, abs=1e-9, nan_ok=True), k
