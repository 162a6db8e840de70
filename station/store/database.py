"""The station's SQLite database: patients, sessions, trials (with raw counts), calibrations, metrics.

One file in the private data directory, WAL journaling (a reader never blocks the recorder), foreign
keys on, schema versioned by :mod:`station.store.schema`. A :class:`Store` is safe to share between
threads (one connection behind a lock). Raw data are kept as typed little-endian blobs, so any trial
can be re-analysed later with another calibration or metric definition.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from station.board.trialfile import json_default
from station.errors import InputFileError, StationError
from station.store import paths, schema
from station.store.blobs import from_blob, to_blob

log = logging.getLogger(__name__)

SEXES = ("female", "male", "other", "unknown")
LEGS = ("left", "right", "unknown")
SIDES = ("left", "right")
PHASES = ("baseline", "primer", "post_primer")
TRIAL_STATES = ("queued", "running", "finished", "failed", "aborted", "interrupted")
SESSION_STATES = ("running", "finished", "failed", "aborted", "interrupted")

#: arrays kept per trial: name -> numpy dtype (little-endian); "counts" is (n, 4), the others (n,)
TRIAL_ARRAYS = {
    "counts": "<i4",
    "seq": "<u2",
    "t_us": "<u4",
    "status": "|u1",
    "missed": "|u1",
    "device_time_s": "<f8",
    "host_time_s": "<f8",
}


def now_iso() -> str:
    """Current UTC time as ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Patient:
    id: int
    name: str
    birth_year: int | None
    sex: str | None
    body_mass_kg: float | None
    dominant_leg: str | None
    notes: str
    created: str


@dataclass(frozen=True)
class Session:
    id: int
    patient_id: int
    protocol: str
    status: str
    started: str
    finished: str | None
    board: dict | None
    calibration_id: int | None
    operator: str
    notes: str
    settings: dict
    scores: dict | None


@dataclass(frozen=True)
class TrialRecord:
    """One trial's row (no raw arrays: see :meth:`Store.trial_arrays` / :meth:`Store.trial_file`)."""

    id: int
    session_id: int
    seq: int
    step: str
    task: str
    side: str | None
    condition: str
    phase: str
    status: str
    reason: str
    repeat_of: int | None
    started: str | None
    duration_s: float | None
    fs_hz: float | None
    window_start_s: float | None
    window_end_s: float | None
    calibration_id: int | None
    board: dict | None
    quality: dict
    gaps: list
    events: list
    meta: dict
    metrics: dict[str, float] = field(default_factory=dict)  # whole-trial metrics (rep 0)
    rep_metrics: list[dict[str, float]] = field(default_factory=list)  # per repetition, rep 1..n


def _json(value) -> str:
    return json.dumps(value, default=json_default, allow_nan=False)


