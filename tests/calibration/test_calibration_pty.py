"""The scripted wizard over a real serial link: `station simulate` on a pseudo-terminal, then
`station calibrate --port <pty> --scripted` (the board places the masses on request, in real time)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from station.calibration import load_calibration

TINY = """
name = "tiny"
validity_days = 1
[tare]
hold_s = 0.5
[stability]
window_s = 0.25
timeout_s = 10.0
[fit]
masses_kg = [20.0]
grid = [2, 2]
hold_s = 0.5
retare = false
[verify]
mass_kg = 20.0
points_mm = [[0.0, 0.0]]
hold_s = 0.5
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals as on Linux")
def test_scripted_calibration_over_a_pty(tmp_path):
    link = tmp_path / "vboard"
    proto = tmp_path / "tiny.toml"
    proto.write_text(TINY)
    sim = subprocess.Popen([sys.executable, "-m", "station", "simulate", "--seed", "7", "--board-id", "5B0000AA",
                            "--link", str(link), "--seconds", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert link.exists(), "station simulate did not create its link"
        proc = subprocess.run(
            [sys.executable, "-m", "station", "--data-dir", str(tmp_path), "calibrate", "--port", str(link),
             "--scripted", "--protocol", str(proto), "--operator", "pty"],
            capture_output=True, text=True, timeout=60,
        )
        # The next recording on this board applies its active calibration without being told.
        rec = subprocess.run(
            [sys.executable, "-m", "station", "--data-dir", str(tmp_path), "record", "--port", str(link),
             "--seconds", "1", "--out", str(tmp_path / "t.trial")],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
    assert proc.returncode == 0, proc.stderr
    assert "Place 20 kg at 100 mm right, 75 mm back of the centre." in proc.stderr
    cal = load_calibration(tmp_path / "calibrations" / "5B0000AA.json", board_id=0x5B0000AA)
    assert cal.operator == "pty" and len(cal.masses) == 4
    assert cal.verification["passed"] and cal.verification["cop_rms_mm"] < 1.0
    assert os.stat(tmp_path / "calibrations" / "5B0000AA.json").st_mode & 0o777 == 0o600
    assert rec.returncode == 0, rec.stderr
    assert "applying board 5B0000AA's active calibration" in rec.stderr
    from station.board.trialfile import read_trial

    trial = read_trial(tmp_path / "t.trial")
    assert trial.calibration["board_id"] == "5B0000AA"
    assert trial.calibration["gains_n_per_count"] == pytest.approx(list(cal.gains_n_per_count))
