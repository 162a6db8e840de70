"""Laboratory plates: a public C3D file with two TYPE-2 force platforms (OpenSim test data)."""

import csv
import json

import numpy as np
import pytest

from station.cli import main
from station.readers.c3d import plate_cops, read_c3d
from .conftest import DATA

WALKING = DATA / "c3d" / "walking2.c3d"


def test_plate_cop_from_forces_and_moments_equals_ezc3d(tmp_path):
    fs, plates = plate_cops(WALKING, threshold_n=50.0)
    assert fs == 2000.0 and len(plates) == 2 and [p["type"] for p in plates] == [2, 2]
    for p in plates:
        loaded = p["fz_n"] >= 50.0
        assert loaded.sum() > 500  # a foot strike on each plate
        np.testing.assert_allclose(p["cop_ml_mm"][loaded], p["cop_ezc3d_mm"][0][loaded], atol=1e-6)
        np.testing.assert_allclose(p["cop_ap_mm"][loaded], p["cop_ezc3d_mm"][1][loaded], atol=1e-6)
        assert np.isnan(p["cop_ml_mm"][~loaded]).all()
    # the COP lies on the plate (corners x 664.6-1172.6, y 379.3-842.9 mm for plate 1)
    ml1 = plates[0]["cop_ml_mm"][plates[0]["fz_n"] >= 200]
    assert 664.6 <= np.nanmin(ml1) and np.nanmax(ml1) <= 1172.6


def test_one_row_per_plate_in_a_batch(tmp_path, capsys):
    out = tmp_path / "rows.jsonl"
    assert main(["analyze", str(WALKING), "--jsonl", str(out), "--preset", "raw", "--jobs", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["input"] for r in rows] == [f"{WALKING}#plate1", f"{WALKING}#plate2"]
    assert all(r["status"] == "ok" and r["kind"] == "C3D plate (type 2)" for r in rows)
    assert all(r["metrics"]["n_used"] > 500 for r in rows)


def test_two_plates_as_feet(tmp_path):
    [rec] = read_c3d(WALKING, plates=(2, 1))
    assert rec.kind == "C3D two plates" and set(rec.feet) == {"left", "right"}
    assert rec.feet["left"].fz_n.max() == pytest.approx(746.9, abs=1.0)


def test_a_c3d_without_plates_and_a_damaged_one(tmp_path, analyze_error):
    bad = tmp_path / "bad.c3d"
    bad.write_bytes(WALKING.read_bytes()[:1500])
    assert "not a readable C3D file" in analyze_error(bad)
    assert "--plates" in analyze_error(WALKING, "--plates", "1,5")


def test_type4_with_a_calibration_matrix_reads_like_type2(tmp_path):
    import ezc3d

    c = ezc3d.c3d(str(WALKING))
    c["parameters"]["FORCE_PLATFORM"]["TYPE"]["value"] = np.array([4, 4])
    gain = np.diag([2.0, 2.0, 4.0, 0.5, 0.5, 1.0])
    c.add_parameter("FORCE_PLATFORM", "CAL_MATRIX", np.stack([gain, gain], axis=2))
    analogs = c["data"]["analogs"]
    for ch in range(12):  # raw channels = calibrated values / the matrix's diagonal
        analogs[0, ch] /= gain[ch % 6, ch % 6]
    c["data"]["analogs"] = analogs
    path = tmp_path / "type4.c3d"
    c.write(str(path))
    _, p4 = plate_cops(path, threshold_n=50.0)
    _, p2 = plate_cops(WALKING, threshold_n=50.0)
    assert [p["type"] for p in p4] == [4, 4]
    for a, b in zip(p4, p2):
        np.testing.assert_allclose(a["fz_n"], b["fz_n"], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(a["cop_ml_mm"], b["cop_ml_mm"], rtol=1e-5, atol=1e-2, equal_nan=True)


@pytest.mark.parametrize("platform_type", [2, 3])
def test_our_own_export_reads_back_through_analyze(platform_type, tmp_path, analyze_json):
    from station.report.c3d_export import build_c3d
    from station.report.samples import TrialSamples

    fs, n = 100.0, 3000
    t = np.arange(n) / fs
    ml, ap = 12 * np.sin(2 * np.pi * 0.3 * t), -5 + 8 * np.cos(2 * np.pi * 0.2 * t)
    pos = np.array([[-200.0, 150.0], [200.0, 150.0], [-200.0, -150.0], [200.0, -150.0]])
    fx, fy = 0.5 + ml / 400, 0.5 + ap / 300
    forces = 700 * np.column_stack([(1 - fx) * fy, fx * fy, (1 - fx) * (1 - fy), fx * (1 - fy)])
    s = TrialSamples(t_s=t, forces_n=forces, total_n=forces.sum(axis=1), cop_ml_mm=ml, cop_ap_mm=ap, threshold_n=100.0,
                     fs_hz=fs, positions_mm=pos)
    path = tmp_path / f"own{platform_type}.c3d"
    build_c3d(s, platform_type=platform_type).write(str(path))
    out = analyze_json(path, "--preset", "raw")
    m = out["metrics"]
    assert out["kind"] == f"C3D plate (type {platform_type})" and m["n_used"] == n
    assert m["mean_cop_ml_mm"] == pytest.approx(ml.mean(), abs=1e-3) and m["mean_cop_ap_mm"] == pytest.approx(ap.mean(), abs=1e-3)
    assert m["range_ml_mm"] == pytest.approx(ml.max() - ml.min(), rel=1e-4)


def test_type1_with_the_cop_recorded_reads_like_type2(tmp_path):
    import ezc3d

    c = ezc3d.c3d(str(WALKING))
    a = c["data"]["analogs"].copy()
    origin = c["parameters"]["FORCE_PLATFORM"]["ORIGIN"]["value"]
    for p in range(2):  # type 2 channels -> Fx Fy Fz Px Py Tz in the platform frame
        ch = np.arange(6) + 6 * p
        fx, fy, fz, mx, my, mz = a[0, ch]
        oz = origin[2, p]
        with np.errstate(all="ignore"):
            px = np.where(np.abs(fz) > 10, (-my - oz * fx) / fz, 0.0)
            py = np.where(np.abs(fz) > 10, (mx - oz * fy) / fz, 0.0)
        a[0, ch[3]], a[0, ch[4]], a[0, ch[5]] = px, py, mz - (px * fy - py * fx)
    c["data"]["analogs"] = a
    c["parameters"]["FORCE_PLATFORM"]["TYPE"]["value"] = np.array([1, 1])
    path = tmp_path / "type1.c3d"
    c.write(str(path))
    _, p1 = plate_cops(path, threshold_n=100.0)
    _, p2 = plate_cops(WALKING, threshold_n=100.0)
    assert [p["type"] for p in p1] == [1, 1]
    for a1, a2 in zip(p1, p2):
        np.testing.assert_allclose(a1["cop_ml_mm"], a2["cop_ml_mm"], atol=1e-3, equal_nan=True)
        np.testing.assert_allclose(a1["cop_ap_mm"], a2["cop_ap_mm"], atol=1e-3, equal_nan=True)
