"""The SQLite store: schema and migrations, privacy, typed blobs, backups, journal recovery."""

import os
import sqlite3
import stat

import numpy as np
import pytest

from station.board.protocol import FRAME_DTYPE
from station.board.trialfile import TrialFile
from station.errors import StationError
from station.store import Store, schema
from station.store.blobs import from_blob, to_blob


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _trial(n=400, rate_hz=80.0, seed=0) -> TrialFile:
    rng = np.random.default_rng(seed)
    frames = np.zeros(n, dtype=FRAME_DTYPE)
    frames["seq"] = np.arange(n) % 65536
    frames["t_us"] = (np.arange(n) * 1e6 / rate_hz).astype(np.uint32)
    frames["counts"] = rng.integers(-(1 << 23), (1 << 23) - 1, size=(n, 4), dtype=np.int32)
    frames["status"] = rng.integers(0, 256, n, dtype=np.uint8)
    t = np.arange(n) / rate_hz
    return TrialFile(frames=frames, device_time_s=t, host_time_s=1.7e9 + t, board={"board_id": "5B000001"},
                     quality={"frames": n, "lost": 0}, gaps=[], meta={"side": "left"}, events=[{"t_s": 1.0, "kind": "x"}])


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "data") as s:
        yield s


def test_private_directory_and_files(tmp_path):
    base = tmp_path / "data"
    with Store.open(base) as s:
        pid = s.add_patient(name="A")
        s.create_session(patient_id=pid, protocol="single-leg")
        assert _mode(base) == 0o700
        assert _mode(base / "station.sqlite3") == 0o600
        for side in ("station.sqlite3-wal", "station.sqlite3-shm"):
            assert (base / side).exists() and _mode(base / side) == 0o600
        assert _mode(s.journals_dir) == 0o700
        backup = s.backup()
        assert _mode(backup) == 0o600 and _mode(backup.parent) == 0o700


def test_environment_variable_chooses_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "env"))
    with Store.open() as s:
        assert s.path == tmp_path / "env" / "station.sqlite3"


def test_wal_foreign_keys_and_schema_version(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert store.schema_version == schema.LATEST_VERSION
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as c:
            c.execute("INSERT INTO sessions (patient_id, protocol, started) VALUES (999, 'x', 'now')")


def test_migrations_apply_in_order_and_newer_databases_are_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    extra = schema.MIGRATIONS + [(schema.LATEST_VERSION + 1, "add a column", "ALTER TABLE patients ADD COLUMN height_cm REAL;")]
    assert schema.migrate(conn, extra) == schema.LATEST_VERSION + 1
    cols = [r[1] for r in conn.execute("PRAGMA table_info(patients)")]
    assert "height_cm" in cols
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, schema.LATEST_VERSION + 2))
    assert schema.migrate(conn, extra) == schema.LATEST_VERSION + 1  # idempotent
    with pytest.raises(StationError, match="newer"):
        schema.migrate(conn)  # this station knows fewer migrations than the file has
    conn.close()


def test_failed_migration_rolls_back(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    schema.migrate(conn)
    bad = schema.MIGRATIONS + [(99, "broken", "CREATE TABLE ok_table (x INTEGER); INSERT INTO nowhere VALUES (1);")]
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn, bad)
    assert schema.current_version(conn) == schema.LATEST_VERSION
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'ok_table'").fetchone() is None


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=">i4").reshape(3, 4),
    np.linspace(0, 1, 7),
    np.zeros((0, 4), np.int32),
    np.array([0, 255], np.uint8),
])
def test_blobs_are_typed_little_endian(array):
    data, dtype, shape = to_blob(array)
    assert dtype[0] in "<|"
    back = from_blob(data, dtype, shape)
    assert back.shape == array.shape and np.array_equal(back, array)
    if array.dtype.itemsize > 1 and array.size:
        assert data[: array.dtype.itemsize] == np.asarray(array).ravel()[:1].astype(array.dtype.newbyteorder("<")).tobytes()


