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
