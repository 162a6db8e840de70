"""Trials: their rows, their raw arrays (typed blobs) and their metrics (whole trial and per repetition).

Every raw array of a recording is kept (``TRIAL_ARRAYS``), so a trial can be rebuilt as a
``TrialFile`` (:meth:`TrialRepository.trial_file`) and re-analysed with a newer pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from station.board.protocol import FRAME_DTYPE
from station.board.trialfile import TrialFile, legacy_source
from station.core.resample import effective_rate_hz
from station.errors import InputFileError, StationError
from station.jsonsafe import json_safe
from station.store.blobs import from_blob, to_blob
from station.store.calibrations import CalibrationRepository
from station.store.outbox import Ref, calibration_refs
from station.store.routing import Router
from station.store.sql import from_json, insert_id, new_uuid, to_json, upsert
from station.store.tables import PHASES, SIDES, TRIAL_ARRAYS, TRIAL_STATES, metrics, trial_arrays, trials
from station.store.validation import check_choice, check_fields

#: the fields :meth:`TrialRepository.update` sets: name -> JSON column (None: a plain column of that name)
TRIAL_FIELDS = {
    "status": None, "reason": None, "started": None, "duration_s": None, "fs_hz": None,
    "window_start_s": None, "window_end_s": None, "calibration_id": None, "step": None,
    "board": "board_json", "quality": "quality_json", "gaps": "gaps_json", "events": "events_json",
    "meta": "meta_json",
}
#: the fields of a frame kept one blob each
_FRAME_FIELDS = ("counts", "seq", "t_us", "status", "missed")


@dataclass(frozen=True)
class TrialRecord:
    """One trial's row (no raw arrays: see :meth:`TrialRepository.arrays` / :meth:`TrialRepository.trial_file`)."""

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
    uuid: str | None = None

    @classmethod
    def from_row(cls, row, whole: dict[str, float], reps: list[dict[str, float]]) -> "TrialRecord":
        """A trial from its ``trials`` row (a mapping) and its metrics."""
        return cls(
            id=row["id"], session_id=row["session_id"], seq=row["seq"], step=row["step"], task=row["task"],
            side=row["side"], condition=row["condition"], phase=row["phase"], status=row["status"],
            reason=row["reason"], repeat_of=row["repeat_of"], started=row["started"], duration_s=row["duration_s"],
            fs_hz=row["fs_hz"], window_start_s=row["window_start_s"], window_end_s=row["window_end_s"],
            calibration_id=row["calibration_id"], board=from_json(row["board_json"]),
            quality=from_json(row["quality_json"], {}), gaps=from_json(row["gaps_json"], []),
            events=from_json(row["events_json"], []), meta=from_json(row["meta_json"], {}),
            metrics=whole, rep_metrics=reps, uuid=row["uuid"],
        )


