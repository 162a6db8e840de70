"""Alembic environment: migrate the connection handed over by :func:`station.store.engine.upgrade`."""

from alembic import context

from station.store.tables import metadata

connection = context.config.attributes["connection"]
# One transaction for the whole upgrade on both backends (SQLite and PostgreSQL have transactional DDL).
context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
