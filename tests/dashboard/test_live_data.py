"""The numbers the live views draw: calibrated COP, the 95 % ellipse, decimation (no Qt needed)."""

import numpy as np
import pytest

from station.board.acquisition import LiveWindow
from station.calibration import Calibration, load_geometry
from station.core.ellipse import ellipse_measures
from station.dashboard.live_data import (
    cop_threshold_n,
    decimate,
    ellipse95_outline,
    live_frame,
    peak_decimate,
)


def _calibration():
    return Calibration(board_id="5B000001", geometry=load_geometry("reference-400x300"),
                       offsets_counts=np.array([100.0, -200.0, 300.0, 0.0]), gains_n_per_count=np.full(4, 0.01))


def test_ellipse_outline_has_the_metric_suites_area_and_axes():
    rng = np.random.default_rng(3)
    cov = np.array([[90.0, 30.0], [30.0, 40.0]])
    xy = rng.multivariate_normal([5.0, -3.0], cov, size=800)
    x, y, area = ellipse95_outline(xy[:, 0], xy[:, 1], points=720)
    c = np.cov(xy.T)
    ref = ellipse_measures(c[0, 0], c[1, 1], c[0, 1], n=800, duration_s=8.0)
    assert area == pytest.approx(ref["ellipse95_area_mm2"], rel=1e-9)
    # the outline's own (shoelace) area agrees with pi a b to polygon accuracy
    shoelace = 0.5 * abs(np.dot(x[:-1], y[1:]) - np.dot(y[:-1], x[1:]))
    assert shoelace == pytest.approx(ref["ellipse95_area_mm2"], rel=1e-3)
    radius = np.hypot(x - xy[:, 0].mean(), y - xy[:, 1].mean())
    assert radius.max() == pytest.approx(ref["ellipse95_major_mm"], rel=1e-4)
    assert radius.min() == pytest.approx(ref["ellipse95_minor_mm"], rel=1e-4)


def test_ellipse_needs_ten_defined_samples():
    x = np.r_[np.arange(9.0), np.full(50, np.nan)]
    assert ellipse95_outline(x, x) is None


def test_live_frame_calibrates_and_gates_the_cop():
    cal = _calibration()
    # 400 N on the front-right cell only, then 50 N spread evenly (below the 100 N gate)
    load = np.array([[0, 40000, 0, 0]] * 5 + [[1250, 1250, 1250, 1250]] * 5)
    counts = (load + cal.offsets_counts).astype(np.int32)
    t = np.arange(10) / 80.0
    frame = live_frame(LiveWindow(t, counts, np.zeros(10, np.uint8)), cal, threshold_n=cop_threshold_n(None),
                       bars_s=2.5 / 80.0)
    np.testing.assert_allclose(frame.total_n, [400.0] * 5 + [50.0] * 5)
    np.testing.assert_allclose(frame.cop_ml_mm[:5], 200.0)  # the front-right sensor's position
    np.testing.assert_allclose(frame.cop_ap_mm[:5], 150.0)
    assert np.isnan(frame.cop_ml_mm[5:]).all()
    # the bars average the newest 2.5 frame periods: the last three frames
    np.testing.assert_allclose(frame.latest_forces_n(), [12.5] * 4)


def test_cop_threshold_is_a_fifth_of_body_weight():
    assert cop_threshold_n(70.0) == pytest.approx(0.2 * 70.0 * 9.80665)
    assert cop_threshold_n(None) == 100.0


@pytest.mark.parametrize("n, max_points, kept", [(10, 100, 10), (10_000, 1000, 1000), (10_001, 1000, 910)])
def test_decimation_bounds_points_and_keeps_the_newest(n, max_points, kept):
    idx = np.arange(n)[decimate(n, max_points=max_points)]
    assert len(idx) == kept
    assert idx[-1] == n - 1


def test_peak_decimation_keeps_every_bins_extremes_and_gaps():
    # 10 s at 1 kHz onto 500 columns: bins of 20 samples, min and max of each
    t = np.arange(10_000) / 1000.0
    y = np.sin(2 * np.pi * 0.5 * t)
    y[5_003] = 40.0  # a 1 ms spike must survive
    y[8_000:8_040] = np.nan  # two bins without a defined sample (no load)
    t2, y2 = peak_decimate(t, y, bins=500)
    assert len(t2) == len(y2) == 1000
    assert np.nanmax(y2) == 40.0
    ref = y.reshape(500, 20)
    np.testing.assert_array_equal(y2[0::2][:400], ref[:400].min(axis=1))
    np.testing.assert_array_equal(y2[1::2][:400], ref[:400].max(axis=1))
    np.testing.assert_array_equal(t2[0::2], t[::20])
    np.testing.assert_array_equal(t2[1::2], t[10::20])
    assert np.isnan(y2[800:804]).all() and np.isfinite(y2[804:]).all()
    # the newest samples fill whole bins: 10 001 samples -> 476 bins of 21, the oldest 5 dropped
    t3, _ = peak_decimate(np.arange(10_001.0), np.zeros(10_001), bins=500)
    assert len(t3) == 2 * 476 and t3[0] == 5 and (t3[-2], t3[-1]) == (9_980, 9_990)


def test_peak_decimation_leaves_short_series_alone():
    t, y = np.arange(1000.0), np.arange(1000.0)
    t2, y2 = peak_decimate(t, y, bins=500)
    assert t2 is t and y2 is y
