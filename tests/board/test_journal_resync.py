"""Journal recovery resynchronises past damaged records and keeps every intact frame (byte flips everywhere)."""

from __future__ import annotations

import numpy as np
import pytest

from station.board.journal import MAGIC, JournalWriter, iter_records, read_journal
from station.errors import InputFileError

from .builders import make_frames

N_FRAMES = 894
BLOCK = 16  # 0.2 s at 80 Hz, as the acquisition writes them


def _write(path):
    frames = make_frames(N_FRAMES)
    header = {"board": {"board_id": "5B000001", "nominal_rate_hz": 80}, "meta": {"out_path": "/x.trial"},
              "calibration": {"board_id": "5B000001", "gains": [1.0, 2.0, 3.0, 4.0]}}
    w = JournalWriter(path, header)
    blocks = []
    for a in range(0, N_FRAMES, BLOCK):
        f = frames[a : a + BLOCK]
        dev = f["t_us"] * 1e-6
        flags = np.zeros(len(f), np.uint8)
        if a == 0:
            flags[0] = 1
        start = w._fh.tell()
        w.append_frames(f, dev, 1.7e9 + dev, flags)
        blocks.append((start, w._fh.tell(), a, a + len(f)))
        w.append_json(b"C", {"crc_errors": a // BLOCK, "resyncs": 0, "skipped_bytes": 0})
    w.close()
    return frames, blocks


def test_a_clean_journal_gives_every_frame(tmp_path):
    frames, _ = _write(tmp_path / "j.journal")
    trial = read_journal(tmp_path / "j.journal")
    assert trial.frames.tobytes() == frames.tobytes() and trial.quality["lost"] == 0
    assert "journal_damaged_records" not in trial.quality


def test_one_flipped_byte_anywhere_costs_at_most_its_own_block(tmp_path):
    path = tmp_path / "j.journal"
    frames, blocks = _write(path)
    clean = path.read_bytes()
    size = len(clean)
    header_end = blocks[0][0]
    # every byte of the magic and the header record, then 400 offsets spread over the frame records
    offsets = list(range(0, header_end)) + list(np.linspace(header_end, size - 1, 250).astype(int))
    cases = 0
    for off in offsets:
        for xor in (0x01, 0xFF):
            damaged = bytearray(clean)
            damaged[off] ^= xor
            path.write_bytes(bytes(damaged))
            trial = read_journal(path)
            # a damaged tag byte costs nothing (the record's kind is read from its CRC-checked content)
            hit = [b for b in blocks if b[0] < off < b[1]]
            if hit:  # the damaged block's frames go; every other frame stays, exact
                _, _, a, b = hit[0]
                expected = np.concatenate([frames[:a], frames[b:]])
                assert trial.frames.tobytes() == expected.tobytes(), off
                assert trial.quality["lost"] == (b - a if 0 < a and b < N_FRAMES else 0), off  # counted, by sequence
            else:
                assert trial.frames.tobytes() == frames.tobytes(), off
            if off >= len(MAGIC):  # the damage is reported with the recovered trial
                assert trial.quality.get("journal_damaged_bytes", 0) > 0, off
            if len(MAGIC) < off < header_end:
                assert trial.board == {}  # the header record itself is what was lost
            elif off < header_end:
                assert trial.board["board_id"] == "5B000001"
            cases += 1
    assert cases == 2 * len(offsets) > 700


def test_a_torn_tail_and_garbage_between_records(tmp_path):
    path = tmp_path / "j.journal"
    frames, blocks = _write(path)
    data = path.read_bytes()
    cut = blocks[-1][0] + 10  # a crash in the middle of the last block
    path.write_bytes(data[:cut])
    assert read_journal(path).frames.tobytes() == frames[: blocks[-1][2]].tobytes()
    # 37 bytes of junk (with tag letters in it) between two records: skipped, nothing lost
    junk = b"FFHHCE\x00\x01" * 4 + b"GGEEH"
    path.write_bytes(data[: blocks[10][0]] + junk + data[blocks[10][0] :])
    trial = read_journal(path)
    assert trial.frames.tobytes() == frames.tobytes()
    assert trial.quality["journal_damaged_records"] == 1 and trial.quality["journal_damaged_bytes"] == len(junk)


def test_not_a_journal_is_still_refused(tmp_path):
    path = tmp_path / "x.journal"
    path.write_bytes(b"PK\x03\x04 this is a zip, not a journal" * 10)
    with pytest.raises(InputFileError, match="is not a Balance Station recording journal"):
        list(iter_records(path))


def test_record_recover_keeps_the_intact_frames_of_a_journal_with_a_damaged_header(tmp_path):
    import subprocess
    import sys

    from station.board.trialfile import read_trial

    journals = tmp_path / "data" / "journals" / "record"
    journals.mkdir(parents=True)
    path = journals / "record-1.journal"
    frames, blocks = _write(path)
    data = bytearray(path.read_bytes())
    data[len(MAGIC) + 20] ^= 0x10  # one byte inside the header record
    path.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "station", "--data-dir", str(tmp_path / "data"), "record", "--recover"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    target = journals / "record-1.trial"  # the header (with the wanted out path) was the damaged record
    assert f"recovered an unfinished recording ({N_FRAMES} frames" in proc.stderr and str(target) in proc.stderr
    assert "damaged journal bytes were skipped (0 frames lost)" in proc.stderr
    trial = read_trial(target)
    assert trial.frames.tobytes() == frames.tobytes()  # all 894 intact frames
    assert oct(target.stat().st_mode & 0o777) == "0o600"
