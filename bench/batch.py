"""Batch analysis end to end: N sixty-second 100 Hz COP tables through ``station analyze --table``.

Usage::

    python bench/batch.py [--trials 200] [--jobs 2] [--seconds 60]

Writes N COP tables (public BDS trials, cycled, each with a small per-file offset so no two files
are equal) to a temporary folder, then times one ``station analyze FOLDER --table OUT.csv`` process
(start-up, workers, reading, every metric, writing the table). Prints the wall time, the time per
trial and the rows that came back ok. Target: 200 trials in <= 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    bds = sorted((ROOT / "tests" / "data" / "bds").glob("BDS*.txt"))
    n = int(args.seconds * 100)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "trials"
        folder.mkdir()
        for k in range(args.trials):
            d = np.loadtxt(bds[k % len(bds)], skiprows=1)[:n]
            rows = np.column_stack([d[:, 0], d[:, 8] * 10 + 0.01 * k, d[:, 7] * 10])
            np.savetxt(folder / f"trial{k:04d}.csv", rows, delimiter=",", fmt="%.5f", header="t_s,cop_ml_mm,cop_ap_mm", comments="")
        out = Path(tmp) / "rows.csv"
        cmd = [sys.executable, "-m", "station", "analyze", str(folder), "--table", str(out), "--jobs", str(args.jobs)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        rows = list(csv.DictReader(open(out)))
        ok = sum(r["status"] == "ok" for r in rows)
        print(f"station analyze FOLDER --table OUT.csv --jobs {args.jobs}: {args.trials} trials x {args.seconds:g} s at 100 Hz")
        print(f"  wall time        {wall:.2f} s  (target <= 20 s for 200 trials on 2 cores)")
        print(f"  per trial        {1e3 * wall / args.trials:.1f} ms")
        print(f"  rows ok          {ok} / {len(rows)}; metric columns {len(rows[0]) - 7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
