"""What the integrity checks cost, and how often they are wrong, on simulated data.

Usage::

    python bench/integrity.py [--minutes 10] [--rate 1000] [--trials 40] [--flips 300]

Prints:

1. ``FrameSanity`` throughput on a clean stream (frames/s of CPU) and on a stream with one CRC-valid
   impossible frame every 1000 (rejected / injected, good frames lost);
2. cell-health false alarms on healthy virtual boards (``--trials`` 30 s trials of different seeds and
   subjects: any problem is a false alarm) and detection of dead / saturated / timed-out cells;
3. journal recovery of a ``--minutes`` journal: read time clean, and after ``--flips`` random single-byte
   flips one at a time (frames kept / frames outside the damaged block, worst case).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from station.board import protocol as P  # noqa: E402
from station.board.decode import FrameSanity, decode_frames  # noqa: E402
from station.board.journal import JournalWriter, read_journal  # noqa: E402
from station.board.virtual import Subject, VirtualBoard  # noqa: E402
from station.core.health import cell_problems  # noqa: E402


def _stream(n: int, period_us: float) -> np.ndarray:
    f = np.zeros(n, dtype=P.FRAME_DTYPE)
    f["seq"] = np.arange(n) & 0xFFFF
    f["t_us"] = np.rint(np.arange(n) * period_us).astype(np.int64) & 0xFFFFFFFF
    f["counts"] = np.random.default_rng(0).integers(-1000, 1000, (n, 4))
    return f


def bench_sanity(rate_hz: float, minutes: float) -> None:
    n = int(rate_hz * 60 * minutes)
    period = 1e6 / rate_hz
    clean = _stream(n, period)
    batch = max(int(rate_hz * 0.05), 1)  # the acquisition's read batches (~50 ms)
    s = FrameSanity(nominal_period_s=period * 1e-6)
    t0 = time.perf_counter()
    kept = sum(len(s.feed(clean[i : i + batch])) for i in range(0, n, batch))
    dt = time.perf_counter() - t0
    print(f"FrameSanity clean: {n} frames in {dt:.3f} s = {n / dt:,.0f} frames/s of CPU "
          f"({rate_hz:g} Hz stream: {100 * dt / (60 * minutes):.3f} % of one core); kept {kept}, rejected {s.rejected}")
    bad = clean.copy()
    idx = np.arange(500, n - 1, 1000)
    rng = np.random.default_rng(1)
    kinds = rng.integers(0, 2, len(idx))
    bad["counts"][idx[kinds == 0], 2] = 1 << 26
    bad["t_us"][idx[kinds == 1]] = (bad["t_us"][idx[kinds == 1]].astype(np.int64) + 9_700_000) & 0xFFFFFFFF
    s = FrameSanity(nominal_period_s=period * 1e-6)
    t0 = time.perf_counter()
    out = np.concatenate([s.feed(bad[i : i + batch]) for i in range(0, n, batch)] + [s.feed(bad[:0], final=True)])
    dt = time.perf_counter() - t0
    good_lost = n - len(idx) - len(out)
    print(f"FrameSanity with {len(idx)} impossible frames ({int((kinds == 0).sum())} counts, {int((kinds == 1).sum())} "
          f"clock): rejected {s.rejected}, good frames lost {good_lost}, {n / dt:,.0f} frames/s")


def bench_cells(trials: int) -> None:
    subjects = ["healthy", "weak-right:single-right", "weak-left:rdl-left", "empty", "healthy:single-left"]
    false_alarms = 0
    t_check = 0.0
    for k in range(trials):
        vb = VirtualBoard(seed=100 + k, subject=Subject.resolve(subjects[k % len(subjects)]), record_truth=False)
        vb.write(P.encode_command(P.CMD_START))
        f = decode_frames(vb.advance(30.0)).frames
        t0 = time.perf_counter()
        p = cell_problems(f["counts"], f["status"], fs_hz=80.0)
        t_check += time.perf_counter() - t0
        false_alarms += bool(p)
    print(f"cell health on {trials} healthy 30 s trials: {false_alarms} with a false alarm; "
          f"{1e3 * t_check / trials:.2f} ms per trial")
    found = 0
    cases = 0
    for fault, code in (("dead", "cell_dead"), ("saturate", "cell_saturated"), ("timeout", "cell_timeout")):
        for cell in P.CHANNELS:
            for k in range(max(trials // 12, 2)):
                vb = VirtualBoard(seed=500 + k, subject=Subject.resolve(subjects[k % len(subjects)]),
                                  faults=f"{fault}={cell}@5", record_truth=False)
                vb.write(P.encode_command(P.CMD_START))
                f = decode_frames(vb.advance(30.0)).frames
                p = cell_problems(f["counts"], f["status"], fs_hz=80.0)
                cases += 1
                found += [(x["code"], x["cell"]) for x in p] == [(code, cell)]
    print(f"cell faults from 5 s on: {found} of {cases} named exactly (code and cell)")


def bench_journal(minutes: float, rate_hz: float, flips: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.journal"
        n = int(rate_hz * 60 * minutes)
        frames = _stream(n, 1e6 / rate_hz)
        block = max(int(rate_hz * 0.2), 1)
        w = JournalWriter(path, {"board": {"board_id": "5B000001", "nominal_rate_hz": rate_hz}, "meta": {}})
        spans = []
        for a in range(0, n, block):
            f = frames[a : a + block]
            dev = f["t_us"] * 1e-6
            start = w._fh.tell()
            w.append_frames(f, dev, dev + 1.7e9, np.zeros(len(f), np.uint8))
            spans.append((start, w._fh.tell(), len(f)))
            w.append_json(b"C", {"crc_errors": 0, "resyncs": 0, "skipped_bytes": 0})
        w.close()
        clean = path.read_bytes()
        t0 = time.perf_counter()
        assert read_journal(path).n_frames == n
        t_clean = time.perf_counter() - t0
        rng = np.random.default_rng(2)
        worst = 0
        t_max = 0.0
        starts = np.array([s[0] for s in spans])
        for off in rng.integers(0, len(clean), flips):
            damaged = bytearray(clean)
            damaged[off] ^= int(rng.integers(1, 256))
            path.write_bytes(bytes(damaged))
            t0 = time.perf_counter()
            got = read_journal(path).n_frames
            t_max = max(t_max, time.perf_counter() - t0)
            k = int(np.searchsorted(starts, off, side="right")) - 1
            in_block = k >= 0 and spans[k][0] < off < spans[k][1]
            expected = n - (spans[k][2] if in_block else 0)
            worst = max(worst, expected - got)
        print(f"journal of {minutes:g} min at {rate_hz:g} Hz ({len(clean) / 1e6:.1f} MB, {n} frames): read in {t_clean:.2f} s; "
              f"{flips} single-byte flips: frames lost beyond the damaged block, worst case {worst}; slowest read {t_max:.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--flips", type=int, default=300)
    a = ap.parse_args()
    logging.disable(logging.WARNING)  # every rejected frame and skipped journal block is logged: not here
    bench_sanity(a.rate, a.minutes)
    bench_cells(a.trials)
    bench_journal(a.minutes, a.rate, a.flips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
