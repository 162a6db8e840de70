"""The station database behind one interface: patients, sessions, trials (with raw counts), calibrations.

:class:`Store` is a facade. It opens the database (:meth:`Store.open`: creating, migrating,
recovering interrupted recordings) and hands each call to the repository that owns the rows:

- :class:`~station.store.patients.PatientRepository`, :class:`~station.store.sessions.SessionRepository`,
  :class:`~station.store.trials.TrialRepository` (trials, raw arrays, metrics),
  :class:`~station.store.calibrations.CalibrationRepository`;
- every transaction of theirs goes through one :class:`~station.store.routing.Router`: the SQLite file
  (the default) or a PostgreSQL server with the station's outbox while the server is away
  (:mod:`station.store.outbox`, :meth:`Store.sync`);
- :meth:`Store.backup` writes a private SQLite copy (:mod:`station.store.backup`).

A :class:`Store` is safe to share between threads.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sqlalchemy.engine import Engine

from station.board.trialfile import TrialFile
from station.errors import StationError
from station.store import engine as dbengine
from station.store import paths, recovery
from station.store.backup import default_backup_path, write_backup
from station.store.calibrations import CalibrationRepository
from station.store.copying import counts
from station.store.patients import Patient, PatientRepository
from station.store.routing import Router
from station.store.sessions import Session, SessionRepository
from station.store.trials import TrialRecord, TrialRepository

log = logging.getLogger(__name__)

__all__ = ["Patient", "Session", "Store", "TrialRecord", "station_name"]


def station_name() -> str:
    """This station's name: ``$STATION_NAME``, else the host name."""
    return os.environ.get("STATION_NAME") or socket.gethostname()


