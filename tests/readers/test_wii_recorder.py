"""Wii Balance Board recorder files: tab-separated corner forces (N) at ~40 Hz with jitter, the time unit recognised,
the COP through the station's one load gate on the board's 433 x 238 mm geometry, one-line errors with line numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

import station.board.virtual as virtual
from station.cli import main
from station.core.cop import cop_from_forces
from station.core.metrics import compute_metrics
from station.readers import read_recordings
from station.readers.wii_recorder import positions_mm
from tests.core.scenarios import whole_test, write_wii_recorder


@pytest.fixture(scope="module")
def wii_file(tmp_path_factory):
    rec = whole_test(virtual.Subject.named("healthy"), sides=("left",), stance_s=20.0, bipedal_s=4.0, seed=3)
    path = tmp_path_factory.mktemp("wii") / "session.txt"
    times = write_wii_recorder(rec, path, seed=3)
    return path, times


def _rewrite(path, tmp_path, *, time=None, line=None, text=None):
    lines = path.read_text().splitlines()
    if time is not None:
        lines = [lines[0]] + ["\t".join([time(k, row.split("\t")[0])] + row.split("\t")[1:]) for k, row in enumerate(lines[1:])]
    if line is not None:
        lines[line - 1] = text
    out = tmp_path / "changed.txt"
    out.write_text("\n".join(lines) + "\n")
    return out


def test_the_file_is_recognised_and_read_as_corner_forces_with_its_time_in_milliseconds(wii_file):
    path, times = wii_file
    [rec] = read_recordings(path)
    assert rec.kind == "Wii Balance Board recorder" and rec.quality["time_unit"] == "ms"
    np.testing.assert_allclose(rec.t_s, times - times[0], atol=1e-9)
    assert rec.quality["effective_rate_hz"] == pytest.approx(40.0, rel=0.02)
    assert rec.quality["jitter_ms"] > 2.0  # ~40 Hz with jitter, as the recorder writes it
    # the station's COP on the 433 x 238 mm geometry agrees with the recorder's own CpX/CpY (written to 0.01 mm)
    assert rec.quality["recorder_cop_check_mm"] < 0.05
    np.testing.assert_allclose(np.asarray(rec.quality["positions_mm"]), [[-216.5, 119], [216.5, 119], [-216.5, -119], [216.5, -119]])


def test_metrics_equal_an_independent_computation_on_the_file_s_own_cop(wii_file, capsys):
    path, _ = wii_file
    assert main(["analyze", str(path), "--preset", "raw", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = np.loadtxt(path, skiprows=1, delimiter="\t")
    t, forces = (rows[:, 0] - rows[0, 0]) / 1e3, rows[:, [5, 6, 3, 4]]  # TopLeft TopRight BottomLeft BottomRight
    ml, ap, _ = cop_from_forces(forces, positions_mm(), threshold_n=100.0)
    expected = compute_metrics(ml, ap, t_s=t, preset="raw")
    assert doc["trial"] == 1 and doc["side"] is None and doc["n_samples"] == t.size
    for key in ("mean_velocity_mm_s", "rms_ml_mm", "rms_ap_mm", "ellipse95_area_mm2", "path_length_mm"):
        assert doc["metrics"][key] == pytest.approx(expected[key], rel=1e-9), key


@pytest.mark.parametrize("unit, time", [
    ("s", lambda k, ms: f"{float(ms) / 1e3:.3f}"),
    ("100 ns ticks", lambda k, ms: f"{int(ms) * 10_000 + 638_000_000_000_000_000}"),
    ("clock time", lambda k, ms: f"10:{int(ms) // 60000:02d}:{int(ms) % 60000 / 1e3:06.3f}"),
])
def test_other_time_forms_give_the_same_times(wii_file, tmp_path, unit, time):
    path, times = wii_file
    [rec] = read_recordings(_rewrite(path, tmp_path, time=time))
    assert rec.quality["time_unit"] == unit
    np.testing.assert_allclose(rec.t_s, times - times[0], atol=1e-6)


@pytest.mark.parametrize("line, text, words", [
    (20, "oops\t1\t2\t3\t4\t5\t6\t7\t1\t2\t3\t4", "line 20: the time 'oops' is not a number"),
    (30, "725\t1\t2\t3\tx\t5\t6\t7\t1\t2\t3\t4", "line 30: 'x' in column BottomRight is not a number"),
    (40, "725\t1\t2", "line 40: 3 values, but the header has 12 columns"),
    (1, "Time\tCpX\tCpY\tBottomLeft\tBottomRight", "line 1: the recorder header lacks TopLeft, TopRight, Weight"),
    (50, "100\t1\t2\t3\t4\t5\t6\t7\t1\t2\t3\t4", "line 50: time goes backwards (or repeats) after line 49"),
])
def test_a_malformed_file_is_one_line_with_its_line_number(wii_file, tmp_path, line, text, words, capsys):
    path, _ = wii_file
    bad = _rewrite(path, tmp_path, line=line, text=text)
    assert main(["analyze", str(bad)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and str(bad) in err, err


def test_a_time_column_in_an_unknown_unit_is_refused_not_guessed(wii_file, tmp_path, capsys):
    path, _ = wii_file
    bad = _rewrite(path, tmp_path, time=lambda k, ms: f"{int(ms) * 1000}")  # microseconds: ~25 000 per sample
    assert main(["analyze", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "cannot tell the unit of the Time column" in err and err.count("\n") == 1
