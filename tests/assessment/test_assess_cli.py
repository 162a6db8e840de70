"""``station assess``: a whole protocol headless on the virtual board, stored; clear errors; no Qt."""

import subprocess
import sys

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
            "--body-mass", "70", "--protocol", "single-leg", "--trials", "1", "--seconds", "8", "--exclude", "2",
            "--report", str(pdf)]
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "New patient #1: Runner 7." in out
    assert "Stand on your LEFT leg, eyes open, hands on hips." in out
    assert "Session #1 (single-leg) finished" in out
    assert "baseline/eyes_open: single-leg stance:" in out
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
        assert store.get_calibration(session.calibration_id)["board_id"] == "5B000001"
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_assess_needs_a_board(tmp_path, capsys):
    rc = main(["--data-dir", str(tmp_path), "assess", "--patient", "x", "--protocol", "single-leg"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == (
        "station: error: Give the board's serial port with --port DEV, or use --sim for the virtual board."
    )


def test_assess_unknown_patient_id_is_one_clear_line(tmp_path, capsys):
    rc = main(["--data-dir", str(tmp_path), "assess", "--sim", "--patient", "42", "--protocol", "rdl"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == "station: error: There is no patient with id 42."
