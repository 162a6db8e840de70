"""Large inputs through ``station analyze FILE --json``: the row limit's cost.

Usage::

    python bench/large_input.py [--rows 500000] [--wide-rows 500000] [--refuse-rows 500001 10000000] [--rate 100]

Writes synthetic COP tables (``t_s,cop_ml_mm,cop_ap_mm``, a random-walk sway at ``--rate`` Hz) to a
temporary folder (or ``--keep DIR``) and times one ``station analyze FILE --json`` process for each:
start-up, reading, every metric. Prints the wall time, CPU time (user + sys), the peak resident memory
of the process, the exit status and the first line of stderr, one line per file. ``--refuse-rows``
files are over the limit (:data:`station.readers.MAX_SAMPLES`) and must be refused quickly.
The figures go into docs/METRICS.md §11.7; the limit is chosen so the largest accepted file is
analysed in about ten seconds on the project's two-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_cop_table(path: Path, rows: int, *, rate_hz: float, seed: int = 0, extra_columns: int = 0) -> int:
    """A COP table of ``rows`` samples (plus ``extra_columns`` ignored columns); returns its size in bytes."""
    rng = np.random.default_rng(seed)
    chunk = 500_000
    with open(path, "w", encoding="ascii") as fh:
        fh.write("t_s,cop_ml_mm,cop_ap_mm" + "".join(f",extra_{k}" for k in range(extra_columns)) + "\n")
        ml = ap = 0.0
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            t = (start + np.arange(n)) / rate_hz
            # a mean-reverting random walk: bounded like sway, never constant
            x = ml + np.cumsum(rng.normal(0.0, 0.3, n))
            y = ap + np.cumsum(rng.normal(0.0, 0.3, n))
            x -= np.linspace(0.0, x[-1], n) * 0.9
            y -= np.linspace(0.0, y[-1], n) * 0.9
            ml, ap = float(x[-1]), float(y[-1])
            extra = [rng.uniform(-1e3, 1e3, n) for _ in range(extra_columns)]
            np.savetxt(fh, np.column_stack([t, x, y, *extra]), fmt=("%.4f", "%.3f", "%.3f") + ("%.6f",) * extra_columns,
                       delimiter=",")
    return path.stat().st_size


def time_analyze(path: Path) -> dict:
    """Run ``station analyze PATH --json`` once; wall and CPU seconds, peak RSS (MiB), exit code, stderr."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "station", "analyze", str(path), "--json"], stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)  # this process's own resource use, not all children's
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024.0,
            "rc": proc.returncode, "stderr": (stderr.strip().splitlines() or [""])[-1][:160]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[500_000], help="accepted sizes to time (rows)")
    ap.add_argument("--refuse-rows", type=int, nargs="*", default=[500_001, 10_000_000], help="sizes over the limit (rows)")
    ap.add_argument("--rate", type=float, default=100.0, help="sample rate of the tables (Hz)")
    ap.add_argument("--wide-rows", type=int, nargs="*", default=[], help="accepted sizes with ignored extra columns "
                    "making the file close to MAX_INPUT_BYTES (the slowest accepted file)")
    ap.add_argument("--keep", metavar="DIR", help="write the tables here and keep them")
    args = ap.parse_args()
    from station.readers import MAX_INPUT_BYTES, MAX_SAMPLES

    print(f"limits: MAX_SAMPLES = {MAX_SAMPLES} rows, MAX_INPUT_BYTES = {MAX_INPUT_BYTES / 2**20:.0f} MiB")
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        folder = Path(args.keep or tmp)
        # warm the numba cache first, so no figure includes compilation
        warm = folder / "warm.csv"
        write_cop_table(warm, 3000, rate_hz=args.rate)
        time_analyze(warm)
        runs = [(rows, 0) for rows in args.rows] + [(rows, None) for rows in args.wide_rows] + [(rows, 0) for rows in args.refuse_rows]
        for rows, extra in runs:
            if extra is None:  # ~11 characters per extra cell, about 30 for the COP cells and the line end
                extra = max(0, int((MAX_INPUT_BYTES * 0.97 / rows - 30) / 11))
            path = folder / f"cop-{rows}-{extra}.csv"
            size = write_cop_table(path, rows, rate_hz=args.rate, extra_columns=extra)
            r = time_analyze(path)
            verdict = "analysed" if r["rc"] == 0 else "refused"
            wide = f" +{extra} cols" if extra else ""
            print(f"{rows:>10} rows{wide} ({size / 2**20:6.1f} MiB, {rows / args.rate / 3600:5.2f} h at {args.rate:g} Hz): "
                  f"{verdict} exit {r['rc']}, wall {r['wall_s']:5.1f} s, cpu {r['cpu_s']:5.1f} s, "
                  f"peak RSS {r['peak_rss_mib']:6.0f} MiB  {r['stderr'] if r['rc'] else ''}")
            if not args.keep:
                path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
