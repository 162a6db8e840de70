"""The metric suite on signals whose values are known in closed form (circle, sine, Gaussian noise)."""

import math

import numpy as np
import pytest
from scipy import stats

from station.core.errors import NoLoadError, SignalError
from station.core.metrics import REQUIRED_KEYS, compute_metrics

FS = 100.0


def circle(radius_mm=10.0, f_hz=0.5, seconds=60.0):
    t = np.arange(int(seconds * FS)) / FS
    return radius_mm * np.cos(2 * np.pi * f_hz * t), radius_mm * np.sin(2 * np.pi * f_hz * t)


def test_circle_raw():
    r, f = 10.0, 0.5
    ml, ap = circle(r, f)
    n = ml.size
    m = compute_metrics(ml + 3.0, ap - 2.0, fs_hz=FS, preset="raw")
    chord = 2 * r * math.sin(math.pi * f / FS)
    assert m["n_used"] == n and m["fs_hz"] == FS and m["duration_s"] == 60.0
    assert m["path_length_mm"] == pytest.approx((n - 1) * chord, rel=1e-12)
    assert m["mean_velocity_mm_s"] == pytest.approx((n - 1) * chord / (n / FS), rel=1e-12)
    assert m["mean_cop_ml_mm"] == pytest.approx(3.0, abs=1e-12)
    assert m["mean_cop_ap_mm"] == pytest.approx(-2.0, abs=1e-12)
    for key in ("rms_ml_mm", "rms_ap_mm"):
        assert m[key] == pytest.approx(r / math.sqrt(2), rel=1e-12)
    for key in ("mean_distance_mm", "rms_distance_mm", "max_distance_mm"):
        assert m[key] == pytest.approx(r, rel=1e-12)
    assert m["range_ml_mm"] == pytest.approx(2 * r, rel=1e-12)
    assert m["range_ap_mm"] == pytest.approx(2 * r, rel=1e-12)
    # swept area: n-1 triangles of area r^2 sin(2 pi f / fs) / 2, per second
    assert m["sway_area_rate_mm2_s"] == pytest.approx((n - 1) * r * r * math.sin(2 * math.pi * f / FS) / 2 / (n / FS), rel=1e-10)
    assert m["mean_frequency_hz"] == pytest.approx(f, rel=1e-3)
    var = r * r / 2 * n / (n - 1)
    scale = stats.f.ppf(0.95, 2, n - 2) * 2 * (n - 1) * (n + 1) / (n * (n - 2))
    assert m["ellipse95_area_mm2"] == pytest.approx(math.pi * var * scale, rel=1e-10)
    assert m["mean_power_frequency_hz"] == pytest.approx(f, rel=1e-9)
    assert m["median_frequency_ml_hz"] == pytest.approx(f, abs=1 / 60)
    assert f < m["f95_ap_hz"] <= f + 2 / 30
    for key in REQUIRED_KEYS:
        assert math.isfinite(m[key]), key


def test_sine_ml_only():
    a, f = 8.0, 0.5
    t = np.arange(6000) / FS
    ml = a * np.sin(2 * np.pi * f * t)
    ap = 1e-3 * np.sin(2 * np.pi * 0.1 * t)  # almost still
    m = compute_metrics(ml, ap, fs_hz=FS, preset="raw")
    assert m["rms_ml_mm"] == pytest.approx(a / math.sqrt(2), rel=1e-12)
    assert m["range_ml_mm"] == pytest.approx(2 * a, rel=1e-12)  # t = 0.5 s is a crest, t = 1.5 s a trough
    assert m["total_power_ml_mm2"] == pytest.approx(a * a / 2, rel=1e-9)
    assert m["mean_power_frequency_ml_hz"] == pytest.approx(f, rel=1e-9)
    assert m["median_frequency_ml_hz"] == pytest.approx(f, abs=1 / 60)
    assert m["mean_frequency_ml_hz"] == pytest.approx(f, rel=1e-3)
    assert m["mean_velocity_ml_mm_s"] == pytest.approx(4 * a * f, rel=1e-3)
    assert abs(m["principal_sway_direction_deg"]) < 1e-3  # along ML
    assert m["sample_entropy_ml"] < 0.3  # a pure sine is regular


def test_gaussian_noise_known_covariance():
    cov = np.array([[16.0, 6.0], [6.0, 9.0]])
    rng = np.random.default_rng(7)
    x = rng.multivariate_normal([0, 0], cov, size=200_000)
    m = compute_metrics(x[:, 0], x[:, 1], fs_hz=FS, preset="raw")
    assert m["rms_ml_mm"] == pytest.approx(4.0, rel=0.01)
    assert m["rms_ap_mm"] == pytest.approx(3.0, rel=0.01)
    lam = np.linalg.eigvalsh(cov)
    assert m["ellipse95_area_mm2"] == pytest.approx(math.pi * stats.chi2.ppf(0.95, 2) * math.sqrt(lam.prod()), rel=0.02)
    assert m["ellipse95_major_mm"] == pytest.approx(math.sqrt(lam[1] * stats.chi2.ppf(0.95, 2)), rel=0.01)
    angle = math.degrees(0.5 * math.atan2(12.0, 7.0))
    assert m["principal_sway_direction_deg"] == pytest.approx(angle, abs=1.0)
    # Rayleigh-like mean distance of a bivariate normal is not closed-form; its RMS distance is
    assert m["rms_distance_mm"] == pytest.approx(5.0, rel=0.01)
    # white noise: flat spectrum 0..fs/2
    assert m["mean_power_frequency_hz"] == pytest.approx(FS / 4, rel=0.01)
    assert m["median_frequency_ml_hz"] == pytest.approx(FS / 4, rel=0.01)
    assert m["f95_ap_hz"] == pytest.approx(0.95 * FS / 2, rel=0.01)
    assert m["total_power_ml_mm2"] == pytest.approx(16.0, rel=0.01)


