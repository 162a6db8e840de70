"""Store fixtures: a throw-away PostgreSQL 15 server for the session, and every store test on both backends.

Shared builders: :func:`make_trial` (a recording with every raw field filled), :func:`add_session_with_trials`
(a patient with one recorded session), :func:`file_mode` and :func:`new_database`.
"""

from __future__ import annotations

import itertools
import os
import stat

import numpy as np
import pytest

from station.board.protocol import FRAME_DTYPE
from station.board.trialfile import TrialFile
from tests.store.pgserver import APT_HINT, PgServer, available

_numbers = itertools.count(1)
#: the schema of the hand-written SQLite era (schema_version 1), to test migrating it
LEGACY_DDL = os.path.join(os.path.dirname(__file__), "legacy_v1.sql")


@pytest.fixture(scope="session")
def pg():
    """The test PostgreSQL server (skipped, with the apt command, when the binaries are missing)."""
    if not available():
        pytest.skip(f"PostgreSQL server binaries missing: {APT_HINT}")
    server = PgServer().start()
    old = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(server.passfile(server.dir / "pgpass"))
    try:
        yield server
    finally:
        if old is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = old
        server.close()


def new_database(pg) -> str:
    """A fresh, empty database on the test server; its URL."""
    name = f"t{os.getpid()}_{next(_numbers)}"
    pg.create_database(name)
    return pg.url(name)


def make_trial(n=400, rate_hz=80.0, seed=0) -> TrialFile:
    """A recording of ``n`` frames at ``rate_hz``: random 24-bit counts and status bytes, wrapping sequence numbers."""
    rng = np.random.default_rng(seed)
    frames = np.zeros(n, dtype=FRAME_DTYPE)
    frames["seq"] = np.arange(n) % 65536
    frames["t_us"] = (np.arange(n) * 1e6 / rate_hz).astype(np.uint32)
    frames["counts"] = rng.integers(-(1 << 23), (1 << 23) - 1, size=(n, 4), dtype=np.int32)
    frames["status"] = rng.integers(0, 256, n, dtype=np.uint8)
    t = np.arange(n) / rate_hz
    return TrialFile(frames=frames, device_time_s=t, host_time_s=1.7e9 + t, board={"board_id": "5B000001"},
                     quality={"frames": n, "lost": 0}, gaps=[], meta={"side": "left"}, events=[{"t_s": 1.0, "kind": "x"}])


def add_session_with_trials(store, n_trials=2, n=120):
    """Patient "Runner" with one running session of ``n_trials`` finished trials (raw data and one metric each).

    Returns
    -------
    tuple
        ``(patient_id, session_id, [trial ids])``.
    """
    pid = store.add_patient(name="Runner", body_mass_kg=64.0)
    sid = store.create_session(patient_id=pid, protocol="single-leg", operator="Dr A")
    tids = []
    for k in range(n_trials):
        tid = store.add_trial(sid, task="single_leg", side=("left", "right")[k % 2])
        store.save_trial_data(tid, make_trial(n=n, seed=k))
        store.set_metrics(tid, {"mean_velocity_mm_s": 40.0 + k})
        store.update_trial(tid, status="finished")
        tids.append(tid)
    return pid, sid, tids


def file_mode(path) -> int:
    """Permission bits of ``path`` itself (a symlink's own, never its target's)."""
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """None (the SQLite file in the data directory) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return new_database(request.getfixturevalue("pg"))


@pytest.fixture
def store(tmp_path, db_url):
    from station.store import Store

    with Store.open(tmp_path / "data", url=db_url) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """`station --database/--data-dir` set environment variables; each test starts (and ends) without them."""
    for name in ("STATION_DATABASE_URL", "STATION_DATA_DIR", "STATION_NAME"):
        monkeypatch.delenv(name, raising=False)
