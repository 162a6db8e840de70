"""PostgreSQL roles of a clinic: stations write, clinicians read, researchers read pseudonymised views.

Three group roles (NOLOGIN); people and stations log in with their own login roles that are members
of one of them (docs/DEPLOY.md):

- ``station_writer``: reads everything and writes sessions, trials, raw data, metrics, patients and
  calibrations (no DELETE except metrics, which a re-analysis replaces; deleting is a tombstone);
- ``clinician_reader``: reads every table (reports, exports, history);
- ``researcher_reader``: reads only the ``research_*`` views (no names, notes or operators; dates to
  the day; body mass to 5 kg).

:func:`grant` is idempotent; ``station db init-roles`` creates the roles and grants, and
``station db upgrade`` re-grants after a migration so new tables are covered.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from station.errors import StationError
from station.store.tables import metadata

log = logging.getLogger(__name__)

WRITER = "station_writer"
CLINICIAN = "clinician_reader"
RESEARCHER = "researcher_reader"
ROLES = (WRITER, CLINICIAN, RESEARCHER)
RESEARCH_VIEWS = ("research_patients", "research_sessions", "research_trials", "research_metrics",
                  "research_trial_arrays")


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def existing_roles(conn: Connection) -> set[str]:
    rows = conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)"), {"names": list(ROLES)})
    return set(rows.scalars())


def create_roles(conn: Connection) -> list[str]:
    """Create the missing group roles; return those created.

    Raises
    ------
    StationError
        Not PostgreSQL, or the user may not create roles.
    """
    if conn.dialect.name != "postgresql":
        raise StationError("Roles exist only on a PostgreSQL server; a SQLite station is private to its user.")
    created = []
    for role in ROLES:
        if role not in existing_roles(conn):
            conn.execute(sa.text(f"CREATE ROLE {_quote(conn, role)} NOLOGIN"))
            created.append(role)
    return created


def grant(conn: Connection) -> None:
    """Grant each existing group role its privileges on the current schema (idempotent)."""
    if conn.dialect.name != "postgresql":
        return
    present = existing_roles(conn)
    tables = [t.name for t in metadata.sorted_tables] + ["alembic_version"]
    q = {r: _quote(conn, r) for r in ROLES}
    statements = []
    if WRITER in present:
        statements += [f"GRANT SELECT, INSERT, UPDATE ON {t} TO {q[WRITER]}" for t in tables if t != "alembic_version"]
        statements += [f"GRANT SELECT ON alembic_version TO {q[WRITER]}", f"GRANT DELETE ON metrics TO {q[WRITER]}",
                       f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {q[WRITER]}"]
    if CLINICIAN in present:
        statements += [f"GRANT SELECT ON {t} TO {q[CLINICIAN]}" for t in tables]
    if RESEARCHER in present:
        statements += [f"GRANT SELECT ON {v} TO {q[RESEARCHER]}" for v in RESEARCH_VIEWS]
        statements += [f"GRANT SELECT ON alembic_version TO {q[RESEARCHER]}"]
    for statement in statements:
        conn.execute(sa.text(statement))
    log.info("granted privileges to %s", ", ".join(sorted(present)) or "no role")
