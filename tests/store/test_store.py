"""The store on both backends (SQLite file, real PostgreSQL server): schema and migrations, privacy,
typed blobs, identity, validation, trash, read-only use, backups, journal recovery, copying."""

import sqlite3

import numpy as np
import pytest
import sqlalchemy as sa

from station.errors import StationError
from station.store import Store
from station.store import copying
from station.store import engine as dbengine
from station.store.blobs import from_blob, to_blob
from station.store.tables import metadata

from .conftest import LEGACY_DDL, add_session_with_trials, file_mode, make_trial, new_database



# ---------------------------------------------------------------------- SQLite specifics
def test_private_directory_and_files(tmp_path):
    base = tmp_path / "data"
    with Store.open(base) as s:
        pid = s.add_patient(name="A")
        s.create_session(patient_id=pid, protocol="single-leg")
        assert file_mode(base) == 0o700
        assert file_mode(base / "station.sqlite3") == 0o600
        for side in ("station.sqlite3-wal", "station.sqlite3-shm"):
            assert (base / side).exists() and file_mode(base / side) == 0o600
        assert file_mode(s.journals_dir) == 0o700
        backup = s.backup()
        assert file_mode(backup) == 0o600 and file_mode(backup.parent) == 0o700


def test_environment_variables_choose_the_directory_and_the_database(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "env"))
    with Store.open() as s:
        assert s.path == tmp_path / "env" / "station.sqlite3" and s.backend == "sqlite"
    monkeypatch.setenv("STATION_DATABASE_URL", f"sqlite:///{tmp_path / 'other.sqlite3'}")
    with Store.open() as s:
        assert s.path == tmp_path / "other.sqlite3"
        s.add_patient(name="B")
    assert file_mode(tmp_path / "other.sqlite3") == 0o600


def test_wal_and_foreign_keys_on_sqlite(tmp_path):
    with Store.open(tmp_path / "data") as s:
        conn = sqlite3.connect(s.path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
        with pytest.raises(sa.exc.IntegrityError):
            with dbengine.begin(s.engine, write=True) as c:
                c.execute(sa.text("INSERT INTO sessions (patient_id, protocol, started) VALUES (999, 'x', 'now')"))


def test_legacy_database_migrates_in_place(tmp_path):
    """A database made by the hand-written schema (schema_version 1) opens with every row kept."""
    base = tmp_path / "data"
    base.mkdir()
    conn = sqlite3.connect(base / "station.sqlite3")
    conn.executescript(open(LEGACY_DDL).read())
    conn.executescript(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL);"
        "INSERT INTO schema_version VALUES (1, 'first', '2026-11-01T00:00:00+00:00');"
        "INSERT INTO patients (id, name, body_mass_kg, created) VALUES (1, 'Old Runner', 70.0, '2026-11-01');"
        "INSERT INTO sessions (id, patient_id, protocol, status, started) VALUES (1, 1, 'rdl', 'finished', '2026-11-01');"
        "INSERT INTO trials (id, session_id, seq, task, side) VALUES (1, 1, 1, 'rdl', 'left');"
        "INSERT INTO metrics (trial_id, rep, name, value) VALUES (1, 0, 'rms_ml_mm', 3.5);"
    )
    data, dtype, shape = to_blob(np.arange(8, dtype="<i4").reshape(2, 4))
    conn.execute("INSERT INTO trial_arrays VALUES (1, 'counts', ?, ?, 80.0, ?)", (dtype, shape, data))
    conn.commit()
    conn.close()
    with Store.open(base) as s:
        assert s.schema_version == dbengine.head_revision()
        p = s.get_patient(1)
        assert (p.name, p.body_mass_kg, p.deleted_at) == ("Old Runner", 70.0, None) and len(p.uuid) == 36
        assert s.get_session(1).uuid and s.get_session(1).station == ""
        assert s.get_trial(1).metrics == {"rms_ml_mm": 3.5} and s.get_trial(1).uuid
        assert np.array_equal(s.trial_arrays(1)["counts"], np.arange(8).reshape(2, 4))
        assert "schema_version" not in sa.inspect(s.engine).get_table_names()
        new = s.add_patient(name="New")
        assert new == 2
        practice = s.add_trial(1, task="rdl", side="right", phase="familiarisation")  # a phase added since
        assert s.get_trial(practice).seq == 2 and s.get_trial(practice).phase == "familiarisation"
        with pytest.raises(sa.exc.IntegrityError):  # the rebuilt table still checks the phase and the keys
            with dbengine.begin(s.engine, write=True) as c:
                c.execute(sa.text("UPDATE trials SET phase = 'warmup' WHERE id = 1"))
        with pytest.raises(sa.exc.IntegrityError):
            with dbengine.begin(s.engine, write=True) as c:
                c.execute(sa.text("INSERT INTO metrics (trial_id, rep, name) VALUES (999, 0, 'x')"))


