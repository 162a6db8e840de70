"""``station db backup [DEST] [--force]``: Store.backup() from the command line.

The backup is a complete SQLite copy, created 0600 (its folder 0700) under a temporary name and moved
into place; an existing file is refused without --force, and a symlink at DEST is never followed.
"""

from __future__ import annotations

import os
import sqlite3

from station.cli import main
from station.store import Store

from .conftest import file_mode


def _names(path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM patients ORDER BY id")]


def _station(tmp_path, *argv) -> int:
    return main(["--data-dir", str(tmp_path / "data"), *argv])


def test_db_backup_writes_a_private_copy_and_never_overwrites_without_force(tmp_path, capsys):
    with Store.open(tmp_path / "data") as store:
        store.add_patient(name="Backup One", body_mass_kg=61.0)
    dest = tmp_path / "out" / "station-copy.sqlite3"
    assert _station(tmp_path, "db", "backup", str(dest)) == 0
    assert f"backed up to {dest}" in capsys.readouterr().out
    assert file_mode(dest) == 0o600 and file_mode(dest.parent) == 0o700
    assert _names(dest) == ["Backup One"]
    assert not [p for p in dest.parent.iterdir() if p != dest]  # no temporary file left beside it

    # an existing file: refused in one line, left as it was
    with Store.open(tmp_path / "data") as store:
        store.add_patient(name="Backup Two")
    before = os.stat(dest)
    assert _station(tmp_path, "db", "backup", str(dest)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists; use --force" in err and "Traceback" not in err
    assert os.stat(dest).st_ino == before.st_ino and _names(dest) == ["Backup One"]

    # --force: replaced atomically (a new file), still private, with the new patient
    assert _station(tmp_path, "db", "backup", str(dest), "--force") == 0
    capsys.readouterr()
    assert os.stat(dest).st_ino != before.st_ino and file_mode(dest) == 0o600
    assert _names(dest) == ["Backup One", "Backup Two"]


def test_db_backup_never_writes_through_a_symlink(tmp_path, capsys):
    with Store.open(tmp_path / "data") as store:
        store.add_patient(name="Linked")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "backup.sqlite3"
    link.symlink_to(victim)
    assert _station(tmp_path, "db", "backup", str(link)) == 2
    assert "already exists" in capsys.readouterr().err
    assert _station(tmp_path, "db", "backup", str(link), "--force") == 0
    capsys.readouterr()
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and file_mode(link) == 0o600 and _names(link) == ["Linked"]


def test_db_backup_default_goes_to_the_private_backups_folder(tmp_path, capsys):
    with Store.open(tmp_path / "data") as store:
        store.add_patient(name="Default")
    assert _station(tmp_path, "db", "backup") == 0
    capsys.readouterr()
    folder = tmp_path / "data" / "backups"
    (copy,) = folder.glob("station-*.sqlite3")
    assert file_mode(folder) == 0o700 and file_mode(copy) == 0o600 and _names(copy) == ["Default"]
