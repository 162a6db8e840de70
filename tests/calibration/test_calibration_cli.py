"""`station calibrate` end to end on the in-process virtual board, and its user errors."""

import io
import json
import stat
import subprocess
import sys

import numpy as np
import pytest

from station.board.virtual.board import virtual_board_id
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
    board = f"{virtual_board_id(2):08X}"  # seed 2's own id
    assert f"active calibration of board {board}: " in captured.out
    active = active_calibration(board)
    assert active.operator == "tech" and active.version == 1 and active.protocol == "quick"
    assert stat.S_IMODE((tmp_path / "calibrations").stat().st_mode) == 0o700
    assert load_calibration(out).to_dict() == active.to_dict()
    # a second calibration supersedes the first and keeps it as v1
    assert main(["calibrate", "--sim", "--seed", "2", "--protocol", "quick", "--skip-drift", "--skip-creep"]) == 0
    assert active_calibration(board).version == 2
    assert (tmp_path / "calibrations" / f"{board}.v1.json").exists()


QUICK = ["calibrate", "--sim", "--protocol", "quick", "--skip-drift", "--skip-creep"]


def test_boards_of_two_seeds_keep_two_calibrations(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    assert main([*QUICK, "--seed", "1"]) == 0
    assert main([*QUICK, "--seed", "3"]) == 0
    capsys.readouterr()
    one, three = f"{virtual_board_id(1):08X}", f"{virtual_board_id(3):08X}"
    assert sorted(p.name for p in (tmp_path / "calibrations").iterdir()) == [f"{one}.json", f"{three}.json"]
    cal_1, cal_3 = active_calibration(one), active_calibration(three)
    assert (cal_1.board_id, cal_1.version, cal_3.board_id, cal_3.version) == (one, 1, three, 1)
    # two boards, two sets of hidden gains: neither calibration would fit the other board
    assert np.abs(cal_1.gains_n_per_count / cal_3.gains_n_per_count - 1).max() > 0.01


def test_board_id_option_is_the_virtual_boards_id(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    assert main([*QUICK, "--seed", "4", "--board-id", "5B0000AA"]) == 0
    assert "active calibration of board 5B0000AA: " in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "calibrations").iterdir()] == ["5B0000AA.json"]
    assert active_calibration("5b0000aa").board_id == "5B0000AA"


@pytest.mark.parametrize("argv, message", [
    (["--sim", "--board-id", "5B00XYZ"], "board id '5B00XYZ' is not 1-8 hexadecimal digits (e.g. 5B000002)."),
    (["--sim", "--board-id", "123456789"], "board id '123456789' is not 1-8 hexadecimal digits (e.g. 5B000002)."),
    (["--port", "/dev/null", "--board-id", "5B0000AA"],
     "--board-id sets the id of the virtual board (--sim); a real board keeps its id in its EEPROM: "
     "`station board set-id HEX --port DEV` changes it."),
])
def test_bad_board_id_is_one_clear_line_and_exit_2(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    assert main(["calibrate", *argv, "--protocol", "quick"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"station: error: {message}\n" and captured.out == ""
    assert not (tmp_path / "calibrations").exists()


def test_a_virtual_board_without_an_id_is_refused_before_any_mass(tmp_path, monkeypatch, capsys):
    # FFFFFFFF is allowed for a virtual board: it plays a new chip, which the station refuses to calibrate
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    assert main([*QUICK, "--board-id", "FFFFFFFF"]) == 2
    captured = capsys.readouterr()
    assert "this board has no id yet (it reports FFFFFFFF" in captured.err and "station board set-id" in captured.err
    assert "Place 20 kg" not in captured.err
    assert not (tmp_path / "calibrations").exists()


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