def test_patients_sessions_trials_metrics_round_trip(store):
    pid = store.add_patient(name="Runner 7", birth_year=1990, sex="female", body_mass_kg=61.5, dominant_leg="right")
    assert store.find_patient("runner 7").id == pid and store.find_patient(str(pid)).body_mass_kg == 61.5
    with pytest.raises(StationError, match="dominant leg"):
        store.add_patient(name="B", dominant_leg="dominant")
    cal = {"board_id": "5b000001", "created": "2026-11-25T10:00:00+00:00", "gains_n_per_count": [0.018] * 4}
    cid = store.add_calibration(cal)
    assert store.add_calibration(dict(cal)) == cid  # identical calibration stored once
    sid = store.create_session(patient_id=pid, protocol="single-leg", settings={"duration_s": 30.0})
    tid = store.add_trial(sid, task="single_leg", side="left", phase="baseline")
    tid2 = store.add_trial(sid, task="single_leg", side="right", phase="baseline", repeat_of=None)
    trial = _trial()
    store.save_trial_data(tid, trial, calibration_id=cid)
    store.set_metrics(tid, {"mean_velocity_ml_mm_s": 41.5, "undefined": float("nan"), "label": "text"})
    store.set_metrics(tid, {"lateral_shift_mm": 12.0}, rep=1)
    store.set_metrics(tid, {"lateral_shift_mm": 9.0}, rep=2)
    store.update_trial(tid, status="finished", window_start_s=2.0, window_end_s=5.0, events=[{"t_s": 0.5, "kind": "cue"}])
    arrays = store.trial_arrays(tid)
    assert np.array_equal(arrays["counts"], trial.frames["counts"]) and arrays["counts"].dtype == np.dtype("<i4")
    assert np.array_equal(arrays["t_us"], trial.frames["t_us"])
    assert np.array_equal(arrays["device_time_s"], trial.device_time_s)
    rec = store.get_trial(tid)
    assert rec.fs_hz == pytest.approx(80.0) and rec.duration_s == pytest.approx(399 / 80)
    assert rec.calibration_id == cid and rec.quality == {"frames": 400, "lost": 0}
    assert rec.metrics["mean_velocity_ml_mm_s"] == 41.5 and np.isnan(rec.metrics["undefined"]) and "label" not in rec.metrics
    assert rec.rep_metrics == [{"lateral_shift_mm": 12.0}, {"lateral_shift_mm": 9.0}]
    rebuilt = store.trial_file(tid)
    assert np.array_equal(rebuilt.frames, trial.frames) and rebuilt.calibration["board_id"] == "5b000001"
    table = store.metrics_table(sid)
    assert [r["trial_id"] for r in table] == [tid, tid2] and [r["status"] for r in table] == ["finished", "queued"]
    store.finish_session(sid, status="finished", scores={"x": float("inf")})
    assert store.get_session(sid).scores == {"x": None} and store.get_session(sid).status == "finished"


def test_backup_is_a_consistent_copy(store, tmp_path):
    pid = store.add_patient(name="A")
    sid = store.create_session(patient_id=pid, protocol="rdl")
    store.save_trial_data(store.add_trial(sid, task="rdl", side="right"), _trial(n=50))
    dest = store.backup(tmp_path / "copy.sqlite3")
    copy = sqlite3.connect(dest)
    assert copy.execute("SELECT COUNT(*) FROM trial_arrays").fetchone()[0] == 7
    assert copy.execute("SELECT name FROM patients").fetchone()[0] == "A"
    copy.close()


def test_leftover_journal_is_recovered_as_interrupted(tmp_path):
    from station.board.journal import JournalWriter

    base = tmp_path / "data"
    with Store.open(base) as s:
        pid = s.add_patient(name="A")
        sid = s.create_session(patient_id=pid, protocol="single-leg")
        tid = s.add_trial(sid, task="single_leg", side="left", status="running")
        done = s.add_trial(sid, task="single_leg", side="right", status="finished")
        path = s.journal_path(session_id=sid, trial_id=tid)
    trial = _trial(n=160)
    writer = JournalWriter(path, {"board": {}, "meta": {"session_id": sid, "trial_id": tid}, "calibration": None})
    writer.append_frames(trial.frames, trial.device_time_s, trial.host_time_s, np.zeros(160, np.uint8))
    writer.close()  # the process died before end_recording: the journal is left behind
    with Store.open(base) as s:
        rec = s.get_trial(tid)
        assert rec.status == "interrupted" and "160 frames" in rec.reason
        assert np.array_equal(s.trial_arrays(tid)["counts"], trial.frames["counts"])
        assert s.get_trial(done).status == "finished"
        assert s.get_session(sid).status == "interrupted"
        assert not path.exists() and (s.journals_dir / "recovered" / path.name).exists()


def test_session_left_running_between_trials_is_marked_interrupted(tmp_path):
    base = tmp_path / "data"
    with Store.open(base) as s:
        pid = s.add_patient(name="A")
        sid = s.create_session(patient_id=pid, protocol="single-leg")
        tid = s.add_trial(sid, task="single_leg", side="left", status="finished")
        live_sid = s.create_session(patient_id=pid, protocol="rdl")
        live_tid = s.add_trial(live_sid, task="rdl", side="left", status="running")
        live_path = s.journal_path(session_id=live_sid, trial_id=live_tid)
    from station.board.journal import JournalWriter

    writer = JournalWriter(live_path, {"board": {}, "meta": {"session_id": live_sid, "trial_id": live_tid}})
    try:  # a recording in progress (locked journal) is left alone
        with Store.open(base) as s:
            assert s.get_session(sid).status == "interrupted" and s.get_trial(tid).status == "finished"
            assert s.get_session(live_sid).status == "running" and s.get_trial(live_tid).status == "running"
            assert live_path.exists()
    finally:
        writer.close()