class Store:
    """The station database. Open with :meth:`Store.open`; use as a context manager or ``close()``.

    Attributes
    ----------
    url : sqlalchemy.URL
        The database's URL.
    backend : str
        ``"sqlite"`` or ``"postgresql"``.
    data_dir : Path
        The station's private data directory (journals, backups, outbox).
    read_only : bool
        Opened for reading only.
    station : str
        This station's name, recorded with every session it creates.
    """

    def __init__(self, router: Router):
        self._db = router
        self.url = router.url
        self.backend = router.url.get_backend_name()
        self.data_dir = router.data_dir
        self.read_only = router.read_only
        self.station = station_name()
        self._database_path = Path(self.url.database) if self.backend == "sqlite" else dbengine.describe(self.url)
        self._patients = PatientRepository(router)
        self._calibrations = CalibrationRepository(router)
        self._sessions = SessionRepository(router, self._patients, station=self.station)
        self._trials = TrialRepository(router, self._calibrations)

    # ------------------------------------------------------------------ life cycle
    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, *, recover: bool | None = None,
             url: str | None = None, read_only: bool = False) -> "Store":
        """Open (creating and migrating if needed) the station database.

        Parameters
        ----------
        data_dir
            Directory to use; default ``$STATION_DATA_DIR`` or the platform's user data directory.
        recover
            Recover journals of recordings interrupted by a crash or kill (marked ``interrupted``).
            Default: ``not read_only``. Only a process that owns the station (dashboard, ``assess``,
            ``record``) should recover; recovery never touches a journal locked by a live recording.
        url
            Database URL (``sqlite:///…`` or ``postgresql://…``); default ``$STATION_DATABASE_URL``,
            else the SQLite file in ``data_dir``.
        read_only
            Open for reading only (``report``, ``export``): no migration, no recovery, no writes.

        Raises
        ------
        StationError
            The database cannot be created, reached, logged into, or comes from a newer station.
        """
        base = paths.data_dir(data_dir)
        if not read_only:
            try:
                paths.ensure_private_dir(base)
            except OSError as exc:
                raise StationError(f"Cannot create the data directory {base}: {exc.strerror or exc}.") from None
        router = Router.open(base, dbengine.database_url(url, data_dir=base), read_only=read_only)
        store = cls(router)
        if store.backend == "sqlite" and not read_only:
            store._protect_side_files()
        if recover if recover is not None else not read_only:
            recovery.recover_journals(store)
        return store

    def close(self) -> None:
        """Upload what the outbox holds if the server is reachable again, then close. Safe to call twice."""
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _protect_side_files(self) -> None:
        # SQLite creates -wal/-shm with the database file's mode; make sure of it anyway.
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.chmod(side, paths.FILE_MODE)

    # ------------------------------------------------------------------ where the data are
    @property
    def path(self) -> Path | str:
        """Where the data go: the SQLite file, the server's URL (no password) or, offline, the outbox file."""
        return self._db.outbox_path if self.offline else self._database_path

    @property
    def engine(self) -> Engine:
        """The database's engine (the SQLite file's or the server's), for maintenance (``station db``).

        Raises
        ------
        StationError
            The store is closed.
        """
        self._db.active()
        return self._db.engine

    @property
    def schema_version(self) -> str:
        """The Alembic revision of the database."""
        with self._db.read() as conn:
            return dbengine.current_revision(conn)

    def row_counts(self) -> dict[str, int]:
        """Rows per table of the database in use (the outbox while offline)."""
        with self._db.read() as conn:
            return counts(conn)

    @property
    def journals_dir(self) -> Path:
        """Private directory for recording journals (see :mod:`station.store.recovery`)."""
        return paths.journals_dir(self.data_dir)

    def journal_path(self, *, session_id: int, trial_id: int) -> Path:
        """Where the acquisition journals the recording of ``trial_id`` while it runs (crash recovery)."""
        return recovery.journal_path(self, session_id=session_id, trial_id=trial_id)

    # ------------------------------------------------------------------ server, outbox, backup
    @property
    def offline(self) -> bool:
        """True while this station records into its local outbox because the server is unreachable."""
        return self._db.offline

    @property
    def offline_reason(self) -> str | None:
        """Why the server is unreachable (one line), or None."""
        return self._db.offline_reason

    @property
    def on_offline(self) -> list[Callable[[str], None]]:
        """Callbacks called once, with the reason, when the server goes away."""
        return self._db.on_offline

    @property
    def uploaded(self) -> dict[str, int]:
        """What :meth:`sync` uploaded since open: ``{"sessions", "trials", "arrays", "patients"}``."""
        return self._db.uploaded

    def pending(self) -> dict[str, int]:
        """What the outbox holds that the server has not confirmed: ``{"sessions", "trials", "patients"}``."""
        return self._db.pending()

    def sync(self) -> dict:
        """Upload the outbox to the server (idempotent, by uuid); return counts ``uploaded`` and ``pending``.

        Raises
        ------
        StationError
            No server configured (a SQLite station has nothing to sync) or the server is unreachable.
        """
        return self._db.sync()

    def backup(self, dest: str | os.PathLike | None = None, *, force: bool = False) -> Path:
        """Copy the whole database into a SQLite file (consistent even while recording), created 0600.

        Parameters
        ----------
        dest
            Target file; default ``<data_dir>/backups/station-<UTC time>.sqlite3``.
        force : bool, keyword-only
            Replace an existing file at ``dest`` (atomically; a symlink there is replaced, never followed).

        Raises
        ------
        OutputExistsError
            ``dest`` exists and ``force`` is False.
        """
        dest = default_backup_path(self.data_dir) if dest is None else dest
        return write_backup(self._db.active(), dest, force=force, by_rows=self.offline, lock=self._db.lock)

    # ------------------------------------------------------------------ patients
    def add_patient(self, *, name: str, birth_year: int | None = None, sex: str | None = None,
                    body_mass_kg: float | None = None, dominant_leg: str | None = None, notes: str = "") -> int:
        """Add a patient (``name`` may be a pseudonym, even one that looks like a number); return its id.

        Raises
        ------
        StationError
            An empty or over-long name, a body mass outside 10–350 kg, an unknown sex or leg.
        """
        return self._patients.add(name=name, birth_year=birth_year, sex=sex, body_mass_kg=body_mass_kg,
                                  dominant_leg=dominant_leg, notes=notes)

    def update_patient(self, patient_id: int, **fields) -> None:
        """Change some of a patient's fields (same names as :meth:`add_patient`)."""
        self._patients.update(patient_id, **fields)

    def get_patient(self, patient_id: int) -> Patient:
        """The patient with this id, in the trash or not."""
        return self._patients.get(patient_id)

    def find_patient(self, ref: str | int, *, include_deleted: bool = False) -> Patient:
        """A patient by ``#12`` (id), else by exact name or pseudonym (case-insensitive, must be unique).

        A bare number is a name first (a patient may be called ``007``) and an id only when no patient
        has that name and it has no leading zero. Deleted patients are not found (by id either)
        unless ``include_deleted``.
        """
        return self._patients.find(ref, include_deleted=include_deleted)

    def list_patients(self, *, deleted: bool = False) -> list[Patient]:
        """Patients by id; with ``deleted=True`` the ones in the trash instead."""
        return self._patients.list_all(deleted=deleted)

    def delete_patient(self, patient_id: int) -> int:
        """Move a patient and their sessions (raw data included) to the trash; return sessions moved.

        Nothing is erased: :meth:`restore_patient` brings them back.
        """
        return self._patients.delete(patient_id)

    def restore_patient(self, patient_id: int) -> int:
        """Bring a patient back from the trash with the sessions deleted together with them."""
        return self._patients.restore(patient_id)

    # ------------------------------------------------------------------ calibrations
    def add_calibration(self, calibration: dict | Any) -> int:
        """Store a calibration (a ``Calibration`` or its ``to_dict()``); an identical one is stored once."""
        return self._calibrations.add(calibration)

    def get_calibration(self, calibration_id: int) -> dict:
        """The stored ``Calibration.to_dict()`` (rebuild with ``Calibration.from_dict``)."""
        return self._calibrations.get(calibration_id)

    # ------------------------------------------------------------------ sessions
    def create_session(self, *, patient_id: int, protocol: str, settings: dict | None = None,
                       board: dict | None = None, calibration_id: int | None = None, operator: str = "",
                       notes: str = "") -> int:
        """Start a session (status ``running``) recorded by this station; return its id.

        An offline station first tries its server again; ids given from the outbox are translated.
        """
        return self._sessions.create(patient_id=patient_id, protocol=protocol, settings=settings, board=board,
                                     calibration_id=calibration_id, operator=operator, notes=notes)

    def finish_session(self, session_id: int, *, status: str = "finished", scores: dict | None = None) -> None:
        """Close a session with its final status and (optionally) its scores."""
        self._sessions.finish(session_id, status=status, scores=scores)

    def update_session(self, session_id: int, **fields) -> None:
        """Change a session's ``calibration_id``, ``operator`` or ``notes``."""
        self._sessions.update(session_id, **fields)

    def get_session(self, session_id: int) -> Session:
        """The session with this id, in the trash or not."""
        return self._sessions.get(session_id)

    def list_sessions(self, patient_id: int | None = None, *, status: str | None = None,
                      deleted: bool = False) -> list[Session]:
        """Sessions by id (of one patient, in one status); with ``deleted=True`` those in the trash."""
        return self._sessions.list_all(patient_id, status=status, deleted=deleted)

    def delete_session(self, session_id: int) -> None:
        """Move a session (raw data included) to the trash; :meth:`restore_session` brings it back."""
        self._sessions.delete(session_id)

    def restore_session(self, session_id: int) -> None:
        """Bring a session back from the trash (its patient must not be in the trash)."""
        self._sessions.restore(session_id)

    # ------------------------------------------------------------------ trials
    def add_trial(self, session_id: int, *, task: str, side: str | None = None, phase: str = "baseline",
                  condition: str = "eyes_open", step: str = "", status: str = "queued",
                  repeat_of: int | None = None, meta: dict | None = None) -> int:
        """Append a trial to a session (next ``seq``); return its id."""
        return self._trials.add(session_id, task=task, side=side, phase=phase, condition=condition, step=step,
                                status=status, repeat_of=repeat_of, meta=meta)

    def update_trial(self, trial_id: int, **fields) -> None:
        """Set some trial fields: status, reason, started, duration_s, fs_hz, window_start_s, window_end_s,
        calibration_id, step, board, quality, gaps, events, meta (the last five as Python objects)."""
        self._trials.update(trial_id, **fields)

    def save_trial_data(self, trial_id: int, trial: TrialFile, *, calibration_id: int | None = None) -> None:
        """Store a recorded trial's raw data (typed blobs, see ``TRIAL_ARRAYS``) and bookkeeping at once."""
        self._trials.save_data(trial_id, trial, calibration_id=calibration_id)

    def trial_arrays(self, trial_id: int) -> dict[str, np.ndarray]:
        """The raw arrays of a trial: counts (n, 4) int32, seq, t_us, status, missed, device_time_s, host_time_s."""
        return self._trials.arrays(trial_id)

    def trial_file(self, trial_id: int) -> TrialFile:
        """Rebuild a ``TrialFile`` from the stored raw data (for re-analysis with ``analyze_trial``)."""
        return self._trials.trial_file(trial_id)

    def set_metrics(self, trial_id: int, metrics: dict[str, float], *, rep: int = 0) -> None:
        """Store numeric metrics of a trial (``rep=0``) or of repetition ``rep`` (1-based); NaN → NULL."""
        self._trials.set_metrics(trial_id, metrics, rep=rep)

    def get_trial(self, trial_id: int) -> TrialRecord:
        """The trial with this id, with its metrics."""
        return self._trials.get(trial_id)

    def trials(self, session_id: int, *, status: str | None = None) -> list[TrialRecord]:
        """The trials of a session in order, with their metrics (rep 0 and per-repetition)."""
        return self._trials.of_session(session_id, status=status)

    def trials_in_state(self, status: str) -> list[TrialRecord]:
        """Every trial (of any session) in ``status``, e.g. ``running`` ones for recovery."""
        return self._trials.in_state(status)

    def metrics_table(self, session_id: int) -> list[dict]:
        """One row per trial: identity, status, whole-trial ``metrics`` and per-repetition ``reps``
        (the input of :func:`station.assessment.scoring.score_session`)."""
        return self._trials.metrics_table(session_id)
