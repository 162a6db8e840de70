"""A wheel that works: build it, install it into a fresh venv, run `station demo --headless` and
`station analyze` from there (no source tree on the path, geometries and procedures from the package).

The fresh venv gets the project venv's third-party packages through a ``.pth`` line (so nothing is
downloaded); the project venv's editable-install hook is in a ``.pth`` *file* there, which Python does
not process for a directory added that way, so ``station`` is imported from the wheel only.
"""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), "-q"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [wheel] = list((tmp / "dist").glob("balance_station-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:  # pip older than 22.3 has no --python: unpack the wheel by hand
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
        (venv / "bin" / "station").write_text(f"#!{py}\nimport sys\nfrom station.cli import main\nsys.exit(main())\n")
        (venv / "bin" / "station").chmod(0o755)
    return wheel, venv


def test_the_wheel_holds_the_data_files(wheel_venv):
    wheel, _ = wheel_venv
    names = zipfile.ZipFile(wheel).namelist()
    assert "station/calibration/data/boards/reference-400x300.toml" in names
    assert "station/calibration/data/protocols/standard.toml" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def _run(venv, tmp_path, *argv, timeout=900):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISPLAY", "STATION_CALIBRATION_DIR")}
    env["STATION_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([str(venv / "bin" / "station"), *argv], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=timeout)


def test_installed_station_imports_from_the_wheel_and_finds_its_geometries(wheel_venv, tmp_path):
    _, venv = wheel_venv
    code = ("import station, station.calibration as c; print(station.__file__); "
            "print(c.load_geometry('reference-400x300').name if hasattr(c.load_geometry('reference-400x300'), 'name') else 'ok')")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].startswith(str(venv))


@pytest.mark.slow
def test_demo_runs_from_the_installed_wheel(wheel_venv, tmp_path):
    _, venv = wheel_venv
    report = tmp_path / "demo.pdf"
    proc = _run(venv, tmp_path, "demo", "--headless", "--report", str(report), "--seconds", "8")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert report.stat().st_size > 10_000


def test_analyze_runs_from_the_installed_wheel(wheel_venv, tmp_path):
    _, venv = wheel_venv
    d = np.loadtxt(ROOT / "tests" / "data" / "bds" / "BDS00001.txt", skiprows=1)
    csv = tmp_path / "one.csv"
    np.savetxt(csv, np.column_stack([d[:, 0], d[:, 8] * 10, d[:, 7] * 10]), delimiter=",", fmt="%.6f", header="t_s,cop_ml_mm,cop_ap_mm", comments="")
    proc = _run(venv, tmp_path, "analyze", str(csv), "--preset", "raw", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    m = json.loads(proc.stdout)["metrics"]
    assert m["ellipse95_area_mm2"] / 100 == pytest.approx(0.9446915167229832, rel=1e-6)
