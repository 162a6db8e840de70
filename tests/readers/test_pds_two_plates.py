"""Two plates, one under each foot: the public PDS trials (dos Santos et al. 2017) reproduced."""

import csv

import numpy as np
import pytest

from .conftest import DATA, pds_two_plate_csv

PUBLISHED = {r["Trial"]: r for r in csv.DictReader(open(DATA / "pds" / "published_values.tsv"), delimiter="\t")}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_net_cop_reproduces_published_values_and_right_share(name, tmp_path, analyze_json):
    path, d = pds_two_plate_csv(name, tmp_path)
    out = analyze_json(path, "--preset", "raw")
    m, pub = out["metrics"], PUBLISHED[name]
    # the published values come from COPNET (rounded to 1 µm); the net of the two plates agrees to ~1e-4
    assert m["ellipse95_area_mm2"] / 100 == pytest.approx(float(pub["COParea"]), rel=5e-4)
    assert m["mean_velocity_mm_s"] / 10 == pytest.approx(float(pub["COPvelo"]), rel=5e-4)
    assert m["mean_power_frequency_hz"] == pytest.approx(float(pub["COPmfreq"]), rel=5e-4)
    share = 100 * d["RGRF_Y"].sum() / d["GRFNET_Y"].sum()
    assert out["right_share_pct"] == pytest.approx(share, abs=1e-6) and m["right_share_pct"] == out["right_share_pct"]
    assert m["load_asymmetry_pct"] == pytest.approx(2 * share - 100, abs=1e-6)
    assert len(out["right_share_per_s_pct"]) == 60
    assert np.mean(out["right_share_per_s_pct"]) == pytest.approx(share, abs=0.5)
    # per-foot sway: each foot's own COP through the same preset
    for side, col in (("left", "LCOP_Z"), ("right", "RCOP_Z")):
        ml = d[col] * 1000
        assert out["feet"][side]["range_ml_mm"] == pytest.approx(ml.max() - ml.min(), rel=1e-6)
    assert m["mean_total_force_n"] == pytest.approx(d["GRFNET_Y"].mean(), rel=1e-6)


def test_two_plate_table_in_a_batch_has_per_foot_columns(tmp_path, capsys):
    from station.cli import main

    path, _ = pds_two_plate_csv("PDS13OR2", tmp_path)
    out = tmp_path / "t.csv"
    assert main(["analyze", str(path), "--table", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 1 and rows[0]["status"] == "ok"
    assert float(rows[0]["foot_left_mean_velocity_mm_s"]) > 0 and float(rows[0]["right_share_pct"]) == pytest.approx(48.7, abs=2)


def test_two_board_corner_table_gives_each_boards_cop(tmp_path, analyze_json):
    from .conftest import write_csv

    n = 3000
    t = np.arange(n) / 100.0
    # left board: 300 N at its own (+10, +20) mm; right board: 400 N at its own (-5, 0) mm (boards 400 x 300)
    def board(total, x, y):
        fx, fy = 0.5 + x / 400, 0.5 + y / 300
        return total * np.column_stack([(1 - fx) * fy, fx * fy, (1 - fx) * (1 - fy), fx * (1 - fy)]) * np.ones((n, 1))

    header = "t_s," + ",".join(f"f_{c}_{s}_n" for s in ("left", "right") for c in ("fl", "fr", "bl", "br"))
    rows = np.column_stack([t, board(300, 10 + np.sin(t), 20), board(400, -5, 0)])
    path = write_csv(tmp_path / "boards.csv", header, rows)
    out = analyze_json(path, "--board-size", "400x300", "--preset", "raw")
    # boards side by side: left centre at x = -200 mm, right at +200 mm
    net_ml = (300 * (-200 + 10) + 400 * (200 - 5)) / 700
    assert out["metrics"]["mean_cop_ml_mm"] == pytest.approx(net_ml, abs=0.05)
    assert out["right_share_pct"] == pytest.approx(400 / 7, abs=1e-6)
    assert out["feet"]["left"]["mean_cop_ml_mm"] == pytest.approx(-190, abs=0.05)
    assert out["feet"]["right"]["range_ml_mm"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_published_net_cop_column_reproduces_the_published_values_exactly(name, tmp_path, analyze_json):
    from .conftest import write_csv

    d = np.genfromtxt(DATA / "pds" / f"{name}grf.txt", names=True, delimiter="\t")
    path = write_csv(tmp_path / "net.csv", "t_s,cop_ml_mm,cop_ap_mm", np.column_stack([d["Time"], d["COPNET_Z"] * 1000, d["COPNET_X"] * 1000]))
    m, pub = analyze_json(path, "--preset", "raw")["metrics"], PUBLISHED[name]
    assert m["ellipse95_area_mm2"] / 100 == pytest.approx(float(pub["COParea"]), rel=1e-6)
    assert m["mean_velocity_mm_s"] / 10 == pytest.approx(float(pub["COPvelo"]), rel=1e-6)
    assert m["mean_power_frequency_hz"] == pytest.approx(float(pub["COPmfreq"]), rel=1e-6)
