"""The store's commands: patients, sessions, sync, db (status, upgrade, migrate, init-roles); one-line errors."""

import json
import sqlite3

import numpy as np
import pytest
import sqlalchemy as sa

from station.cli import main
from station.commands import patients as patients_cmd
from station.store import Store, tables

from .conftest import LEGACY_DDL, add_session_with_trials, new_database


def _run(capsys, *args):
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_vocabularies_are_the_schema_s():
    assert patients_cmd.SEXES == tables.SEXES and patients_cmd.LEGS == tables.LEGS


def test_patients_and_sessions_commands(tmp_path, capsys, db_url):
    base = ["--data-dir", tmp_path / "data"] + (["--database", db_url] if db_url else [])
    rc, out, _ = _run(capsys, *base, "patients", "add", "007", "--body-mass", "72.5", "--birth-year", "1991",
                      "--sex", "male", "--dominant-leg", "right")
    assert rc == 0 and out.strip() == "Patient #1: 007."
    assert _run(capsys, *base, "patients", "add", "Ann", "--body-mass", "58")[0] == 0
    rc, out, err = _run(capsys, *base, "patients", "add", "Heavy", "--body-mass", "900")
    assert rc == 2 and err.strip() == "station: error: Body mass must be between 10 and 350 kg, not 900."
    rc, out, _ = _run(capsys, *base, "patients", "edit", "007", "--notes", "hip drop R", "--body-mass", "73")
    assert rc == 0 and out.strip() == "Patient #1 updated: body_mass_kg, notes."
    rc, out, _ = _run(capsys, *base, "patients", "--json")
    rows = json.loads(out)
    assert [(r["id"], r["name"], r["body_mass_kg"], r["birth_year"], r["sex"], r["dominant_leg"], r["notes"])
            for r in rows] == [(1, "007", 73.0, 1991, "male", "right", "hip drop R"), (2, "Ann", 58.0, None, None, None, "")]
    with Store.open(tmp_path / "data", url=db_url) as s:
        _, sid, tids = add_session_with_trials(s)  # patient #3 "Runner", one session with two trials
        counts = s.trial_arrays(tids[0])["counts"].copy()
    rc, out, _ = _run(capsys, *base, "sessions", "--patient", "Runner", "--json")
    (row,) = json.loads(out)
    assert (row["id"], row["patient"], row["protocol"], row["status"], row["operator"], row["trials"]) == (
        sid, "Runner", "single-leg", "running", "Dr A", 2)
    rc, out, _ = _run(capsys, *base, "sessions")
    assert rc == 0 and f"#{sid}" in out and "Runner" in out and "single-leg" in out
    rc, out, _ = _run(capsys, *base, "sessions", "delete", sid, "--yes")
    assert rc == 0 and json.loads(_run(capsys, *base, "sessions", "--json")[1]) == []
    assert [r["id"] for r in json.loads(_run(capsys, *base, "sessions", "--trash", "--json")[1])] == [sid]
    assert _run(capsys, *base, "sessions", "restore", sid)[0] == 0
    rc, out, _ = _run(capsys, *base, "patients", "delete", "#3", "--yes")
    assert rc == 0 and "1 session(s) moved to the trash" in out
    assert [r["name"] for r in json.loads(_run(capsys, *base, "patients", "--json")[1])] == ["007", "Ann"]
    rc, out, _ = _run(capsys, *base, "patients", "--trash")
    assert "Runner" in out
    rc, _, err = _run(capsys, *base, "sessions", "--patient", "#3")
    assert rc == 2 and err.strip().startswith("station: error: Patient #3 is in the trash")
    rc, out, _ = _run(capsys, *base, "sessions", "--trash", "--patient", "#3", "--json")
    assert rc == 0 and [r["id"] for r in json.loads(out)] == [sid]
    rc, out, err = _run(capsys, *base, "patients", "delete", "#3")
    assert rc == 2 and "Patient #3 is in the trash" in err  # already there
    rc, out, err = _run(capsys, *base, "patients", "delete", "#1")
    assert rc == 2 and "Give --yes" in err
    assert _run(capsys, *base, "patients", "restore", "#3")[0] == 0
    with Store.open(tmp_path / "data", url=db_url, read_only=True) as s:
        assert [t.id for t in s.trials(sid)] == tids and np.array_equal(s.trial_arrays(tids[0])["counts"], counts)
    rc, _, err = _run(capsys, *base, "sessions", "--patient", "#99")
    assert rc == 2 and err.strip() == "station: error: There is no patient with id 99."


def test_one_line_errors(tmp_path, capsys, pg, monkeypatch):
    data = ["--data-dir", tmp_path / "data"]
    rc, _, err = _run(capsys, *data, "--database", "postgresql://station:pw@127.0.0.1/clinic", "patients")
    assert rc == 2 and err.startswith("station: error: Do not put the database password in the URL") and "pw" not in err
    closed = pg.url("postgres").replace(str(pg.port), "1")
    rc, _, err = _run(capsys, *data, "--database", closed, "report", "1", "--out", tmp_path / "r.pdf")
    assert rc == 2 and err.strip() == "station: error: Cannot reach the database server at 127.0.0.1:1: Connection refused"
    monkeypatch.setenv("PGPASSWORD", "wrong")  # libpq prefers PGPASSWORD over the password file
    rc, _, err = _run(capsys, *data, "--database", pg.url("postgres"), "patients")
    assert rc == 2 and err.strip() == ("station: error: The database server at 127.0.0.1:%d refused the login of "
                                       "postgres: wrong or missing password (check ~/.pgpass, PGPASSWORD or the service "
                                       "file)." % pg.port)
    monkeypatch.delenv("PGPASSWORD")
    rc, _, err = _run(capsys, *data, "--database", pg.url("nosuchdb"), "patients")
    assert rc == 2 and err.strip() == "station: error: The database server at 127.0.0.1:%d has no database 'nosuchdb'." % pg.port
    url = new_database(pg)
    assert _run(capsys, *data, "--database", url, "patients")[0] == 0
    pg.psql("UPDATE alembic_version SET version_num = '0042'", db=url.rsplit("/", 1)[1])
    rc, _, err = _run(capsys, *data, "--database", url, "patients")
    assert rc == 2 and err.strip().startswith("station: error: The database was written by a newer station (schema 0042")
    assert "Traceback" not in err


