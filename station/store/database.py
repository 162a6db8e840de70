"""The station database behind one interface: patients, sessions, trials (with raw counts), calibrations.

:class:`Store` runs on SQLAlchemy 2 Core (the tables of :mod:`station.store.tables`) against the
embedded SQLite file (the default: one private file, WAL, foreign keys, backups with SQLite's backup
API) or a PostgreSQL server shared by several stations (``--database`` / ``STATION_DATABASE_URL``).
Raw data are typed little-endian blobs, so any trial can be re-analysed later.

With a server, the station also keeps a local outbox (``<data_dir>/outbox.sqlite3``, same schema):
the rows of the session being recorded are mirrored there, and when the server goes away the store
carries on in the outbox (new rows get negative ids there), warns once, and uploads everything by
uuid when the server is back (:meth:`Store.sync`, ``station sync``): nothing lost, nothing twice.
A :class:`Store` is safe to share between threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import socket
import threading
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from station.core.resample import effective_rate_hz
from station.jsonsafe import json_default, json_safe
from station.errors import InputFileError, StationError
from station.store import engine as dbengine
from station.store import paths
from station.store.blobs import from_blob, to_blob
from station.store.copying import mark_pending, read_rows, write_rows
from station.store.tables import (
    BIRTH_YEAR_RANGE,
    BODY_MASS_RANGE_KG,
    LEGS,
    PHASES,
    SESSION_STATES,
    SEXES,
    SIDES,
    TRIAL_ARRAYS,
    TRIAL_STATES,
    calibrations,
    metrics,
    patients,
    sessions,
    trial_arrays,
    trials,
)

log = logging.getLogger(__name__)

__all__ = [
    "Patient", "Session", "Store", "TrialRecord", "effective_rate_hz", "json_safe", "now_iso",
    "SEXES", "LEGS", "SIDES", "PHASES", "SESSION_STATES", "TRIAL_STATES", "TRIAL_ARRAYS",
]

OUTBOX_NAME = "outbox.sqlite3"
NAME_MAX_CHARS = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def now_iso() -> str:
    """Current UTC time as ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _tombstone() -> str:
    # microseconds: a patient deleted right after one of their sessions must not share its stamp
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def station_name() -> str:
    """This station's name: ``$STATION_NAME``, else the host name."""
    return os.environ.get("STATION_NAME") or socket.gethostname()


@dataclass(frozen=True)
class Patient:
    id: int
    name: str
    birth_year: int | None
    sex: str | None
    body_mass_kg: float | None
    dominant_leg: str | None
    notes: str
    created: str
    uuid: str | None = None
    deleted_at: str | None = None


@dataclass(frozen=True)
class Session:
    id: int
    patient_id: int
    protocol: str
    status: str
    started: str
    finished: str | None
    board: dict | None
    calibration_id: int | None
    operator: str
    notes: str
    settings: dict
    scores: dict | None
    uuid: str | None = None
    station: str = ""
    deleted_at: str | None = None


@dataclass(frozen=True)
class TrialRecord:
    """One trial's row (no raw arrays: see :meth:`Store.trial_arrays` / :meth:`Store.trial_file`)."""

    id: int
    session_id: int
    seq: int
    step: str
    task: str
    side: str | None
    condition: str
    phase: str
    status: str
    reason: str
    repeat_of: int | None
    started: str | None
    duration_s: float | None
    fs_hz: float | None
    window_start_s: float | None
    window_end_s: float | None
    calibration_id: int | None
    board: dict | None
    quality: dict
    gaps: list
    events: list
    meta: dict
    metrics: dict[str, float] = field(default_factory=dict)  # whole-trial metrics (rep 0)
    rep_metrics: list[dict[str, float]] = field(default_factory=list)  # per repetition, rep 1..n
    uuid: str | None = None


def _json(value) -> str:
    return json.dumps(json_safe(value), default=json_default, allow_nan=False)


def _loads(text, default=None):
    return default if text is None else json.loads(text)


def new_uuid() -> str:
    """A fresh globally unique id (text form)."""
    return str(uuidlib.uuid4())


def insert_id(conn: Connection, table: sa.Table, values: dict) -> int:
    """Insert one row and return its integer id.

    In the offline outbox (``conn.info["negative_ids"]``) new rows get negative ids, so they never
    collide with the server's rows mirrored there.
    """
    if conn.info.get("negative_ids") and "id" not in values:
        low = conn.execute(sa.select(sa.func.min(table.c.id))).scalar()
        values = {**values, "id": min(int(low or 0), 0) - 1}
    result = conn.execute(table.insert().values(**values))
    return int(values["id"]) if "id" in values else int(result.inserted_primary_key[0])


