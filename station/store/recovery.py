"""Bring recordings interrupted by a crash, a kill or a power cut back into the database.

While a trial records, the acquisition appends raw frames to a journal in ``<data_dir>/journals/``
(synced in small blocks), named by :func:`journal_path`. The trial's row is already in the database
with status ``running`` and the journal's ``meta`` carries its ``trial_id``. A journal still present
at the next start therefore belongs to a recording that never finished: :func:`recover_journals`
reads what survived (``station.board.journal.recover_journal``), stores it under that trial,
marks the trial ``interrupted``, and moves the journal to ``journals/recovered/``. Trials and
sessions left ``running`` without a live (locked) journal are marked ``interrupted`` too — on a
shared server only this station's (``sessions.station``): another station's recording in progress
has its journal on that station.
"""

from __future__ import annotations

import logging
from pathlib import Path

from station.board.journal import recover_unfinished
from station.errors import StationError

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".journal"


def journal_path(store, *, session_id: int, trial_id: int) -> Path:
    """Where the recording of ``trial_id`` is journaled while it runs."""
    return store.journals_dir / f"session{session_id:06d}-trial{trial_id:07d}{JOURNAL_SUFFIX}"


def recover_journals(store) -> list[int]:
    """Recover every leftover journal and close every trial left ``running``; return the trial ids.

    A journal that cannot be read is moved to ``journals/unreadable/`` (never deleted) with a warning.
    """
    folder = store.journals_dir
    recovered: list[int] = recover_unfinished(folder, lambda path, trial: _recover_one(store, path, trial))
    # Rows left "running" whose journal is gone (crash before the first block, or a foreign data dir),
    # unless a live recording (locked journal) still owns them.
    live = {p.name for p in folder.glob(f"*{JOURNAL_SUFFIX}")}
    mine = _this_station(store)
    for trial in store.trials_in_state("running"):
        if not mine(trial.session_id):
            continue  # another station's recording, on a shared server: its own station recovers it
        if journal_path(store, session_id=trial.session_id, trial_id=trial.id).name in live:
            continue
        store.update_trial(trial.id, status="interrupted", reason="the station stopped during this trial")
        recovered.append(trial.id)
    # A session still "running" with no live recording belongs to a station that stopped (during a
    # trial or between two). A runner that is in fact alive sets the final status when it ends anyway.
    for session in store.list_sessions(status="running"):
        if not mine(session.id):
            continue
        sid = session.id
        prefix = f"session{sid:06d}-"
        if any(name.startswith(prefix) for name in live):
            continue
        store.finish_session(sid, status="interrupted")
    if recovered:
        log.warning("recovered %d interrupted trial(s) into the database", len(recovered))
    return sorted(set(recovered))


def _this_station(store):
    """``session_id -> bool``: was the session recorded by this station? (Every session, in a SQLite file.)"""
    if store.backend == "sqlite":
        return lambda session_id: True
    cache: dict[int, bool] = {}

    def mine(session_id: int) -> bool:
        if session_id not in cache:
            cache[session_id] = store.get_session(session_id).station == store.station
        return cache[session_id]

    return mine


def _recover_one(store, path: Path, trial) -> int | None:
    meta = dict(trial.meta or {})
    trial_id = meta.get("trial_id")
    reason = (
        f"the station stopped during this trial; {len(trial.frames)} frames "
        f"({trial.duration_s:.1f} s) recovered from its journal"
    )
    if trial_id is None or not _exists(store.get_trial, trial_id):
        session_id = meta.get("session_id")
        if session_id is None or not _exists(store.get_session, session_id):
            log.warning("journal %s names no session in this database; kept aside", path)
            raise ValueError("journal belongs to no known session")
        trial_id = store.add_trial(
            int(session_id), task=meta.get("task", "unknown"), side=meta.get("side"),
            phase=meta.get("phase", "baseline"), condition=meta.get("condition", "eyes_open"),
            step=meta.get("step", ""), meta=meta,
        )
    trial_id = int(trial_id)
    store.save_trial_data(trial_id, trial)
    store.update_trial(trial_id, status="interrupted", reason=reason, events=trial.events or [])
    log.info("trial %d: %s", trial_id, reason)
    return trial_id


def _exists(getter, row_id) -> bool:
    try:
        getter(int(row_id))
    except StationError:
        return False
    return True

