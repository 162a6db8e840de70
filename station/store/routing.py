"""Where the store's transactions go: the database, or the station's outbox while the server is away.

A :class:`Router` holds the engine of the database (the SQLite file, or a PostgreSQL server) and,
with a server, the engine of the station's outbox (:mod:`station.store.outbox`). Every read and
write of the repositories is one transaction opened here:

- with the server there, a write goes to the server, and the rows it changed are mirrored into the
  outbox under the same ids (a write names them as :class:`~station.store.outbox.Ref` values);
- when the server goes away (at open, or between two writes), the router warns once, calls the
  ``on_offline`` callbacks, and carries on in the outbox, where new rows get negative ids and every
  change is marked for upload;
- :meth:`Router.sync` uploads the outbox (by uuid: nothing twice) and goes back to the server once
  nothing is left to upload.

The router serialises writes with one lock, so a store is safe to share between threads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from station.errors import StationError
from station.store import engine as dbengine
from station.store.outbox import (
    OUTBOX_NAME,
    Ref,
    forget_session,
    mark_pending,
    open_outbox,
    pending_counts,
    read_rows,
    upload_outbox,
    write_rows,
)
from station.store.sql import negative_ids
from station.store.tables import calibrations, patients

log = logging.getLogger(__name__)

NOTHING_PENDING = {"sessions": 0, "trials": 0, "patients": 0}

#: what a write names as changed, given what the work returned
Mirror = Callable[[Any], list[Ref]]


class Router:
    """The database and (with a server) the outbox behind one pair of transaction openers.

    Parameters
    ----------
    engine
        The database's engine.
    url
        Its URL (shown without password in messages).
    data_dir
        The station's data directory (where the outbox lives).
    read_only
        Refuse every write.
    outbox
        The outbox's engine (a server only).
    offline_reason
        Why the server could not be used at open; None when it could.
    """

    def __init__(self, engine: Engine, url: sa.URL, data_dir: Path, *, read_only: bool = False,
                 outbox: Engine | None = None, offline_reason: str | None = None):
        self.engine: Engine | None = engine
        self.url = url
        self.data_dir = data_dir
        self.read_only = read_only
        self.outbox = outbox
        self.offline_reason = offline_reason
        self.lock = threading.RLock()
        self.uploaded = {"sessions": 0, "trials": 0, "arrays": 0, "patients": 0}  # by sync() since open
        self.on_offline: list[Callable[[str], None]] = []  # called once when the server goes away

    @classmethod
    def open(cls, data_dir: Path, url: sa.URL, *, read_only: bool) -> "Router":
        """Connect to ``url`` and bring its schema up to date (read-only: check it is current).

        A PostgreSQL server that cannot be reached when a station opens it for writing is not an
        error: the station records into its outbox (``offline_reason`` says why).

        Raises
        ------
        StationError
            The database refuses the login or the migration, has no such database, is unreachable
            for a reader, or comes from a newer station.
        """
        engine = dbengine.make_engine(url, read_only=read_only)
        server = url.get_backend_name() == "postgresql"
        offline = None
        try:
            (dbengine.check_current if read_only else dbengine.upgrade)(engine)
        except sa.exc.DBAPIError as exc:
            engine.dispose()
            if not dbengine.is_connection_lost(exc):  # reached, but refused (e.g. no privilege to migrate)
                raise StationError(f"The database {dbengine.describe(url)} refused to open: "
                                   f"{str(exc.orig).splitlines()[0]}") from None
            error = dbengine.connection_error(exc, url)
            if not server or read_only or "refused the login" in str(error) or "has no database" in str(error):
                raise error from None
            offline = str(error)  # record locally; upload later
        except StationError:
            engine.dispose()
            raise
        outbox = open_outbox(data_dir) if server and not read_only else None
        router = cls(engine, url, data_dir, read_only=read_only, outbox=outbox, offline_reason=offline)
        if offline:
            log.warning("%s — recording on this station; `station sync` uploads it when the server is back.", offline)
        elif outbox is not None:
            router.refresh_outbox()
        return router

    def close(self) -> None:
        """Upload what the outbox holds if the server is reachable again, then close. Safe to call twice."""
        with self.lock:
            if self.engine is None:
                return
            if self.outbox is not None:
                try:
                    self.sync()
                except StationError as exc:
                    if not self.offline:
                        log.warning("%s", exc)
                self.outbox.dispose()
                self.outbox = None
            self.engine.dispose()
            self.engine = None

    @property
    def offline(self) -> bool:
        """True while the station records into its outbox because the server is unreachable."""
        return self.offline_reason is not None

    @property
    def outbox_path(self) -> Path:
        """The outbox's file."""
        return self.data_dir / OUTBOX_NAME

    def active(self) -> Engine:
        """The engine transactions go to now: the outbox while offline, else the database.

        Raises
        ------
        StationError
            The store is closed.
        """
        if self.engine is None:
            raise StationError("The station database is closed.")
        return self.outbox if self.offline else self.engine

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction on the active engine (the outbox when the server has just gone away)."""
        engine = self.active()
        try:
            conn = engine.connect()
        except sa.exc.DBAPIError as exc:  # the server went away between two writes: read the outbox
            if self.outbox is None or engine is self.outbox or not dbengine.is_connection_lost(exc):
                raise self._database_error(exc) from None
            self._go_offline(exc)
            conn = self.outbox.connect()
        with conn:
            try:
                with conn.begin():
                    yield conn
            except sa.exc.DBAPIError as exc:
                raise self._database_error(exc) from None

    def row(self, table: sa.Table, row_id: int, what: str) -> sa.RowMapping:
        """The row of ``table`` with this ``id`` (one read transaction).

        Raises
        ------
        StationError
            No such row: "There is no ``what`` with id …".
        """
        with self.read() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == int(row_id))).mappings().first()
        if row is None:
            raise StationError(f"There is no {what} with id {row_id}.")
        return row

    def write(self, work: Callable[[Connection], Any], *, mirror: Mirror | None = None):
        """Run ``work(conn)`` in one write transaction and return its result.

        ``mirror(result)`` names the rows the work changed: after a server write they are copied into
        the outbox; in the outbox (offline, or when the server goes away during this write, which is
        then run there) they are marked for upload in the same transaction.

        Raises
        ------
        StationError
            Read-only or closed store; the database refused the statement.
        """
        if self.read_only:
            raise StationError("The station database was opened read-only.")
        with self.lock:
            if self.engine is None:
                raise StationError("The station database is closed.")
            if not self.offline:
                fetched = None
                try:
                    with dbengine.begin(self.engine, write=True) as conn:
                        result = work(conn)
                        if self.outbox is not None and mirror is not None:  # read inside the transaction
                            fetched = read_rows(conn, mirror(result))
                except sa.exc.DBAPIError as exc:
                    if self.outbox is None or not dbengine.is_connection_lost(exc):
                        raise self._database_error(exc) from None
                    self._go_offline(exc)
                else:
                    if fetched:
                        self._mirror(fetched)
                    return result
            with dbengine.begin(self.outbox, write=True) as conn, negative_ids(conn):
                result = work(conn)
                if mirror is not None:
                    mark_pending(conn, mirror(result))
                return result

    def _database_error(self, exc: sa.exc.DBAPIError) -> StationError:
        if dbengine.is_connection_lost(exc):
            return dbengine.connection_error(exc, self.url)
        return StationError(f"The station database refused the operation: {str(exc.orig).splitlines()[0]}")

    def _go_offline(self, exc: BaseException) -> None:
        self.offline_reason = str(dbengine.connection_error(exc, self.url))
        log.warning("Lost the database server (%s): recording continues on this station; `station sync` "
                    "uploads it when the server is back.", self.offline_reason)
        for callback in self.on_offline:
            callback(self.offline_reason)

    def _mirror(self, fetched: list) -> None:
        try:
            with dbengine.begin(self.outbox, write=True) as dst:
                write_rows(dst, fetched)
        except sa.exc.DBAPIError as exc:  # the outbox is a safety net: never fail a stored write for it
            log.warning("could not keep a copy in the outbox: %s (%s)", str(exc.orig).splitlines()[0],
                        ", ".join(f"{ref.table.name} {ref.row_id}" for ref, _ in fetched))

    # ------------------------------------------------------------------ the outbox
    def refresh_outbox(self) -> None:
        """Upload leftovers, then cache the server's patient list (so an offline station finds patients)."""
        try:
            self.sync()
            with dbengine.begin(self.engine, write=False) as src:
                ids = src.execute(sa.select(patients.c.id)).scalars()
                fetched = read_rows(src, [Ref(patients, i) for i in ids])
        except (StationError, sa.exc.DBAPIError) as exc:
            log.warning("could not refresh the outbox: %s", exc)
            return
        self._mirror(fetched)

    def forget_finished(self, session_id: int) -> None:
        """A session finished on the server: its mirror in the outbox has done its job."""
        if self.outbox is not None and not self.offline:
            with dbengine.begin(self.outbox, write=True) as conn:
                forget_session(conn, session_id)

    def reconnect(self, patient_id: int, calibration_id: int | None) -> tuple[int, int | None]:
        """Offline: try the server again; return ``patient_id`` and ``calibration_id`` as the server's ids.

        Outbox ids of rows created offline change when they are uploaded; the patient is found again
        by uuid, the calibration by digest. Still offline: the ids are returned unchanged.
        """
        with self.read() as conn:
            p_uuid = conn.execute(sa.select(patients.c.uuid).where(patients.c.id == patient_id)).scalar()
            digest = conn.execute(sa.select(calibrations.c.digest).where(calibrations.c.id == calibration_id)).scalar()
        try:
            self.sync()
        except StationError:
            return patient_id, calibration_id  # still away
        if self.offline or p_uuid is None:
            return patient_id, calibration_id
        with self.read() as conn:
            pid = conn.execute(sa.select(patients.c.id).where(patients.c.uuid == p_uuid)).scalar()
            cid = conn.execute(sa.select(calibrations.c.id).where(calibrations.c.digest == digest)).scalar()
        log.warning("the database server is back: everything recorded meanwhile is uploaded")
        return (pid if pid is not None else patient_id), (cid if digest is not None else calibration_id)

    def pending(self) -> dict[str, int]:
        """What the outbox holds that the server has not confirmed: ``{"sessions", "trials", "patients"}``."""
        if self.outbox is None:
            return dict(NOTHING_PENDING)
        with dbengine.begin(self.outbox, write=False) as conn:
            return pending_counts(conn)

    def sync(self) -> dict:
        """Upload the outbox to the server (idempotent, by uuid); return counts uploaded and still pending.

        Raises
        ------
        StationError
            No server configured, or the server is unreachable or refuses the upload.
        """
        if self.outbox is None:
            raise StationError("This station has no database server to sync with (it uses its own SQLite file).")
        with self.lock:
            try:
                with dbengine.begin(self.engine, write=False) as probe:
                    probe.execute(sa.select(1))
            except sa.exc.DBAPIError as exc:
                raise dbengine.connection_error(exc, self.url) from None
            if self.offline:
                log.warning("the database server is reachable again")
            try:
                uploaded = upload_outbox(self.outbox, self.engine)
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
