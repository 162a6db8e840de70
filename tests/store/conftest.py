"""Store fixtures: a throw-away PostgreSQL 15 server for the session, and every store test on both backends."""

from __future__ import annotations

import itertools
import os

import pytest

from tests.store.pgserver import APT_HINT, PgServer, available

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg():
    """The test PostgreSQL server (skipped, with the apt command, when the binaries are missing)."""
    if not available():
        pytest.skip(f"PostgreSQL server binaries missing: {APT_HINT}")
    server = PgServer().start()
    old = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(server.passfile(server.dir / "pgpass"))
    try:
        yield server
    finally:
        if old is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = old
        server.close()


def new_database(pg) -> str:
    """A fresh, empty database on the test server; its URL."""
    name = f"t{os.getpid()}_{next(_numbers)}"
    pg.create_database(name)
    return pg.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """None (the SQLite file in the data directory) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return new_database(request.getfixturevalue("pg"))


@pytest.fixture
def store(tmp_path, db_url):
    from station.store import Store

    with Store.open(tmp_path / "data", url=db_url) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """`station --database/--data-dir` set environment variables; each test starts (and ends) without them."""
    for name in ("STATION_DATABASE_URL", "STATION_DATA_DIR", "STATION_NAME"):
        monkeypatch.delenv(name, raising=False)