def test_db_migrate_sqlite_history_into_the_server(tmp_path, capsys, pg):
    with Store.open(tmp_path / "station") as s:
        for _ in range(2):
            add_session_with_trials(s)
    source = f"sqlite:///{tmp_path / 'station' / 'station.sqlite3'}"
    target = new_database(pg)
    rc, out, err = _run(capsys, "--data-dir", tmp_path / "station", "db", "migrate", "--from", source, "--to", target,
                        "--json")
    assert rc == 0, err
    first = json.loads(out)
    assert first["copied"]["sessions"] == 2 and first["copied"]["arrays"] == 28
    assert first["verified"] == {"ok": True, "blobs": 28, "missing": 0, "different": 0,
                                 "counts_source": first["verified"]["counts_source"],
                                 "counts_target": first["verified"]["counts_source"]}
    rc, out, _ = _run(capsys, "db", "migrate", "--from", source, "--to", target)
    assert rc == 0 and out.splitlines()[0].startswith("Copied 0 session(s) (0 trials, 0 raw arrays); 2 already complete")
    assert "28 raw blobs, 0 missing, 0 different" in out
    db = target.rsplit("/", 1)[1]
    assert pg.psql("SELECT count(*), count(DISTINCT uuid) FROM trials", db=db).stdout.strip() == "4|4"
    rc, out, _ = _run(capsys, "--database", target, "db", "status", "--json")
    assert json.loads(out)["rows"] == first["verified"]["counts_source"]


def test_roles_writer_clinician_researcher(tmp_path, capsys, pg):
    url = new_database(pg)
    db = url.rsplit("/", 1)[1]
    data = ["--data-dir", tmp_path / "admin"]
    rc, out, err = _run(capsys, *data, "--database", url, "db", "init-roles")
    assert rc == 0, err
    assert out.startswith("Roles station_writer, clinician_reader, researcher_reader ready")
    assert _run(capsys, *data, "--database", url, "db", "init-roles")[0] == 0  # idempotent
    for user, role in (("room1", "station_writer"), ("drq", "clinician_reader"), ("res", "researcher_reader")):
        pg.psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN "
                f"CREATE ROLE {user} LOGIN PASSWORD 'pw-{user}' IN ROLE {role}; END IF; END $$")
    passfile = tmp_path / "pgpass"
    passfile.write_text("".join(f"127.0.0.1:{pg.port}:*:{u}:pw-{u}\n" for u in ("room1", "drq", "res")))
    passfile.chmod(0o600)
    import os

    old = os.environ["PGPASSFILE"]
    os.environ["PGPASSFILE"] = str(passfile)
    try:
        with Store.open(tmp_path / "room1", url=pg.url(db, user="room1")) as station:
            _, sid, tids = add_session_with_trials(station)
            station.set_metrics(tids[0], {"rms_ml_mm": 4.0})  # a re-analysis replaces metrics (DELETE granted)
            station.finish_session(sid)
        with Store.open(tmp_path / "drq", url=pg.url(db, user="drq"), read_only=True) as clinician:
            assert clinician.get_patient(1).name == "Runner" and len(clinician.trials(sid)) == 2
        with Store.open(tmp_path / "drq2", url=pg.url(db, user="drq")) as clinician:  # not read-only: still cannot write
            with pytest.raises(Exception, match="permission denied|read-only"):
                clinician.add_patient(name="X")
        engine = sa.create_engine(pg.url(db, user="res").replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM research_patients")).mappings().one()
            assert "name" not in row and row["body_mass_5kg"] == 65.0  # 64 kg to the nearest 5
            assert conn.execute(sa.text("SELECT count(*) FROM research_trial_arrays")).scalar() == 14
            (started,) = conn.execute(sa.text("SELECT started_date FROM research_sessions")).one()
            assert len(started) == 10
        with engine.connect() as conn:
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("SELECT name FROM patients"))
        engine.dispose()
    finally:
        os.environ["PGPASSFILE"] = old


def test_sync_on_a_sqlite_station_says_there_is_no_server(tmp_path, capsys):
    rc, _, err = _run(capsys, "--data-dir", tmp_path, "sync")
    assert rc == 2 and "no server to sync with" in err


def test_db_upgrade_migrates_a_legacy_file(tmp_path, capsys):
    base = tmp_path / "data"
    base.mkdir()
    conn = sqlite3.connect(base / "station.sqlite3")
    conn.executescript(open(LEGACY_DDL).read() + "CREATE TABLE schema_version (version INTEGER, description TEXT, "
                       "applied TEXT); INSERT INTO schema_version VALUES (1, 'x', 'y');")
    conn.close()
    rc, _, err = _run(capsys, "--data-dir", base, "report", "1", "--out", tmp_path / "r.pdf")
    assert rc == 2 and "older schema" in err  # a read-only command never migrates
    rc, out, _ = _run(capsys, "--data-dir", base, "db", "upgrade")
    from station.store.engine import head_revision

    assert rc == 0 and out.strip().endswith(f"schema {head_revision()}.")
