"""Moving rows between two station databases by global identity (uuid; digest for calibrations).

One copy routine serves three jobs: the outbox upload (``station sync``, :mod:`station.store.outbox`),
``station db migrate`` (a station's SQLite history into the server) and a backup of a server
database into a SQLite file (:mod:`station.store.backup`).
Integer ids are per database, so every foreign key is re-mapped through the uuid of the row it
points to. Every write is an upsert, and each session is copied in one transaction on the target:
running a copy twice, or again after it was interrupted, stores nothing twice and loses nothing.
:func:`verify` compares the two sides by row counts and by SHA-256 checksums of every raw blob.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from station.store import engine as dbengine
from station.store.sql import upsert
from station.store.tables import calibrations, metrics, patients, sessions, trial_arrays, trials

log = logging.getLogger(__name__)


def _row(conn: Connection, table: sa.Table, row_id: int) -> dict | None:
    row = conn.execute(sa.select(table).where(table.c.id == row_id)).mappings().first()
    return None if row is None else dict(row)


def _id_by(conn: Connection, table: sa.Table, column: str, value) -> int | None:
    return conn.execute(sa.select(table.c.id).where(table.c[column] == value)).scalar()


def ensure_row(dst: Connection, table: sa.Table, row: dict, *, key: str, update: bool) -> int:
    """The id in ``dst`` of the row whose ``key`` (uuid, digest) equals ``row``'s, created from ``row`` if missing.

    ``row``'s own ``id`` is dropped (ids are per database); ``update`` overwrites an existing row.
    """
    values = {k: v for k, v in row.items() if k != "id"}
    upsert(dst, table, values, keys=[key], update=update)
    return int(_id_by(dst, table, key, row[key]))


def _calibration_map(src: Connection, dst: Connection, ids: set) -> dict:
    out = {None: None}
    for cid in ids - {None}:
        row = _row(src, calibrations, cid)
        out[cid] = ensure_row(dst, calibrations, row, key="digest", update=False)
    return out


def copy_session(src: Connection, dst: Connection, session_id: int, *, session_changed: bool = True,
                 changed_trials: set[str] | None = None) -> dict:
    """Copy one session (its patient, calibrations, trials, raw arrays, metrics) into ``dst``.

    The patient is created on the target if missing but never overwritten (the target's edits win);
    the session and its trials are the source's (the station that recorded them is authoritative).

    Parameters
    ----------
    session_changed
        Overwrite the target's session row (False: only create it if missing).
    changed_trials
        uuids of the trials to copy (rows, raw arrays, metrics); None: all. The others are only
        created when the target lacks them (an outbox copies what changed while offline, never a
        stale mirror of what the server already has).

    Returns
    -------
    dict
        ``{"session_id": id on the target, "trials": n copied, "arrays": n copied}``.
    """
    session = _row(src, sessions, session_id)
    patient = _row(src, patients, session["patient_id"])
    trial_rows = [dict(r) for r in src.execute(sa.select(trials).where(trials.c.session_id == session_id)
                                               .order_by(trials.c.seq)).mappings()]
    cal = _calibration_map(src, dst, {session["calibration_id"]} | {t["calibration_id"] for t in trial_rows})
    new_pid = ensure_row(dst, patients, patient, key="uuid", update=False)
    new_sid = ensure_row(dst, sessions, {**session, "patient_id": new_pid, "calibration_id": cal[session["calibration_id"]]},
                      key="uuid", update=session_changed)
    uuid_of = {t["id"]: t["uuid"] for t in trial_rows}
    copied = [t for t in trial_rows if changed_trials is None or t["uuid"] in changed_trials
              or _id_by(dst, trials, "uuid", t["uuid"]) is None]
    new_tid: dict[int, int] = {}
    for t in copied:  # repeat_of is set in a second pass (it may point at any trial of the session)
        new_tid[t["id"]] = ensure_row(dst, trials, {**t, "session_id": new_sid, "repeat_of": None,
                                                  "calibration_id": cal[t["calibration_id"]]}, key="uuid", update=True)
    for t in copied:
        if t["repeat_of"] is not None:
            target = new_tid.get(t["repeat_of"]) or _id_by(dst, trials, "uuid", uuid_of.get(t["repeat_of"]))
            dst.execute(trials.update().where(trials.c.id == new_tid[t["id"]]).values(repeat_of=target))
    n_arrays = 0
    for old, new in new_tid.items():
        for blob in src.execute(sa.select(trial_arrays).where(trial_arrays.c.trial_id == old)).mappings():
            upsert(dst, trial_arrays, {**blob, "trial_id": new}, keys=["trial_id", "name"])
            n_arrays += 1
        rows = [{**r, "trial_id": new} for r in src.execute(sa.select(metrics).where(metrics.c.trial_id == old)).mappings()]
        if rows:  # the source's metrics replace the target's (a trial without metrics leaves them alone)
            dst.execute(metrics.delete().where(metrics.c.trial_id == new))
            dst.execute(metrics.insert(), rows)
    return {"session_id": new_sid, "trials": len(copied), "arrays": n_arrays}


def _session_fingerprint(conn: Connection, session_uuid: str):
    sid = _id_by(conn, sessions, "uuid", session_uuid)
    if sid is None:
        return None
    tids = sa.select(trials.c.id).where(trials.c.session_id == sid).scalar_subquery()
    n_trials = conn.execute(sa.select(sa.func.count()).select_from(trials).where(trials.c.session_id == sid)).scalar()
    n_arrays = conn.execute(sa.select(sa.func.count()).select_from(trial_arrays).where(trial_arrays.c.trial_id.in_(tids))).scalar()
    n_metrics = conn.execute(sa.select(sa.func.count()).select_from(metrics).where(metrics.c.trial_id.in_(tids))).scalar()
    status = conn.execute(sa.select(sessions.c.status, sessions.c.finished).where(sessions.c.id == sid)).one()
    return (int(n_trials), int(n_arrays), int(n_metrics), tuple(status))


def copy_database(source: Engine, target: Engine, *, target_url: sa.URL | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict:
    """Copy a whole station database into ``target`` (migrated first), resumably.

    Sessions already complete on the target (same trial, array and metric counts, same status) are
    skipped, so an interrupted copy continues where it stopped.

    Returns
    -------
    dict
        ``{"patients", "calibrations", "sessions", "skipped", "trials", "arrays"}`` copied.
    """
    dbengine.upgrade(target)
    done = {"patients": 0, "calibrations": 0, "sessions": 0, "skipped": 0, "trials": 0, "arrays": 0}
    with dbengine.begin(source, write=False) as src, dbengine.begin(target, write=True) as dst:
        for row in src.execute(sa.select(calibrations)).mappings():
            ensure_row(dst, calibrations, dict(row), key="digest", update=False)
            done["calibrations"] += 1
        for row in src.execute(sa.select(patients)).mappings():
            ensure_row(dst, patients, dict(row), key="uuid", update=False)
            done["patients"] += 1
    with dbengine.begin(source, write=False) as src:
        listed = [tuple(r) for r in src.execute(sa.select(sessions.c.id, sessions.c.uuid).order_by(sessions.c.id))]
    for k, (sid, suuid) in enumerate(listed):
        with dbengine.begin(source, write=False) as src, dbengine.begin(target, write=True) as dst:
            if _session_fingerprint(src, suuid) == _session_fingerprint(dst, suuid):
                done["skipped"] += 1
            else:
                copied = copy_session(src, dst, sid)
                done["sessions"] += 1
                done["trials"] += copied["trials"]
                done["arrays"] += copied["arrays"]
        if progress is not None:
            progress(k + 1, len(listed))
    where = dbengine.describe(target_url) if target_url is not None else "the target"
    log.info("copied %s into %s", done, where)
    return done


def checksums(conn: Connection) -> dict[tuple[str, str], str]:
    """SHA-256 of every raw blob, keyed by (trial uuid, array name)."""
    query = sa.select(trials.c.uuid, trial_arrays.c.name, trial_arrays.c.dtype, trial_arrays.c.shape,
                      trial_arrays.c.data).join(trials, trials.c.id == trial_arrays.c.trial_id)
    out = {}
    for trial_uuid, name, dtype, shape, data in conn.execute(query):
        digest = hashlib.sha256(f"{dtype}|{shape}|".encode() + bytes(data)).hexdigest()
        out[(trial_uuid, name)] = digest
    return out


def counts(conn: Connection) -> dict[str, int]:
    """Rows per table."""
    return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar())
            for t in (patients, calibrations, sessions, trials, trial_arrays, metrics)}


def verify(source: Engine, target: Engine) -> dict:
    """Compare ``source`` with ``target``: every source row and blob must be on the target, unchanged.

    Returns
    -------
    dict
        ``{"counts_source", "counts_target", "blobs", "missing", "different", "ok"}``; the target may
        hold more (other stations' data), never less.
    """
    with dbengine.begin(source, write=False) as src, dbengine.begin(target, write=False) as dst:
        a, b = checksums(src), checksums(dst)
        ca, cb = counts(src), counts(dst)
        uuids = {t.name: set(src.execute(sa.select(t.c.uuid)).scalars()) - set(dst.execute(sa.select(t.c.uuid)).scalars())
                 for t in (patients, sessions, trials)}
    missing = sorted(k for k in a if k not in b)
    different = sorted(k for k in a if k in b and a[k] != b[k])
    missing_rows = {k: len(v) for k, v in uuids.items() if v}
    ok = not missing and not different and not missing_rows and all(cb[k] >= ca[k] for k in ca)
    return {"counts_source": ca, "counts_target": cb, "blobs": len(a), "missing": missing, "different": different,
            "missing_rows": missing_rows, "ok": ok}