def test_white_noise_sample_entropy_matches_theory():
    # iid N(0,1) at 20 Hz (no decimation): A/B = P(|X - Y| <= 0.2) = erf(0.1), SampEn = -ln erf(0.1)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4000))
    m = compute_metrics(x[0], x[1], fs_hz=20.0, preset="raw")
    assert m["sample_entropy_rate_hz"] == 20.0
    expected = -math.log(math.erf(0.1))
    assert m["sample_entropy_ml"] == pytest.approx(expected, rel=0.04)
    assert m["sample_entropy_ap"] == pytest.approx(expected, rel=0.04)


def test_brownian_diffusion_coefficient():
    # random walk, step SD s per sample: MSD = k s^2 -> slope s^2 fs per second -> D = s^2 fs / 2
    s = 0.3
    rng = np.random.default_rng(5)
    steps = rng.normal(0, s, size=(2, 60 * 100 * 20))
    walks = np.cumsum(steps, axis=1).reshape(2, 20, 6000)
    d_short = [compute_metrics(w[0], w[1], fs_hz=FS, preset="raw")["diffusion_short_ml_mm2_s"] for w in walks.transpose(1, 0, 2)]
    assert np.mean(d_short) == pytest.approx(s * s * FS / 2, rel=0.1)


def test_critical_point_of_a_two_regime_msd():
    # short-term: fast random walk; long-term: mean-reverting -> MSD bends; critical time between 1 and 2.5 s
    rng = np.random.default_rng(9)
    x = np.zeros((2, 12000))
    for i in range(1, x.shape[1]):
        x[:, i] = x[:, i - 1] * (1 - 0.02) + rng.normal(0, 0.5, 2)
    m = compute_metrics(x[0], x[1], fs_hz=FS, preset="raw")
    assert m["diffusion_short_mm2_s"] > 5 * abs(m["diffusion_long_mm2_s"])
    assert 0.2 < m["critical_time_s"] < 2.5
    assert m["critical_msd_mm2"] > 0


def test_clinical_preset_excludes_first_seconds_and_resamples():
    ml, ap = circle(10.0, 0.5, seconds=30.0)
    t = np.arange(ml.size) / FS
    m = compute_metrics(ml[::2], ap[::2], t_s=t[::2], preset="clinical")  # 50 Hz in
    assert m["fs_hz"] == 100.0
    assert m["n_used"] == int((t[::2][-1] - 5.0) * 100) + 1
    assert m["mean_distance_mm"] == pytest.approx(10.0, rel=1e-3)
    assert m["preset"] == "clinical" and m["n_input"] == 1500


def test_nan_samples_are_excluded_and_counted():
    ml, ap = circle(10.0, 0.5, seconds=20.0)
    ml[:300] = np.nan  # stepping on
    ap[-100:] = np.nan  # stepping off
    m = compute_metrics(ml, ap, fs_hz=FS, preset="raw")
    assert m["n_used"] == 2000 - 400 and m["n_input"] == 2000


def test_corner_forces_add_right_share_and_total():
    ml, ap = circle(10.0, 0.5, seconds=20.0)
    forces = np.tile([100.0, 300.0, 100.0, 200.0], (ml.size, 1))
    m = compute_metrics(ml, ap, fs_hz=FS, preset="clinical", forces_n=forces)
    assert m["right_share_pct"] == pytest.approx(500 / 700 * 100)
    assert m["mean_total_force_n"] == pytest.approx(700.0)


def test_errors_are_clear():
    with pytest.raises(NoLoadError, match="below the load threshold"):
        compute_metrics(np.full(100, np.nan), np.full(100, np.nan), fs_hz=FS)
    with pytest.raises(SignalError, match="Too few samples"):
        compute_metrics(np.zeros(10), np.zeros(10), fs_hz=FS, preset="raw")
    with pytest.raises(SignalError, match="excludes the first 5 s"):
        compute_metrics(np.zeros(400), np.zeros(400), fs_hz=FS, preset="clinical")
    with pytest.raises(SignalError, match="backwards"):
        compute_metrics(np.zeros(100), np.zeros(100), t_s=np.r_[np.arange(50), np.arange(50)] / FS, preset="raw")
    with pytest.raises(SignalError, match="Unknown analysis preset"):
        compute_metrics(np.zeros(100), np.zeros(100), fs_hz=FS, preset="fancy")


@pytest.mark.parametrize("n", [3, 10, 100, 6000, 600_000])
def test_closed_form_f_quantile_matches_scipy(n):
    from station.core.ellipse import f_quantile_2

    assert f_quantile_2(0.95, n - 2) == pytest.approx(stats.f.ppf(0.95, 2, n - 2), rel=1e-10)
