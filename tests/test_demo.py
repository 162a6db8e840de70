"""`station demo --headless`: the README's main job, end to end on a machine with no display."""

import os
import shutil
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_headless_demo_runs_a_primer_session_and_writes_the_report(tmp_path):
    env = dict(os.environ, STATION_DATA_DIR=str(tmp_path / "data"))
    env.pop("DISPLAY", None)
    report = tmp_path / "out" / "demo.pdf"
    # `station demo` (no --headless) must notice there is no display and fall back to the headless job.
    proc = subprocess.run([sys.executable, "-m", "station", "demo", "--report", str(report), "--seconds", "12"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "No display found" in proc.stdout
    assert f"Demo report written to {report}" in proc.stdout
    assert "Before / after the primer, RIGHT leg:" in proc.stdout
    assert report.stat().st_size > 10_000
    # the session was stored in the private data directory, not the clinic's
    assert (tmp_path / "data" / "station.sqlite3").exists()
    assert os.stat(tmp_path / "data").st_mode & 0o777 == 0o700
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(report), "-"], capture_output=True, text=True, check=True).stdout
        assert "Demo runner (virtual)" in text
        assert "Before / after" in text or "before/after" in text.lower()


@pytest.mark.slow
def test_demo_with_a_display_qt_cannot_open_falls_back_to_the_headless_job(tmp_path):
    """DISPLAY set but no X server (or a missing xcb library): a clear line and the headless job, no abort."""
    env = dict(os.environ, STATION_DATA_DIR=str(tmp_path / "data"), DISPLAY=":65001")
    env.pop("QT_QPA_PLATFORM", None)
    report = tmp_path / "demo.pdf"
    proc = subprocess.run([sys.executable, "-m", "station", "demo", "--report", str(report), "--seconds", "12"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.startswith("Qt cannot open a window on this display (qt.qpa.xcb: could not connect to "
                                  "display :65001); running the headless demo instead")
    assert f"Demo report written to {report}" in proc.stdout and report.stat().st_size > 10_000


def test_headless_demo_runs_assess_on_the_board_id_given(tmp_path, monkeypatch):
    """``demo --headless --board-id HEX`` hands the id to ``station assess --sim`` (default: seed 7's own id)."""
    import station.commands.assess as assess
    from station.cli import main
    from station.commands.board import virtual_board_id_option

    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    seen = []
    monkeypatch.setattr(assess, "run", lambda args: seen.append(args) or 0)
    report = str(tmp_path / "demo.pdf")
    assert main(["demo", "--headless", "--report", report, "--board-id", "5b0000aa"]) == 0
    assert main(["demo", "--headless", "--report", report]) == 0
    assert [(a.sim, a.seed, virtual_board_id_option(a)) for a in seen] == [(True, 7, 0x5B0000AA), (True, 7, None)]
