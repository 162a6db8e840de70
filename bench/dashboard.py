"""Dashboard responsiveness: redraw cost, redraw interval and CPU use of the live view (offscreen).

Runs the real main window at 80 Hz and at 1 kHz, with the virtual board either in the dashboard's
process (``station dashboard --sim``: board simulation, decoding and drawing share one GIL) or in a
separate process (``station simulate --rate R --link L`` served on a pseudo-terminal, the dashboard
on ``--port L``: what a real board looks like). Prints, per board and rate: redraw cost percentiles
(ms spent in one timer tick), the interval between ticks (target 33 ms at 30 fps: a long interval
means the UI thread was blocked), the longest UI stall measured by a 5 ms heartbeat timer, and the
dashboard process's CPU use (the simulator's own process not included). The measured period starts
one second after the window took in the start-up; the longest stalls during start-up and during
that first second are printed apart (last column).

The subprocess board is calibrated like ``--sim`` does it: an identical virtual board (same seed,
hence the same hidden gains) is calibrated in-process by the calibration wizard first.

    .venv/bin/python bench/dashboard.py                               # 60 s per rate and board
    .venv/bin/python bench/dashboard.py --seconds 10                  # quick
    .venv/bin/python bench/dashboard.py --seconds 10 --board process  # subprocess board only
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


SEED = 0
SUBJECT = "weak-right"
GEOMETRY = "reference-400x300"


def _calibrated_twin(rate_hz: float):
    """The calibration of ``station simulate --seed SEED``'s board, by the wizard on an identical board."""
    from station.board.virtual import BoardModel, VirtualBoard
    from station.calibration import load_geometry
    from station.dashboard.station_link import calibrate_virtual

    board = VirtualBoard(seed=SEED, rate_hz=rate_hz, board=BoardModel.named(GEOMETRY), record_truth=False)
    return calibrate_virtual(board, load_geometry(GEOMETRY))


def _start_simulator(rate_hz: float, link: Path) -> subprocess.Popen:
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "station", "simulate", "--rate", f"{rate_hz:g}", "--seed", str(SEED),
                             "--subject", SUBJECT, "--board", GEOMETRY, "--link", str(link)],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()  # the device path: the pseudo-terminal is ready
    if proc.poll() is not None or not link.exists():
        raise SystemExit("station simulate did not start")
    return proc


def run(rate_hz: float, seconds: float, data_dir: str, *, board: str = "inproc") -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from station.dashboard.app import build_window, qt_application
    from station.store import Store

    app = qt_application()
    store = Store.open(data_dir)
    simulator = None
    if board == "process":
        link = Path(data_dir) / f"board-{rate_hz:g}"
        calibration = _calibrated_twin(rate_hz)
        simulator = _start_simulator(rate_hz, link)
        window = build_window(port=str(link), store=store, calibration=calibration)
    else:
        window = build_window(sim=True, seed=SEED, rate_hz=rate_hz, subject=SUBJECT, store=store)
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
    while not window.started and window.link.error is None:
        app.processEvents()
        time.sleep(0.002)
    startup_s = time.perf_counter() - t_start
    if window.link.error is not None:
        raise SystemExit(f"start-up failed: {window.link.error}")
    startup_stall_ms = max(stalls) if stalls else float("nan")
    stalls.clear()
    t_settle = time.perf_counter()  # the first second of live data (first paints, caches) apart
    while time.perf_counter() - t_settle < 1.0:
        app.processEvents()
        time.sleep(0.001)
    first_s_stall_ms = max(stalls) if stalls else float("nan")
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
    if simulator is not None:
        simulator.terminate()
        simulator.wait(10)
    cost = np.array(window.frame_times_s) * 1e3
    stamps = np.array(window.frame_stamps_s)
    interval = np.diff(stamps) * 1e3
    return {
        "rate_hz": rate_hz, "startup_s": startup_s, "redraws": len(cost), "fps": len(cost) / (wall1 - wall0),
        "cost_ms": np.percentile(cost, [50, 95, 99, 100]) if len(cost) else [np.nan] * 4,
        "interval_ms": np.percentile(interval, [50, 95, 99, 100]) if len(interval) else [np.nan] * 4,
        "stall_max_ms": max(stalls) if stalls else float("nan"),
        "startup_stall_ms": startup_stall_ms, "first_s_stall_ms": first_s_stall_ms,
        "cpu_pct": 100.0 * (cpu1 - cpu0) / (wall1 - wall0),
        "frames": quality["frames"], "effective_rate_hz": quality["effective_rate_hz"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="live time measured per rate (default 60)")
    parser.add_argument("--rates", default="80,1000", help="comma-separated board rates in Hz (default 80,1000)")
    parser.add_argument("--board", choices=("inproc", "process", "both"), default="both",
                        help="virtual board in the dashboard's process, in a `station simulate` process, or both "
                        "(default both)")
    args = parser.parse_args()
    boards = ("inproc", "process") if args.board == "both" else (args.board,)
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ["STATION_DATA_DIR"] = data_dir
        print(f"live view, offscreen, {args.seconds:g} s per rate, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} at the start")
        print(f"{'board':>7} {'rate':>6} {'start s':>7} {'fps':>5} {'redraw ms p50/p95/p99/max':>27} "
              f"{'tick interval ms p50/p95/p99/max':>33} {'stall max':>9} {'CPU %':>6} {'rx Hz':>6} "
              f"{'start-up/1st s stall':>20}")
        for board in boards:
            for rate in (float(r) for r in args.rates.split(",")):
                r = run(rate, args.seconds, data_dir, board=board)
                cost = "/".join(f"{v:.1f}" for v in r["cost_ms"])
                interval = "/".join(f"{v:.1f}" for v in r["interval_ms"])
                print(f"{board:>7} {rate:6.0f} {r['startup_s']:7.1f} {r['fps']:5.1f} {cost:>27} {interval:>33} "
                      f"{r['stall_max_ms']:9.0f} {r['cpu_pct']:6.0f} {r['effective_rate_hz']:6.0f} "
                      f"{r['startup_stall_ms']:10.0f}/{r['first_s_stall_ms']:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
