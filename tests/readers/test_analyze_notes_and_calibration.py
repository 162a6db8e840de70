"""`station analyze` on tables and C3D files: the sample-entropy cap's note reaches ``"notes"`` for every
input kind, and a ``--calibration`` that cannot apply is refused, not ignored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from station.cli import main
from station.core import entropy

from .conftest import write_csv

FS_HZ = 100.0
#: the clinical preset decimates 100 Hz to 20 Hz (q = 5) and drops the first 5 s
OVER_CAP_S = (entropy.MAX_SAMPLES + 1000) / entropy.MAX_RATE_HZ + 5.0  # 650 s
UNDER_CAP_S = (entropy.MAX_SAMPLES - 1000) / entropy.MAX_RATE_HZ + 5.0  # 555 s


def _sway(seconds: float, seed: int = 1):
    """A bounded random-walk COP (mm) at 100 Hz: irregular, as sample entropy needs."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS_HZ)
    t = np.arange(n) / FS_HZ
    ml, ap = np.zeros(n), np.zeros(n)
    for k in range(1, n):  # mean-reverting, so the walk stays a few cm wide
        ml[k] = 0.995 * ml[k - 1] + rng.normal(0, 0.4)
        ap[k] = 0.995 * ap[k - 1] + rng.normal(0, 0.4)
    return t, ml, ap


def _forces(ml, ap, total=700.0):
    fx, fy = 0.5 + ml / 400, 0.5 + ap / 300
    return total * np.column_stack([(1 - fx) * fy, fx * fy, (1 - fx) * (1 - fy), fx * (1 - fy)])