def upsert(conn: Connection, table: sa.Table, values: dict, *, keys: list[str], update: bool = True):
    """INSERT … ON CONFLICT (keys) DO UPDATE (or DO NOTHING) with the backend's own insert construct."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values)
    changed = {k: stmt.excluded[k] for k in values if k not in keys and k != "id"}
    if update and changed:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changed)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    return conn.execute(stmt)


class Store:
    """The station database. Open with :meth:`Store.open`; use as a context manager or ``close()``."""

    def __init__(self, engine: Engine, url: sa.URL, base_dir: Path, *, read_only: bool = False,
                 outbox: Engine | None = None, offline_reason: str | None = None):
        self._engine: Engine | None = engine
        self._lock = threading.RLock()
        self.url = url
        self.backend = url.get_backend_name()
        self._path = Path(url.database) if self.backend == "sqlite" else dbengine.describe(url)
        self.data_dir = base_dir
        self.read_only = read_only
        self.station = station_name()
        self._outbox = outbox
        self.offline_reason = offline_reason
        self.uploaded = {"sessions": 0, "trials": 0, "arrays": 0, "patients": 0}  # by sync() since open
        self.on_offline: list[Callable[[str], None]] = []  # called once when the server goes away

    # ------------------------------------------------------------------ life cycle
    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, *, recover: bool | None = None,
             url: str | None = None, read_only: bool = False) -> "Store":
        """Open (creating and migrating if needed) the station database.

        Parameters
        ----------
        data_dir
            Directory to use; default ``$STATION_DATA_DIR`` or the platform's user data directory.
        recover
            Recover journals of recordings interrupted by a crash or kill (marked ``interrupted``).
            Default: ``not read_only``. Only a process that owns the station (dashboard, ``assess``,
            ``record``) should recover; recovery never touches a journal locked by a live recording.
        url
            Database URL (``sqlite:///…`` or ``postgresql://…``); default ``$STATION_DATABASE_URL``,
            else the SQLite file in ``data_dir``.
        read_only
            Open for reading only (``report``, ``export``): no migration, no recovery, no writes.

        Raises
        ------
        StationError
            The database cannot be created, reached, logged into, or comes from a newer station.
        """
        base = paths.data_dir(data_dir)
        if not read_only:
            try:
                paths.ensure_private_dir(base)
            except OSError as exc:
                raise StationError(f"Cannot create the data directory {base}: {exc.strerror or exc}.") from None
        db_url = dbengine.database_url(url, data_dir=base)
        engine = dbengine.make_engine(db_url, read_only=read_only)
        outbox, offline = None, None
        try:
            (dbengine.check_current if read_only else dbengine.upgrade)(engine)
        except sa.exc.DBAPIError as exc:
            engine.dispose()
            if not dbengine.is_connection_lost(exc):  # reached, but refused (e.g. no privilege to migrate)
                raise StationError(f"The database {dbengine.describe(db_url)} refused to open: "
                                   f"{str(exc.orig).splitlines()[0]}") from None
            error = dbengine.connection_error(exc, db_url)
            if db_url.get_backend_name() == "postgresql" and not read_only and dbengine.is_connection_lost(exc) \
                    and "refused the login" not in str(error) and "has no database" not in str(error):
                offline = str(error)  # record locally; upload later
            else:
                raise error from None
        except StationError:
            engine.dispose()
            raise
        if db_url.get_backend_name() == "postgresql" and not read_only:
            outbox = _open_outbox(base)
        store = cls(engine, db_url, base, read_only=read_only, outbox=outbox, offline_reason=offline)
        if store.backend == "sqlite" and not read_only:
            store._protect_side_files()
        if offline:
            log.warning("%s — recording on this station; `station sync` uploads it when the server is back.", offline)
        elif outbox is not None:
            store._refresh_outbox()
        if recover if recover is not None else not read_only:
            from station.store.recovery import recover_journals

            recover_journals(store)
        return store

    def close(self) -> None:
        """Upload what the outbox holds if the server is reachable again, then close. Safe to call twice."""
        with self._lock:
            if self._engine is None:
                return
            if self._outbox is not None:
                try:
                    self.sync()
                except StationError as exc:
                    if not self.offline:
                        log.warning("%s", exc)
                self._outbox.dispose()
                self._outbox = None
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def path(self) -> Path | str:
        """Where the data go: the SQLite file, the server's URL (no password) or, offline, the outbox file."""
        return self.data_dir / OUTBOX_NAME if self.offline else self._path

    @property
    def offline(self) -> bool:
        """True while this station records into its local outbox because the server is unreachable."""
        return self.offline_reason is not None

    @property
    def journals_dir(self) -> Path:
        """Private directory for recording journals (see :mod:`station.store.recovery`)."""
        return paths.journals_dir(self.data_dir)

    def journal_path(self, *, session_id: int, trial_id: int) -> Path:
        """Where the acquisition journals the recording of ``trial_id`` while it runs (crash recovery)."""
        from station.store.recovery import journal_path

        return journal_path(self, session_id=session_id, trial_id=trial_id)

    @property
    def schema_version(self) -> str:
        """The Alembic revision of the database."""
        with self._read() as conn:
            return dbengine.current_revision(conn)

    def _protect_side_files(self) -> None:
        # SQLite creates -wal/-shm with the database file's mode; make sure of it anyway.
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.chmod(side, paths.FILE_MODE)

    # ------------------------------------------------------------------ connections and routing
    def _active(self) -> Engine:
        if self._engine is None:
            raise StationError("The station database is closed.")
        return self._outbox if self.offline else self._engine

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        engine = self._active()
        try:
            conn = engine.connect()
        except sa.exc.DBAPIError as exc:  # the server went away between two writes: read the outbox
            if self._outbox is None or engine is self._outbox or not dbengine.is_connection_lost(exc):
                raise self._database_error(exc) from None
            self._go_offline(exc)
            conn = self._outbox.connect()
        with conn:
            try:
                with conn.begin():
                    yield conn
            except sa.exc.DBAPIError as exc:
                raise self._database_error(exc) from None

    def _database_error(self, exc: sa.exc.DBAPIError) -> StationError:
        if dbengine.is_connection_lost(exc):
            return dbengine.connection_error(exc, self.url)
        return StationError(f"The station database refused the operation: {str(exc.orig).splitlines()[0]}")

    def _write(self, work: Callable[[Connection], Any], *, mirror: Callable[[Any], list] | None = None):
        """Run ``work(conn)`` in one write transaction; offline (or when the server goes away) in the outbox.

        ``mirror(result)`` names the rows ``(table, id)`` the work changed: after a server write they are
        copied into the outbox (so it can carry on with the same ids if the server goes away later); in
        the outbox, their sessions and patients are marked for upload.
        """
        if self.read_only:
            raise StationError("The station database was opened read-only.")
        with self._lock:
            if self._engine is None:
                raise StationError("The station database is closed.")
            if not self.offline:
                fetched = None
                try:
                    with dbengine.begin(self._engine, write=True) as conn:
                        result = work(conn)
                        if self._outbox is not None and mirror is not None:  # read inside the transaction
                            fetched = read_rows(conn, mirror(result))
                except sa.exc.DBAPIError as exc:
                    if self._outbox is None or not dbengine.is_connection_lost(exc):
                        raise self._database_error(exc) from None
                    self._go_offline(exc)
                else:
                    if fetched:
                        self._mirror(fetched)
                    return result
            with dbengine.begin(self._outbox, write=True) as conn:
                conn.info["negative_ids"] = True
                try:
                    result = work(conn)
                    if mirror is not None:  # what changed offline is marked for upload, in the same transaction
                        mark_pending(conn, mirror(result))
                    return result
                finally:
                    conn.info.pop("negative_ids", None)

    def _go_offline(self, exc: BaseException) -> None:
        self.offline_reason = str(dbengine.connection_error(exc, self.url))
        log.warning("Lost the database server (%s): recording continues on this station; `station sync` "
                    "uploads it when the server is back.", self.offline_reason)
        for callback in self.on_offline:
            callback(self.offline_reason)

    def _mirror(self, fetched: list) -> None:
        try:
            with dbengine.begin(self._outbox, write=True) as dst:
                write_rows(dst, fetched)
        except sa.exc.DBAPIError as exc:  # the outbox is a safety net: never fail a stored write for it
            log.warning("could not keep a copy in the outbox: %s (%s)", str(exc.orig).splitlines()[0],
                        ", ".join(f"{t.name} {i}" for t, i, _ in fetched))

    def _refresh_outbox(self) -> None:
        """Upload leftovers, then cache the server's patient list (so an offline station finds patients)."""
        try:
            self.sync()
            with dbengine.begin(self._engine, write=False) as src:
                fetched = read_rows(src, [(patients, i) for i in src.execute(sa.select(patients.c.id)).scalars()])
        except (StationError, sa.exc.DBAPIError) as exc:
            log.warning("could not refresh the outbox: %s", exc)
            return
        self._mirror(fetched)

    def _reconnect(self, patient_id: int, calibration_id: int | None) -> tuple[int, int | None]:
        with self._read() as conn:
            p_uuid = conn.execute(sa.select(patients.c.uuid).where(patients.c.id == patient_id)).scalar()
            digest = conn.execute(sa.select(calibrations.c.digest).where(calibrations.c.id == calibration_id)).scalar()
        try:
            self.sync()
        except StationError:
            return patient_id, calibration_id  # still away
        if self.offline or p_uuid is None:
            return patient_id, calibration_id
        with self._read() as conn:
            pid = conn.execute(sa.select(patients.c.id).where(patients.c.uuid == p_uuid)).scalar()
            cid = conn.execute(sa.select(calibrations.c.id).where(calibrations.c.digest == digest)).scalar()
        log.warning("the database server is back: everything recorded meanwhile is uploaded")
        return (pid if pid is not None else patient_id), (cid if digest is not None else calibration_id)

    # ------------------------------------------------------------------ outbox upload
    def pending(self) -> dict:
        """What the outbox holds that the server has not confirmed: ``{"sessions", "trials", "patients"}``."""
        from station.store.copying import pending_sessions

        if self._outbox is None:
            return {"sessions": 0, "trials": 0, "patients": 0}
        with dbengine.begin(self._outbox, write=False) as conn:
            return pending_sessions(conn)

    def sync(self) -> dict:
        """Upload the outbox to the server (idempotent, by uuid); return counts uploaded and still pending.

        Raises
        ------
        StationError
            No server configured (a SQLite station has nothing to sync) or the server is unreachable.
        """
        from station.store.copying import upload_outbox

        if self._outbox is None:
            raise StationError("This station has no database server to sync with (it uses its own SQLite file).")
        with self._lock:
            try:
                with dbengine.begin(self._engine, write=False) as probe:
                    probe.execute(sa.select(1))
            except sa.exc.DBAPIError as exc:
                raise dbengine.connection_error(exc, self.url) from None
            if self.offline:
                log.warning("the database server is reachable again")
            try:
                uploaded = upload_outbox(self._outbox, self._engine)
            except sa.exc.DBAPIError as exc:  # what was uploaded before stays uploaded; the rest stays marked
                if dbengine.is_connection_lost(exc):
                    raise dbengine.connection_error(exc, self.url) from None
                raise StationError(f"The upload to the server stopped: {str(exc.orig).splitlines()[0]}; "
                                   "what is left stays in the outbox (`station sync` retries).") from None
            self.uploaded = {k: self.uploaded[k] + uploaded[k] for k in self.uploaded}
            left = self.pending()
            if self.offline and not any(left.values()):
                self.offline_reason = None  # everything is on the server again: back to it
            return {"uploaded": uploaded, "pending": left}

    def backup(self, dest: str | os.PathLike | None = None, *, force: bool = False) -> Path:
        """Copy the whole database into a SQLite file (consistent even while recording), created 0600.

        SQLite: the SQLite backup API. PostgreSQL: every row copied by :func:`copying.copy_database`.

        Parameters
        ----------
        dest
            Target file; default ``<data_dir>/backups/station-<UTC time>.sqlite3``.
        force : bool, keyword-only
            Replace an existing file at ``dest`` (atomically; a symlink there is replaced, never followed).

        Raises
        ------
        OutputExistsError
            ``dest`` exists and ``force`` is False.
        """
        import sqlite3

        if dest is None:
            folder = paths.ensure_private_dir(self.data_dir / "backups")
            dest = folder / f"station-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}.sqlite3"
        from station.privatefiles import private_temp_path

        dest = Path(dest)
        # written privately (0600) under a unique temporary name, moved into place only when complete;
        # never through a symlink, never over an existing file
        with private_temp_path(dest, force=force) as tmp:
            tmp.unlink()  # the backup creates its own database file at this name
            if self.backend != "sqlite" or self.offline:
                from station.store.copying import copy_database

                target_url = sa.URL.create("sqlite", database=str(tmp))
                target = dbengine.make_engine(target_url)
                try:
                    copy_database(self._active(), target, target_url=target_url)
                finally:
                    target.dispose()
            else:
                target = sqlite3.connect(tmp)
                try:
                    with self._lock, self._engine.connect() as conn:
                        conn.connection.driver_connection.backup(target)
                finally:
                    target.close()
            # one self-contained file: out of WAL mode, so opening the copy leaves no -wal/-shm beside it
            copy = sqlite3.connect(tmp)
            try:
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
            for side in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
                side.unlink(missing_ok=True)
        log.info("database backed up to %s", dest)
        return dest

    # ------------------------------------------------------------------ patients
    def add_patient(
        self,
        *,
        name: str,
        birth_year: int | None = None,
        sex: str | None = None,
        body_mass_kg: float | None = None,
        dominant_leg: str | None = None,
        notes: str = "",
    ) -> int:
        """Add a patient (``name`` may be a pseudonym, even one that looks like a number); return its id.

        Raises
        ------
        StationError
            An empty or over-long name, a body mass outside 10–350 kg, an unknown sex or leg.
        """
        values = _check_patient(name=name, birth_year=birth_year, sex=sex, body_mass_kg=body_mass_kg,
                                dominant_leg=dominant_leg, notes=notes)
        values.update(created=now_iso(), uuid=new_uuid())
        return self._write(lambda conn: insert_id(conn, patients, values), mirror=lambda pid: [(patients, pid)])

    def update_patient(self, patient_id: int, **fields) -> None:
        """Change some of a patient's fields (same names as :meth:`add_patient`)."""
        allowed = {"name", "birth_year", "sex", "body_mass_kg", "dominant_leg", "notes"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown patient fields: {sorted(unknown)}")
        current = self.get_patient(patient_id)
        merged = {k: getattr(current, k) for k in allowed} | fields
        checked = _check_patient(**merged)
        if not fields:
            return
        values = {k: checked[k] for k in fields}
        self._write(lambda conn: conn.execute(patients.update().where(patients.c.id == patient_id).values(**values)),
                    mirror=lambda _: [(patients, patient_id)])

    def get_patient(self, patient_id: int) -> Patient:
        with self._read() as conn:
            row = conn.execute(sa.select(patients).where(patients.c.id == int(patient_id))).mappings().first()
        if row is None:
            raise StationError(f"There is no patient with id {patient_id}.")
        return Patient(**row)

    def find_patient(self, ref: str | int) -> Patient:
        """A patient by ``#12`` (id), else by exact name or pseudonym (case-insensitive, must be unique).

        A bare number is a name first (a patient may be called ``007``) and an id only when no patient
        has that name and it has no leading zero. Deleted patients are not found.
        """
        text = str(ref).strip()
        if text.startswith("#") and text[1:].isdigit():
            return self.get_patient(int(text[1:]))
        with self._read() as conn:
            rows = conn.execute(
                sa.select(patients).where(sa.func.lower(patients.c.name) == text.lower(),
                                          patients.c.deleted_at.is_(None)).order_by(patients.c.id)
            ).mappings().all()
        if not rows and text.isdigit() and text == str(int(text)):  # "12" may be an id; "007" is only a name
            return self.get_patient(int(text))
        if not rows:
            raise StationError(f"There is no patient named {text!r}; add one first or give the id as #ID.")
        if len(rows) > 1:
            ids = ", ".join(f"#{r['id']}" for r in rows)
            raise StationError(f"Several patients are named {text!r} ({ids}); give the id instead (e.g. {ids.split(',')[0]}).")
        return Patient(**rows[0])

    def list_patients(self, *, deleted: bool = False) -> list[Patient]:
        """Patients by id; with ``deleted=True`` the ones in the trash instead."""
        where = patients.c.deleted_at.isnot(None) if deleted else patients.c.deleted_at.is_(None)
        with self._read() as conn:
            rows = conn.execute(sa.select(patients).where(where).order_by(patients.c.id)).mappings().all()
        return [Patient(**r) for r in rows]

    def delete_patient(self, patient_id: int) -> int:
        """Move a patient and their sessions (raw data included) to the trash; return sessions moved.

        Nothing is erased: :meth:`restore_patient` brings them back.
        """
        self.get_patient(patient_id)
        stamp = _tombstone()

        def work(conn):
            conn.execute(patients.update().where(patients.c.id == patient_id).values(deleted_at=stamp))
            moved = list(conn.execute(sa.select(sessions.c.id).where(sessions.c.patient_id == patient_id,
                                                                    sessions.c.deleted_at.is_(None))).scalars())
            conn.execute(sessions.update().where(sessions.c.id.in_(moved)).values(deleted_at=stamp))
            return moved

        moved = self._write(work, mirror=lambda ids: [(patients, patient_id)] + [(sessions, i) for i in ids])
        log.info("patient %d and %d session(s) moved to the trash", patient_id, len(moved))
        return len(moved)

    def restore_patient(self, patient_id: int) -> int:
        """Bring a patient back from the trash with the sessions deleted together with them."""
        patient = self.get_patient(patient_id)
        if patient.deleted_at is None:
            raise StationError(f"Patient #{patient_id} is not in the trash.")

        def work(conn):
            conn.execute(patients.update().where(patients.c.id == patient_id).values(deleted_at=None))
            back = list(conn.execute(sa.select(sessions.c.id).where(sessions.c.patient_id == patient_id,
                                                                   sessions.c.deleted_at == patient.deleted_at)).scalars())
            conn.execute(sessions.update().where(sessions.c.id.in_(back)).values(deleted_at=None))
            return back

        return len(self._write(work, mirror=lambda ids: [(patients, patient_id)] + [(sessions, i) for i in ids]))

    # ------------------------------------------------------------------ calibrations
    def add_calibration(self, calibration: dict | Any) -> int:
        """Store a calibration (a ``Calibration`` or its ``to_dict()``); an identical one is stored once."""
        data = calibration.to_dict() if hasattr(calibration, "to_dict") else dict(calibration)
        board_id = str(data.get("board_id", "")).upper()
        created = str(data.get("created") or now_iso())
        if not board_id:
            raise StationError("A calibration without a board id cannot be stored.")
        text = json.dumps(json_safe(data), sort_keys=True, default=json_default, allow_nan=False)
        digest = hashlib.sha256(text.encode()).hexdigest()

        values = {"board_id": board_id, "created": created, "data_json": text, "digest": digest}

        def work(conn):
            def find():
                return conn.execute(sa.select(calibrations.c.id).where(calibrations.c.digest == digest)).scalar()

            found = find()
            if found is None and conn.info.get("negative_ids"):
                found = insert_id(conn, calibrations, values)
            elif found is None:  # two stations storing the same calibration at once: one row
                upsert(conn, calibrations, values, keys=["digest"], update=False)
                found = find()
            return int(found)

        return self._write(work, mirror=lambda cid: [(calibrations, cid)])

    def get_calibration(self, calibration_id: int) -> dict:
        """The stored ``Calibration.to_dict()`` (rebuild with ``Calibration.from_dict``)."""
        with self._read() as conn:
            text = conn.execute(sa.select(calibrations.c.data_json).where(calibrations.c.id == calibration_id)).scalar()
        if text is None:
            raise StationError(f"There is no calibration with id {calibration_id}.")
        return json.loads(text)

    # ------------------------------------------------------------------ sessions
    def create_session(
        self,
        *,
        patient_id: int,
        protocol: str,
        settings: dict | None = None,
        board: dict | None = None,
        calibration_id: int | None = None,
        operator: str = "",
        notes: str = "",
    ) -> int:
        """Start a session (status ``running``) recorded by this station; return its id.

        An offline station first tries its server again (a new session is a safe moment to switch
        back: nothing in progress holds an outbox id); ``patient_id`` and ``calibration_id`` given as
        outbox ids are then translated to the server's.
        """
        if self.offline and self._outbox is not None:
            patient_id, calibration_id = self._reconnect(patient_id, calibration_id)
        patient = self.get_patient(patient_id)
        if patient.deleted_at is not None:
            raise StationError(f"Patient #{patient_id} is in the trash; restore them first.")
        values = {
            "patient_id": patient_id, "protocol": protocol, "status": "running", "started": now_iso(),
            "board_json": None if board is None else _json(board), "calibration_id": calibration_id,
            "operator": _clean_text(operator, "operator"), "notes": notes, "settings_json": _json(settings or {}),
            "uuid": new_uuid(), "station": self.station,
        }

        def refs(sid):
            return [(patients, patient_id, False)] + ([(calibrations, calibration_id)] if calibration_id else []) + [(sessions, sid)]

        return self._write(lambda conn: insert_id(conn, sessions, values), mirror=refs)

    def finish_session(self, session_id: int, *, status: str = "finished", scores: dict | None = None) -> None:
        """Close a session with its final status and (optionally) its scores."""
        if status not in SESSION_STATES:
            raise ValueError(f"session status must be one of {SESSION_STATES}")
        values: dict = {"status": status, "finished": now_iso()}
        if scores is not None:
            values["scores_json"] = _json(scores)
        was_offline = self.offline
        self._write(lambda conn: conn.execute(sessions.update().where(sessions.c.id == session_id).values(**values)),
                    mirror=lambda _: [(sessions, session_id)])
        if self._outbox is not None and not self.offline and not was_offline:
            from station.store.copying import forget_session

            with dbengine.begin(self._outbox, write=True) as conn:  # stored on the server: the mirror has done its job
                forget_session(conn, session_id)

    def update_session(self, session_id: int, **fields) -> None:
        """Change a session's ``calibration_id``, ``operator`` or ``notes``."""
        allowed = {"calibration_id", "operator", "notes"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        if not fields:
            return
        if "operator" in fields:
            fields["operator"] = _clean_text(fields["operator"], "operator")
        cid = fields.get("calibration_id")
        self._write(lambda conn: conn.execute(sessions.update().where(sessions.c.id == session_id).values(**fields)),
                    mirror=lambda _: ([(calibrations, cid)] if cid else []) + [(sessions, session_id)])

    def get_session(self, session_id: int) -> Session:
        with self._read() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id == int(session_id))).mappings().first()
        if row is None:
            raise StationError(f"There is no session with id {session_id}.")
        return _session(row)

    def list_sessions(self, patient_id: int | None = None, *, status: str | None = None,
                      deleted: bool = False) -> list[Session]:
        """Sessions by id (of one patient, in one status); with ``deleted=True`` those in the trash."""
        query = sa.select(sessions).where(sessions.c.deleted_at.isnot(None) if deleted else sessions.c.deleted_at.is_(None))
        if patient_id is not None:
            query = query.where(sessions.c.patient_id == patient_id)
        if status is not None:
            query = query.where(sessions.c.status == status)
        with self._read() as conn:
            rows = conn.execute(query.order_by(sessions.c.id)).mappings().all()
        return [_session(r) for r in rows]

    def delete_session(self, session_id: int) -> None:
        """Move a session (raw data included) to the trash; :meth:`restore_session` brings it back."""
        self.get_session(session_id)
        self._write(lambda conn: conn.execute(sessions.update().where(sessions.c.id == session_id)
                                              .values(deleted_at=_tombstone())), mirror=lambda _: [(sessions, session_id)])

    def restore_session(self, session_id: int) -> None:
        """Bring a session back from the trash (its patient must not be in the trash)."""
        session = self.get_session(session_id)
        if session.deleted_at is None:
            raise StationError(f"Session #{session_id} is not in the trash.")
        if self.get_patient(session.patient_id).deleted_at is not None:
            raise StationError(f"Session #{session_id} belongs to patient #{session.patient_id}, who is in the "
                               "trash; restore the patient first.")
        self._write(lambda conn: conn.execute(sessions.update().where(sessions.c.id == session_id)
                                              .values(deleted_at=None)), mirror=lambda _: [(sessions, session_id)])

    # ------------------------------------------------------------------ trials
    def add_trial(
        self,
        session_id: int,
        *,
        task: str,
        side: str | None = None,
        phase: str = "baseline",
        condition: str = "eyes_open",
        step: str = "",
        status: str = "queued",
        repeat_of: int | None = None,
        meta: dict | None = None,
    ) -> int:
        """Append a trial to a session (next ``seq``); return its id."""
        if side is not None and side not in SIDES:
            raise ValueError(f"side must be one of {SIDES} or None")
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")
        if status not in TRIAL_STATES:
            raise ValueError(f"trial status must be one of {TRIAL_STATES}")
        values = {"session_id": session_id, "step": step, "task": task, "side": side, "condition": condition,
                  "phase": phase, "status": status, "repeat_of": repeat_of, "meta_json": _json(meta or {}),
                  "uuid": new_uuid()}

        def work(conn):
            seq = conn.execute(sa.select(sa.func.coalesce(sa.func.max(trials.c.seq), 0) + 1)
                               .where(trials.c.session_id == session_id)).scalar()
            return insert_id(conn, trials, {**values, "seq": int(seq)})

        return self._write(work, mirror=lambda tid: [(trials, tid)])

    _TRIAL_FIELDS = {
        "status": None, "reason": None, "started": None, "duration_s": None, "fs_hz": None,
        "window_start_s": None, "window_end_s": None, "calibration_id": None, "step": None,
        "board": "board_json", "quality": "quality_json", "gaps": "gaps_json", "events": "events_json",
        "meta": "meta_json",
    }

    def update_trial(self, trial_id: int, **fields) -> None:
        """Set some trial fields: status, reason, started, duration_s, fs_hz, window_start_s, window_end_s,
        calibration_id, step, board, quality, gaps, events, meta (the last five as Python objects)."""
        unknown = set(fields) - set(self._TRIAL_FIELDS)
        if unknown:
            raise ValueError(f"unknown trial fields: {sorted(unknown)}")
        if "status" in fields and fields["status"] not in TRIAL_STATES:
            raise ValueError(f"trial status must be one of {TRIAL_STATES}")
        values = {}
        for key, value in fields.items():
            column = self._TRIAL_FIELDS[key]
            values[column or key] = json_safe(value) if column is None else _json(value)
        if not values:
            return
        cid = fields.get("calibration_id")
        self._write(lambda conn: conn.execute(trials.update().where(trials.c.id == trial_id).values(**values)),
                    mirror=lambda _: ([(calibrations, cid)] if cid else []) + [(trials, trial_id)])

    def save_trial_data(self, trial_id: int, trial, *, calibration_id: int | None = None) -> None:
        """Store a recorded trial's raw data and bookkeeping in one transaction.

        Parameters
        ----------
        trial
            A ``station.board.trialfile.TrialFile`` (frames, device_time_s, host_time_s, board,
            quality, gaps, events, meta). Its raw frames become typed blobs (see ``TRIAL_ARRAYS``).
        """
        frames = np.asarray(trial.frames)
        arrays = {name: frames[name] for name in ("counts", "seq", "t_us", "status", "missed")}
        arrays["device_time_s"] = np.asarray(trial.device_time_s, dtype="<f8")
        arrays["host_time_s"] = np.asarray(getattr(trial, "host_time_s", np.full(len(frames), np.nan)), dtype="<f8")
        rate = effective_rate_hz(arrays["device_time_s"])  # the core's one estimator: (n - 1) / span
        rate = rate if np.isfinite(rate) else None
        values = {
            "fs_hz": rate,
            "board_json": _json(getattr(trial, "board", None)),
            "quality_json": _json(getattr(trial, "quality", None) or {}),
            "gaps_json": _json(getattr(trial, "gaps", None) or []),
            "duration_s": float(arrays["device_time_s"][-1] - arrays["device_time_s"][0]) if len(frames) > 1 else 0.0,
        }
        if calibration_id is not None:
            values["calibration_id"] = calibration_id
        blobs = []
        for name, array in arrays.items():
            data, dtype, shape = to_blob(np.asarray(array, dtype=TRIAL_ARRAYS[name]))
            blobs.append({"trial_id": trial_id, "name": name, "dtype": dtype, "shape": shape, "rate_hz": rate,
                          "data": data})

        def work(conn):
            for blob in blobs:
                upsert(conn, trial_arrays, blob, keys=["trial_id", "name"])
            conn.execute(trials.update().where(trials.c.id == trial_id).values(**values))

        self._write(work, mirror=lambda _: ([(calibrations, calibration_id)] if calibration_id else []) + [(trials, trial_id)])

    def trial_arrays(self, trial_id: int) -> dict[str, np.ndarray]:
        """The raw arrays of a trial: counts (n, 4) int32, seq, t_us, status, missed, device_time_s, host_time_s."""
        with self._read() as conn:
            rows = conn.execute(sa.select(trial_arrays.c.name, trial_arrays.c.dtype, trial_arrays.c.shape,
                                          trial_arrays.c.data).where(trial_arrays.c.trial_id == trial_id)).all()
        return {name: from_blob(bytes(data), dtype, shape) for name, dtype, shape, data in rows}

    def trial_file(self, trial_id: int):
        """Rebuild a ``TrialFile`` from the stored raw data (for re-analysis with ``analyze_trial``)."""
        from station.board.protocol import FRAME_DTYPE
        from station.board.trialfile import TrialFile

        record = self.get_trial(trial_id)
        arrays = self.trial_arrays(trial_id)
        if "counts" not in arrays:
            raise InputFileError(f"Trial {trial_id} has no recorded data.")
        frames = np.zeros(len(arrays["counts"]), dtype=FRAME_DTYPE)
        for name in ("counts", "seq", "t_us", "status", "missed"):
            frames[name] = arrays[name]
        calibration = self.get_calibration(record.calibration_id) if record.calibration_id else None
        return TrialFile(
            frames=frames,
            device_time_s=arrays["device_time_s"],
            host_time_s=arrays.get("host_time_s", np.full(len(frames), np.nan)),
            board=record.board or {},
            quality=record.quality,
            gaps=record.gaps,
            calibration=calibration,
            meta=record.meta,
            events=record.events,
        )

    def set_metrics(self, trial_id: int, metrics_: dict[str, float], *, rep: int = 0) -> None:
        """Store numeric metrics of a trial (``rep=0``) or of repetition ``rep`` (1-based); NaN → NULL."""
        rows = []
        for name, value in metrics_.items():
            is_number = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
            if value is not None and not is_number:
                continue  # only numbers are metrics; strings, flags and dicts belong in events or meta
            v = None if value is None else float(value)
            rows.append({"trial_id": trial_id, "rep": rep, "name": name,
                         "value": v if v is None or math.isfinite(v) else None})

        def work(conn):
            conn.execute(metrics.delete().where(metrics.c.trial_id == trial_id, metrics.c.rep == rep))
            if rows:
                conn.execute(metrics.insert(), rows)

        self._write(work, mirror=lambda _: [(metrics, trial_id)])

    def get_trial(self, trial_id: int) -> TrialRecord:
        found = self._trials(trials.c.id == int(trial_id))
        if not found:
            raise StationError(f"There is no trial with id {trial_id}.")
        return found[0]

    def trials(self, session_id: int, *, status: str | None = None) -> list[TrialRecord]:
        """The trials of a session in order, with their metrics (rep 0 and per-repetition)."""
        where = [trials.c.session_id == session_id] + ([trials.c.status == status] if status is not None else [])
        return self._trials(*where)

    def trials_in_state(self, status: str) -> list[TrialRecord]:
        """Every trial (of any session) in ``status``, e.g. ``running`` ones for recovery."""
        return self._trials(trials.c.status == status)

    def _trials(self, *where) -> list[TrialRecord]:
        with self._read() as conn:
            rows = conn.execute(sa.select(trials).where(*where).order_by(trials.c.session_id, trials.c.seq)).mappings().all()
            ids = [r["id"] for r in rows]
            metric_rows = conn.execute(sa.select(metrics).where(metrics.c.trial_id.in_(ids))
                                       .order_by(metrics.c.trial_id, metrics.c.rep)).all() if ids else []
        whole: dict[int, dict[str, float]] = {i: {} for i in ids}
        reps: dict[int, dict[int, dict[str, float]]] = {i: {} for i in ids}
        for trial_id, rep, name, value in metric_rows:
            value = math.nan if value is None else float(value)
            (whole[trial_id] if rep == 0 else reps[trial_id].setdefault(int(rep), {}))[name] = value
        return [_trial(r, whole[r["id"]], [reps[r["id"]][k] for k in sorted(reps[r["id"]])]) for r in rows]

    def metrics_table(self, session_id: int) -> list[dict]:
        """One row per trial: the trial's identity (id, seq, task, side, condition, phase, status) and
        its whole-trial metrics, plus ``reps`` (list of per-repetition metric dicts). The input of
        :func:`station.assessment.scoring.score_session`."""
        return [
            {"trial_id": t.id, "seq": t.seq, "task": t.task, "side": t.side, "condition": t.condition,
             "phase": t.phase, "status": t.status, "reason": t.reason, "metrics": dict(t.metrics),
             "reps": [dict(r) for r in t.rep_metrics]}
            for t in self.trials(session_id)
        ]


def _open_outbox(base: Path) -> Engine:
    outbox = dbengine.make_engine(sa.URL.create("sqlite", database=str(base / OUTBOX_NAME)))
    dbengine.upgrade(outbox)
    return outbox


def _clean_text(value, what: str) -> str:
    text = "" if value is None else str(value).strip()
    if _CONTROL.search(text) or len(text) > NAME_MAX_CHARS:
        raise StationError(f"The {what} must be one line of at most {NAME_MAX_CHARS} characters.")
    return text


def _check_patient(*, name, birth_year=None, sex=None, body_mass_kg=None, dominant_leg=None, notes="") -> dict:
    """Validated, normalised patient fields (raises StationError with one clear sentence)."""
    if name is None or not str(name).strip():
        raise StationError("A patient needs a name or a pseudonym.")
    name = _clean_text(name, "patient's name")
    if name.startswith("#"):
        raise StationError("A patient's name cannot start with '#' (that form looks a patient up by id).")
    if sex is not None and sex not in SEXES:
        raise StationError(f"Sex must be one of {', '.join(SEXES)}, not {sex!r}.")
    if dominant_leg is not None and dominant_leg not in LEGS:
        raise StationError(f"The dominant leg must be one of {', '.join(LEGS)}, not {dominant_leg!r}.")
    if body_mass_kg is not None:
        try:
            body_mass_kg = float(body_mass_kg)
        except (TypeError, ValueError):
            raise StationError(f"Body mass must be a number of kilograms, not {body_mass_kg!r}.") from None
        low, high = BODY_MASS_RANGE_KG
        if not (math.isfinite(body_mass_kg) and low <= body_mass_kg <= high):
            raise StationError(f"Body mass must be between {low:g} and {high:g} kg, not {body_mass_kg:g}.")
    if birth_year is not None:
        low, high = BIRTH_YEAR_RANGE
        if isinstance(birth_year, bool) or not isinstance(birth_year, (int, np.integer)) or not low <= birth_year <= high:
            raise StationError(f"The birth year must be a year between {low} and {high}, not {birth_year!r}.")
        birth_year = int(birth_year)
    return {"name": name, "birth_year": birth_year, "sex": sex, "body_mass_kg": body_mass_kg,
            "dominant_leg": dominant_leg, "notes": "" if notes is None else str(notes)}


def _session(d) -> Session:
    return Session(
        id=d["id"], patient_id=d["patient_id"], protocol=d["protocol"], status=d["status"], started=d["started"],
        finished=d["finished"], board=_loads(d["board_json"]), calibration_id=d["calibration_id"],
        operator=d["operator"], notes=d["notes"], settings=_loads(d["settings_json"], {}),
        scores=_loads(d["scores_json"]), uuid=d["uuid"], station=d["station"], deleted_at=d["deleted_at"],
    )


def _trial(d, whole: dict, reps: list) -> TrialRecord:
    return TrialRecord(
        id=d["id"], session_id=d["session_id"], seq=d["seq"], step=d["step"], task=d["task"], side=d["side"],
        condition=d["condition"], phase=d["phase"], status=d["status"], reason=d["reason"],
        repeat_of=d["repeat_of"], started=d["started"], duration_s=d["duration_s"], fs_hz=d["fs_hz"],
        window_start_s=d["window_start_s"], window_end_s=d["window_end_s"], calibration_id=d["calibration_id"],
        board=_loads(d["board_json"]), quality=_loads(d["quality_json"], {}), gaps=_loads(d["gaps_json"], []),
        events=_loads(d["events_json"], []), meta=_loads(d["meta_json"], {}),
        metrics=whole, rep_metrics=reps, uuid=d["uuid"],
    )
