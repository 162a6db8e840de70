"""Batch analysis: many files, folders and globs -> one row per input; a bad file never stops the batch."""

import csv
import json

import pytest

from station.cli import main

from .conftest import bds_cop_csv


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "trials"
    d.mkdir()
    for k in (1, 2, 3):
        bds_cop_csv(k, d)
    (d / "broken.csv").write_text("t_s,cop_ml_mm,cop_ap_mm\n0,1,2\n0.01,x,2\n")
    (d / "notes.txt").write_text("not an input: ignored by the folder scan")
    return d


def test_table_rows_for_a_folder_with_two_workers(folder, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    assert main(["analyze", str(folder), "--table", str(out), "--jobs", "2", "--preset", "raw"]) == 0
    assert "4 input(s): 3 row(s) analysed, 1 with an error" in capsys.readouterr().err
    rows = list(csv.DictReader(open(out)))
    assert [r["input"].rsplit("/", 1)[1] for r in rows] == ["bds1.csv", "bds2.csv", "bds3.csv", "broken.csv"]
    assert list(rows[0])[:7] == ["input", "status", "kind", "fs_hz", "n_samples", "duration_s", "problems"]
    ok = rows[:3]
    assert all(r["status"] == "ok" and r["n_samples"] == "6000" and float(r["fs_hz"]) == 100.0 for r in ok)
    assert rows[3]["status"].endswith("line 3: 'x' in column cop_ml_mm is not a number.") and rows[3]["path_length_mm"] == ""
    # the same numbers as a single-file --json
    assert main(["analyze", rows[0]["input"], "--preset", "raw", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)["metrics"]
    for key in ("path_length_mm", "ellipse95_area_mm2", "sample_entropy_ml", "planar_range_mm", "critical_time_ml_s"):
        assert float(ok[0][key]) == pytest.approx(single[key], rel=1e-12)


def test_jsonl_with_a_glob_and_a_missing_file(folder, tmp_path, capsys):
    out = tmp_path / "rows.jsonl"
    assert main(["analyze", str(folder / "bds*.csv"), str(tmp_path / "missing.csv"), "--jsonl", str(out), "--jobs", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and [r["status"] for r in rows[:3]] == ["ok"] * 3
    assert rows[3]["status"].endswith("missing.csv does not exist.")
    assert rows[0]["metrics"]["n_used"] == 5500 and rows[0]["problems"] == []


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_formula_like_cells_are_escaped(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "=HYPERLINK(1).csv").write_text("nothing useful")
    assert main(["analyze", str(bds_cop_csv(1, tmp_path)), "=HYPERLINK(1).csv", "--table", "rows.csv", "--jobs", "1"]) == 0
    rows = list(csv.reader(open(tmp_path / "rows.csv")))
    assert rows[2][0] == "'=HYPERLINK(1).csv" and rows[2][1].startswith("'=HYPERLINK")
    assert all(_is_number(cell) or not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_an_empty_glob_and_an_empty_folder_are_clear_errors(tmp_path, analyze_error):
    assert "no file matches" in analyze_error(tmp_path / "*.nothing")
    (tmp_path / "empty").mkdir()
    assert "without .csv, .trial or .c3d files" in analyze_error(tmp_path / "empty")
