"""End to end against the real test server with `station assess --sim` processes.

- Two stations assess two patients at the same time while a third process lists sessions and writes
  reports: nothing lost, nothing duplicated, each session carries its station's name.
- The server goes away in the middle of a session: the station keeps recording into its outbox, says
  so, and `station sync` uploads everything once the server is back; a second sync uploads nothing.
"""

import json
import os
import subprocess
import sys

import pytest

from .conftest import new_database

ASSESS = ["assess", "--sim", "--protocol", "single-leg", "--practice", "0", "--trials", "1", "--seconds", "4",
          "--exclude", "1"]


def _station(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "station", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def _run(*args, env=None, timeout=120):
    proc = _station(*args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _rows(pg, db: str, sql: str) -> list[list[str]]:
    out = pg.psql(sql, db=db).stdout.strip()
    return [line.split("|") for line in out.splitlines()] if out else []


def _integrity(pg, db):
    """Row counts and duplicate checks on the server."""
    (counts,) = _rows(pg, db, "SELECT (SELECT count(*) FROM patients), (SELECT count(DISTINCT uuid) FROM patients), "
                              "(SELECT count(*) FROM sessions), (SELECT count(DISTINCT uuid) FROM sessions), "
                              "(SELECT count(*) FROM trials), (SELECT count(DISTINCT uuid) FROM trials), "
                              "(SELECT count(*) FROM trial_arrays), (SELECT count(*) FROM metrics)")
    keys = ("patients", "patient_uuids", "sessions", "session_uuids", "trials", "trial_uuids", "arrays", "metrics")
    return dict(zip(keys, map(int, counts)))


def _env(url, name, **extra):
    return dict(os.environ, STATION_DATABASE_URL=url, STATION_NAME=name, **extra)


def test_two_stations_and_a_report_station_at_once(tmp_path, pg):
    url = new_database(pg)
    db = url.rsplit("/", 1)[1]
    assert _run("--data-dir", tmp_path / "admin", "db", "upgrade", env=_env(url, "admin"))[0] == 0
    stations = {}
    for name, patient in (("room-a", "Runner A"), ("room-b", "Runner B")):
        stations[name] = _station("--data-dir", tmp_path / name, *ASSESS, "--patient", patient, "--body-mass", "68",
                                  "--operator", f"op-{name}", env=_env(url, name))
    reports, listings, during = [], 0, 0
    reader = _env(url, "front-desk")
    while True:  # the third station lists sessions and writes reports while the others record
        running = any(p.poll() is None for p in stations.values())
        rc, out, err = _run("--data-dir", tmp_path / "desk", "sessions", "--json", env=reader)
        assert rc == 0, err
        listings += 1
        for s in json.loads(out):
            pdf = tmp_path / f"report-{s['id']}.pdf"
            if s["status"] == "finished" and not pdf.exists():
                rc, _, err = _run("--data-dir", tmp_path / "desk", "report", s["id"], "--out", pdf, env=reader)
                assert rc == 0, err
                reports.append(s["id"])
                during += running
        if not running:
            break
    outputs = {name: p.communicate() for name, p in stations.items()}
    for name, p in stations.items():
        assert p.returncode == 0, outputs[name][1]
    sessions = {r[0]: r for r in _rows(pg, db, "SELECT station, id, status, operator FROM sessions")}
    assert sorted(sessions) == ["room-a", "room-b"]
    for name, (_, sid, status, operator) in sessions.items():
        assert status == "finished" and operator == f"op-{name}"
        assert f"Session #{sid} " in outputs[name][0]  # the id the station printed is the server's
    rows = _integrity(pg, db)
    trials = [int(n) for (n,) in _rows(pg, db, "SELECT count(*) FROM trials GROUP BY session_id")]
    assert rows["patients"] == rows["patient_uuids"] == 2
    assert rows["sessions"] == rows["session_uuids"] == 2
    assert rows["trials"] == rows["trial_uuids"] == sum(trials) and min(trials) >= 2  # one per side at least
    recorded = int(_rows(pg, db, "SELECT count(*) FROM trials WHERE status IN ('finished', 'failed')")[0][0])
    assert rows["arrays"] == 7 * recorded and rows["metrics"] > 0
    # every recorded trial has all its arrays, once
    assert _rows(pg, db, "SELECT trial_id FROM trial_arrays GROUP BY trial_id HAVING count(*) <> 7") == []
    pending = [json.loads(_run("--data-dir", tmp_path / n, "sync", "--json", env=_env(url, n))[1])["pending"]
               for n in stations]
    assert pending == [{"sessions": 0, "trials": 0, "patients": 0}] * 2
    assert sorted(reports) == sorted(int(r[1]) for r in sessions.values())
    print(f"two stations: {rows}; {listings} listings, {len(reports)} reports ({during} while recording)")
    for sid in reports:
        assert (tmp_path / f"report-{sid}.pdf").read_bytes()[:5] == b"%PDF-"


def test_server_goes_away_mid_session(tmp_path, pg):
    url = new_database(pg)
    db = url.rsplit("/", 1)[1]
    env = _env(url, "room-c")
    data = tmp_path / "room-c"
    assert _run("--data-dir", data, "db", "upgrade", env=env)[0] == 0
    # `station assess --sim` that pauses once after its first trial is stored (see gated_station.py)
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "gated_station.py"),
                             "--data-dir", str(data), *ASSESS, "--trials", "2", "--patient", "Runner C",
                             "--body-mass", "70"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        for line in proc.stdout:
            if line.strip() == "stored":
                break
        else:
            pytest.fail(f"the session never stored a trial: {proc.communicate()[1]}")
        before = _integrity(pg, db)
        pg.stop_server()  # mid-session: one trial stored, the others still to come
        proc.stdin.write("go on\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Lost the database server" in err and "recording continues on this station" in err
        rc, out2, err2 = _run("--data-dir", data, "sync", "--json", env=env)
        assert rc == 2 and "Cannot reach the database server" in err2
        pending = json.loads(out2)["pending"]
        assert pending["sessions"] == 1 and pending["trials"] >= 3  # the trials after the first, at least
        rc, out3, _ = _run("--data-dir", data, "sessions", "--json", env=env)  # what the clinician sees offline
        (listed,) = json.loads(out3)
        assert rc == 0 and listed["status"] == "finished" and listed["trials"] >= 4
    finally:
        if pg.proc is None:
            pg.start_server()
        if proc.poll() is None:
            proc.kill()
    rc, out, err = _run("--data-dir", data, "sync", "--json", env=env)
    assert rc == 0, err
    result = json.loads(out)
    assert result["uploaded"]["sessions"] == 1 and result["pending"] == {"sessions": 0, "trials": 0, "patients": 0}
    after = _integrity(pg, db)
    assert after["trials"] == after["trial_uuids"] == listed["trials"] > before["trials"] >= 1
    assert (after["patients"], after["sessions"]) == (1, 1)
    recorded = int(_rows(pg, db, "SELECT count(*) FROM trials WHERE status IN ('finished', 'failed')")[0][0])
    assert after["arrays"] == 7 * recorded
    assert _rows(pg, db, "SELECT status, station FROM sessions") == [["finished", "room-c"]]
    rc, out, _ = _run("--data-dir", data, "sync", "--json", env=env)  # again: nothing twice
    assert rc == 0 and json.loads(out)["uploaded"]["sessions"] == 0 and _integrity(pg, db) == after
    print(f"server away: before {before}, after sync {after}, pending was {pending}")
