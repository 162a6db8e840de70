"""``station assess``: a whole protocol headless on the virtual board, stored; clear errors; no Qt."""

import json
import subprocess
import sys

import numpy as np
import pytest

from station.board.virtual.board import virtual_board_id
from station.cli import main
from station.store import Store

SCRIPT = """
import sys
from station.cli import main
rc = main(sys.argv[1:])
print("QT-IMPORTED" if any(m.startswith(("PySide6", "pyqtgraph")) for m in sys.modules) else "NO-QT")
sys.exit(rc)
"""


def test_assess_sim_runs_stores_and_reports(tmp_path):
    pdf = tmp_path / "session.pdf"
    args = ["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--subject", "weak-right", "--patient", "Runner 7",
            "--body-mass", "70", "--protocol", "single-leg", "--trials", "1", "--practice", "0", "--seconds", "8",
            "--exclude", "2", "--report", str(pdf)]
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "New patient #1: Runner 7." in out
    assert "Stand on your LEFT leg, eyes open, hands on hips." in out
    assert "Session #1 (single-leg) finished" in out
    assert "Single-leg stance, baseline: not enough valid trials" in out  # one trial per leg
    assert "Patient time: " in out and "(set-up " in out and "Balance score 0-100" in out
    assert out.strip().splitlines()[-1] == "NO-QT"
    assert "Traceback" not in proc.stderr
    with Store.open(tmp_path / "data") as store:
        (patient,) = store.list_patients()
        assert (patient.name, patient.body_mass_kg) == ("Runner 7", 70.0)
        (session,) = store.list_sessions(patient.id)
        trials = store.trials(session.id)
        assert [t.side for t in trials if t.status == "finished"] == ["left", "right"]
        assert session.scores["stance"]["baseline/eyes_open"]["sides"]["left"]["mean_velocity_ml_mm_s"]["n"] == 1
        assert session.calibration_id is not None and {t.calibration_id for t in trials} == {session.calibration_id}
        assert store.get_calibration(session.calibration_id)["board_id"] == f"{virtual_board_id(0):08X}"  # seed 0's
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_assess_needs_a_board(tmp_path, capsys):
    rc = main(["--data-dir", str(tmp_path), "assess", "--patient", "x", "--protocol", "single-leg"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == (
        "station: error: Give the board's serial port with --port DEV, use --sim for the virtual board, or "
        "--recording FILE for recordings."
    )


def test_assess_unknown_patient_id_is_one_clear_line(tmp_path, capsys):
    # a plain number that is no stored id and no name: refused, saying how to give an id or add the patient
    rc = main(["--data-dir", str(tmp_path), "assess", "--sim", "--patient", "42", "--protocol", "rdl"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == (
        "station: error: There is no patient with id 42 and none named '42': give a stored patient's id as #42 "
        "(see `station patients`), or add the patient first (`station patients add 42`).")
    rc = main(["--data-dir", str(tmp_path), "assess", "--sim", "--patient", "#42", "--protocol", "rdl"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == "station: error: There is no patient with id 42."
    with Store.open(tmp_path) as store:
        assert store.list_patients() == []


def test_assess_creates_a_patient_named_007_and_finds_names_and_ids(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "assess", "--sim", "--patient", "007", *SHORT]) == 0
    assert "New patient #1: 007." in capsys.readouterr().out
    # again: the same patient by name (not id 7); no second patient
    assert main(["--data-dir", data, "assess", "--sim", "--patient", "007", *SHORT]) == 0
    assert "New patient" not in capsys.readouterr().out
    with Store.open(data) as store:
        (patient,) = store.list_patients()
        assert (patient.name, patient.body_mass_kg) == ("007", 70.0)
        assert len(store.list_sessions(patient.id)) == 2
    # "2" is neither an id nor a name: refused, nothing stored
    assert main(["--data-dir", data, "assess", "--sim", "--patient", "2", *SHORT]) == 2
    assert "give a stored patient's id as #2" in capsys.readouterr().err
    with Store.open(data) as store:
        assert [p.name for p in store.list_patients()] == ["007"]


def test_fast_sim_session_fails_no_trial_for_a_short_recording(tmp_path, monkeypatch, capsys):
    """The board may run ahead of the runner's look at any moment (a busy host descheduling the runner's
    thread; a board streaming faster than it is read).

    The runner must not then date the stance start by a board time older than the frames it looked
    at, or it ends the recording before the analysed trial's end ("the recording stopped 7.8 s into a
    8 s trial") and repeats a trial the patient did well. The race is forced here: the first time the
    runner reads the recording after each cue, the lockstep board first runs 2 s further than the
    runner's clock (and stays ahead).
    """
    import json
    import time

    from station.board import acquisition as acq_mod
    from station.board.protocol import CMD_SIM_SCENE

    armed = {"cue": False, "runs_ahead": 0}
    send, window = acq_mod.Acquisition.send_command, acq_mod.Acquisition.recording_window

    def send_command(self, data):
        if data[3] == CMD_SIM_SCENE:
            subject = json.loads(data[4:-2]).get("subject") or {}
            armed["cue"] = subject.get("stance") in ("left", "right")
        return send(self, data)

    def run_ahead_window(self, since_s=0.0):
        if armed["cue"]:
            armed["cue"] = False
            paced = self.transport  # the lockstep virtual board of assess --sim
            goal = self.frames_total + int(2.0 * self.info.nominal_rate_hz)
            with paced.cond:
                paced.lockstep_s += 2.0
            deadline = time.monotonic() + 30.0
            while self.frames_total < goal and time.monotonic() < deadline:
                time.sleep(0.001)
            armed["runs_ahead"] += 1
        return window(self, since_s)

    monkeypatch.setattr(acq_mod.Acquisition, "send_command", send_command)
    monkeypatch.setattr(acq_mod.Acquisition, "recording_window", run_ahead_window)
    rc = main(["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--patient", "Runner 8", "--body-mass", "70",
               "--protocol", "single-leg", "--trials", "1", "--practice", "0", "--seconds", "8", "--exclude", "2"])
    out = capsys.readouterr().out
    with Store.open(tmp_path / "data") as store:
        trials = store.trials(1)
    assert [(t.side, t.status, t.reason) for t in trials] == [("left", "finished", ""), ("right", "finished", "")]
    assert "recording stopped" not in out
    assert armed["runs_ahead"] == 2 and rc == 0


def test_assess_json_prints_the_headline_verdicts(tmp_path, capsys):
    import json

    rc = main(["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--subject", "weak-right", "--patient", "Runner 9",
               "--body-mass", "70", "--protocol", "single-leg", "--trials", "2", "--practice", "0", "--seconds", "8",
               "--exclude", "2", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    doc = json.loads(captured.out)  # stdout is exactly one JSON object; people read stderr
    assert set(doc) == {"session_id", "protocol", "status", "minutes", "verdicts", "descriptions"}
    assert doc["descriptions"] == []  # only a primer session has a described block (its RDL)
    assert (doc["session_id"], doc["protocol"], doc["status"]) == (1, "single-leg", "finished")
    assert 0.5 < doc["minutes"] < 5.0
    (verdict,) = doc["verdicts"]
    assert set(verdict) == {"block", "kind", "side", "less_stable", "verdict", "estimate", "ci_low", "ci_high", "level",
                            "unit", "text", "resolution"}
    assert (verdict["block"], verdict["kind"], verdict["unit"]) == ("stance/baseline/eyes_open", "asymmetry", "%")
    assert verdict["ci_low"] <= verdict["estimate"] <= verdict["ci_high"]
    assert "Stand on your LEFT leg" in captured.err and "Session #1 (single-leg) finished" in captured.err
    with Store.open(tmp_path / "data") as store:
        assert store.get_session(1).scores["verdicts"][0]["verdict"] == verdict["verdict"]


def test_invalid_protocol_settings_are_refused_before_a_session(tmp_path, capsys):
    for extra in (["--protocol", "single-leg", "--trials", "0"], ["--protocol", "rdl", "--reps", "0"],
                  ["--protocol", "single-leg", "--seconds", "-5"]):
        rc = main(["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--patient", "Runner 10", "--body-mass", "70",
                   *extra])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and err.startswith("station: error: Invalid protocol settings: ") and "\n" not in err
    with Store.open(tmp_path / "data") as store:
        assert store.list_patients() == [] or all(store.list_sessions(p.id) == [] for p in store.list_patients())


SHORT = ["--body-mass", "70", "--protocol", "single-leg", "--trials", "1", "--practice", "0", "--seconds", "6",
         "--exclude", "2"]


def _calibrate_sim(data, out, *extra) -> None:
    assert main(["--data-dir", str(data), "calibrate", "--sim", "--protocol", "quick", "--skip-drift", "--skip-creep",
                 "--no-save", "--out", str(out), *extra]) == 0


def test_assess_sim_uses_its_own_boards_calibration_never_another_seeds(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("STATION_DATA_DIR", str(data))
    one, two = f"{virtual_board_id(1):08X}", f"{virtual_board_id(2):08X}"
    seed_1 = tmp_path / "seed1.json"
    _calibrate_sim(data, seed_1, "--seed", "1")
    capsys.readouterr()
    # seed 1's calibration on seed 2's board: refused in one line, before the patient is stored
    rc = main(["--data-dir", str(data), "assess", "--sim", "--seed", "2", "--calibration", str(seed_1),
               "--patient", "Runner 11", *SHORT])
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == ""
    assert captured.err == f"station: error: calibration file {seed_1} belongs to board {one}, this board is {two}.\n"
    with Store.open(data) as store:
        assert store.list_patients() == []
    # on seed 1's own board the same file is the session's calibration (no calibration of its own)
    rc = main(["--data-dir", str(data), "assess", "--sim", "--seed", "1", "--calibration", str(seed_1),
               "--patient", "Runner 11", *SHORT])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Calibrating the virtual board" not in captured.out
    with Store.open(data) as store:
        (session,) = store.list_sessions(store.list_patients()[0].id)
        stored = store.get_calibration(session.calibration_id)
        assert session.board["board_id"] == stored["board_id"] == one
        file = json.loads(seed_1.read_text())
        np.testing.assert_array_equal(stored["gains_n_per_count"], file["gains_n_per_count"])


def test_assess_sim_board_id_option_names_the_board_and_its_calibration(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("STATION_DATA_DIR", str(data))
    rc = main(["--data-dir", str(data), "assess", "--sim", "--seed", "2", "--board-id", "5B0000AA",
               "--patient", "Runner 12", *SHORT])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Calibrating the virtual board with known masses" in captured.out
    with Store.open(data) as store:
        (session,) = store.list_sessions(store.list_patients()[0].id)
        assert session.board["board_id"] == "5B0000AA"
        assert store.get_calibration(session.calibration_id)["board_id"] == "5B0000AA"


@pytest.mark.parametrize("board_id, message", [
    ("nope", "board id 'nope' is not 1-8 hexadecimal digits (e.g. 5B000002)."),
    ("0x5B0000AA1", "board id '0x5B0000AA1' is not 1-8 hexadecimal digits (e.g. 5B000002)."),
])
def test_assess_bad_board_id_is_one_clear_line_before_anything_is_stored(tmp_path, monkeypatch, capsys, board_id,
                                                                          message):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    rc = main(["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--board-id", board_id, "--patient", "Runner 13",
               *SHORT])
    captured = capsys.readouterr()
    assert rc == 2 and captured.err == f"station: error: {message}\n" and captured.out == ""
    assert not (tmp_path / "data" / "station.sqlite3").exists()  # refused before the store was opened