def test_newer_databases_are_refused_with_one_line(tmp_path):
    base = tmp_path / "data"
    with Store.open(base) as s:
        s.add_patient(name="A")
    conn = sqlite3.connect(base / "station.sqlite3")
    conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.commit()
    conn.close()
    for read_only in (False, True):
        with pytest.raises(StationError, match="newer station"):
            Store.open(base, read_only=read_only)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    conn = sqlite3.connect(legacy / "station.sqlite3")
    conn.executescript("CREATE TABLE schema_version (version INTEGER, description TEXT, applied TEXT);"
                       "INSERT INTO schema_version VALUES (2, 'x', 'y');")
    conn.close()
    with pytest.raises(StationError, match="newer station"):
        Store.open(legacy)


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


def test_url_checks(tmp_path):
    with pytest.raises(StationError, match="password in the URL"):
        Store.open(tmp_path, url="postgresql://station:hunter2@db.example/clinic")
    with pytest.raises(StationError, match="Unsupported database"):
        Store.open(tmp_path, url="mysql://db.example/clinic")
    with pytest.raises(StationError, match="must look like"):
        Store.open(tmp_path, url="not a url")
    url = dbengine.database_url("postgres://station@db.example/clinic?sslmode=verify-full&sslrootcert=/etc/ca.pem",
                                data_dir=tmp_path)
    assert url.drivername == "postgresql+psycopg"
    assert url.query == {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}  # TLS settings passed through


