"""``station db status|upgrade|backup|migrate|init-roles``: the station database itself."""

from __future__ import annotations

import json
import logging

from station.errors import StationError

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "db", help="database status, schema upgrade, copying a station's history to a server, server roles",
        description="The database chosen with --database / STATION_DATABASE_URL (default: the SQLite file in the "
        "data directory). Passwords are never given here: libpq reads ~/.pgpass, PGPASSWORD or a service file.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = sub.add_parser("status", help="backend, schema revision, row counts, pending uploads")
    status.add_argument("--json", action="store_true", help="one JSON object")
    sub.add_parser("upgrade", help="bring the schema to this station's newest revision (and re-grant roles)")
    backup = sub.add_parser(
        "backup", help="copy the whole database into one SQLite file (0600), consistent even while recording",
        description="Copy the whole database (SQLite: its backup API; PostgreSQL: every row) into one SQLite file, "
        "written privately (0600) under a temporary name and moved into place when complete. An existing file "
        "is refused unless --force; a symlink at DEST is replaced, never followed.",
    )
    backup.add_argument("dest", nargs="?", metavar="DEST",
                        help="the backup file (default: <data dir>/backups/station-<UTC time>.sqlite3)")
    backup.add_argument("--force", action="store_true", help="replace DEST if it exists")
    migrate = sub.add_parser(
        "migrate", help="copy a database (e.g. a station's SQLite history) into another (e.g. the server)",
        description="Copy every patient, calibration, session, trial, raw array and metric from one database into "
        "another, by global id (nothing twice; run it again after an interruption to continue), then verify: row "
        "counts and a SHA-256 checksum of every raw data blob on both sides.",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="URL", help="e.g. sqlite:///path/station.sqlite3")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL", help="e.g. postgresql://admin@db/clinic")
    migrate.add_argument("--json", action="store_true", help="print the copy and verification counts as JSON")
    sub.add_parser("init-roles", help="create the PostgreSQL roles station_writer, clinician_reader, "
                   "researcher_reader and grant them (needs CREATEROLE)")
    p.set_defaults(func=run)


def run(args) -> int:
    return {"status": _status, "upgrade": _upgrade, "backup": _backup, "migrate": _migrate,
            "init-roles": _init_roles}[args.action](args)


def _backup(args) -> int:
    from station.privatefiles import refuse_existing
    from station.store import Store

    if args.dest is not None:
        refuse_existing(args.dest, force=args.force)  # before opening the database
    with Store.open(read_only=True) as store:
        path = store.backup(args.dest, force=args.force)
        print(f"{store.backend} database {store.path} backed up to {path}")
    return 0


def _status(args) -> int:
    from station.store import Store
    from station.store import engine as dbengine

    with Store.open(read_only=True) as store:
        counts = store.row_counts()
        info = {"backend": store.backend, "database": str(store.path), "revision": store.schema_version,
                "newest_known": dbengine.head_revision(), "rows": counts, "station": store.station}
    if args.json:
        print(json.dumps(info))
    else:
        print(f"{info['backend']} database {info['database']}, schema {info['revision']} (this station knows up to "
              f"{info['newest_known']}); station {info['station']}")
        print(", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _upgrade(args) -> int:
    from station.store import Store
    from station.store import engine as dbengine
    from station.store import roles

    with Store.open(recover=False) as store:
        if store.offline:
            raise StationError(f"{store.offline_reason}; the schema was not upgraded.")
        if store.backend == "postgresql":
            with dbengine.begin(store.engine, write=True) as conn:
                roles.grant(conn)
        print(f"{store.backend} database {store.path}: schema {store.schema_version}.")
    return 0


def _migrate(args) -> int:
    from pathlib import Path

    from station.paths import data_dir
    from station.store import copying
    from station.store import engine as dbengine

    base = data_dir()
    src_url = dbengine.database_url(args.source, data_dir=base)
    dst_url = dbengine.database_url(args.target, data_dir=base)
    if src_url == dst_url:
        raise StationError("--from and --to name the same database.")
    if src_url.get_backend_name() == "sqlite" and not Path(src_url.database).is_file():
        raise StationError(f"There is no station database at {src_url.database}.")
    source = dbengine.make_engine(src_url, read_only=True)
    target = dbengine.make_engine(dst_url)
    try:
        try:
            dbengine.check_current(source)
        except StationError as exc:
            if "older schema" not in str(exc):
                raise
            raise StationError(f"{src_url.database}: {exc} (`station --database URL db upgrade`)") from None
        bar = _progress()
        try:
            done = copying.copy_database(source, target, target_url=dst_url, progress=bar)
        finally:
            bar.close()
        report = copying.verify(source, target)
    except Exception as exc:
        import sqlalchemy as sa

        if isinstance(exc, sa.exc.DBAPIError):
            raise dbengine.connection_error(exc, dst_url) from None
        raise
    finally:
        source.dispose()
        target.dispose()
    summary = {"copied": done, "verified": {"ok": report["ok"], "blobs": report["blobs"],
                                            "missing": len(report["missing"]), "different": len(report["different"]),
                                            "counts_source": report["counts_source"],
                                            "counts_target": report["counts_target"]}}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"Copied {done['sessions']} session(s) ({done['trials']} trials, {done['arrays']} raw arrays); "
              f"{done['skipped']} already complete; {done['patients']} patients, {done['calibrations']} calibrations.")
        c = report["counts_source"]
        print(f"Verified {dbengine.describe(dst_url)}: " + ", ".join(f"{k} {c[k]}/{report['counts_target'][k]}" for k in c)
              + f"; {report['blobs']} raw blobs, {len(report['missing'])} missing, {len(report['different'])} different.")
    if not report["ok"]:
        raise StationError("The copy does not match its source (see above); run the same command again.")
    return 0


class _progress:
    """tqdm bar over sessions on stderr (quiet when not a terminal)."""

    def __init__(self):
        import sys

        from tqdm import tqdm

        self._bar = tqdm(total=0, unit="session", desc="copying", disable=not sys.stderr.isatty())

    def __call__(self, done: int, total: int) -> None:
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _init_roles(args) -> int:
    import sqlalchemy as sa

    from station.paths import data_dir
    from station.store import engine as dbengine
    from station.store import roles

    url = dbengine.database_url(None, data_dir=data_dir())
    if url.get_backend_name() != "postgresql":
        raise StationError("Roles exist only on a PostgreSQL server: give --database postgresql://… "
                           "(as a user who may create roles).")
    engine = dbengine.make_engine(url)
    try:
        dbengine.upgrade(engine)
        with dbengine.begin(engine, write=True) as conn:
            created = roles.create_roles(conn)
            roles.grant(conn)
    except sa.exc.ProgrammingError as exc:
        raise StationError(f"Could not create the roles: {str(exc.orig).splitlines()[0]} (connect as a user with "
                           "CREATEROLE, e.g. the database owner).") from None
    except sa.exc.DBAPIError as exc:
        raise dbengine.connection_error(exc, url) from None
    finally:
        engine.dispose()
    print(f"Roles {', '.join(roles.ROLES)} ready on {dbengine.describe(url)}"
          + (f" (created {', '.join(created)})." if created else " (all existed)."))
    return 0
