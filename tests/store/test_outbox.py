"""The server goes away: the station carries on in its local outbox and uploads everything once, later.

In-process scenarios against the real test server (stopped and restarted); the end-to-end version
with `station assess --sim` processes is in test_stations.py.
"""

import numpy as np
import pytest

from station.errors import StationError
from station.store import Store

from .conftest import file_mode, make_trial, new_database

NOTHING = {"sessions": 0, "trials": 0, "patients": 0}


def _server_rows(pg, db):
    sql = ("SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM sessions), (SELECT count(*) FROM trials), "
           "(SELECT count(*) FROM trial_arrays), (SELECT count(*) FROM metrics), "
           "(SELECT count(DISTINCT uuid) FROM trials)")
    return tuple(int(x) for x in pg.psql(sql, db=db).stdout.strip().split("|"))


def test_server_lost_mid_session_then_back(tmp_path, pg):
    url = new_database(pg)
    db = url.rsplit("/", 1)[1]
    base = tmp_path / "station"
    store = Store.open(base, url=url)
    told = []
    store.on_offline.append(told.append)
    pid = store.add_patient(name="Runner", body_mass_kg=70.0)
    cid = store.add_calibration({"board_id": "5B000001", "created": "2026-12-01", "gains": [1, 2, 3, 4]})
    sid = store.create_session(patient_id=pid, protocol="single-leg", calibration_id=cid, operator="Dr A")
    first = store.add_trial(sid, task="single_leg", side="left")
    store.save_trial_data(first, make_trial(seed=1), calibration_id=cid)
    store.set_metrics(first, {"mean_velocity_mm_s": 41.0})
    store.update_trial(first, status="finished")
    assert store.pending() == NOTHING  # the session is on the server; its outbox copy is only a mirror
    pg.stop_server()
    try:
        second = store.add_trial(sid, task="single_leg", side="right")  # the server is gone: into the outbox
        assert store.offline and len(told) == 1 and "Cannot reach the database server" in told[0]
        assert second < 0  # outbox ids never collide with the server's
        store.save_trial_data(second, make_trial(seed=2), calibration_id=cid)
        store.set_metrics(second, {"mean_velocity_mm_s": 55.0})
        store.set_metrics(second, {"lateral_shift_mm": 3.0}, rep=1)
        store.update_trial(second, status="finished")
        store.finish_session(sid, scores={"verdict": "right less stable"})
        assert [t.id for t in store.trials(sid)] == [first, second]  # the clinician's view stays whole
        assert [r["metrics"]["mean_velocity_mm_s"] for r in store.metrics_table(sid)] == [41.0, 55.0]
        assert store.get_session(sid).status == "finished"
        assert store.pending() == {"sessions": 1, "trials": 1, "patients": 0}  # the trial recorded offline
        with pytest.raises(StationError, match="Cannot reach"):
            store.sync()
    finally:
        pg.start_server()
    assert _server_rows(pg, db) == (1, 1, 1, 7, 1, 1)  # what reached the server before it went away
    pg.psql("UPDATE trials SET reason = 'checked by the clinician'", db=db)  # changed on the server meanwhile
    result = store.sync()
    assert result["uploaded"] == {"sessions": 1, "trials": 1, "arrays": 7, "patients": 0}
    assert result["pending"] == NOTHING and not store.offline
    store.close()
    assert _server_rows(pg, db) == (1, 1, 2, 14, 3, 2)  # nothing lost, nothing twice
    with Store.open(tmp_path / "reader", url=url, read_only=True) as server:
        (session,) = server.list_sessions()
        assert (session.status, session.scores, session.operator) == ("finished", {"verdict": "right less stable"}, "Dr A")
        trials = server.trials(session.id)
        assert [t.side for t in trials] == ["left", "right"] and all(t.status == "finished" for t in trials)
        assert trials[1].rep_metrics == [{"lateral_shift_mm": 3.0}] and trials[1].calibration_id == cid
        assert trials[0].reason == "checked by the clinician"  # the outbox's mirror never overwrites the server
        for t, seed in zip(trials, (1, 2)):
            assert np.array_equal(server.trial_arrays(t.id)["counts"], make_trial(seed=seed).frames["counts"])
    with Store.open(base, url=url) as again:  # opening again uploads nothing more
        assert again.pending() == NOTHING and again.sync()["uploaded"]["sessions"] == 0
    assert _server_rows(pg, db) == (1, 1, 2, 14, 3, 2)


def test_server_unreachable_at_start(tmp_path, pg):
    url = new_database(pg)
    db = url.rsplit("/", 1)[1]
    base = tmp_path / "station"
    with Store.open(base, url=url) as store:  # online once: the outbox caches the patient list
        known = store.add_patient(name="Known", body_mass_kg=80.0)
    pg.stop_server()
    try:
        with Store.open(base, url=url) as store:
            assert store.offline and "Cannot reach" in store.offline_reason
            assert store.find_patient("Known").id == known  # found offline, with the server's id
            new = store.add_patient(name="New", body_mass_kg=60.0)
            assert new < 0
            for pid in (known, new):
                sid = store.create_session(patient_id=pid, protocol="rdl")
                tid = store.add_trial(sid, task="rdl", side="left")
                store.save_trial_data(tid, make_trial(n=50, seed=abs(pid)))
                store.finish_session(sid)
            assert store.pending() == {"sessions": 2, "trials": 2, "patients": 1}
            copy = store.backup(tmp_path / "offline.sqlite3")  # offline: what the outbox holds, row by row
            assert file_mode(copy) == 0o600
        with Store.open(tmp_path / "restored", url=f"sqlite:///{copy}", read_only=True) as back:
            assert sorted(p.name for p in back.list_patients()) == ["Known", "New"]
            assert [len(back.trials(s.id)) for s in back.list_sessions()] == [1, 1]
            assert back.row_counts()["trial_arrays"] == 14
        with pytest.raises(StationError, match="Cannot reach"):  # a read-only command says so in one line
            Store.open(tmp_path / "reader", url=url, read_only=True)
        dashboard = Store.open(base, url=url)  # a long-running station, offline
        late = dashboard.add_patient(name="Late", body_mass_kg=90.0)
        assert dashboard.offline and late < 0
    finally:
        pg.start_server()
    # the server is back: the next session of the long-running station uploads the outbox and goes there
    sid = dashboard.create_session(patient_id=late, protocol="rdl")
    assert not dashboard.offline and sid > 0 and dashboard.pending() == NOTHING
    assert dashboard.uploaded == {"sessions": 2, "trials": 2, "arrays": 14, "patients": 2}  # New and Late
    assert dashboard.get_patient(dashboard.get_session(sid).patient_id).name == "Late"
    dashboard.finish_session(sid, status="aborted")
    dashboard.close()
    with Store.open(base, url=url) as store:  # opening again uploads nothing more
        assert store.uploaded == {"sessions": 0, "trials": 0, "arrays": 0, "patients": 0}
        assert store.pending() == NOTHING
        names = sorted(p.name for p in store.list_patients())
        assert names == ["Known", "Late", "New"]  # the known patient is not duplicated
        assert [len(store.trials(s.id)) for s in store.list_sessions()] == [1, 1, 0]
    assert _server_rows(pg, db) == (3, 3, 2, 14, 0, 2)