# ---------------------------------------------------------------------- both backends
def test_schema_matches_the_table_metadata(store):
    """The migrations build exactly the tables of station/store/tables.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert store.schema_version == dbengine.head_revision()


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sa.exc.IntegrityError):
        with dbengine.begin(store.engine, write=True) as c:
            c.execute(sa.text("INSERT INTO sessions (patient_id, protocol, started) VALUES (999, 'x', 'now')"))
    with pytest.raises(StationError, match="no patient with id 999"):
        store.create_session(patient_id=999, protocol="rdl")


def test_patients_sessions_trials_metrics_round_trip(store):
    pid = store.add_patient(name="Runner 7", birth_year=1990, sex="female", body_mass_kg=61.5, dominant_leg="right")
    assert store.find_patient("runner 7").id == pid and store.find_patient(f"#{pid}").body_mass_kg == 61.5
    with pytest.raises(StationError, match="dominant leg"):
        store.add_patient(name="B", dominant_leg="dominant")
    cal = {"board_id": "5b000001", "created": "2026-11-25T10:00:00+00:00", "gains_n_per_count": [0.018] * 4}
    cid = store.add_calibration(cal)
    assert store.add_calibration(dict(cal)) == cid  # identical calibration stored once
    sid = store.create_session(patient_id=pid, protocol="single-leg", settings={"duration_s": 30.0}, operator="Dr Q")
    tid = store.add_trial(sid, task="single_leg", side="left", phase="baseline")
    tid2 = store.add_trial(sid, task="single_leg", side="right", phase="baseline", repeat_of=tid)
    trial = make_trial()
    store.save_trial_data(tid, trial, calibration_id=cid)
    store.set_metrics(tid, {"mean_velocity_ml_mm_s": 41.5, "undefined": float("nan"), "label": "text"})
    store.set_metrics(tid, {"lateral_shift_mm": 12.0}, rep=1)
    store.set_metrics(tid, {"lateral_shift_mm": 9.0}, rep=2)
    store.update_trial(tid, status="finished", window_start_s=2.0, window_end_s=5.0, events=[{"t_s": 0.5, "kind": "cue"}])
    arrays = store.trial_arrays(tid)
    assert sorted(arrays) == ["counts", "device_time_s", "host_time_s", "missed", "seq", "status", "t_us"]
    assert np.array_equal(arrays["counts"], trial.frames["counts"]) and arrays["counts"].dtype == np.dtype("<i4")
    assert np.array_equal(arrays["t_us"], trial.frames["t_us"]) and arrays["t_us"].dtype == np.dtype("<u4")
    assert np.array_equal(arrays["device_time_s"], trial.device_time_s)
    assert np.array_equal(arrays["host_time_s"], trial.host_time_s)
    rec = store.get_trial(tid)
    assert rec.fs_hz == pytest.approx(80.0) and rec.duration_s == pytest.approx(399 / 80)
    assert rec.calibration_id == cid and rec.quality == {"frames": 400, "lost": 0}
    assert rec.metrics["mean_velocity_ml_mm_s"] == 41.5 and np.isnan(rec.metrics["undefined"]) and "label" not in rec.metrics
    assert rec.rep_metrics == [{"lateral_shift_mm": 12.0}, {"lateral_shift_mm": 9.0}]
    assert rec.events == [{"t_s": 0.5, "kind": "cue"}] and (rec.window_start_s, rec.window_end_s) == (2.0, 5.0)
    assert store.get_trial(tid2).repeat_of == tid and store.get_trial(tid2).seq == 2
    rebuilt = store.trial_file(tid)
    assert np.array_equal(rebuilt.frames, trial.frames) and rebuilt.calibration["board_id"] == "5b000001"
    assert rebuilt.source_kind == "arduino-hx711" and rebuilt.board == trial.board  # an HX711 trial by default
    table = store.metrics_table(sid)
    assert [r["trial_id"] for r in table] == [tid, tid2] and [r["status"] for r in table] == ["finished", "queued"]
    assert table[0]["reps"] == [{"lateral_shift_mm": 12.0}, {"lateral_shift_mm": 9.0}]
    store.finish_session(sid, status="finished", scores={"x": float("inf")})
    session = store.get_session(sid)
    assert session.scores == {"x": None} and session.status == "finished" and session.operator == "Dr Q"
    assert session.station and len(session.uuid) == 36
    uuids = {store.get_patient(pid).uuid, session.uuid, rec.uuid, store.get_trial(tid2).uuid}
    assert len(uuids) == 4


def test_station_name_is_recorded(tmp_path, db_url, monkeypatch):
    import socket

    monkeypatch.setenv("STATION_NAME", "room-3")
    with Store.open(tmp_path / "data", url=db_url) as s:
        pid = s.add_patient(name="A")
        first = s.create_session(patient_id=pid, protocol="rdl")
    monkeypatch.delenv("STATION_NAME")
    with Store.open(tmp_path / "data", url=db_url) as s:
        second = s.create_session(patient_id=pid, protocol="rdl")
        assert [s.get_session(first).station, s.get_session(second).station] == ["room-3", socket.gethostname()]


def test_patient_names_and_ids(store):
    bond = store.add_patient(name="007")
    other = store.add_patient(name="Ann")
    assert store.find_patient("007").id == bond  # a name that looks like a number is a name
    assert store.find_patient(f"#{other}").name == "Ann"  # ids in the explicit form
    assert store.find_patient(str(other)).name == "Ann"  # a bare number no patient is called: an id
    with pytest.raises(StationError, match="There is no patient with id 42."):
        store.find_patient("42")
    with pytest.raises(StationError, match="no patient named '0042'"):  # never read as id 42
        store.find_patient("0042")
    with pytest.raises(StationError, match="no patient named 'Bob'"):
        store.find_patient("Bob")
    store.add_patient(name="ann")
    with pytest.raises(StationError, match="Several patients are named 'Ann'"):
        store.find_patient("Ann")


def test_patients_in_the_trash_are_not_found_by_id_either(store):
    gone = store.add_patient(name="Gone")
    kept = store.add_patient(name="Kept")
    store.delete_patient(gone)
    for ref in (f"#{gone}", str(gone), gone):  # the explicit id, a bare number, an int
        with pytest.raises(StationError, match=f"^Patient #{gone} is in the trash"):
            store.find_patient(ref)
    with pytest.raises(StationError, match="no patient named 'Gone'"):
        store.find_patient("Gone")
    assert store.find_patient(f"#{kept}").id == kept
    assert store.find_patient(f"#{gone}", include_deleted=True).deleted_at is not None  # for listing the trash
    assert store.find_patient("gone", include_deleted=True).id == gone
    store.restore_patient(gone)
    assert store.find_patient(f"#{gone}").name == "Gone" and store.find_patient(str(gone)).id == gone


@pytest.mark.parametrize("fields, message", [
    ({"name": "  "}, "needs a name"),
    ({"name": "A\nB"}, "one line"),
    ({"name": "x" * 200}, "at most 120"),
    ({"name": "#12"}, "cannot start with '#'"),
    ({"name": "A", "body_mass_kg": 0.0}, "between 10 and 350 kg"),
    ({"name": "A", "body_mass_kg": 7000}, "between 10 and 350 kg"),
    ({"name": "A", "body_mass_kg": float("nan")}, "between 10 and 350 kg"),
    ({"name": "A", "body_mass_kg": "heavy"}, "a number of kilograms"),
    ({"name": "A", "birth_year": 1850}, "birth year"),
    ({"name": "A", "sex": "x"}, "Sex must be"),
])
def test_patient_input_is_validated_before_storing(store, fields, message):
    with pytest.raises(StationError, match=message):
        store.add_patient(**fields)
    assert store.list_patients() == []


def test_patient_edit(store):
    pid = store.add_patient(name="A", body_mass_kg=60)
    store.update_patient(pid, birth_year=1988, sex="male", dominant_leg="left", notes="ACL 2025", body_mass_kg=61)
    p = store.get_patient(pid)
    assert (p.birth_year, p.sex, p.dominant_leg, p.notes, p.body_mass_kg) == (1988, "male", "left", "ACL 2025", 61.0)
    with pytest.raises(StationError, match="between 10"):
        store.update_patient(pid, body_mass_kg=3)
    assert store.get_patient(pid).body_mass_kg == 61.0


def test_delete_and_restore_keep_the_raw_data(store):
    pid, sid, tids = add_session_with_trials(store)
    keep = store.create_session(patient_id=pid, protocol="rdl")
    before = {t: store.trial_arrays(t)["counts"].copy() for t in tids}
    store.delete_session(keep)
    assert [s.id for s in store.list_sessions(pid)] == [sid]
    assert [s.id for s in store.list_sessions(pid, deleted=True)] == [keep]
    assert store.delete_patient(pid) == 1  # the other session goes with the patient
    assert store.list_patients() == [] and store.list_sessions() == []
    assert [p.id for p in store.list_patients(deleted=True)] == [pid]
    with pytest.raises(StationError, match="no patient named"):
        store.find_patient("Runner")
    with pytest.raises(StationError, match="restore the patient first"):
        store.restore_session(sid)
    assert store.restore_patient(pid) == 1
    assert [s.id for s in store.list_sessions(pid)] == [sid]  # the one deleted before stays in the trash
    store.restore_session(keep)
    assert [s.id for s in store.list_sessions(pid)] == [sid, keep]
    for t in tids:
        assert np.array_equal(store.trial_arrays(t)["counts"], before[t])


def test_read_only_open_neither_writes_nor_recovers(tmp_path, db_url):
    base = tmp_path / "data"
    with Store.open(base, url=db_url) as s:
        pid = s.add_patient(name="A")
        sid = s.create_session(patient_id=pid, protocol="rdl")
        tid = s.add_trial(sid, task="rdl", side="left", status="running")
    with Store.open(base, url=db_url, read_only=True) as s:
        assert s.get_session(sid).status == "running" and s.get_trial(tid).status == "running"
        with pytest.raises(StationError, match="read-only"):
            s.add_patient(name="B")
    with Store.open(base, url=db_url, read_only=True, recover=False) as s:
        assert s.get_session(sid).status == "running"
    with Store.open(base, url=db_url) as s:  # an owning process recovers
        assert s.get_session(sid).status == "interrupted" and s.get_trial(tid).status == "interrupted"


def test_backup_is_a_consistent_copy(store, tmp_path):
    pid, sid, tids = add_session_with_trials(store, n_trials=1, n=50)
    dest = store.backup(tmp_path / "copy.sqlite3")
    assert file_mode(dest) == 0o600
    copy = sqlite3.connect(dest)
    assert copy.execute("SELECT COUNT(*) FROM trial_arrays").fetchone()[0] == 7
    assert copy.execute("SELECT name FROM patients").fetchone()[0] == "Runner"
    copy.close()
    with Store.open(tmp_path / "restored", url=f"sqlite:///{dest}", read_only=True) as back:
        (session,) = back.list_sessions()
        (trial,) = back.trials(session.id)
        assert session.uuid == store.get_session(sid).uuid
        assert np.array_equal(back.trial_arrays(trial.id)["counts"], store.trial_arrays(tids[0])["counts"])


def test_leftover_journal_is_recovered_as_interrupted(tmp_path, db_url):
    from station.board.journal import JournalWriter

    base = tmp_path / "data"
    with Store.open(base, url=db_url) as s:
        pid = s.add_patient(name="A")
        sid = s.create_session(patient_id=pid, protocol="single-leg")
        tid = s.add_trial(sid, task="single_leg", side="left", status="running")
        done = s.add_trial(sid, task="single_leg", side="right", status="finished")
        path = s.journal_path(session_id=sid, trial_id=tid)
    trial = make_trial(n=160)
    writer = JournalWriter(path, {"board": {}, "meta": {"session_id": sid, "trial_id": tid}, "calibration": None})
    writer.append_frames(trial.frames, trial.device_time_s, trial.host_time_s, np.zeros(160, np.uint8))
    writer.close()  # the process died before end_recording: the journal is left behind
    with Store.open(base, url=db_url, read_only=True) as s:  # a reader leaves it alone
        assert s.get_trial(tid).status == "running" and path.exists()
    with Store.open(base, url=db_url) as s:
        rec = s.get_trial(tid)
        assert rec.status == "interrupted" and "160 frames" in rec.reason
        assert np.array_equal(s.trial_arrays(tid)["counts"], trial.frames["counts"])
        assert s.get_trial(done).status == "finished"
        assert s.get_session(sid).status == "interrupted"
        assert not path.exists() and (s.journals_dir / "recovered" / path.name).exists()


def test_session_left_running_between_trials_is_marked_interrupted(tmp_path, db_url):
    base = tmp_path / "data"
    with Store.open(base, url=db_url) as s:
        pid = s.add_patient(name="A")
        sid = s.create_session(patient_id=pid, protocol="single-leg")
        tid = s.add_trial(sid, task="single_leg", side="left", status="finished")
        live_sid = s.create_session(patient_id=pid, protocol="rdl")
        live_tid = s.add_trial(live_sid, task="rdl", side="left", status="running")
        live_path = s.journal_path(session_id=live_sid, trial_id=live_tid)
    from station.board.journal import JournalWriter

    writer = JournalWriter(live_path, {"board": {}, "meta": {"session_id": live_sid, "trial_id": live_tid}})
    try:  # a recording in progress (locked journal) is left alone
        with Store.open(base, url=db_url) as s:
            assert s.get_session(sid).status == "interrupted" and s.get_trial(tid).status == "finished"
            assert s.get_session(live_sid).status == "running" and s.get_trial(live_tid).status == "running"
            assert live_path.exists()
    finally:
        writer.close()


def test_recovery_leaves_other_stations_recordings_alone(tmp_path, pg, monkeypatch):
    url = new_database(pg)
    monkeypatch.setenv("STATION_NAME", "room-a")
    with Store.open(tmp_path / "a", url=url) as a:
        pid = a.add_patient(name="A")
        sid = a.create_session(patient_id=pid, protocol="rdl")
        tid = a.add_trial(sid, task="rdl", side="left", status="running")
    monkeypatch.setenv("STATION_NAME", "room-b")
    with Store.open(tmp_path / "b", url=url) as b:  # room B starts while room A records
        assert b.get_session(sid).status == "running" and b.get_trial(tid).status == "running"
    monkeypatch.setenv("STATION_NAME", "room-a")
    with Store.open(tmp_path / "a", url=url) as a:  # room A itself restarts: its own stale rows are closed
        assert a.get_session(sid).status == "interrupted" and a.get_trial(tid).status == "interrupted"


def test_threads_share_one_store(store):
    import threading

    pid = store.add_patient(name="A")
    sids = []

    def work(k):
        sid = store.create_session(patient_id=pid, protocol="rdl")
        for j in range(3):
            tid = store.add_trial(sid, task="rdl", side="left")
            store.save_trial_data(tid, make_trial(n=40, seed=10 * k + j))
        sids.append(sid)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s.id for s in store.list_sessions()) == sorted(sids)
    assert [len(store.trials(s)) for s in sids] == [3] * 4
    assert [t.seq for t in store.trials(sids[0])] == [1, 2, 3]


# ---------------------------------------------------------------------- copying between databases
def test_copy_database_is_verified_idempotent_and_resumable(tmp_path, db_url):
    src_base = tmp_path / "station"
    with Store.open(src_base) as src:
        for k in range(3):
            pid = src.add_patient(name=f"P{k}", body_mass_kg=60 + k)
            sid = src.create_session(patient_id=pid, protocol="rdl", operator="op")
            for j in range(2):
                tid = src.add_trial(sid, task="rdl", side=("left", "right")[j])
                src.save_trial_data(tid, make_trial(n=60, seed=10 * k + j), calibration_id=src.add_calibration(
                    {"board_id": "5B000001", "created": "2026-11-01", "gains": [k]}))
                src.set_metrics(tid, {"m": float(k + j)})
            src.finish_session(sid)
        src.add_patient(name="No sessions yet")
    source = dbengine.make_engine(dbengine.database_url(None, data_dir=src_base))
    target_url = dbengine.database_url(db_url or f"sqlite:///{tmp_path / 'server.sqlite3'}", data_dir=tmp_path)
    target = dbengine.make_engine(target_url)

    calls = []

    def stop_after_first(done, total):
        calls.append(done)
        if done == 1:
            raise KeyboardInterrupt  # the copy is interrupted after one session

    with pytest.raises(KeyboardInterrupt):
        copying.copy_database(source, target, progress=stop_after_first)
    assert not copying.verify(source, target)["ok"]
    resumed = copying.copy_database(source, target)
    assert (resumed["skipped"], resumed["sessions"]) == (1, 2)  # continues where it stopped
    again = copying.copy_database(source, target)
    assert (again["skipped"], again["sessions"]) == (3, 0)
    report = copying.verify(source, target)
    assert report["ok"] and report["blobs"] == 3 * 2 * 7 and not report["missing"] and not report["different"]
    assert report["counts_target"] == report["counts_source"] == {
        "patients": 4, "calibrations": 3, "sessions": 3, "trials": 6, "trial_arrays": 42, "metrics": 6}
    with Store.open(tmp_path / "x", url=str(target_url), read_only=True) as dst, Store.open(src_base, read_only=True) as src:
        for a, b in zip(src.list_sessions(), dst.list_sessions()):
            assert (a.uuid, a.operator, a.status) == (b.uuid, b.operator, b.status)
            for ta, tb in zip(src.trials(a.id), dst.trials(b.id)):
                assert (ta.uuid, ta.metrics) == (tb.uuid, tb.metrics)
                assert dst.get_calibration(tb.calibration_id) == src.get_calibration(ta.calibration_id)
                assert np.array_equal(src.trial_arrays(ta.id)["counts"], dst.trial_arrays(tb.id)["counts"])
    source.dispose()
    target.dispose()


def test_a_stored_trial_keeps_its_source(store):
    """A Wii Balance Board trial reads back as one: its kind, geometry and value unit (10 g) survive the store."""
    pid = store.add_patient(name="W")
    sid = store.create_session(patient_id=pid, protocol="single-leg")
    tid = store.add_trial(sid, task="single_leg", side="left")
    trial = make_trial(n=50)
    trial.source = {"kind": "wii-balance-board", "name": "/dev/input/event7", "geometry": "wii-balance-board",
                    "value_unit": "wii_10g", "nominal_rate_hz": 60.0}
    store.save_trial_data(tid, trial)
    rebuilt = store.trial_file(tid)
    assert (rebuilt.source_kind, rebuilt.geometry, rebuilt.value_unit) == ("wii-balance-board", "wii-balance-board", "wii_10g")
    assert rebuilt.board == trial.board  # the source is not left inside the board description
