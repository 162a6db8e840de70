"""Gain fitting on synthetic counts with known gains, offsets, noise and load distribution."""

import numpy as np
import pytest
from calib_synthetic import POSITIONS_MM, SyntheticBoard, cell_forces, grid_points

from station.calibration.fit import (
    apply_cop_correction,
    fit_cop_correction,
    fit_gains,
    interpolate_offsets,
    tare,
)
from station.core.cop import cop_from_forces
from station.errors import CalibrationError


def test_tare_mean_and_noise():
    board = SyntheticBoard(1, noise_counts=50.0)
    t = tare(board.counts(np.zeros(4), 4000))
    np.testing.assert_allclose(t.offsets_counts, board.offsets, atol=4 * 50 / np.sqrt(4000))
    np.testing.assert_allclose(t.noise_counts, 50.0, rtol=0.05)
    assert t.total_noise_counts == pytest.approx(100.0, rel=0.05)  # sqrt(4) x 50 for independent channels


@pytest.mark.parametrize("twist", [0.0, 0.03])
def test_gains_recovered_over_a_grid(twist):
    board = SyntheticBoard(2, noise_counts=40.0)
    placements = [board.placement(m, x, y, twist=twist) for m in (10.0, 20.0) for x, y in grid_points()]
    fit = fit_gains(placements, POSITIONS_MM)
    np.testing.assert_allclose(fit.gains_n_per_count, board.gains_n_per_count, rtol=2e-4)
    assert fit.suspects == []
    assert 1.0 < fit.condition_number < 10.0
    r = fit.residuals()
    assert r["cop_max_mm"] < 0.1 and r["force_max_pct"] < 0.1


def test_noise_free_fit_is_exact():
    board = SyntheticBoard(3, noise_counts=0.0)
    placements = [board.placement(20.0, x, y) for x, y in [(0, 0), (100, 50), (-100, -60)]]
    fit = fit_gains(placements, POSITIONS_MM)
    np.testing.assert_allclose(fit.gains_n_per_count, board.gains_n_per_count, rtol=1e-10)


def test_centre_only_placements_are_ill_conditioned():
    board = SyntheticBoard(4)
    with pytest.raises(CalibrationError, match="do not determine"):
        fit_gains([board.placement(m, 0, 0, n=10, twist=0.0) for m in (10, 20)], POSITIONS_MM)


def test_wrong_position_is_flagged():
    board = SyntheticBoard(5, noise_counts=40.0)
    points = grid_points()
    placements = [board.placement(20.0, x, y) for x, y in points]
    # the technician said the centre but put the mass 30 mm to the right
    placements[4] = board.placement(20.0, 0.0, 0.0, actual_xy=(30.0, 0.0))
    fit = fit_gains(placements, POSITIONS_MM)
    assert fit.suspects == [4]
    loo = np.hypot(*fit.loo_cop_error_mm.T)
    assert loo[4] == pytest.approx(30.0, abs=6.0)
    assert fit.residuals()["suspects"] == [4]


def test_wrong_mass_is_flagged():
    board = SyntheticBoard(6, noise_counts=40.0)
    placements = [board.placement(20.0, x, y) for x, y in grid_points()]
    bad = board.placement(20.0, 100.0, -75.0)
    placements[8] = type(bad)(10.0, *list(vars(bad).values())[1:])  # said 10 kg, put 20 kg
    assert fit_gains(placements, POSITIONS_MM).suspects == [8]


def test_matrix_model_recovers_crosstalk():
    xt = np.eye(4)
    xt[0, 1] = 0.02  # 2 % of fr's force leaks into fl's channel
    xt[3, 2] = -0.015
    board = SyntheticBoard(7, noise_counts=0.0, crosstalk=xt)
    placements = [board.placement(m, x, y) for m in (10.0, 25.0) for x, y in grid_points()]
    cells = fit_gains(placements, POSITIONS_MM, model="cells")
    matrix = fit_gains(placements, POSITIONS_MM, model="matrix")
    assert matrix.gains_n_per_count.shape == (4, 4)
    assert matrix.residuals()["cop_max_mm"] < 1e-6 < cells.residuals()["cop_max_mm"]
    # totals and moments from the matrix equal the applied ones for a new placement
    d = board.counts(cell_forces(15.0, -60.0, 40.0), 1)[0] - board.offsets
    f = matrix.gains_n_per_count @ d
    ml, ap, total = cop_from_forces(f[None], POSITIONS_MM, threshold_n=10.0)
    assert (ml[0], ap[0], total[0]) == pytest.approx((-60.0, 40.0, 15.0 * 9.80665), abs=1e-6)


def test_offsets_interpolated_between_tares():
    before = tare(np.array([[0, 0, 0, 0], [2, 2, 2, 2.0]]), t_s=[0.0, 2.0])
    after = tare(np.array([[10, 20, 30, 40], [12, 22, 32, 42.0]]), t_s=[100.0, 102.0])
    np.testing.assert_allclose(interpolate_offsets(before, after, 51.0), [6, 11, 16, 21])
    np.testing.assert_allclose(interpolate_offsets(before, None, 51.0), [1, 1, 1, 1])


@pytest.mark.parametrize("kind", ["affine", "bilinear"])
def test_cop_correction_undoes_a_distortion(kind):
    true = np.array(grid_points(5, 5, half_mm=(150, 110)))
    x, y = true.T
    measured = np.stack([2.0 + 1.02 * x + 0.01 * y, -1.5 + 0.98 * y - 0.005 * x], axis=1)
    if kind == "bilinear":
        measured[:, 0] += 1e-4 * x * y
    corr = fit_cop_correction(measured, true, kind=kind)
    ml, ap = apply_cop_correction(corr, measured[:, 0], measured[:, 1])
    tol = 1e-9 if kind == "affine" else 0.05
    np.testing.assert_allclose(np.stack([ml, ap], 1), true, atol=tol)
