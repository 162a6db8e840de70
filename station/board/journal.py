"""Crash-safe recording journal: raw frames appended in small fsync'ed blocks while a trial records.

A crash, ``kill -9`` or power cut loses at most the block being written (the acquisition flushes
every <= 0.25 s). The next ``station record`` (or ``station record --recover``) turns unfinished
journals into trial files with :func:`recover_journal`.

File layout: the magic ``b"BSJOURNAL1\\n"`` followed by records
``tag (1 byte) | length (u32 LE) | crc32 of payload (u32 LE) | payload``:

- ``H`` header (JSON): board, source (kind, geometry, value unit), meta, calibration;
- ``F`` frames: ``u32 n`` then n x 24 frame bytes (FRAME_DTYPE), n x float64 device seconds
  (session axis), n x float64 host Unix seconds, n x u8 flags (bit 0: starts a new connected
  stretch, bit 1: first frame after a reboot);
- ``C`` decoder counts since the recording began (JSON: crc_errors, resyncs, skipped_bytes,
  implausible_frames);
- ``G`` gap (JSON: t_start_s, t_end_s, kind, lost_frames) in the session axis;
- ``E`` event (JSON dict with ``t_s`` in the session axis); a ``board_changed`` or ``protocol_changed``
  event ended the recording as failed (its ``message`` becomes the trial's ``quality["failed"]``).

A torn final record is ignored; a damaged record elsewhere is skipped and reading resynchronises on
the next record whose CRC-32 matches (:func:`iter_records`), so one flipped byte costs only the
record it is in. While a recorder writes a journal it holds an exclusive ``flock`` on it, so recovery
never touches a live recording.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from station.board.protocol import FRAME_DTYPE

log = logging.getLogger(__name__)

MAGIC = b"BSJOURNAL1\n"
JOURNAL_SUFFIX = ".journal"
_RECORD = struct.Struct("<cII")
FLAG_NEW_SEGMENT = 1
FLAG_REBOOT = 2


def journal_dir(data_dir=None, *, kind: str = "record") -> Path:
    """``<data dir>/journals/<kind>``, created private (mode 0700, parents too when missing).

    ``station record`` journals live in ``journals/record/`` so that they never mix with the
    journals of database trials (``journals/*.journal``, recovered by ``station.store``).
    """
    from station.paths import data_dir as default_data_dir, ensure_private_dir

    base = default_data_dir(data_dir)
    ensure_private_dir(base / "journals")
    return ensure_private_dir(base / "journals" / kind)


class JournalWriter:
    """Append-only journal of one recording (owned by the acquisition's reader thread)."""

    def __init__(self, path, header: dict):
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fh.write(MAGIC)
        self._write(b"H", json.dumps(header, default=str).encode())
        self.sync()

    def _write(self, tag: bytes, payload: bytes) -> None:
        self._fh.write(_RECORD.pack(tag, len(payload), zlib.crc32(payload)) + payload)

    def append_frames(self, frames: np.ndarray, device_s: np.ndarray, host_s: np.ndarray, flags: np.ndarray) -> None:
        n = len(frames)
        payload = b"".join((
            struct.pack("<I", n),
            np.ascontiguousarray(frames, dtype=FRAME_DTYPE).tobytes(),
            np.ascontiguousarray(device_s, dtype="<f8").tobytes(),
            np.ascontiguousarray(host_s, dtype="<f8").tobytes(),
            np.ascontiguousarray(flags, dtype=np.uint8).tobytes(),
        ))
        self._write(b"F", payload)

    def append_json(self, tag: bytes, obj: dict) -> None:
        self._write(tag, json.dumps(obj, default=str).encode())

    def sync(self) -> None:
        """Flush to the OS and to the disk."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()  # releases the lock


def is_locked(path) -> bool:
    """True while a live recorder holds ``path``."""
    try:
        with open(path, "rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    return False


#: record tags a journal may hold (anything else at a record start means damage)
TAGS = frozenset(b"HFCGE")
#: a magic with at most this many damaged bytes is still a journal (a flipped byte must not lose the frames)
MAGIC_TOLERANCE_BYTES = 2
_TAG_RE = re.compile(rb"[HFCGE]")


def _record_at(data: bytes, pos: int, *, any_tag: bool = False):
    """(tag, payload, end) of an intact record starting at ``pos``, or None.

    ``any_tag``: accept a damaged tag byte (the CRC covers the payload only; :func:`_classify` then
    tells the record's kind from its content).
    """
    if pos + _RECORD.size > len(data) or (data[pos] not in TAGS and not any_tag):
        return None
    tag, length, crc = _RECORD.unpack_from(data, pos)
    start = pos + _RECORD.size
    if start + length > len(data):
        return None
    payload = data[start : start + length]
    if zlib.crc32(payload) != crc:
        return None
    return tag, payload, start + length


def _next_record(data: bytes, pos: int) -> int | None:
    """The next offset after ``pos`` where an intact record starts (CRC-32 checked), or None."""
    # candidates are the bytes that can be a tag; everything else is skipped at C speed
    for m in _TAG_RE.finditer(data, pos + 1):
        p = m.start()
        if p + _RECORD.size > len(data):
            return None
        if _record_at(data, p) is not None:
            return p
    return None


def _frames_record_size_ok(payload: bytes) -> bool:
    if len(payload) < 4:
        return False
    (n,) = struct.unpack_from("<I", payload)
    return len(payload) == 4 + n * (FRAME_DTYPE.itemsize + 17)


#: keys that identify a JSON record's kind when its tag byte was damaged
_JSON_KINDS = ((b"H", ("board", "meta")), (b"C", ("crc_errors",)), (b"G", ("t_start_s", "t_end_s")), (b"E", ("t_s", "kind")))


def _classify(tag: bytes, payload: bytes) -> bytes | None:
    """The record's real kind, from its tag when it agrees with the content, else from the content."""
    if tag == b"F" and _frames_record_size_ok(payload):
        return tag
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        obj = None
    if isinstance(obj, dict):
        kinds = [k for k, keys in _JSON_KINDS if all(key in obj for key in keys)]
        if tag in (k for k in kinds) or (tag in TAGS and tag != b"F" and not kinds):
            return tag
        return kinds[0] if kinds else None
    return b"F" if _frames_record_size_ok(payload) else None


def iter_records(path, *, stats: dict | None = None):
    """Yield (tag, payload) for every intact record, resynchronising past damaged ones.

    A damaged record (a flipped byte in its tag, length, CRC or payload) is skipped: the reader looks
    for the next offset where a record with a matching CRC-32 starts, so one bad byte costs only the
    record it is in (for a frames record, at most one journal block of 0.25 s), never what follows.
    A torn final record (a crash mid-write) is ignored. ``stats``, when given, receives
    ``damaged_records`` and ``damaged_bytes``.

    Raises
    ------
    InputFileError
        The file does not start with the journal magic (more than :data:`MAGIC_TOLERANCE_BYTES` differ).
    """
    data = Path(path).read_bytes()
    head = data[: len(MAGIC)]
    if len(head) < len(MAGIC) or sum(a != b for a, b in zip(head, MAGIC)) > MAGIC_TOLERANCE_BYTES:
        from station.errors import InputFileError

        raise InputFileError(f"{path} is not a Balance Station recording journal.")
    if stats is not None:
        stats.setdefault("damaged_records", 0)
        stats.setdefault("damaged_bytes", 0)
    pos = len(MAGIC)
    while pos + _RECORD.size <= len(data):
        found = _record_at(data, pos) or _record_at(data, pos, any_tag=True)
        kind = _classify(found[0], found[1]) if found is not None else None
        if found is not None and kind is None:
            found = None
        if found is not None and kind != found[0]:
            log.warning("%s: the record at byte %d has a damaged tag; read it as %r from its content", path, pos, kind)
            if stats is not None:
                stats["damaged_records"] += 1
                stats["damaged_bytes"] += 1
            found = (kind, found[1], found[2])
        if found is None:
            nxt = _next_record(data, pos)
            if nxt is None:
                log.info("%s: ignoring a torn or damaged record at byte %d (nothing intact after it)", path, pos)
                if stats is not None and len(data) - pos > 0:
                    stats["damaged_bytes"] += len(data) - pos
                return
            log.warning("%s: skipped %d damaged bytes at byte %d; resynchronised at byte %d", path, nxt - pos, pos, nxt)
            if stats is not None:
                stats["damaged_records"] += 1
                stats["damaged_bytes"] += nxt - pos
            pos = nxt
            continue
        tag, payload, end = found
        yield tag, payload
        pos = end


def read_journal(path):
    """Rebuild a :class:`~station.board.trialfile.TrialFile` from a journal (finished or not)."""
    from station.board.quality import LinkStats
    from station.board.trialfile import LEGACY_SOURCE, TrialFile

    header: dict = {}
    counts = {"crc_errors": 0, "resyncs": 0, "skipped_bytes": 0}
    gaps: list[dict] = []
    events: list[dict] = []
    blocks = []
    damage: dict = {}
    for tag, payload in iter_records(path, stats=damage):
        if tag == b"H" and not header:
            header = json.loads(payload)
        elif tag == b"F":
            (n,) = struct.unpack_from("<I", payload)  # (iter_records checked the size)
            off = 4
            frames = np.frombuffer(payload, dtype=FRAME_DTYPE, count=n, offset=off)
            off += n * FRAME_DTYPE.itemsize
            dev = np.frombuffer(payload, dtype="<f8", count=n, offset=off)
            off += 8 * n
            host = np.frombuffer(payload, dtype="<f8", count=n, offset=off)
            off += 8 * n
            flags = np.frombuffer(payload, dtype=np.uint8, count=n, offset=off)
            blocks.append((frames, dev, host, flags))
        elif tag == b"C":
            counts = json.loads(payload)
        elif tag == b"G":
            gaps.append(json.loads(payload))
        elif tag == b"E":
            events.append(json.loads(payload))
    stats = LinkStats()
    for frames, dev, _, flags in blocks:
        stats.add_frames(frames, dev, (flags & FLAG_NEW_SEGMENT) != 0)
        stats.reboots += int(np.count_nonzero(flags & FLAG_REBOOT))
    stats.add_link_counts(**{k: counts.get(k, 0) for k in ("crc_errors", "resyncs", "skipped_bytes",
                                                            "implausible_frames")})
    if blocks:
        frames = np.concatenate([b[0] for b in blocks])
        dev = np.concatenate([b[1] for b in blocks])
        host = np.concatenate([b[2] for b in blocks])
        t0 = float(dev[0])
    else:
        frames = np.zeros(0, dtype=FRAME_DTYPE)
        dev = host = np.zeros(0)
        t0 = 0.0
    for g in gaps:
        stats.add_gap(g["t_start_s"] - t0, g["t_end_s"] - t0, lost_frames=g.get("lost_frames", 0))
    meta = dict(header.get("meta") or {})
    quality = stats.as_dict()
    if damage.get("damaged_records") or damage.get("damaged_bytes"):
        quality["journal_damaged_records"] = int(damage["damaged_records"])
        quality["journal_damaged_bytes"] = int(damage["damaged_bytes"])
    for e in events:
        if e.get("kind") in ("board_changed", "protocol_changed") and "failed" not in quality:
            quality["failed"] = str(e.get("message") or e["kind"])
            quality["failed_code"] = e["kind"]
    return TrialFile(
        frames=frames.copy(),
        device_time_s=dev - t0,
        host_time_s=host.copy(),
        board=header.get("board") or {},
        source={**LEGACY_SOURCE, **(header.get("source") or {})},
        quality=quality,
        gaps=list(stats.gap_list),
        calibration=header.get("calibration"),
        meta=meta,
        events=[dict(e, t_s=e["t_s"] - t0) for e in events if "t_s" in e]
        + [{"t_s": g["t_start_s"] - t0, "kind": g.get("kind", "link_lost"), "t_end_s": g["t_end_s"] - t0} for g in gaps],
    )


def recover_journal(journal_path, out_path=None):
    """Turn an unfinished recording journal into a trial (written to ``out_path`` when given).

    Frames up to the last complete block survive a crash, a ``kill -9`` or a power cut.
    """
    from station.board.trialfile import write_trial

    trial = read_journal(journal_path)
    if out_path is not None:
        write_trial(out_path, trial)
    return trial


def unfinished_journals(directory) -> list[Path]:
    """Journals in ``directory`` that no live recorder holds."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"*{JOURNAL_SUFFIX}") if not is_locked(p))


def recover_unfinished(directory, deliver) -> list:
    """The one journal recovery loop: every journal in ``directory`` that no live recorder holds is read
    (:func:`read_journal`) and handed to ``deliver(path, trial)``, then moved to ``recovered/``; a
    journal that cannot be read or delivered (``StationError``, ``OSError``, ``ValueError``,
    ``KeyError``) is moved to ``unreadable/`` with a warning — never deleted. Returns what ``deliver``
    returned for each recovered journal (``None`` results left out).
    """
    from station.errors import StationError

    directory = Path(directory)
    out = []
    for path in unfinished_journals(directory):
        try:
            result = deliver(path, read_journal(path))
        except (StationError, OSError, ValueError, KeyError) as exc:
            log.warning("journal %s could not be recovered (%s); moved to %s", path, exc, directory / "unreadable")
            move_aside(path, directory / "unreadable")
            continue
        move_aside(path, directory / "recovered")
        if result is not None:
            out.append(result)
    return out


def move_aside(path, folder) -> Path:
    """Move ``path`` into ``folder`` (created private, 0700); return the new path."""
    from station.privatefiles import make_private_dirs

    path, folder = Path(path), Path(folder)
    make_private_dirs(folder)
    target = folder / path.name
    os.replace(path, target)
    return target


def header_of(path) -> dict:
    """The journal's header record ({} when even that is missing)."""
    for tag, payload in iter_records(path):
        if tag == b"H":
            return json.loads(payload)
    return {}
