"""Alembic migrations of the station database (run by :mod:`station.store.engine`, never by hand).

A schema change is a new file in ``versions/`` whose ``down_revision`` is the current head; old
files are never edited. ``0001`` is the schema of the hand-written SQLite store (``schema_version``
1); a database of that era is stamped ``0001`` and upgraded in place.
"""
