"""Cost of the extended features (docs/METRICS.md §11) on 60 s at 100 Hz, per family and in total.

Usage: .venv/bin/python bench/features.py

Prints the fastest of up to 200 warm calls (the minimum: on a shared machine the mean measures the
neighbours) for each family and for the whole ``extended_features``, beside the core suite without
them. Target (research brief): about 2 ms extra per 6000 samples.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from station.core import features as F  # noqa: E402


def best_of(fn, calls=200, budget_s=2.0) -> float:
    fn()
    best, start = float("inf"), time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return best


def main() -> int:
    d = np.loadtxt(ROOT / "tests" / "data" / "bds" / "BDS00001.txt", skiprows=1)
    ml, ap = d[:, 8] * 10, d[:, 7] * 10
    ml, ap = ml - ml.mean(), ap - ap.mean()
    fs = 100.0
    families = [
        ("positional", lambda: F.positional_features(ml, ap)),
        ("fractal dimension", lambda: F.fractal_dimension(ml, ap)),
        ("velocity (SG, zero crossings, peaks)", lambda: F.velocity_features(ml, ap, fs_hz=fs)),
        ("sway density", lambda: F.sway_density_features(ml, ap, fs_hz=fs)),
        ("spectral (Welch 10 s)", lambda: F.spectral_features(ml, ap, fs_hz=fs)),
        ("log-log diffusion", lambda: F.diffusion_features(ml, ap, fs_hz=fs)),
        ("extended_features (all)", lambda: F.extended_features(ml, ap, fs_hz=fs)),
    ]
    print(f"extended features, {ml.size} samples at {fs:g} Hz (best of up to 200 warm calls)")
    for name, fn in families:
        print(f"  {name:40s} {best_of(fn) * 1e3:7.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
