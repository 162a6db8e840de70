"""Several stations against one PostgreSQL server (and one station on SQLite): throughput, latency, integrity.

Each simulated station is its own process with its own data directory and station name, and runs
sessions the way the protocol runner stores them: ``create_session``; per trial ``add_trial``,
``update_trial(status="running")``, ``save_trial_data`` (raw frames of a 30 s trial at 80 Hz: seven
typed blobs), ``set_metrics`` (rep 0 and per repetition), ``update_trial(status="finished")``;
``finish_session`` with scores. The latency of storing a trial is the wall time of the calls made
once the trial is recorded (save_trial_data + set_metrics + update_trial). The board simulation
is left out on purpose: on a 2-core machine eight virtual boards would measure CPU contention, not
the database.

After each run the server's rows are checked against what the stations say they wrote: counts per
table, distinct uuids (nothing twice) and the SHA-256 of every raw blob (nothing lost or altered).

    .venv/bin/python bench/stations.py                 # N = 1, 2, 4, 8 and SQLite; < 5 min
    .venv/bin/python bench/stations.py --stations 1 2 --sessions 2
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

TRIALS_PER_SESSION = 6
TRIAL_S = 30.0
RATE_HZ = 80.0


def _trial(seed: int):
    from station.board.protocol import FRAME_DTYPE
    from station.board.trialfile import TrialFile

    n = int(TRIAL_S * RATE_HZ)
    rng = np.random.default_rng(seed)
    frames = np.zeros(n, dtype=FRAME_DTYPE)
    frames["seq"] = np.arange(n) % 65536
    frames["t_us"] = (np.arange(n) * 1e6 / RATE_HZ).astype(np.uint32)
    frames["counts"] = rng.integers(-(1 << 23), (1 << 23) - 1, size=(n, 4), dtype=np.int32)
    t = np.arange(n) / RATE_HZ
    return TrialFile(frames=frames, device_time_s=t, host_time_s=1.8e9 + t, board={"board_id": "5B000001"},
                     quality={"frames": n, "lost": 0}, gaps=[], meta={}, events=[])


def _station(name: str, data_dir: str, url: str | None, sessions: int, seed: int, out: mp.Queue) -> None:
    from station.store import Store
    from station.store.blobs import to_blob
    from station.store.tables import TRIAL_ARRAYS

    os.environ["STATION_NAME"] = name
    latencies, sums = [], {}
    trials = [_trial(seed * 1000 + k) for k in range(TRIALS_PER_SESSION)]  # made before timing starts
    with Store.open(data_dir, url=url) as store:
        pid = store.add_patient(name=f"patient of {name}", body_mass_kg=70.0)
        cid = store.add_calibration({"board_id": "5B000001", "created": "2026-12-01", "gains": [seed]})
        start = time.perf_counter()
        for _ in range(sessions):
            sid = store.create_session(patient_id=pid, protocol="single-leg", calibration_id=cid, operator="bench")
            for k, trial in enumerate(trials):
                tid = store.add_trial(sid, task="single_leg", side=("left", "right")[k % 2])
                store.update_trial(tid, status="running", calibration_id=cid)
                t0 = time.perf_counter()
                store.save_trial_data(tid, trial, calibration_id=cid)
                store.set_metrics(tid, {f"metric_{j}": float(j) for j in range(20)})
                store.set_metrics(tid, {"lateral_shift_mm": 1.0}, rep=1)
                store.update_trial(tid, status="finished", window_start_s=5.0, window_end_s=30.0)
                latencies.append(time.perf_counter() - t0)
                uuid = store.get_trial(tid).uuid
                frames = trial.frames
                arrays = {n: frames[n] for n in ("counts", "seq", "t_us", "status", "missed")}
                arrays["device_time_s"], arrays["host_time_s"] = trial.device_time_s, trial.host_time_s
                for n, a in arrays.items():
                    data, dtype, shape = to_blob(np.asarray(a, dtype=TRIAL_ARRAYS[n]))
                    sums[(uuid, n)] = hashlib.sha256(f"{dtype}|{shape}|".encode() + data).hexdigest()
            store.finish_session(sid, scores={"bench": True})
        elapsed = time.perf_counter() - start
    out.put({"name": name, "latencies": latencies, "elapsed_s": elapsed, "sessions": sessions, "sums": sums})


def run(n_stations: int, sessions: int, url: str | None, root: Path) -> dict:
    from station.store import copying
    from station.store import engine as dbengine

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_station, args=(f"station-{k}", str(root / f"s{k}"), url, sessions, k + 1, queue))
             for k in range(n_stations)]
    wall = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - wall
    target = url or f"sqlite:///{root / 's0' / 'station.sqlite3'}"
    engine = dbengine.make_engine(dbengine.database_url(target, data_dir=root), read_only=True)
    with dbengine.begin(engine, write=False) as conn:
        import sqlalchemy as sa

        from station.store.tables import patients, sessions as sessions_t, trials

        counts = copying.counts(conn)
        distinct = {t.name: conn.execute(sa.select(sa.func.count(sa.distinct(t.c.uuid)))).scalar()
                    for t in (patients, sessions_t, trials)}
        stored = copying.checksums(conn)
    engine.dispose()
    written = {k: v for r in results for k, v in r["sums"].items()}
    lat = np.array([x for r in results for x in r["latencies"]]) * 1000.0
    n_sessions = n_stations * sessions
    expected = {"patients": n_stations, "sessions": n_sessions, "trials": n_sessions * TRIALS_PER_SESSION,
                "trial_arrays": n_sessions * TRIALS_PER_SESSION * 7}
    lost = sum(1 for k in written if k not in stored)
    altered = sum(1 for k in written if k in stored and stored[k] != written[k])
    duplicated = sum(counts[t] - distinct[t] for t in distinct) + sum(max(counts[k] - v, 0) for k, v in expected.items())
    missing = sum(max(v - counts[k], 0) for k, v in expected.items())
    busiest = max(r["elapsed_s"] for r in results)
    return {
        "stations": n_stations, "sessions": n_sessions, "trials": len(lat),
        "sessions_per_min": n_sessions / busiest * 60.0, "wall_s": wall,
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)), "max_ms": float(lat.max()),
        "lost_rows": missing, "lost_blobs": lost, "altered_blobs": altered, "duplicated_rows": duplicated,
        "counts": counts,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--sessions", type=int, default=4, help="sessions per station (default 4)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the one-station SQLite run")
    args = parser.parse_args(argv)
    from tests.store.pgserver import APT_HINT, PgServer, available

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-stations-") as tmp:
        root = Path(tmp)
        if not args.no_sqlite:
            rows.append(("sqlite", run(1, args.sessions, None, root / "sqlite")))
        if available():
            with PgServer() as pg:
                os.environ["PGPASSFILE"] = str(pg.passfile(pg.dir / "pgpass"))
                for n in args.stations:
                    pg.create_database(f"bench{n}")
                    rows.append(("postgresql", run(n, args.sessions, pg.url(f"bench{n}"), root / f"pg{n}")))
        else:
            print(f"PostgreSQL skipped: {APT_HINT}")
    print(f"{TRIALS_PER_SESSION} trials per session, each {TRIAL_S:g} s at {RATE_HZ:g} Hz "
          f"({int(TRIAL_S * RATE_HZ)} frames, 7 blobs, {int(TRIAL_S * RATE_HZ) * 40 / 1024:.0f} KiB); "
          f"{args.sessions} sessions per station; {os.cpu_count()} CPUs")
    print(f"{'backend':<11}{'stations':>8}{'sessions':>9}{'trials':>7}{'sess/min':>10}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'max ms':>8}{'lost':>6}{'dup':>5}{'altered':>8}")
    for backend, r in rows:
        print(f"{backend:<11}{r['stations']:>8}{r['sessions']:>9}{r['trials']:>7}{r['sessions_per_min']:>10.1f}"
              f"{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}{r['max_ms']:>8.1f}{r['lost_rows'] + r['lost_blobs']:>6}"
              f"{r['duplicated_rows']:>5}{r['altered_blobs']:>8}")
    bad = [r for _, r in rows if r["lost_rows"] or r["lost_blobs"] or r["duplicated_rows"] or r["altered_blobs"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