class TrialRepository:
    """Reads and writes of ``trials``, ``trial_arrays`` and ``metrics``."""

    def __init__(self, router: Router, calibrations_: CalibrationRepository):
        self._db = router
        self._calibrations = calibrations_

    # ------------------------------------------------------------------ rows
    def add(self, session_id: int, *, task: str, side: str | None = None, phase: str = "baseline",
            condition: str = "eyes_open", step: str = "", status: str = "queued", repeat_of: int | None = None,
            meta: dict | None = None) -> int:
        """Append a trial to a session (next ``seq``); return its id."""
        check_choice(side, SIDES, "side", optional=True)
        check_choice(phase, PHASES, "phase")
        check_choice(status, TRIAL_STATES, "trial status")
        values = {"session_id": session_id, "step": step, "task": task, "side": side, "condition": condition,
                  "phase": phase, "status": status, "repeat_of": repeat_of, "meta_json": to_json(meta or {}),
                  "uuid": new_uuid()}

        def work(conn):
            seq = conn.execute(sa.select(sa.func.coalesce(sa.func.max(trials.c.seq), 0) + 1)
                               .where(trials.c.session_id == session_id)).scalar()
            return insert_id(conn, trials, {**values, "seq": int(seq)})

        return self._db.write(work, mirror=lambda tid: [Ref(trials, tid)])

    def update(self, trial_id: int, **fields) -> None:
        """Set some of the fields named in :data:`TRIAL_FIELDS` (the JSON ones as Python objects)."""
        check_fields(fields, TRIAL_FIELDS, "trial")
        if "status" in fields:
            check_choice(fields["status"], TRIAL_STATES, "trial status")
        if not fields:
            return
        values = {}
        for key, value in fields.items():
            column = TRIAL_FIELDS[key]
            values[column or key] = json_safe(value) if column is None else to_json(value)
        self._db.write(lambda conn: conn.execute(trials.update().where(trials.c.id == trial_id).values(**values)),
                       mirror=lambda _: calibration_refs(fields.get("calibration_id")) + [Ref(trials, trial_id)])

    def get(self, trial_id: int) -> TrialRecord:
        """The trial with this id, with its metrics.

        Raises
        ------
        StationError
            No such trial.
        """
        found = self._select(trials.c.id == int(trial_id))
        if not found:
            raise StationError(f"There is no trial with id {trial_id}.")
        return found[0]

    def of_session(self, session_id: int, *, status: str | None = None) -> list[TrialRecord]:
        """The trials of a session in order, with their metrics (rep 0 and per-repetition)."""
        where = [trials.c.session_id == session_id] + ([trials.c.status == status] if status is not None else [])
        return self._select(*where)

    def in_state(self, status: str) -> list[TrialRecord]:
        """Every trial (of any session) in ``status``, e.g. ``running`` ones for recovery."""
        return self._select(trials.c.status == status)

    def _select(self, *where) -> list[TrialRecord]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(trials).where(*where).order_by(trials.c.session_id, trials.c.seq)).mappings().all()
            ids = [r["id"] for r in rows]
            metric_rows = conn.execute(sa.select(metrics).where(metrics.c.trial_id.in_(ids))
                                       .order_by(metrics.c.trial_id, metrics.c.rep)).all() if ids else []
        whole: dict[int, dict[str, float]] = {i: {} for i in ids}
        reps: dict[int, dict[int, dict[str, float]]] = {i: {} for i in ids}
        for trial_id, rep, name, value in metric_rows:
            value = math.nan if value is None else float(value)
            (whole[trial_id] if rep == 0 else reps[trial_id].setdefault(int(rep), {}))[name] = value
        return [TrialRecord.from_row(r, whole[r["id"]], [reps[r["id"]][k] for k in sorted(reps[r["id"]])]) for r in rows]

    # ------------------------------------------------------------------ raw data
    def save_data(self, trial_id: int, trial: TrialFile, *, calibration_id: int | None = None) -> None:
        """Store a recorded trial's raw data and bookkeeping in one transaction.

        Parameters
        ----------
        trial
            The recording (frames, device_time_s, host_time_s, board, quality, gaps). Its raw
            frames become one typed blob per field (``TRIAL_ARRAYS``); the rate stored is the core's
            effective rate of ``device_time_s``.
        calibration_id
            The calibration the trial was recorded with, if known.
        """
        frames = np.asarray(trial.frames)
        arrays = {name: frames[name] for name in _FRAME_FIELDS}
        arrays["device_time_s"] = np.asarray(trial.device_time_s, dtype="<f8")
        arrays["host_time_s"] = np.asarray(getattr(trial, "host_time_s", np.full(len(frames), np.nan)), dtype="<f8")
        rate_hz = effective_rate_hz(arrays["device_time_s"])  # the core's one estimator: (n - 1) / span
        rate_hz = rate_hz if np.isfinite(rate_hz) else None
        values = {
            "fs_hz": rate_hz,
            # the source (kind, geometry, value unit) rides with the board so a stored Wii trial
            # reads back as one (trial_file pops it out again)
            "board_json": to_json(_board_with_source(trial)),
            "quality_json": to_json(getattr(trial, "quality", None) or {}),
            "gaps_json": to_json(getattr(trial, "gaps", None) or []),
            "duration_s": float(arrays["device_time_s"][-1] - arrays["device_time_s"][0]) if len(frames) > 1 else 0.0,
        }
        if calibration_id is not None:
            values["calibration_id"] = calibration_id
        blobs = []
        for name, array in arrays.items():
            data, dtype, shape = to_blob(np.asarray(array, dtype=TRIAL_ARRAYS[name]))
            blobs.append({"trial_id": trial_id, "name": name, "dtype": dtype, "shape": shape, "rate_hz": rate_hz,
                          "data": data})

        def work(conn):
            for blob in blobs:
                upsert(conn, trial_arrays, blob, keys=["trial_id", "name"])
            conn.execute(trials.update().where(trials.c.id == trial_id).values(**values))

        self._db.write(work, mirror=lambda _: calibration_refs(calibration_id) + [Ref(trials, trial_id)])

    def arrays(self, trial_id: int) -> dict[str, np.ndarray]:
        """The raw arrays of a trial: counts (n, 4) int32, seq, t_us, status, missed, device_time_s, host_time_s."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(trial_arrays.c.name, trial_arrays.c.dtype, trial_arrays.c.shape,
                                          trial_arrays.c.data).where(trial_arrays.c.trial_id == trial_id)).all()
        return {name: from_blob(bytes(data), dtype, shape) for name, dtype, shape, data in rows}

    def trial_file(self, trial_id: int) -> TrialFile:
        """Rebuild a ``TrialFile`` from the stored raw data (for re-analysis with ``analyze_trial``).

        Raises
        ------
        InputFileError
            The trial has no recorded data.
        """
        record = self.get(trial_id)
        arrays = self.arrays(trial_id)
        if "counts" not in arrays:
            raise InputFileError(f"Trial {trial_id} has no recorded data.")
        frames = np.zeros(len(arrays["counts"]), dtype=FRAME_DTYPE)
        for name in _FRAME_FIELDS:
            frames[name] = arrays[name]
        board = dict(record.board or {})
        source = board.pop("source", None)
        return TrialFile(
            frames=frames,
            device_time_s=arrays["device_time_s"],
            host_time_s=arrays.get("host_time_s", np.full(len(frames), np.nan)),
            board=board,
            source={**legacy_source(), **source} if isinstance(source, dict) else legacy_source(),
            quality=record.quality,
            gaps=record.gaps,
            calibration=self._calibrations.get(record.calibration_id) if record.calibration_id else None,
            meta=record.meta,
            events=record.events,
        )

    # ------------------------------------------------------------------ metrics
    def set_metrics(self, trial_id: int, values: dict[str, float], *, rep: int = 0) -> None:
        """Replace the numeric metrics of a trial (``rep=0``) or of repetition ``rep`` (1-based).

        NaN and infinities are stored as NULL (read back as NaN); values that are not numbers
        (strings, flags, dicts) are not metrics and are left out.
        """
        rows = []
        for name, value in values.items():
            is_number = isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))
            if value is not None and not is_number:
                continue  # strings, flags and dicts belong in events or meta
            v = None if value is None else float(value)
            rows.append({"trial_id": trial_id, "rep": rep, "name": name,
                         "value": v if v is None or math.isfinite(v) else None})

        def work(conn):
            conn.execute(metrics.delete().where(metrics.c.trial_id == trial_id, metrics.c.rep == rep))
            if rows:
                conn.execute(metrics.insert(), rows)

        self._db.write(work, mirror=lambda _: [Ref(metrics, trial_id)])

    def metrics_table(self, session_id: int) -> list[dict]:
        """One row per trial of the session: its identity, status, reason, whole-trial ``metrics`` and
        ``reps`` (per-repetition metric dicts). The input of :func:`station.assessment.scoring.score_session`."""
        return [
            {"trial_id": t.id, "seq": t.seq, "task": t.task, "side": t.side, "condition": t.condition,
             "phase": t.phase, "status": t.status, "reason": t.reason, "metrics": dict(t.metrics),
             "reps": [dict(r) for r in t.rep_metrics]}
            for t in self.of_session(session_id)
        ]


def _board_with_source(trial) -> dict | None:
    """The trial's board description with its ``source`` block inside (None without a board)."""
    board = getattr(trial, "board", None)
    source = getattr(trial, "source", None)
    if board is None and source is None:
        return None
    return {**(board or {}), **({"source": dict(source)} if source else {})}
