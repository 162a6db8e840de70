"""Which database, how to connect to it, and bringing its schema up to date (Alembic).

``--database URL`` / ``STATION_DATABASE_URL`` choose the database: ``sqlite:///path`` or
``postgresql://user@host:port/db?sslmode=verify-full`` (``postgresql:///?service=clinic`` uses
libpq's service file). Without one, the SQLite file in the data directory. Passwords never travel
in the URL: libpq reads them from ``~/.pgpass`` / ``PGPASSFILE``, ``PGPASSWORD`` or the service
file; every URL this module logs or prints has its password hidden. Query parameters (TLS:
``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``; ``service``; ``connect_timeout``) go to libpq
unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from station.errors import StationError
from station.store import paths, roles

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BACKENDS = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 5
#: key of a PostgreSQL advisory lock held while migrating (stations starting together migrate once)
MIGRATION_LOCK_KEY = 0x5B000016


def database_url(url: str | URL | None = None, *, data_dir: Path) -> URL:
    """The URL to open: ``url``, else ``$STATION_DATABASE_URL``, else the SQLite file in ``data_dir``.

    Raises
    ------
    StationError
        Not a URL, an unsupported backend, or a password inside the URL.
    """
    text = url if url is not None else os.environ.get("STATION_DATABASE_URL") or None
    if text is None:
        return URL.create("sqlite", database=str(data_dir / paths.DB_NAME))
    try:
        parsed = make_url(text) if isinstance(text, str) else text
    except sa.exc.ArgumentError:
        raise StationError(
            "The database URL must look like sqlite:///path/station.sqlite3 or postgresql://user@host/dbname."
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in BACKENDS or (driver and driver not in ("psycopg", "pysqlite")):
        raise StationError(f"Unsupported database {parsed.drivername!r}: use sqlite:///… or postgresql://….")
    if parsed.password is not None:
        raise StationError(
            "Do not put the database password in the URL: use ~/.pgpass (or PGPASSFILE), PGPASSWORD or a "
            "libpq service file (postgresql:///?service=NAME)."
        )
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StationError("A SQLite database URL needs a file: sqlite:///path/station.sqlite3.")
        return parsed.set(drivername="sqlite")
    return parsed.set(drivername="postgresql+psycopg")


def describe(url: URL) -> str:
    """The URL as shown to people and in logs (never with a password)."""
    return url.render_as_string(hide_password=True)


def make_engine(url: URL, *, read_only: bool = False) -> Engine:
    """An engine for ``url``: SQLite with WAL and foreign keys, private files; PostgreSQL with psycopg 3.

    Raises
    ------
    StationError
        The SQLite file or its directory cannot be created (or, read-only, does not exist).
    """
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(Path(url.database), read_only=read_only)
    # A server that vanishes without closing the connection (cable, Wi-Fi) is noticed within seconds,
    # not after the kernel's TCP timeout, so the station moves on to its outbox; the URL may override.
    args = {"connect_timeout": PG_CONNECT_TIMEOUT_S, "application_name": "balance-station", "keepalives": 1,
            "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3, "tcp_user_timeout": 10_000}
    args = {k: v for k, v in args.items() if k not in url.query}
    if read_only:
        args["options"] = "-c default_transaction_read_only=on"
    return sa.create_engine(url, pool_pre_ping=True, connect_args=args)


def _sqlite_engine(path: Path, *, read_only: bool) -> Engine:
    try:
        if read_only:
            if not path.is_file():
                raise StationError(f"There is no station database at {path}.")
            target = f"file:{path}?mode=ro"
        else:
            paths.ensure_private_dir(path.parent)
            paths.ensure_private_file(path)
            target = str(path)
    except OSError as exc:
        raise StationError(f"Cannot open the station database {path}: {exc.strerror or exc}.") from None

    def connect():
        conn = sqlite3.connect(target, uri=read_only, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False,
                               isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    engine = sa.create_engine("sqlite://", creator=connect)

    # pysqlite's own transaction handling is off (isolation_level=None): SQLAlchemy emits BEGIN itself,
    # IMMEDIATE for writes so a read-then-write transaction never dead-locks on the lock upgrade.
    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("station_write") else "BEGIN")

    return engine


@contextlib.contextmanager
def begin(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One transaction on ``engine`` (committed on success, rolled back on error)."""
    with engine.connect() as conn:
        if write:
            conn = conn.execution_options(station_write=True)
        with conn.begin():
            yield conn


