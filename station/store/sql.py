"""SQL building blocks shared by the repositories, the outbox and the copier.

Times as ISO 8601 text, global ids (uuids), integer ids that never collide in an outbox, the
backend's own ``INSERT … ON CONFLICT`` and the JSON text columns (``*_json``). Raw arrays have their
own codec in :mod:`station.store.blobs`.
"""

from __future__ import annotations

import contextlib
import json
import uuid as uuidlib
from datetime import datetime, timezone
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from station.jsonsafe import dumps

#: ``Connection.info`` key set while a transaction writes into an outbox (see :func:`negative_ids`)
_NEGATIVE_IDS = "negative_ids"


def now_iso() -> str:
    """Current UTC time as ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def tombstone_iso() -> str:
    """Current UTC time with microseconds, for ``deleted_at``.

    A patient deleted right after one of their sessions must not share its stamp: restoring the
    patient brings back exactly the sessions that carry the patient's stamp.
    """
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def new_uuid() -> str:
    """A fresh globally unique id (text form)."""
    return str(uuidlib.uuid4())


@contextlib.contextmanager
def negative_ids(conn: Connection) -> Iterator[Connection]:
    """While inside, :func:`insert_id` gives new rows of ``conn`` negative ids (an outbox's rows).

    An outbox mirrors the server's rows under their positive ids, so rows it creates itself while the
    server is away must never collide with them.
    """
    conn.info[_NEGATIVE_IDS] = True
    try:
        yield conn
    finally:
        conn.info.pop(_NEGATIVE_IDS, None)


def uses_negative_ids(conn: Connection) -> bool:
    """True inside :func:`negative_ids`: ``conn`` writes into an outbox."""
    return bool(conn.info.get(_NEGATIVE_IDS))


def insert_id(conn: Connection, table: sa.Table, values: dict) -> int:
    """Insert one row and return its integer id (negative inside :func:`negative_ids`).

    Parameters
    ----------
    conn
        An open transaction.
    table
        A table with an integer ``id`` primary key.
    values
        The row's columns; an ``id`` given here is kept.
    """
    if uses_negative_ids(conn) and "id" not in values:
        low = conn.execute(sa.select(sa.func.min(table.c.id))).scalar()
        values = {**values, "id": min(int(low or 0), 0) - 1}
    result = conn.execute(table.insert().values(**values))
    return int(values["id"]) if "id" in values else int(result.inserted_primary_key[0])


def upsert(conn: Connection, table: sa.Table, values: dict, *, keys: list[str], update: bool = True):
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` (or ``DO NOTHING``) with the backend's own construct.

    Parameters
    ----------
    keys
        The columns of a unique constraint that identify the row.
    update
        On conflict, overwrite the other columns (``id`` never); False keeps the stored row.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values)
    changed = {k: stmt.excluded[k] for k in values if k not in keys and k != "id"}
    if update and changed:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changed)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    return conn.execute(stmt)


def to_json(value, *, sort_keys: bool = False) -> str:
    """The text of a ``*_json`` column: NaN and infinities as null, numpy values as plain numbers.

    ``sort_keys`` gives one text per content (what a digest of it needs).
    """
    return dumps(value, sort_keys=sort_keys)


def from_json(text: str | None, default=None):
    """A ``*_json`` column decoded; ``default`` for NULL."""
    return default if text is None else json.loads(text)
