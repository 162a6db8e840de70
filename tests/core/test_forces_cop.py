"""counts -> forces -> COP kernels: exact values and agreement with the numpy references."""

import numpy as np
import pytest

from station.core.cop import cop_from_forces, cop_from_forces_reference, default_threshold_n
from station.core.forces import counts_to_forces, counts_to_forces_reference

POS = np.array([[-200.0, 150.0], [200.0, 150.0], [-200.0, -150.0], [200.0, -150.0]])


def test_counts_to_forces_per_cell_exact():
    counts = np.array([[1000, 2000, 3000, 4000], [0, 0, 0, 0]], dtype=np.int32)
    f = counts_to_forces(counts, [1000, 1000, 1000, 1000], [0.01, 0.02, 0.03, 0.04])
    np.testing.assert_array_equal(f, [[0.0, 20.0, 60.0, 120.0], [-10.0, -20.0, -30.0, -40.0]])
    assert f.dtype == np.float64


def test_counts_to_forces_matrix_exact():
    g = np.diag([0.5, 0.25, 1.0, 2.0])
    g[0, 1] = 0.1  # cross-talk: cell fl picks up 0.1 N per count of fr
    f = counts_to_forces(np.array([[10, 20, 30, 40]]), [0, 0, 0, 0], g)
    np.testing.assert_allclose(f, [[0.5 * 10 + 0.1 * 20, 5.0, 30.0, 80.0]], rtol=0, atol=1e-12)


def test_counts_to_forces_24bit_extremes_are_exact():
    counts = np.array([[-(2**23), 2**23 - 1, 0, 1]], dtype=np.int32)
    f = counts_to_forces(counts, [0, 0, 0, 0], [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(f, [[-(2.0**23), 2.0**23 - 1, 0, 1]])


@pytest.mark.parametrize("matrix", [False, True])
def test_counts_to_forces_matches_reference(matrix):
    rng = np.random.default_rng(1)
    counts = rng.integers(-(2**23), 2**23, size=(500, 4)).astype(np.int32)
    off = rng.normal(0, 1e4, 4)
    gains = rng.normal(0, 1e-3, (4, 4)) if matrix else rng.uniform(1e-4, 1e-3, 4)
    np.testing.assert_allclose(counts_to_forces(counts, off, gains), counts_to_forces_reference(counts, off, gains), rtol=1e-12, atol=1e-9)


def test_counts_to_forces_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        counts_to_forces(np.zeros((3, 3)), np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="gains"):
        counts_to_forces(np.zeros((3, 4)), np.zeros(4), np.ones(3))


def test_cop_known_placements():
    # 700 N all on the front-right cell -> COP at that cell; equal load -> centre
    forces = np.array([[0, 700, 0, 0], [175, 175, 175, 175], [100, 300, 100, 300], [10, 10, 10, 10]], dtype=float)
    ml, ap, total = cop_from_forces(forces, POS, threshold_n=100.0)
    np.testing.assert_allclose(total, [700, 700, 800, 40])
    np.testing.assert_allclose(ml[:3], [200.0, 0.0, 100.0])
    np.testing.assert_allclose(ap[:3], [150.0, 0.0, 0.0])
    assert np.isnan(ml[3]) and np.isnan(ap[3])  # 40 N < 100 N gate


def test_cop_arbitrary_geometry_recovers_point_load():
    # a point load at (x, y) on a non-rectangular board, distributed by the exact lever rule
    pos = np.array([[-180.0, 160.0], [210.0, 140.0], [-190.0, -150.0], [205.0, -170.0]])
    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(4), size=200) * 600.0
    x, y = (w @ pos[:, 0]) / 600.0, (w @ pos[:, 1]) / 600.0
    ml, ap, total = cop_from_forces(w, pos, threshold_n=default_threshold_n(70.0))
    np.testing.assert_allclose(ml, x, atol=1e-9)
    np.testing.assert_allclose(ap, y, atol=1e-9)
    np.testing.assert_allclose(total, 600.0)


def test_cop_matches_reference_with_gating():
    rng = np.random.default_rng(2)
    forces = rng.normal(50, 60, size=(1000, 4))
    a = cop_from_forces(forces, POS, threshold_n=137.3)
    b = cop_from_forces_reference(forces, POS, threshold_n=137.3)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-9, equal_nan=True)
    assert 0 < np.isnan(a[0]).sum() < 1000


def test_default_threshold():
    assert default_threshold_n(None) == 100.0
    assert default_threshold_n(70.0) == pytest.approx(0.2 * 70 * 9.80665)


def test_warmup_reports_progress_for_every_kernel():
    import station.core

    seen = []
    spent = station.core.warmup(lambda done, total, name: seen.append((done, total, name)))
    assert [s[0] for s in seen] == list(range(1, len(spent) + 1))
    assert all(s[1] == len(spent) for s in seen) and len(spent) >= 9
    assert set(spent) == {s[2] for s in seen}


def test_warmup_runs_in_a_background_thread():
    import threading

    import station.core

    done = []
    th = threading.Thread(target=lambda: done.append(station.core.warmup()))
    th.start()
    th.join(timeout=120)
    assert done and len(done[0]) >= 9
