"""A throw-away PostgreSQL server from the Debian binaries, for tests and bench/stations.py.

``initdb`` into a fresh temporary directory, ``postgres`` on a random TCP port of 127.0.0.1 and a
unix socket in that directory, password authentication (scram) for TCP, trust on the socket for
the superuser. As root, the server runs as ``nobody`` (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path(os.environ.get("STATION_PG_BIN", "/usr/lib/postgresql/15/bin"))
APT_HINT = "apt-get install postgresql (the tests need /usr/lib/postgresql/15/bin/initdb and postgres)"
SUPERUSER = "postgres"
PASSWORD = "s3cret-test-only"


def available() -> bool:
    return (BIN / "initdb").is_file() and (BIN / "postgres").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """``with PgServer() as pg: pg.url("dbname")`` — start on enter, stop (and delete) on exit."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="station-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self._user = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("nobody")
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.dir, 0o700)

    def _run_as(self):
        """preexec_fn: drop to ``nobody`` when root; die with the test process (no orphaned servers)."""
        user = self._user

        def prepare():
            if user is not None:
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
            with contextlib.suppress(OSError, AttributeError):  # Linux: PR_SET_PDEATHSIG (after setuid)
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGINT)

        return prepare

    def start(self) -> "PgServer":
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._user is not None:
            os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
        subprocess.run(
            [BIN / "initdb", "-D", self.data, "-U", SUPERUSER, "--pwfile", pwfile, "-E", "UTF8", "--no-sync",
             "--auth-local=trust", "--auth-host=scram-sha-256"],
            check=True, capture_output=True, preexec_fn=self._run_as(), cwd=self.dir,
        )
        self.start_server()
        return self

    def start_server(self) -> None:
        """(Re)start the postgres process on the same data directory and port."""
        log = open(self.dir / "log", "ab")
        self.proc = subprocess.Popen(
            [BIN / "postgres", "-D", self.data, "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=60"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=self._run_as(), cwd=self.dir,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.dir / 'log').read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    if self.psql("SELECT 1", check=False).returncode == 0:
                        return
            time.sleep(0.1)
        raise RuntimeError("postgres did not start within 30 s")

    def stop_server(self) -> None:
        """Stop the postgres process at once (as a crash or a pulled cable would), keeping the data."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients are cut off (SIGTERM would wait for them)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def psql(self, sql: str, *, db: str = "postgres", check: bool = True) -> subprocess.CompletedProcess:
        """Run SQL as the superuser over the unix socket."""
        return subprocess.run([BIN / "psql", "-h", str(self.dir), "-p", str(self.port), "-U", SUPERUSER, "-d", db,
                               "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True, check=check)

    def create_database(self, name: str) -> None:
        self.psql(f'CREATE DATABASE "{name}"')

    def url(self, db: str, *, user: str = SUPERUSER) -> str:
        """A password-less TCP URL (the password comes from PGPASSWORD / the password file)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def passfile(self, path: Path, *, user: str = SUPERUSER, password: str = PASSWORD) -> Path:
        """Write a libpq password file (0600) for ``user``."""
        path.write_text(f"127.0.0.1:{self.port}:*:{user}:{password}\n")
        os.chmod(path, 0o600)
        return path

    def close(self) -> None:
        self.stop_server()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
