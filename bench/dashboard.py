"""Dashboard responsiveness: redraw cost, redraw interval and CPU use of the live view (offscreen).

Runs the real main window on the in-process virtual board (real time) at 80 Hz and at 1 kHz and
prints, per rate: redraw cost percentiles (ms spent in one timer tick), the interval between ticks
(target 33 ms at 30 fps: a long interval means the UI thread was blocked), the longest UI stall
measured by a 5 ms heartbeat timer, and the process CPU use.

    .venv/bin/python bench/dashboard.py               # 60 s per rate
    .venv/bin/python bench/dashboard.py --seconds 10  # quick
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(rate_hz: float, seconds: float, data_dir: str) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from station.dashboard.app import build_window, qt_application
    from station.store import Store

    app = qt_application()
    store = Store.open(data_dir)
    window = build_window(sim=True, rate_hz=rate_hz, subject="weak-right", store=store)
    window.show()
    t_start = time.perf_counter()
    window.start()
    # the heartbeat measures how late a 5 ms timer fires: the longest time the UI thread was busy
    beat = QElapsedTimer()
    beat.start()
    stalls = []

    def heartbeat():
        stalls.append(beat.restart())

    hb = QTimer()
    hb.setInterval(5)
    hb.timeout.connect(heartbeat)
    hb.start()
    while not window.link.ready and window.link.error is None:
        app.processEvents()
        time.sleep(0.002)
    startup_s = time.perf_counter() - t_start
    if window.link.error is not None:
        raise SystemExit(f"start-up failed: {window.link.error}")
    window.frame_times_s.clear()
    window.frame_stamps_s.clear()
    stalls.clear()
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        app.processEvents()
        time.sleep(0.001)
    cpu1, wall1 = _cpu_s(), time.perf_counter()
    quality = window.link.acquisition.quality
    hb.stop()
    window.shutdown()
    window.close()
    store.close()
    cost = np.array(window.frame_times_s) * 1e3
    stamps = np.array(window.frame_stamps_s)
    interval = np.diff(stamps) * 1e3
    return {
        "rate_hz": rate_hz, "startup_s": startup_s, "redraws": len(cost), "fps": len(cost) / (wall1 - wall0),
        "cost_ms": np.percentile(cost, [50, 95, 99, 100]) if len(cost) else [np.nan] * 4,
        "interval_ms": np.percentile(interval, [50, 95, 99, 100]) if len(interval) else [np.nan] * 4,
        "stall_max_ms": max(stalls) if stalls else float("nan"),
        "cpu_pct": 100.0 * (cpu1 - cpu0) / (wall1 - wall0),
        "frames": quality["frames"], "effective_rate_hz": quality["effective_rate_hz"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="live time measured per rate (default 60)")
    parser.add_argument("--rates", default="80,1000", help="comma-separated board rates in Hz (default 80,1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ["STATION_DATA_DIR"] = data_dir
        print(f"live view, offscreen, {args.seconds:g} s per rate, {os.cpu_count()} CPUs")
        print(f"{'rate':>6} {'start s':>7} {'fps':>5} {'redraw ms p50/p95/p99/max':>27} "
              f"{'tick interval ms p50/p95/p99/max':>33} {'stall max':>9} {'CPU %':>6} {'rx Hz':>6}")
        for rate in (float(r) for r in args.rates.split(",")):
            r = run(rate, args.seconds, data_dir)
            cost = "/".join(f"{v:.1f}" for v in r["cost_ms"])
            interval = "/".join(f"{v:.1f}" for v in r["interval_ms"])
            print(f"{rate:6.0f} {r['startup_s']:7.1f} {r['fps']:5.1f} {cost:>27} {interval:>33} "
                  f"{r['stall_max_ms']:9.0f} {r['cpu_pct']:6.0f} {r['effective_rate_hz']:6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
