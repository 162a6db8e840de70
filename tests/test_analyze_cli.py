"""`station analyze`: CSV tables and trial files, JSON and table output, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from station.cli import main

BDS = Path(__file__).resolve().parent / "data" / "bds"


def write_csv(path, header, rows, comments=("# written by a test",)):
    lines = list(comments) + [header] + [",".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def bds_csv(tmp_path):
    d = np.loadtxt(BDS / "BDS00001.txt", skiprows=1)
    rows = np.column_stack([d[:, 0], d[:, 8] * 10, d[:, 7] * 10])  # COPy is ML, COPx is AP (cm -> mm)
    return write_csv(tmp_path / "bds1.csv", "t_s,cop_ml_mm,cop_ap_mm", rows.tolist())


def run_json(capsys, *argv):
    assert main(["analyze", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cop_table_raw_reproduces_published_values(bds_csv):
    proc = subprocess.run([sys.executable, "-m", "station", "analyze", str(bds_csv), "--preset", "raw", "--json"],
                          capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout)
    assert set(out) >= {"input", "preset", "fs_hz", "n_samples", "duration_s", "metrics", "quality"}
    assert out["preset"] == "raw" and out["n_samples"] == 6000 and out["fs_hz"] == pytest.approx(100.0)
    m = out["metrics"]
    assert m["n_used"] == 6000
    assert m["ellipse95_area_mm2"] / 100 == pytest.approx(0.9446915167229832, rel=1e-6)
    assert m["mean_velocity_mm_s"] / 10 == pytest.approx(0.620189911656219, rel=1e-5)  # CSV rounds to 1e-5 mm
    assert m["mean_power_frequency_hz"] == pytest.approx(0.2565758824783575, rel=0.01)


def test_cop_table_clinical_and_human_table(bds_csv, capsys):
    out = run_json(capsys, str(bds_csv))
    assert out["preset"] == "clinical" and out["metrics"]["n_used"] == 5500  # 60 s at 100 Hz less the first 5 s
    assert main(["analyze", str(bds_csv)]) == 0
    text = capsys.readouterr().out
    assert "ellipse95_area_mm2" in text and "first 5 s excluded" in text and "recording quality" in text


def test_corner_force_table(tmp_path, capsys):
    # 700 N, 60 % on the right cells, 55 % on the front: COP at (+40, +15) mm on a 400 x 300 board
    n = 3000
    t = np.arange(n) / 100.0
    sway = np.column_stack([np.sin(2 * np.pi * 0.3 * t), np.cos(2 * np.pi * 0.2 * t)])
    right = 0.6 + 0.01 * sway[:, 0]
    front = 0.55 + 0.01 * sway[:, 1]
    f = 700 * np.column_stack([(1 - right) * front, right * front, (1 - right) * (1 - front), right * (1 - front)])
    path = write_csv(tmp_path / "forces.csv", "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n", np.column_stack([t, f]).tolist())
    m = run_json(capsys, str(path), "--board-size", "400x300", "--preset", "raw")["metrics"]
    assert m["mean_cop_ml_mm"] == pytest.approx(40.0, abs=0.1)
    assert m["mean_cop_ap_mm"] == pytest.approx(15.0, abs=0.1)
    assert m["right_share_pct"] == pytest.approx(60.0, abs=0.05)
    assert m["mean_total_force_n"] == pytest.approx(700.0, rel=1e-9)
    assert m["range_ml_mm"] == pytest.approx(400 * 0.02, rel=0.01)


def error_of(capsys, *argv):
    code = main(["analyze", *argv])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("station: error: ") and "Traceback" not in err
    return err


def test_malformed_csv_names_the_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("# comment\nt_s,cop_ml_mm,cop_ap_mm\n0.00,1,2\n0.01,1,x2\n")
    assert "line 4" in error_of(capsys, str(path)) and "'x2'" in error_of(capsys, str(path))
    path.write_text("t_s,cop_ml_mm,cop_ap_mm\n0.00,1,2\n0.01,1\n")
    assert "line 3: 2 values" in error_of(capsys, str(path))
    path.write_text("time,x,y\n0,1,2\n")
    assert "unknown columns" in error_of(capsys, str(path))


def test_time_going_backwards(tmp_path, capsys):
    rows = [[i / 100, 0.0, 0.0] for i in range(100)]
    rows[50][0] = 0.2
    path = write_csv(tmp_path / "back.csv", "t_s,cop_ml_mm,cop_ap_mm", rows, comments=())
    assert "line 52: time goes backwards" in error_of(capsys, str(path))


def test_too_few_samples(tmp_path, capsys):
    path = write_csv(tmp_path / "short.csv", "t_s,cop_ml_mm,cop_ap_mm", [[i / 100, 0.1 * i, 0.0] for i in range(8)])
    assert "Too few samples" in error_of(capsys, str(path), "--preset", "raw")
    assert "Too few samples" in error_of(capsys, str(path))


def test_all_below_threshold_and_missing_board_size(tmp_path, capsys):
    rows = [[i / 100, 10.0, 10.0, 10.0, 10.0] for i in range(500)]
    path = write_csv(tmp_path / "empty.csv", "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n", rows)
    assert "--board-size" in error_of(capsys, str(path))
    assert "below the load threshold" in error_of(capsys, str(path), "--board-size", "400x300")
    assert "WxL" in error_of(capsys, str(path), "--board-size", "400")


def test_missing_file(tmp_path, capsys):
    assert "does not exist" in error_of(capsys, str(tmp_path / "nope.csv"))


# -- trial files ------------------------------------------------------------------------------


def virtual_trial(tmp_path, *, with_calibration: bool, subject="healthy:single-left", seconds=25.0):
    """A written trial file of a virtual-board recording (seed 3), with or without its oracle calibration."""
    from station.board.trialfile import write_trial
    from tests.core.scenarios import virtual_trial as build

    trial, tr, _ = build(subject, seconds=seconds, seed=3, calibrated=with_calibration,
                         meta={"task": "single_leg", "side": "left", "body_mass_kg": 70.0})
    return write_trial(tmp_path / "t.trial", trial), tr


def test_trial_without_calibration_prints_quality(tmp_path, capsys):
    path, _ = virtual_trial(tmp_path, with_calibration=False, seconds=3.0)
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "recording quality" in out and "metrics need" in out and "lost" in out
    js = run_json(capsys, str(path))
    assert js["metrics"] == {} and js["quality"]["frames"] == js["n_samples"]


def test_trial_with_calibration_gives_metrics_and_events(tmp_path, capsys):
    path, truth = virtual_trial(tmp_path, with_calibration=True)
    js = run_json(capsys, str(path))
    m = js["metrics"]
    # the subject stands on the left foot (x = -100 mm), weight 70 kg
    assert m["mean_cop_ml_mm"] == pytest.approx(-100.0, abs=15.0)
    assert m["mean_total_force_n"] == pytest.approx(70 * 9.80665, rel=0.02)
    assert 30.0 < m["mean_velocity_mm_s"] < 120.0  # single-leg stance
    step_on = [e["t_s"] for e in js["events"] if e["kind"] in ("step_on", "stance_start")]
    truth_on = [e["t_s"] for e in truth.events if e["kind"] == "step_on"][0] - truth.t_s[0]
    assert len(step_on) == 1 and step_on[0] == pytest.approx(truth_on, abs=0.5)
    assert js["problems"] == [] and js["window"]["start_s"] >= step_on[0]


def test_wii_like_irregular_stream(tmp_path, capsys):
    # ~40 Hz with 13-37 ms intervals, a 0.5 Hz circle of radius 10 mm
    rng = np.random.default_rng(0)
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(0.013, 0.037, 1300))])
    t = t[t <= 30.0]
    rows = np.column_stack([t, 10 * np.cos(np.pi * t), 10 * np.sin(np.pi * t)])
    path = write_csv(tmp_path / "wii.csv", "t_s,cop_ml_mm,cop_ap_mm", rows.tolist())
    out = run_json(capsys, str(path))
    m = out["metrics"]
    assert m["fs_hz"] == 100.0 and m["n_used"] == int(np.floor((t[-1] - 5.0) * 100 + 1e-9)) + 1
    assert m["mean_distance_mm"] == pytest.approx(10.0, rel=0.01)
    assert m["mean_frequency_hz"] == pytest.approx(0.5, rel=0.02)
    assert "note" not in out["quality"]
    assert "irregular" in run_json(capsys, str(path), "--preset", "raw")["quality"]["note"]


def test_a_cold_kernel_cache_is_noticed(tmp_path, monkeypatch):
    from station.commands.analyze import kernels_cached
    from station.core.features import extended_features

    t = np.arange(400) / 100.0
    extended_features(np.sin(t), np.cos(t), fs_hz=100.0)  # compiled (and cached) in this checkout
    assert kernels_cached()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not kernels_cached()  # a fresh install: analyze compiles them once, with a message


def test_swarii_resampling_option(tmp_path, capsys):
    # the Wii-like stream of test_wii_like_irregular_stream, resampled with SWARII instead of linearly
    rng = np.random.default_rng(0)
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(0.013, 0.037, 1300))])
    t = t[t <= 30.0]
    rows = np.column_stack([t, 10 * np.cos(np.pi * t), 10 * np.sin(np.pi * t)])
    path = write_csv(tmp_path / "wii.csv", "t_s,cop_ml_mm,cop_ap_mm", rows.tolist())
    lin = run_json(capsys, str(path))["metrics"]
    sw = run_json(capsys, str(path), "--resample", "swarii")["metrics"]
    assert sw["fs_hz"] == 100.0 and sw["n_used"] == lin["n_used"]
    assert sw["mean_distance_mm"] == pytest.approx(10.0, rel=0.01) and sw["mean_frequency_hz"] == pytest.approx(0.5, rel=0.02)
    assert sw["path_length_mm"] != lin["path_length_mm"]  # a different (windowed) interpolation


def test_a_foreign_calibration_with_the_same_id_is_named_not_read_as_an_empty_board(tmp_path, capsys):
    import station.board.virtual as virtual
    from station.calibration import Calibration, load_geometry

    path, truth = virtual_trial(tmp_path, with_calibration=False, seconds=10.0)
    other = virtual.VirtualBoard(seed=28, record_truth=False)  # another board's calibration, relabelled with this id
    foreign = Calibration(board_id=truth.meta["board_id"], geometry=load_geometry("reference-400x300"),
                          offsets_counts=other.hidden_offsets_counts, gains_n_per_count=1.0 / other.hidden_gains_counts_per_n)
    cal = tmp_path / "foreign.json"
    cal.write_text(json.dumps(foreign.to_dict()))
    # the same counts through the foreign calibration: a total of thousands of newtons below zero
    counts = np.asarray(truth.counts, dtype=float)
    total = ((counts - other.hidden_offsets_counts) / other.hidden_gains_counts_per_n).sum(axis=1)
    assert np.median(total) < -5000.0
    assert main(["analyze", str(path), "--calibration", str(cal)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "nobody stood" not in err
    assert f"the calibration of board {truth.meta['board_id']} made " in err and "does not fit this board" in err
    assert f"reads {np.median(total[np.abs(total) >= 100.0]):.0f} N" in err
