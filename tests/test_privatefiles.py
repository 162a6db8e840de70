"""Private, atomic, in-place writes (station.privatefiles) and the commands that use them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from station.privatefiles import (
    OutputExistsError,
    make_private_dirs,
    private_open,
    private_temp_path,
    write_private,
)


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_new_file_is_0600_and_new_folders_0700(tmp_path):
    old = os.umask(0o022)  # the usual umask: without care files would be 0644 and folders 0755
    try:
        path = write_private(tmp_path / "a" / "b" / "out.csv", "x,y\n1,2\n")
    finally:
        os.umask(old)
    assert path.read_text() == "x,y\n1,2\n"
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["out.csv"]  # no temporary left


def test_second_write_without_force_is_refused_and_keeps_the_first(tmp_path):
    path = write_private(tmp_path / "r.pdf", b"first")
    with pytest.raises(OutputExistsError) as err:
        write_private(path, b"second")
    assert str(err.value) == f"{path} already exists; use --force to overwrite it."
    assert path.read_bytes() == b"first"
    write_private(path, b"second", force=True)
    assert path.read_bytes() == b"second" and _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


@pytest.mark.parametrize("force", [False, True])
def test_a_planted_symlink_at_the_final_name_is_never_followed(tmp_path, force):
    outside = tmp_path / "outside" / "victim.txt"
    outside.parent.mkdir()
    outside.write_text("precious")
    os.chmod(outside, 0o644)
    target = tmp_path / "exports" / "session1.json"
    target.parent.mkdir()
    target.symlink_to(outside)
    if not force:
        with pytest.raises(OutputExistsError):
            write_private(target, "{}")
        assert target.is_symlink()
    else:
        write_private(target, "{}", force=True)
        assert not target.is_symlink() and target.read_text() == "{}" and _mode(target) == 0o600
    assert outside.read_text() == "precious" and _mode(outside) == 0o644


def test_a_dangling_symlink_is_not_followed_either(tmp_path):
    where = tmp_path / "would-be-created.txt"
    target = tmp_path / "out.csv"
    target.symlink_to(where)
    with pytest.raises(OutputExistsError):
        write_private(target, "x")
    assert not where.exists()


def test_a_failed_writer_leaves_nothing(tmp_path):
    target = tmp_path / "r.pdf"
    with pytest.raises(RuntimeError):
        with private_temp_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("renderer crashed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ZeroDivisionError):
        with private_open(target, "w") as fh:
            fh.write("half")
            1 / 0
    assert list(tmp_path.iterdir()) == []


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path):
    target = tmp_path / "t.c3d"
    with private_temp_path(target) as a, private_temp_path(tmp_path / "t2.c3d") as b:
        assert a != b and a.parent == b.parent == tmp_path
        assert a.name.startswith(".t.c3d.") and a.suffix == ".c3d" and _mode(a) == 0o600
        a.write_bytes(b"1")
        b.write_bytes(b"2")
    assert target.read_bytes() == b"1"


def test_existing_folders_keep_their_mode(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    make_private_dirs(mine / "new")
    assert _mode(mine) == 0o755 and _mode(mine / "new") == 0o700


def _station(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "station", "--data-dir", str(data_dir), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_data_dir_is_0700_whichever_command_creates_it(tmp_path):
    from station.calibration import Calibration, save_calibration

    old = os.umask(0o022)
    try:
        # `station record --recover` creates it through the journal folder
        proc = _station("record", "--recover", data_dir=tmp_path / "a" / "data")
        assert proc.returncode == 0, proc.stderr
        assert _mode(tmp_path / "a" / "data") == 0o700 and _mode(tmp_path / "a") == 0o700
        # saving a calibration (the dashboard's wizard, `station calibrate`) through the calibrations folder
        os.environ["STATION_DATA_DIR"] = str(tmp_path / "b" / "data")
        try:
            path = save_calibration(Calibration(board_id="5B000001", geometry="reference-400x300",
                                                offsets_counts=[0, 0, 0, 0], gains_n_per_count=[1e-3] * 4))
        finally:
            del os.environ["STATION_DATA_DIR"]
    finally:
        os.umask(old)
    assert _mode(tmp_path / "b" / "data") == 0o700 and _mode(path.parent) == 0o700 and _mode(path) == 0o600


def test_assess_refuses_an_existing_report_before_the_session(tmp_path):
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"%PDF- an earlier report")
    proc = _station("assess", "--sim", "--patient", "x", "--protocol", "single-leg", "--report", pdf,
                    data_dir=tmp_path / "data")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"station: error: {pdf} already exists; use --force to overwrite it."]
    assert pdf.read_bytes() == b"%PDF- an earlier report"
    assert not (tmp_path / "data" / "station.sqlite3").exists()  # refused before any session was created