def json_safe(value):
    """JSON-safe copy: NaN/inf become None, numpy scalars and arrays become Python values."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _loads(text, default=None):
    return default if text is None else json.loads(text)


class Store:
    """The station database. Open with :meth:`Store.open`; use as a context manager or ``close()``."""

    def __init__(self, conn: sqlite3.Connection, db_path: Path, base_dir: Path):
        self._conn = conn
        self._lock = threading.RLock()
        self.path = db_path
        self.data_dir = base_dir

    # ------------------------------------------------------------------ life cycle
    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, *, recover: bool = True) -> "Store":
        """Open (creating and migrating if needed) the database in the private data directory.

        Parameters
        ----------
        data_dir
            Directory to use; default ``$STATION_DATA_DIR`` or the platform's user data directory.
        recover
            Recover journals of recordings interrupted by a crash or kill into the database
            (marked ``interrupted``). Call ``open`` with ``recover=True`` once, at start-up.

        Raises
        ------
        StationError
            The directory or database cannot be created or opened.
        """
        base = paths.data_dir(data_dir)
        try:
            paths.ensure_private_dir(base)
            db_path = paths.ensure_private_file(base / paths.DB_NAME)
            conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise StationError(f"Cannot open the station database in {base}: {exc}.") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            schema.migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StationError(f"{db_path} is not a usable station database: {exc}.") from exc
        except BaseException:
            conn.close()
            raise
        store = cls(conn, db_path, base)
        store._protect_side_files()
        if recover:
            from station.store.recovery import recover_journals

            recover_journals(store)
        return store

    def close(self) -> None:
        """Checkpoint and close. Safe to call twice."""
        with self._lock:
            if self._conn is None:
                return
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def journals_dir(self) -> Path:
        """Private directory for recording journals (see :mod:`station.store.recovery`)."""
        return paths.journals_dir(self.data_dir)

    def journal_path(self, *, session_id: int, trial_id: int) -> Path:
        """Where the acquisition journals the recording of ``trial_id`` while it runs (crash recovery)."""
        from station.store.recovery import journal_path

        return journal_path(self, session_id=session_id, trial_id=trial_id)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return schema.current_version(self._conn)

    def _protect_side_files(self) -> None:
        # SQLite creates -wal/-shm with the database file's mode; make sure of it anyway.
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.chmod(side, paths.FILE_MODE)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with store.transaction() as conn:`` — one atomic write (BEGIN IMMEDIATE … COMMIT)."""
        with self._lock:
            if self._conn is None:
                raise StationError("The station database is closed.")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self._lock:
            if self._conn is None:
                raise StationError("The station database is closed.")
            cur = self._conn.execute(sql, params)
            cur.row_factory = sqlite3.Row
            return cur.fetchall()

    def backup(self, dest: str | os.PathLike | None = None) -> Path:
        """Copy the whole database with the SQLite backup API (consistent even while recording).

        Parameters
        ----------
        dest
            Target file; default ``<data_dir>/backups/station-<UTC time>.sqlite3``. Created 0600.
        """
        if dest is None:
            folder = paths.ensure_private_dir(self.data_dir / "backups")
            dest = folder / f"station-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}.sqlite3"
        dest = Path(dest)
        paths.ensure_private_file(dest)
        target = sqlite3.connect(dest)
        try:
            with self._lock:
                self._conn.backup(target)
        finally:
            target.close()
        log.info("database backed up to %s", dest)
        return dest

    # ------------------------------------------------------------------ patients
    def add_patient(
        self,
        *,
        name: str,
        birth_year: int | None = None,
        sex: str | None = None,
        body_mass_kg: float | None = None,
        dominant_leg: str | None = None,
        notes: str = "",
    ) -> int:
        """Add a patient (``name`` may be a pseudonym); return its id."""
        _check_patient(name=name, sex=sex, dominant_leg=dominant_leg, body_mass_kg=body_mass_kg)
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO patients (name, birth_year, sex, body_mass_kg, dominant_leg, notes, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name.strip(), birth_year, sex, body_mass_kg, dominant_leg, notes, now_iso()),
            )
            return int(cur.lastrowid)

    def update_patient(self, patient_id: int, **fields) -> None:
        """Change some of a patient's fields (same names as :meth:`add_patient`)."""
        allowed = {"name", "birth_year", "sex", "body_mass_kg", "dominant_leg", "notes"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown patient fields: {sorted(unknown)}")
        current = self.get_patient(patient_id)
        merged = {k: getattr(current, k) for k in allowed} | fields
        _check_patient(**{k: merged[k] for k in ("name", "sex", "dominant_leg", "body_mass_kg")})
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as conn:
            conn.execute(f"UPDATE patients SET {cols} WHERE id = ?", (*fields.values(), patient_id))

    def get_patient(self, patient_id: int) -> Patient:
        rows = self._query("SELECT * FROM patients WHERE id = ?", (patient_id,))
        if not rows:
            raise StationError(f"There is no patient with id {patient_id}.")
        return Patient(**dict(rows[0]))

    def find_patient(self, ref: str | int) -> Patient:
        """A patient by id (``"12"``) or by exact name/pseudonym (case-insensitive, must be unique)."""
        text = str(ref).strip()
        if text.isdigit():
            return self.get_patient(int(text))
        rows = self._query("SELECT * FROM patients WHERE lower(name) = lower(?)", (text,))
        if not rows:
            raise StationError(f"There is no patient named {text!r}; add one first or give a patient id.")
        if len(rows) > 1:
            ids = ", ".join(str(r["id"]) for r in rows)
            raise StationError(f"Several patients are named {text!r} (ids {ids}); give the patient id instead.")
        return Patient(**dict(rows[0]))

    def list_patients(self) -> list[Patient]:
        return [Patient(**dict(r)) for r in self._query("SELECT * FROM patients ORDER BY id")]

    # ------------------------------------------------------------------ calibrations
    def add_calibration(self, calibration: dict | Any) -> int:
        """Store a calibration (a ``Calibration`` or its ``to_dict()``); an identical one is stored once."""
        data = calibration.to_dict() if hasattr(calibration, "to_dict") else dict(calibration)
        board_id = str(data.get("board_id", "")).upper()
        created = str(data.get("created") or now_iso())
        if not board_id:
            raise StationError("A calibration without a board id cannot be stored.")
        text = json.dumps(json_safe(data), sort_keys=True, default=json_default, allow_nan=False)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM calibrations WHERE digest = ?", (digest,)).fetchone()
            if row:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO calibrations (board_id, created, data_json, digest) VALUES (?, ?, ?, ?)",
                (board_id, created, text, digest),
            )
            return int(cur.lastrowid)

    def get_calibration(self, calibration_id: int) -> dict:
        """The stored ``Calibration.to_dict()`` (rebuild with ``Calibration.from_dict``)."""
        rows = self._query("SELECT data_json FROM calibrations WHERE id = ?", (calibration_id,))
        if not rows:
            raise StationError(f"There is no calibration with id {calibration_id}.")
        return json.loads(rows[0][0])

    def latest_calibration(self, board_id: str) -> tuple[int, dict] | None:
        """``(id, dict)`` of the newest stored calibration of ``board_id`` (hex), or None."""
        rows = self._query(
            "SELECT id, data_json FROM calibrations WHERE board_id = ? ORDER BY created DESC, id DESC LIMIT 1",
            (str(board_id).upper(),),
        )
        return (int(rows[0][0]), json.loads(rows[0][1])) if rows else None

    # ------------------------------------------------------------------ sessions
    def create_session(
        self,
        *,
        patient_id: int,
        protocol: str,
        settings: dict | None = None,
        board: dict | None = None,
        calibration_id: int | None = None,
        operator: str = "",
        notes: str = "",
    ) -> int:
        """Start a session (status ``running``); return its id."""
        self.get_patient(patient_id)
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO sessions (patient_id, protocol, status, started, board_json, calibration_id,"
                " operator, notes, settings_json) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (
                    patient_id, protocol, now_iso(), None if board is None else _json(json_safe(board)),
                    calibration_id, operator, notes, _json(json_safe(settings or {})),
                ),
            )
            return int(cur.lastrowid)

    def finish_session(self, session_id: int, *, status: str = "finished", scores: dict | None = None) -> None:
        """Close a session with its final status and (optionally) its scores."""
        if status not in SESSION_STATES:
            raise ValueError(f"session status must be one of {SESSION_STATES}")
        with self.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET status = ?, finished = ?, scores_json = COALESCE(?, scores_json) WHERE id = ?",
                (status, now_iso(), None if scores is None else _json(json_safe(scores)), session_id),
            )

    def update_session(self, session_id: int, **fields) -> None:
        """Change a running session's ``calibration_id``, ``operator`` or ``notes``."""
        allowed = {"calibration_id", "operator", "notes"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as conn:
            conn.execute(f"UPDATE sessions SET {cols} WHERE id = ?", (*fields.values(), session_id))

    def set_session_scores(self, session_id: int, scores: dict) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sessions SET scores_json = ? WHERE id = ?", (_json(json_safe(scores)), session_id))

    def get_session(self, session_id: int) -> Session:
        rows = self._query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise StationError(f"There is no session with id {session_id}.")
        return _session(rows[0])

    def list_sessions(self, patient_id: int | None = None) -> list[Session]:
        if patient_id is None:
            rows = self._query("SELECT * FROM sessions ORDER BY id")
        else:
            rows = self._query("SELECT * FROM sessions WHERE patient_id = ? ORDER BY id", (patient_id,))
        return [_session(r) for r in rows]

    # ------------------------------------------------------------------ trials
    def add_trial(
        self,
        session_id: int,
        *,
        task: str,
        side: str | None = None,
        phase: str = "baseline",
        condition: str = "eyes_open",
        step: str = "",
        status: str = "queued",
        repeat_of: int | None = None,
        meta: dict | None = None,
    ) -> int:
        """Append a trial to a session (next ``seq``); return its id."""
        if side is not None and side not in SIDES:
            raise ValueError(f"side must be one of {SIDES} or None")
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")
        if status not in TRIAL_STATES:
            raise ValueError(f"trial status must be one of {TRIAL_STATES}")
        with self.transaction() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM trials WHERE session_id = ?", (session_id,))
            seq = int(seq.fetchone()[0])
            cur = conn.execute(
                "INSERT INTO trials (session_id, seq, step, task, side, condition, phase, status, repeat_of, meta_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, seq, step, task, side, condition, phase, status, repeat_of, _json(json_safe(meta or {}))),
            )
            return int(cur.lastrowid)

    _TRIAL_FIELDS = {
        "status": None, "reason": None, "started": None, "duration_s": None, "fs_hz": None,
        "window_start_s": None, "window_end_s": None, "calibration_id": None, "step": None,
        "board": "board_json", "quality": "quality_json", "gaps": "gaps_json", "events": "events_json",
        "meta": "meta_json",
    }

    def update_trial(self, trial_id: int, **fields) -> None:
        """Set some trial fields: status, reason, started, duration_s, fs_hz, window_start_s, window_end_s,
        calibration_id, step, board, quality, gaps, events, meta (the last five as Python objects)."""
        unknown = set(fields) - set(self._TRIAL_FIELDS)
        if unknown:
            raise ValueError(f"unknown trial fields: {sorted(unknown)}")
        if "status" in fields and fields["status"] not in TRIAL_STATES:
            raise ValueError(f"trial status must be one of {TRIAL_STATES}")
        cols, values = [], []
        for key, value in fields.items():
            column = self._TRIAL_FIELDS[key]
            if column is None:
                cols.append(key)
                values.append(json_safe(value))
            else:
                cols.append(column)
                values.append(_json(json_safe(value)))
        if not cols:
            return
        with self.transaction() as conn:
            conn.execute(f"UPDATE trials SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?", (*values, trial_id))

    def save_trial_data(self, trial_id: int, trial, *, calibration_id: int | None = None) -> None:
        """Store a recorded trial's raw data and bookkeeping.

        Parameters
        ----------
        trial
            A ``station.board.trialfile.TrialFile`` (frames, device_time_s, host_time_s, board,
            quality, gaps, events, meta). Its raw frames become typed blobs (see ``TRIAL_ARRAYS``).
        """
        frames = np.asarray(trial.frames)
        arrays = {name: frames[name] for name in ("counts", "seq", "t_us", "status", "missed")}
        arrays["device_time_s"] = np.asarray(trial.device_time_s, dtype="<f8")
        arrays["host_time_s"] = np.asarray(getattr(trial, "host_time_s", np.full(len(frames), np.nan)), dtype="<f8")
        rate = effective_rate_hz(arrays["device_time_s"])
        fields = {
            "fs_hz": rate,
            "board": getattr(trial, "board", None),
            "quality": getattr(trial, "quality", None) or {},
            "gaps": getattr(trial, "gaps", None) or [],
            "duration_s": float(arrays["device_time_s"][-1] - arrays["device_time_s"][0]) if len(frames) > 1 else 0.0,
        }
        if calibration_id is not None:
            fields["calibration_id"] = calibration_id
        self.save_arrays(trial_id, arrays, rate_hz=rate)
        self.update_trial(trial_id, **fields)

    def save_arrays(self, trial_id: int, arrays: dict[str, np.ndarray], *, rate_hz: float | None) -> None:
        """Replace the named raw arrays of a trial (each stored as a typed little-endian blob)."""
        with self.transaction() as conn:
            for name, array in arrays.items():
                expected = TRIAL_ARRAYS.get(name)
                data, dtype, shape = to_blob(np.asarray(array, dtype=expected) if expected else array)
                conn.execute(
                    "INSERT OR REPLACE INTO trial_arrays (trial_id, name, dtype, shape, rate_hz, data)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (trial_id, name, dtype, shape, rate_hz, data),
                )

    def trial_arrays(self, trial_id: int) -> dict[str, np.ndarray]:
        """The raw arrays of a trial: counts (n, 4) int32, seq, t_us, status, missed, device_time_s, host_time_s."""
        rows = self._query("SELECT name, dtype, shape, data FROM trial_arrays WHERE trial_id = ?", (trial_id,))
        return {r["name"]: from_blob(r["data"], r["dtype"], r["shape"]) for r in rows}

    def trial_file(self, trial_id: int):
        """Rebuild a ``TrialFile`` from the stored raw data (for re-analysis with ``analyze_trial``)."""
        from station.board.protocol import FRAME_DTYPE
        from station.board.trialfile import TrialFile

        record = self.get_trial(trial_id)
        arrays = self.trial_arrays(trial_id)
        if "counts" not in arrays:
            raise InputFileError(f"Trial {trial_id} has no recorded data.")
        frames = np.zeros(len(arrays["counts"]), dtype=FRAME_DTYPE)
        for name in ("counts", "seq", "t_us", "status", "missed"):
            frames[name] = arrays[name]
        calibration = self.get_calibration(record.calibration_id) if record.calibration_id else None
        return TrialFile(
            frames=frames,
            device_time_s=arrays["device_time_s"],
            host_time_s=arrays.get("host_time_s", np.full(len(frames), np.nan)),
            board=record.board or {},
            quality=record.quality,
            gaps=record.gaps,
            calibration=calibration,
            meta=record.meta,
            events=record.events,
        )

    def set_metrics(self, trial_id: int, metrics: dict[str, float], *, rep: int = 0) -> None:
        """Store numeric metrics of a trial (``rep=0``) or of repetition ``rep`` (1-based); NaN → NULL."""
        rows = []
        for name, value in metrics.items():
            is_number = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
            if value is not None and not is_number:
                continue  # only numbers are metrics; strings, flags and dicts belong in events or meta
            v = None if value is None else float(value)
            rows.append((trial_id, rep, name, v if v is None or math.isfinite(v) else None))
        with self.transaction() as conn:
            conn.execute("DELETE FROM metrics WHERE trial_id = ? AND rep = ?", (trial_id, rep))
            conn.executemany("INSERT INTO metrics (trial_id, rep, name, value) VALUES (?, ?, ?, ?)", rows)

    def get_trial(self, trial_id: int) -> TrialRecord:
        rows = self._query("SELECT * FROM trials WHERE id = ?", (trial_id,))
        if not rows:
            raise StationError(f"There is no trial with id {trial_id}.")
        return self._trial(rows[0])

    def trials(self, session_id: int, *, status: str | None = None) -> list[TrialRecord]:
        """The trials of a session in order, with their metrics (rep 0 and per-repetition)."""
        sql = "SELECT * FROM trials WHERE session_id = ?"
        params: tuple = (session_id,)
        if status is not None:
            sql += " AND status = ?"
            params += (status,)
        return [self._trial(r) for r in self._query(sql + " ORDER BY seq", params)]

    def _trial(self, row: sqlite3.Row) -> TrialRecord:
        d = dict(row)
        metric_rows = self._query("SELECT rep, name, value FROM metrics WHERE trial_id = ? ORDER BY rep", (d["id"],))
        whole: dict[str, float] = {}
        reps: dict[int, dict[str, float]] = {}
        for m in metric_rows:
            value = math.nan if m["value"] is None else float(m["value"])
            (whole if m["rep"] == 0 else reps.setdefault(int(m["rep"]), {}))[m["name"]] = value
        return TrialRecord(
            id=d["id"], session_id=d["session_id"], seq=d["seq"], step=d["step"], task=d["task"], side=d["side"],
            condition=d["condition"], phase=d["phase"], status=d["status"], reason=d["reason"],
            repeat_of=d["repeat_of"], started=d["started"], duration_s=d["duration_s"], fs_hz=d["fs_hz"],
            window_start_s=d["window_start_s"], window_end_s=d["window_end_s"], calibration_id=d["calibration_id"],
            board=_loads(d["board_json"]), quality=_loads(d["quality_json"], {}), gaps=_loads(d["gaps_json"], []),
            events=_loads(d["events_json"], []), meta=_loads(d["meta_json"], {}),
            metrics=whole, rep_metrics=[reps[k] for k in sorted(reps)],
        )

    def metrics_table(self, session_id: int) -> list[dict]:
        """One row per trial: the trial's identity (id, seq, task, side, condition, phase, status) and
        its whole-trial metrics, plus ``reps`` (list of per-repetition metric dicts). The input of
        :func:`station.assessment.scoring.score_session`."""
        out = []
        for t in self.trials(session_id):
            row = {
                "trial_id": t.id, "seq": t.seq, "task": t.task, "side": t.side, "condition": t.condition,
                "phase": t.phase, "status": t.status, "reason": t.reason,
            }
            row["metrics"] = dict(t.metrics)
            row["reps"] = [dict(r) for r in t.rep_metrics]
            out.append(row)
        return out


def effective_rate_hz(device_time_s: np.ndarray) -> float | None:
    """Median-interval sampling rate of a device time axis (s), or None with fewer than two samples."""
    t = np.asarray(device_time_s, dtype=float)
    if t.size < 2:
        return None
    dt = np.diff(t)
    dt = dt[np.isfinite(dt) & (dt > 0)]
    return float(1.0 / np.median(dt)) if dt.size else None


def _check_patient(*, name, sex, dominant_leg, body_mass_kg) -> None:
    if not name or not str(name).strip():
        raise StationError("A patient needs a name or a pseudonym.")
    if sex is not None and sex not in SEXES:
        raise StationError(f"Sex must be one of {', '.join(SEXES)}, not {sex!r}.")
    if dominant_leg is not None and dominant_leg not in LEGS:
        raise StationError(f"The dominant leg must be one of {', '.join(LEGS)}, not {dominant_leg!r}.")
    if body_mass_kg is not None and not body_mass_kg > 0:
        raise StationError(f"Body mass must be positive (kg), not {body_mass_kg!r}.")


def _session(row: sqlite3.Row) -> Session:
    d = dict(row)
    return Session(
        id=d["id"], patient_id=d["patient_id"], protocol=d["protocol"], status=d["status"], started=d["started"],
        finished=d["finished"], board=_loads(d["board_json"]), calibration_id=d["calibration_id"],
        operator=d["operator"], notes=d["notes"], settings=_loads(d["settings_json"], {}),
        scores=_loads(d["scores_json"]),
    )