def connection_error(exc: BaseException, url: URL) -> StationError:
    """One clear line for a database that cannot be used: unreachable, wrong password, no such database."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    first = text.splitlines()[0] if text else type(orig).__name__
    sqlstate = getattr(orig, "sqlstate", None)
    where = f"{url.host or 'localhost'}:{url.port or 5432}" if url.get_backend_name() == "postgresql" else str(url.database)
    lower = text.lower()
    if sqlstate == "28P01" or "password authentication failed" in lower or "no password supplied" in lower:
        return StationError(
            f"The database server at {where} refused the login of {url.username or 'this user'!s}: wrong or missing "
            "password (check ~/.pgpass, PGPASSWORD or the service file)."
        )
    if sqlstate == "3D000" or ("database" in lower and "does not exist" in lower):
        return StationError(f"The database server at {where} has no database {url.database!r}.")
    if sqlstate == "28000":
        return StationError(f"The database server at {where} does not let this station in: {first}")
    if url.get_backend_name() == "postgresql":
        reason = first.rsplit("failed: ", 1)[-1]  # libpq: 'connection to server at "h", port p failed: <why>'
        return StationError(f"Cannot reach the database server at {where}: {reason}")
    return StationError(f"The station database {where} cannot be used: {first}")


def is_connection_lost(exc: BaseException) -> bool:
    """Did ``exc`` come from losing (or never reaching) the server, rather than from a bad statement?"""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return True
    return False


# ---------------------------------------------------------------------- schema (Alembic)
def _alembic_config(conn: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    """The newest migration this station knows."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)
    return ScriptDirectory.from_config(cfg).get_current_head()


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config(None)).walk_revisions()}


def current_revision(conn: Connection) -> str | None:
    """The database's Alembic revision; ``"legacy-N"`` for a hand-written-era database, None when empty."""
    from alembic.migration import MigrationContext

    rev = MigrationContext.configure(conn).get_current_revision()
    if rev is not None:
        return rev
    if "schema_version" in sa.inspect(conn).get_table_names():
        version = conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
        return f"legacy-{int(version or 0)}"
    return None


def _newer(rev: str) -> StationError:
    return StationError(
        f"The database was written by a newer station (schema {rev}; this station knows up to {head_revision()}); "
        "update the station software."
    )


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision in one transaction; return it.

    An empty database gets the whole schema; a database of the hand-written era (``schema_version``
    1) is stamped as revision ``0001`` and upgraded in place, rows kept.

    Raises
    ------
    StationError
        The database comes from a newer station.
    """
    head = head_revision()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # SQLite's procedure for rebuilding a table: foreign keys off outside the transaction
            conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.execution_options(station_write=True).begin():
                _upgrade(conn, head)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise StationError("The database migration left broken references; nothing was changed.")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = ON")
    return head


def _upgrade(conn: Connection, head: str) -> None:
    from alembic import command

    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
    rev = current_revision(conn)
    cfg = _alembic_config(conn)
    if rev is not None and rev.startswith("legacy-"):
        if rev != "legacy-1":
            raise _newer(rev)
        log.info("database of the hand-written era (schema_version 1): stamping 0001 and upgrading in place")
        command.stamp(cfg, "0001")
        conn.execute(sa.text("DROP TABLE schema_version"))
        rev = "0001"
    if rev is not None and rev not in _known_revisions():
        raise _newer(rev)
    if rev != head:
        log.info("migrating the database from %s to %s", rev or "empty", head)
        command.upgrade(cfg, "head")
        if conn.dialect.name == "postgresql":
            roles.grant(conn)  # new tables and views are covered for the roles that exist


def check_current(engine: Engine) -> str:
    """For a read-only open: the schema must be the newest already (a read-only open never migrates).

    Raises
    ------
    StationError
        Empty, older or newer schema.
    """
    with begin(engine, write=False) as conn:
        rev = current_revision(conn)
    head = head_revision()
    if rev == head:
        return rev
    if rev is None:
        raise StationError("The station database is empty: record a session first (or run `station db upgrade`).")
    if rev.startswith("legacy-") and rev != "legacy-1" or not rev.startswith("legacy-") and rev not in _known_revisions():
        raise _newer(rev)
    raise StationError(
        f"The station database has an older schema ({rev}); run `station db upgrade` (or any recording command) first."
    )
