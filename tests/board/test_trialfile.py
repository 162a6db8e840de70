"""Trial files and recording journals: round trip, clear errors, crash recovery."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import numpy as np
import pytest

from station.board.journal import (
    FLAG_NEW_SEGMENT,
    JournalWriter,
    is_locked,
    journal_dir,
    read_journal,
    unfinished_journals,
)
from station.board.journal import recover_journal
from station.board.trialfile import TrialFile, read_trial, write_trial
from station.errors import InputFileError

from .builders import make_frames


def _frames(n, seq0=0):
    f = make_frames(n, seq0=seq0)
    f["missed"][3] = 2
    return f


def _trial(n=100):
    t = np.arange(n) / 80.0
    return TrialFile(
        frames=_frames(n), device_time_s=t, host_time_s=1.7e9 + t, board={"board_id": "5B000001", "nominal_rate_hz": 80},
        quality={"frames": n, "lost": 0}, gaps=[[0.5, 0.75]], calibration={"board_id": "5B000001", "gains": [1, 2, 3, 4]},
        meta={"patient": "P1"}, events=[{"t_s": 0.2, "kind": "step_on"}],
    )


def test_round_trip_is_exact(tmp_path):
    trial = _trial()
    path = write_trial(tmp_path / "a.trial", trial)
    back = read_trial(path)
    assert back.frames.tobytes() == trial.frames.tobytes()
    assert np.array_equal(back.device_time_s, trial.device_time_s)
    assert np.array_equal(back.host_time_s, trial.host_time_s)
    for key in ("board", "quality", "gaps", "calibration", "meta", "events"):
        assert getattr(back, key) == getattr(trial, key), key
    assert back.counts.shape == (100, 4) and back.nominal_rate_hz == 80.0
    with zipfile.ZipFile(path) as zf:  # self-describing
        header = json.loads(zf.read("header.json"))
    assert header["format"] == "balance-station-trial" and header["version"] == 1 and header["n_frames"] == 100


def test_a_trial_names_its_source_and_an_old_file_reads_as_the_hx711_board(tmp_path):
    wii = {"kind": "virtual-wii", "name": "virtual-wii:seed=3", "geometry": "wii-balance-board", "value_unit": "wii_10g",
           "nominal_rate_hz": 60.0}
    trial = _trial()
    trial.source = dict(wii)
    back = read_trial(write_trial(tmp_path / "wii.trial", trial))
    assert back.source == wii and (back.source_kind, back.geometry, back.value_unit) == (
        "virtual-wii", "wii-balance-board", "wii_10g")
    # a file written before sources were recorded: no "source" in its header
    old = tmp_path / "old.trial"
    with zipfile.ZipFile(tmp_path / "wii.trial") as src, zipfile.ZipFile(old, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "header.json":
                header = json.loads(data)
                del header["source"]
                data = json.dumps(header)
            dst.writestr(name, data)
    legacy = read_trial(old)
    assert (legacy.source_kind, legacy.geometry, legacy.value_unit) == ("arduino-hx711", "reference-400x300", "adc_counts")
    assert legacy.frames.tobytes() == trial.frames.tobytes()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("t_s,cop\n1,2\n"), "not a Balance Station trial file"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("x.txt", "hi"), "no header.json"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("header.json", json.dumps({"format": "balance-station-trial", "version": 9})),
         "format version 9"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("header.json", json.dumps({"format": "balance-station-trial", "version": 1})),
         "frames.npy is missing"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, make, message):
    path = tmp_path / "bad.trial"
    make(path)
    with pytest.raises(InputFileError, match=message):
        read_trial(path)


def test_journal_recovers_up_to_a_torn_block(tmp_path):
    path = tmp_path / "r.journal"
    w = JournalWriter(path, {"board": {"board_id": "5B000001", "nominal_rate_hz": 80}, "meta": {"x": 1}, "calibration": None})
    assert is_locked(path)
    assert unfinished_journals(tmp_path) == []  # a live recording is never recovered
    f = _frames(300, seq0=65500)  # crosses the u16 wrap
    dev = 100.0 + np.arange(300) / 80.0
    flags = np.zeros(300, np.uint8)
    flags[0] = FLAG_NEW_SEGMENT
    for a in range(0, 200, 20):
        w.append_frames(f[a : a + 20], dev[a : a + 20], dev[a : a + 20] + 1.7e9, flags[a : a + 20])
    w.append_json(b"C", {"crc_errors": 3, "resyncs": 2, "skipped_bytes": 90})
    w.sync()
    w.append_frames(f[200:], dev[200:], dev[200:], flags[200:])
    w._fh.flush()
    w._fh.truncate(w._fh.tell() - 5)  # the last block was torn by the crash
    w._fh.close()
    assert unfinished_journals(tmp_path) == [path]
    trial = recover_journal(path, tmp_path / "out.trial")
    assert trial.frames.tobytes() == f[:200].tobytes()
    assert trial.device_time_s[0] == 0.0 and trial.device_time_s[-1] == pytest.approx(199 / 80)
    q = trial.quality
    assert (q["frames"], q["lost"], q["crc_errors"], q["resyncs"], q["missed_conversions"]) == (200, 0, 3, 2, 2)
    assert read_trial(tmp_path / "out.trial").frames.tobytes() == f[:200].tobytes()
    assert trial.meta == {"x": 1}


def test_journal_dir_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    d = journal_dir()
    assert d == tmp_path / "data" / "journals" / "record"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(d.parent.stat().st_mode) == 0o700
    w = JournalWriter(d / "a.journal", {})
    w.close()
    assert stat.S_IMODE(os.stat(d / "a.journal").st_mode) == 0o600
    assert read_journal(d / "a.journal").n_frames == 0


# -- size limits: a huge file or a zip bomb is refused before it is unpacked ----------


def test_a_trial_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch, capsys):
    import station.board.trialfile as trialfile
    from station.cli import main

    path = write_trial(tmp_path / "big.trial", _trial(100))
    size = path.stat().st_size
    assert read_trial(path).n_frames == 100  # under the limit: read
    monkeypatch.setattr(trialfile, "MAX_TRIAL_BYTES", size - 1)
    with pytest.raises(InputFileError, match=r"larger than .* MiB; a trial file is not that large"):
        read_trial(path)
    # the archive is never opened: a file that size of garbage after a valid start is refused the same way
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("the archive was opened"))
    with pytest.raises(InputFileError, match="not that large"):
        read_trial(path)
    monkeypatch.undo()
    monkeypatch.setattr(trialfile, "MAX_TRIAL_BYTES", size - 1)
    assert main(["analyze", str(path), "--json"]) == 2  # `station analyze`: one line, exit 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not that large" in err and "Traceback" not in err


@pytest.mark.parametrize("member", ["frames.npy", "device_time_s.npy", "host_time_s.npy", "header.json"])
def test_a_member_that_unpacks_beyond_the_limit_is_refused_before_unpacking(tmp_path, monkeypatch, member):
    """A zip bomb: a few kB on disk that inflate to many MB. The limits are lowered so the test is small."""
    import station.board.trialfile as trialfile

    monkeypatch.setattr(trialfile, "MAX_TRIAL_BYTES", 1 << 20)  # 1 MiB file / array member
    monkeypatch.setattr(trialfile, "MAX_HEADER_BYTES", 1 << 16)  # 64 KiB header
    good = write_trial(tmp_path / "good.trial", _trial(50))
    bomb = tmp_path / f"bomb-{member}.trial"
    inflate = (2 << 20) if member != "header.json" else (1 << 17)  # twice the lowered limit
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == member:
                data = data + (b" " if name == "header.json" else b"\0") * inflate
            dst.writestr(name, data)
    assert bomb.stat().st_size < 64 * 1024  # small on disk
    read = []
    real_read = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda self, name, *a: read.append(name) or real_read(self, name, *a))
    with pytest.raises(InputFileError, match=rf"damaged: {member} would unpack to \d+ MiB"):
        read_trial(bomb)
    assert member not in read  # refused from the archive's directory, never inflated
