"""Benchmark of the analysis core: prints figures, asserts nothing (DESIGN §2: bench/ is not tests).

1. The full metric suite, warm, on 60 s at 100 Hz and on 10 min at 1 kHz, numba kernels and the
   plain-numpy references in the same run, with their ratio; per-kernel figures too.
2. Cold start in a new process: kernels compiled into an empty NUMBA_CACHE_DIR vs loaded from a
   warm one.

Targets (issue 4): <= 2 ms for 6000 samples warm; >= 10x the numpy references; cached kernels load
in a new process in <= 1 s.

Usage: .venv/bin/python bench/metrics.py [--quick]   (--quick skips the 1 kHz numpy reference run)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from station.core import diffusion, entropy, forces, cop, resample, spectral, sway
from station.core.metrics import compute_metrics, prepare, suite


def best_of(fn, *, repeat=7, min_time=0.2):
    """Best per-call wall time (s) over ``repeat`` rounds of enough calls to last ``min_time``."""
    fn()
    n, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t >= min_time or n >= 1000:
            break
        n *= 2
    best = t / n
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def cop_series(seconds, fs_hz, seed=0):
    """Two-axis sway-like COP (mm): filtered random walk with a single-leg-like spectrum."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs_hz)
    x = np.cumsum(rng.normal(0, 1, (2, n)), axis=1)
    x -= np.cumsum(x, axis=1) * (0.5 / fs_hz)  # leaky: keeps it stationary-ish
    return x[0] * 0.5, x[1] * 0.7


def fmt(s):
    return f"{s * 1e3:9.3f} ms" if s < 1 else f"{s:9.2f} s "


def suite_figures(label, seconds, fs_hz, *, reference=True):
    ml, ap = cop_series(seconds, fs_hz)
    n = ml.size
    print(f"\n== {label}: {n} samples")
    t_numba = best_of(lambda: suite(ml, ap, fs_hz=fs_hz))
    t_raw = best_of(lambda: compute_metrics(ml, ap, fs_hz=fs_hz, preset="raw"))
    t_clin = best_of(lambda: compute_metrics(ml, ap, fs_hz=fs_hz, preset="clinical"))
    print(f"full suite (numba kernels)           {fmt(t_numba)}")
    print(f"compute_metrics, raw preset          {fmt(t_raw)}")
    print(f"compute_metrics, clinical preset     {fmt(t_clin)}   (resample + 10 Hz low-pass + trim + suite)")
    t_ref = None
    if reference:
        t_ref = best_of(lambda: suite(ml, ap, fs_hz=fs_hz, reference=True), repeat=2 if n > 10_000 else 3, min_time=0.0)
        print(f"full suite (numpy references)        {fmt(t_ref)}   ratio {t_ref / t_numba:6.1f}x")
    # per kernel
    c = ml - ml.mean()
    a = ap - ap.mean()
    f, p = spectral.welch_psd(c, fs_hz=fs_hz)
    q = max(1, int(fs_hz // entropy.MAX_RATE_HZ))
    xd = c[::q]
    r = 0.2 * xd.std()
    max_lag = min(int(10 * fs_hz), n - 2)
    counts = np.random.default_rng(1).integers(-(2**23), 2**23, size=(n, 4)).astype(np.int32)
    frc = np.abs(np.random.default_rng(2).normal(200, 50, (n, 4)))
    pos = np.array([[-200, 150], [200, 150], [-200, -150], [200, -150]], float)
    t_irr = np.cumsum(np.random.default_rng(3).uniform(0.5, 1.5, n)) / fs_hz
    y2 = np.column_stack([c, a])
    rows = [
        ("counts -> forces", lambda: forces.counts_to_forces(counts, np.zeros(4), np.full(4, 1e-3)),
         lambda: forces.counts_to_forces_reference(counts, np.zeros(4), np.full(4, 1e-3))),
        ("COP + load gate", lambda: cop.cop_from_forces(frc, pos, threshold_n=100.0),
         lambda: cop.cop_from_forces_reference(frc, pos, threshold_n=100.0)),
        ("resample (2 columns)", lambda: resample.resample_uniform(t_irr, y2, fs_hz=fs_hz),
         lambda: resample.resample_uniform_reference(t_irr, y2, fs_hz=fs_hz)),
        ("sway time-domain sums", lambda: sway.sway_stats(c, a), lambda: sway.sway_stats_reference(c, a)),
        ("spectral moments (1 axis)", lambda: spectral.spectral_stats(f, p), lambda: spectral.spectral_stats_reference(f, p)),
        (f"sample entropy (1 axis, N={xd.size})", lambda: entropy.sample_entropy(xd, r=r),
         lambda: entropy.sample_entropy_reference(xd, r=r)),
        (f"MSD FFT vs direct ({max_lag} lags)", lambda: diffusion.msd_fft(y2.T, max_lag),
         (lambda: diffusion.msd_reference(y2.T, max_lag)) if n <= 10_000 or reference else None),
    ]
    print(f"{'kernel':40s} {'numba/fast':>12s} {'reference':>12s}  ratio")
    for name, fast, ref in rows:
        tf = best_of(fast)
        if ref is None:
            print(f"{name:40s} {fmt(tf):>12s} {'(skipped)':>12s}")
            continue
        tr = best_of(ref, repeat=2, min_time=0.0) if n > 10_000 else best_of(ref, repeat=3)
        print(f"{name:40s} {fmt(tf):>12s} {fmt(tr):>12s}  {tr / tf:6.1f}x")
    t_welch = best_of(lambda: spectral.welch_psd(y2.T, fs_hz=fs_hz))
    t_prep = best_of(lambda: prepare(ml, ap, fs_hz=fs_hz, preset="clinical"))
    print(f"{'Welch PSD, 2 axes (numpy FFT)':40s} {fmt(t_welch):>12s}")
    print(f"{'clinical preparation (resample+filter)':40s} {fmt(t_prep):>12s}")
    return t_numba, t_ref


COLD = r"""
import time, sys
t0 = time.perf_counter()
import station.core
spent = station.core.warmup()
print(f"{time.perf_counter() - t0:.3f}")
"""


def cold_start():
    print("\n== cold start in a new process (import + warmup() of every kernel)")
    env = dict(os.environ)
    env.pop("STATION_DISABLE_JIT", None)
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        runs = []
        for label in ("empty cache (compile)", "warm cache (load)", "warm cache (load, again)"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True, check=True).stdout.strip()
            wall = time.perf_counter() - t0
            runs.append(float(out))
            print(f"{label:28s} import+warmup {float(out):6.2f} s   whole process {wall:6.2f} s")
    return runs


def main():
    quick = "--quick" in sys.argv
    import numba

    print(f"numba {numba.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    t6000, ref6000 = suite_figures("60 s at 100 Hz", 60, 100.0)
    t600k, ref600k = suite_figures("10 min at 1 kHz", 600, 1000.0, reference=not quick)
    runs = cold_start()
    print("\n== targets")
    print(f"<= 2 ms for 6000 samples warm:     {t6000 * 1e3:.2f} ms  {'met' if t6000 <= 2e-3 else 'MISSED'}")
    print(f">= 10x the numpy references:       {ref6000 / t6000:.1f}x at 6000"
          + (f", {ref600k / t600k:.1f}x at 600 000" if ref600k else "")
          + f"  {'met' if ref6000 / t6000 >= 10 else 'MISSED'}")
    print(f"cached kernels load in <= 1 s:     {min(runs[1:]):.2f} s  {'met' if min(runs[1:]) <= 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
