"""`station calibrate` end to end on the in-process virtual board, and its user errors."""

import io
import json
import stat
import subprocess
import sys

import numpy as np
import pytest

from station.calibration import active_calibration, load_calibration
from station.calibration.wizard import ConsoleOperator, describe_position
from station.cli import main
from station.errors import CalibrationError


def test_sim_calibration_becomes_active(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    out = tmp_path / "copy.json"
    rc = main(["calibrate", "--sim", "--seed", "2", "--protocol", "quick", "--skip-drift", "--skip-creep",
               "--operator", "tech", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0
    assert "Place 20 kg at the centre." in captured.err  # the prompt, answered by the virtual board
    assert "RESULT: PASS" in captured.out
    active = active_calibration(0x5B000001)
    assert active.operator == "tech" and active.version == 1 and active.protocol == "quick"
    assert stat.S_IMODE((tmp_path / "calibrations").stat().st_mode) == 0o700
    assert load_calibration(out).to_dict() == active.to_dict()
    # a second calibration supersedes the first and keeps it as v1
    assert main(["calibrate", "--sim", "--seed", "2", "--protocol", "quick", "--skip-drift", "--skip-creep"]) == 0
    assert active_calibration("5B000001").version == 2
    assert (tmp_path / "calibrations" / "5B000001.v1.json").exists()


def test_failed_calibration_exits_nonzero_and_saves_nothing(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "station", "--data-dir", str(tmp_path), "calibrate", "--sim", "--protocol", "quick",
         "--skip-drift", "--skip-creep", "--misplace", "5:40,0"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "placement 5 (20 kg at (0, 0) mm) disagrees" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == (
        "station: error: the calibration of board 5B000001 failed (1 problem(s) listed above); nothing was saved."
    )
    assert not (tmp_path / "calibrations").exists()


def test_bad_arguments_are_one_line_errors(capsys):
    assert main(["calibrate", "--sim", "--protocol", "nonesuch"]) == 2
    assert "Unknown calibration procedure 'nonesuch' (known: quick, standard)" in capsys.readouterr().err
    assert main(["calibrate", "--sim", "--misplace", "five"]) == 2
    assert "--misplace 'five' is not STEP:X,Y" in capsys.readouterr().err


def test_console_operator_prompts_and_abort():
    out = io.StringIO()
    op = ConsoleOperator(stdin=io.StringIO("\nq\n"), out=out)
    op.place([(20.0, 0.0, 0.0)], "Place 20 kg at the centre.")
    assert out.getvalue() == "Place 20 kg at the centre. Press Enter when done (q to abort). "
    with pytest.raises(CalibrationError, match="aborted by the operator"):
        op.clear("Clear the board.")


@pytest.mark.parametrize(
    "xy, text",
    [((0, 0), "the centre"), ((100, 0), "100 mm right of the centre"),
     ((-100, -75), "100 mm left, 75 mm back of the centre"), ((0, 75), "75 mm forward of the centre")],
)
def test_describe_position(xy, text):
    assert describe_position(*xy) == text


def test_calibration_file_is_plain_json(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    assert main(["calibrate", "--sim", "--protocol", "quick", "--skip-creep", "--no-save", "--out", str(tmp_path / "c.json")]) == 0
    d = json.loads((tmp_path / "c.json").read_text())
    assert d["format"] == 1 and d["kind"] == "balance-station-calibration"
    assert len(d["gains_n_per_count"]) == 4 and d["drift"]["kind"] == "drift" and d["creep"] is None
    assert np.isfinite(d["drift"]["rate_n_per_min"])
    assert not (tmp_path / "calibrations").exists()