def _json(capsys, *argv):
    code = main(["analyze", *map(str, argv), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _entropy_notes(doc):
    return [n for n in doc.get("notes", []) if n["code"] == "entropy_too_long"]


@pytest.fixture(scope="module")
def long_tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    t, ml, ap = _sway(OVER_CAP_S)
    cop = write_csv(root / "cop-long.csv", "t_s,cop_ml_mm,cop_ap_mm", np.column_stack([t, ml, ap]))
    forces = write_csv(root / "forces-long.csv", "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n", np.column_stack([t, _forces(ml, ap)]))
    two = write_csv(root / "two-long.csv", "t_s,fz_left_n,cop_ml_left_mm,cop_ap_left_mm,fz_right_n,cop_ml_right_mm,cop_ap_right_mm",
                    np.column_stack([t, np.full_like(t, 350.0), ml - 100, ap, np.full_like(t, 350.0), ml + 100, ap]))
    n = int(UNDER_CAP_S * FS_HZ)
    short = write_csv(root / "cop-under.csv", "t_s,cop_ml_mm,cop_ap_mm", np.column_stack([t[:n], ml[:n], ap[:n]]))
    return {"cop": cop, "forces": forces, "two": two, "under": short, "sway": (t, ml, ap)}


def test_a_table_under_the_cap_gets_a_finite_sample_entropy_and_no_note(long_tables, capsys):
    doc = _json(capsys, long_tables["under"])
    m = doc["metrics"]
    assert np.isfinite(m["sample_entropy_ml"]) and np.isfinite(m["sample_entropy_ap"]) and m["sample_entropy_rate_hz"] == 20.0
    assert 0.1 < m["sample_entropy_ml"] < 3.0
    assert _entropy_notes(doc) == []


@pytest.mark.parametrize("kind", ["cop", "forces", "two"])
def test_a_table_over_the_cap_says_why_sample_entropy_is_missing(kind, long_tables, capsys):
    argv = ["--board-size", "400x300"] if kind == "forces" else []
    doc = _json(capsys, long_tables[kind], *argv)
    m = doc["metrics"]
    assert m["sample_entropy_ml"] is None and m["sample_entropy_ap"] is None  # NaN, as documented (METRICS.md §7)
    [note] = [n for n in _entropy_notes(doc) if "foot" not in n]
    assert f"more than {entropy.MAX_SAMPLES}" in note["message"]
    if kind == "two":  # each foot's own COP metrics carry the note too, naming the foot
        assert {n["foot"] for n in _entropy_notes(doc) if "foot" in n} == {"left", "right"}
    # the human report prints it as well
    assert main(["analyze", str(long_tables[kind]), *argv]) == 0
    assert "entropy_too_long: Sample entropy is not computed" in capsys.readouterr().out


def test_a_c3d_over_the_cap_says_why_sample_entropy_is_missing(long_tables, tmp_path, capsys):
    pytest.importorskip("ezc3d")
    from station.report.c3d_export import build_c3d
    from station.report.samples import TrialSamples

    t, ml, ap = long_tables["sway"]
    forces = _forces(ml, ap)
    pos = np.array([[-200.0, 150.0], [200.0, 150.0], [-200.0, -150.0], [200.0, -150.0]])
    s = TrialSamples(t_s=t, forces_n=forces, total_n=forces.sum(axis=1), cop_ml_mm=ml, cop_ap_mm=ap, threshold_n=100.0,
                     fs_hz=FS_HZ, positions_mm=pos)
    path = tmp_path / "long.c3d"
    build_c3d(s, platform_type=2).write(str(path))
    doc = _json(capsys, path)
    assert doc["kind"].startswith("C3D plate") and doc["metrics"]["sample_entropy_ml"] is None
    assert len(_entropy_notes(doc)) == 1


# -- --calibration with an input it cannot apply to -------------------------------------------------


def _calibration_file(tmp_path):
    from station.calibration import Calibration, load_geometry

    cal = Calibration(board_id="5B000001", geometry=load_geometry("reference-400x300"),
                      offsets_counts=np.zeros(4), gains_n_per_count=np.full(4, 0.018))
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(cal.to_dict()))
    return path


@pytest.mark.parametrize("layout", ["cop", "forces"])
def test_a_calibration_cannot_apply_to_a_table_and_is_refused(layout, tmp_path, analyze_error):
    t, ml, ap = _sway(30.0)
    if layout == "cop":
        table = write_csv(tmp_path / "t.csv", "t_s,cop_ml_mm,cop_ap_mm", np.column_stack([t, ml, ap]))
        argv = []
    else:
        table = write_csv(tmp_path / "t.csv", "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n", np.column_stack([t, _forces(ml, ap)]))
        argv = ["--board-size", "400x300"]
    err = analyze_error(table, *argv, "--calibration", _calibration_file(tmp_path))
    assert "--calibration applies to trial files (raw counts) only" in err and str(table) in err
    # a malformed calibration is named as such, whatever the input
    bad = tmp_path / "bad.json"
    for text, words in (("{oops", "not valid JSON"), ("[1, 2]", "alibration"), ('{"gains_n_per_count": "x"}', "alibration")):
        bad.write_text(text)
        err = analyze_error(table, *argv, "--calibration", bad)
        assert words in err, err


def test_a_calibration_for_a_c3d_file_is_refused(tmp_path, analyze_error):
    from .conftest import DATA

    err = analyze_error(DATA / "c3d" / "walking2.c3d", "--calibration", _calibration_file(tmp_path))
    assert "--calibration applies to trial files" in err


def test_in_a_batch_the_refusal_is_the_row_of_that_input(tmp_path, capsys):
    t, ml, ap = _sway(30.0)
    a = write_csv(tmp_path / "a.csv", "t_s,cop_ml_mm,cop_ap_mm", np.column_stack([t, ml, ap]))
    b = write_csv(tmp_path / "b.csv", "t_s,cop_ml_mm,cop_ap_mm", np.column_stack([t, ml, ap]))
    out = tmp_path / "rows.jsonl"
    assert main(["analyze", str(a), str(b), "--jsonl", str(out), "--jobs", "1", "--calibration", str(_calibration_file(tmp_path))]) == 0
    capsys.readouterr()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"].split(": ", 1)[1] for r in rows] == ["--calibration applies to trial files (raw counts) only; a CSV "
                                                             "table, a C3D file or another device's export already holds forces or COP: leave the option out."] * 2
