"""Trial-to-trial variability of single-leg stance measures against the trial's length, on the virtual board.

Each virtual patient (realistic presets) does the same fixed block (1 practice trial and ``--trials``
scored trials per leg) once with each trial length; per patient and leg the trial-to-trial CV (SD of the
logs) of the sway index and of the mean COP velocity is computed over the scored trials, and the medians
over patients are printed per length, with the ratio of each length's CV to the 30 s trials'.

  nice .venv/bin/python bench/trial_length.py --seeds 20 --lengths 30:5,20:3 --workers 2
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ("sway_index", "mean_velocity_mm_s", "mean_velocity_ml_mm_s")


def _one(task):
    seed, duration, exclude, trials, preset = task
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from station.assessment import protocols
    from station.assessment.virtual_session import subject_fields
    from station.board.virtual import Subject
    from station.store import Store

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from verdicts import run_session

    store = Store.open(Path(tempfile.mkdtemp(prefix="bench-length-")))
    protocol = protocols.get("single-leg", trials_per_side=trials, duration_s=duration, exclude_s=exclude,
                             familiarisation=1)
    runner, _, _ = run_session(store, protocol, {"preset": preset}, seed)
    rows = [t for t in store.trials(runner.session_id) if t.task == "single_leg" and t.status == "finished"]
    out = {}
    for side in ("left", "right"):
        for m in METRICS:
            v = np.array([t.metrics.get(m) for t in rows if t.side == side], float)
            v = v[np.isfinite(v) & (v > 0)]
            out[(side, m)] = float(np.std(np.log(v), ddof=1)) if v.size >= 3 else math.nan
    return seed, duration, exclude, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--lengths", default="30:5,20:3", help="trial lengths and excluded seconds, s:s,...")
    ap.add_argument("--trials", type=int, default=6, help="scored trials per leg")
    ap.add_argument("--preset", default="healthy")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    lengths = [tuple(float(x) for x in item.split(":")) for item in args.lengths.split(",")]
    tasks = [(s, d, e, args.trials, args.preset) for s in range(args.seed_start, args.seed_start + args.seeds)
             for d, e in lengths]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(_one, tasks, chunksize=1)
    by = {}
    for seed, d, e, out in results:
        by.setdefault((d, e), []).append(out)
    base = None
    print(f"{args.seeds} patients ({args.preset}), {args.trials} scored trials per leg; trial-to-trial CV = SD of "
          f"the logs over a leg's trials, median over patients and legs [interquartile range]")
    for (d, e), outs in by.items():
        line = [f"{d:g} s trials ({e:g} s excluded, {d - e:g} s analysed):"]
        meds = {}
        for m in METRICS:
            vals = np.array([o[(side, m)] for o in outs for side in ("left", "right")])
            vals = vals[np.isfinite(vals)]
            meds[m] = np.median(vals)
            q1, q3 = np.percentile(vals, [25, 75])
            line.append(f"{m} {100 * meds[m]:.1f} % [{100 * q1:.1f}, {100 * q3:.1f}]")
        if base is None:
            base = meds
        else:
            line.append("ratio to the first: " + ", ".join(f"{m} {meds[m] / base[m]:.2f}" for m in METRICS))
        print("  " + "; ".join(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
