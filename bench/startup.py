"""Start-up time of the ``station`` command (--help <= 0.2 s, analyze ONE.csv --json <= 0.8 s).

Usage::

    python bench/startup.py [--repeat 5]

Median wall time of ``--repeat`` runs each (after one warm-up run that fills the OS and numba
caches), beside ``python -c "import numpy"`` and ``python -c pass`` as the floor.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], repeat: int) -> tuple[float, float, float]:
    subprocess.run(cmd, capture_output=True, check=True)  # warm-up
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), min(walls), max(walls)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = np.loadtxt(ROOT / "tests" / "data" / "bds" / "BDS00001.txt", skiprows=1)
        csv = Path(tmp) / "one.csv"
        np.savetxt(csv, np.column_stack([d[:, 0], d[:, 8] * 10, d[:, 7] * 10]), delimiter=",", fmt="%.5f",
                   header="t_s,cop_ml_mm,cop_ap_mm", comments="")
        station = [sys.executable, "-m", "station"]
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ('python -c "import numpy"', [sys.executable, "-c", "import numpy"], None),
            ("station --help", station + ["--help"], 0.2),
            ("station analyze ONE.csv --json", station + ["analyze", str(csv), "--json"], 0.8),
        ]
        print(f"median of {args.repeat} runs (warm caches), min-max in brackets")
        for name, cmd, target in cases:
            med, lo, hi = timed(cmd, args.repeat)
            goal = f"  target <= {target:g} s: {'met' if med <= target else 'NOT met'}" if target else ""
            print(f"  {name:34s} {med:6.3f} s  [{lo:.3f}-{hi:.3f}]{goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
