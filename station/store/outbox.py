"""A station's outbox: its local SQLite file beside a database server, and the upload from it.

The outbox (``<data_dir>/outbox.sqlite3``) has the server's schema. While the server is there, the
rows of the session being recorded are mirrored into it under the server's ids (:func:`read_rows`,
:func:`write_rows`), so the station can carry on with the same ids if the server goes away. While
the server is away, the station writes into the outbox (new rows get negative ids) and
:func:`mark_pending` notes, by uuid, every session, trial and patient changed. :func:`upload_outbox`
copies what is marked to the server (by uuid: nothing twice) and unmarks it; a session that is
safely on the server and no longer recording leaves the outbox (:func:`forget_session`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from station.store import engine as dbengine
from station.store.copying import copy_session, ensure_row
from station.store.sql import now_iso, upsert
from station.store.tables import calibrations, metrics, outbox, patients, sessions, trial_arrays, trials

log = logging.getLogger(__name__)

OUTBOX_NAME = "outbox.sqlite3"


class Ref(NamedTuple):
    """A row a write touched: ``table`` and ``row_id`` (for ``metrics``, the trial's id: all its rows).

    ``changed=False`` marks a row mirrored only as context (the patient of a new session): it is
    copied into the outbox but never marked for upload.
    """

    table: sa.Table
    row_id: int
    changed: bool = True


def calibration_refs(calibration_id: int | None) -> list[Ref]:
    """The calibration a session or trial points to, as context to mirror with it (none: ``[]``)."""
    return [Ref(calibrations, calibration_id)] if calibration_id else []


def open_outbox(data_dir: Path) -> Engine:
    """The engine of the outbox in ``data_dir`` (created and migrated if needed)."""
    engine = dbengine.make_engine(sa.URL.create("sqlite", database=str(data_dir / OUTBOX_NAME)))
    dbengine.upgrade(engine)
    return engine


def read_rows(src: Connection, refs: Iterable[Ref]) -> list[tuple[Ref, list[dict]]]:
    """The rows of ``src`` behind ``refs``, for :func:`write_rows`."""
    out = []
    for ref in refs:
        column = metrics.c.trial_id if ref.table is metrics else ref.table.c.id
        rows = src.execute(sa.select(ref.table).where(column == ref.row_id)).mappings()
        out.append((ref, [dict(r) for r in rows]))
    return out


def write_rows(dst: Connection, fetched: list[tuple[Ref, list[dict]]]) -> None:
    """Store rows read by :func:`read_rows` in ``dst`` under the same ids (upserts; metrics replaced)."""
    for ref, rows in fetched:
        if ref.table is metrics:
            dst.execute(metrics.delete().where(metrics.c.trial_id == ref.row_id))
            if rows:
                dst.execute(metrics.insert(), rows)
            continue
        for row in rows:
            upsert(dst, ref.table, row, keys=["id"])


def mark_pending(conn: Connection, refs: Iterable[Ref]) -> None:
    """Mark the sessions, trials and patients behind ``refs`` as changed while offline (to upload)."""
    for ref in refs:
        if not ref.changed:
            continue
        if ref.table is patients:
            kind, query = "patient", sa.select(patients.c.uuid).where(patients.c.id == ref.row_id)
        elif ref.table is sessions:
            kind, query = "session", sa.select(sessions.c.uuid).where(sessions.c.id == ref.row_id)
        elif ref.table in (trials, metrics):
            kind, query = "trial", sa.select(trials.c.uuid).where(trials.c.id == ref.row_id)
        else:
            continue  # calibrations travel with the sessions and trials that use them
        uuid = conn.execute(query).scalar()
        if uuid is not None:
            upsert(conn, outbox, {"kind": kind, "uuid": uuid, "marked": now_iso()}, keys=["kind", "uuid"])


def forget_session(conn: Connection, session_id: int) -> None:
    """Delete a session and everything under it from the outbox (it is safely on the server)."""
    ids = list(conn.execute(sa.select(trials.c.id).where(trials.c.session_id == session_id)).scalars())
    if ids:
        conn.execute(trials.update().where(trials.c.id.in_(ids)).values(repeat_of=None))
        conn.execute(metrics.delete().where(metrics.c.trial_id.in_(ids)))
        conn.execute(trial_arrays.delete().where(trial_arrays.c.trial_id.in_(ids)))
        conn.execute(trials.delete().where(trials.c.id.in_(ids)))
    conn.execute(sessions.delete().where(sessions.c.id == session_id))


def _marked_sessions(conn: Connection) -> dict[int, tuple[bool, set[str]]]:
    """Outbox sessions to upload: ``session id -> (session row changed, uuids of changed trials)``."""
    out: dict[int, tuple[bool, set[str]]] = {}
    marked = sa.select(outbox.c.uuid).where(outbox.c.kind == "session")
    for sid in conn.execute(sa.select(sessions.c.id).where(sessions.c.uuid.in_(marked))).scalars():
        out[sid] = (True, set())
    marked = sa.select(outbox.c.uuid).where(outbox.c.kind == "trial")
    for sid, trial_uuid in conn.execute(sa.select(trials.c.session_id, trials.c.uuid).where(trials.c.uuid.in_(marked))):
        out.setdefault(sid, (False, set()))[1].add(trial_uuid)
    return out


def pending_counts(conn: Connection) -> dict[str, int]:
    """What the outbox holds for upload: ``{"sessions", "trials", "patients"}`` changed offline."""
    pending = _marked_sessions(conn)
    n_patients = conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.kind == "patient")).scalar()
    return {"sessions": len(pending), "trials": sum(len(t) for _, t in pending.values()), "patients": int(n_patients)}


def upload_outbox(outbox_engine: Engine, server: Engine) -> dict[str, int]:
    """Upload every session, trial and patient marked in the outbox; unmark each once the server has it.

    Each session goes in one server transaction inside one outbox write transaction (so a recording
    that carries on meanwhile cannot lose a mark); a session no longer recording then leaves the
    outbox. Running it again uploads nothing more.

    Returns
    -------
    dict
        Counts uploaded: ``{"sessions", "trials", "arrays", "patients"}``.
    """
    done = {"sessions": 0, "trials": 0, "arrays": 0, "patients": 0}
    with dbengine.begin(outbox_engine, write=False) as conn:
        sids = sorted(_marked_sessions(conn))
        patient_marks = list(conn.execute(sa.select(outbox.c.uuid).where(outbox.c.kind == "patient")
                                          .order_by(outbox.c.marked)).scalars())
    for sid in sids:
        with dbengine.begin(outbox_engine, write=True) as src, dbengine.begin(server, write=True) as dst:
            copied = _upload_session(src, dst, sid)
        done["sessions"] += 1
        done["trials"] += copied["trials"]
        done["arrays"] += copied["arrays"]
        log.info("uploaded session %d as #%d (%d trials)", sid, copied["session_id"], copied["trials"])
    for uuid in patient_marks:
        with dbengine.begin(outbox_engine, write=True) as src, dbengine.begin(server, write=True) as dst:
            done["patients"] += _upload_patient(src, dst, uuid)
    return done


def _upload_session(src: Connection, dst: Connection, session_id: int) -> dict:
    changed, trial_uuids = _marked_sessions(src).get(session_id, (False, set()))
    session_uuid, status = src.execute(sa.select(sessions.c.uuid, sessions.c.status)
                                       .where(sessions.c.id == session_id)).one()
    copied = copy_session(src, dst, session_id, session_changed=changed, changed_trials=trial_uuids)
    src.execute(outbox.delete().where(outbox.c.kind == "session", outbox.c.uuid == session_uuid))
    src.execute(outbox.delete().where(outbox.c.kind == "trial", outbox.c.uuid.in_(trial_uuids)))
    if status != "running":  # safely on the server; a running one stays for the recorder
        forget_session(src, session_id)
    return copied


def _upload_patient(src: Connection, dst: Connection, uuid: str) -> int:
    """Upload one patient marked in the outbox (this station's edit wins); 1 if uploaded, 0 if gone."""
    patient = src.execute(sa.select(patients).where(patients.c.uuid == uuid)).mappings().first()
    uploaded = 0
    if patient is not None:
        new_pid = ensure_row(dst, patients, dict(patient), key="uuid", update=True)
        uploaded = 1
        log.info("uploaded patient %d as #%d", patient["id"], new_pid)
        left = src.execute(sa.select(sa.func.count()).select_from(sessions)
                           .where(sessions.c.patient_id == patient["id"])).scalar()
        if patient["id"] < 0 and left == 0:  # created offline, nothing of theirs left here
            src.execute(patients.delete().where(patients.c.id == patient["id"]))
    src.execute(outbox.delete().where(outbox.c.kind == "patient", outbox.c.uuid == uuid))
    return uploaded
