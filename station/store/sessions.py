"""Sessions: one patient's assessment on one station, from start to its final status and scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sqlalchemy as sa

from station.errors import StationError
from station.store.outbox import Ref, calibration_refs
from station.store.patients import PatientRepository
from station.store.routing import Router
from station.store.sql import from_json, insert_id, new_uuid, now_iso, to_json, tombstone_iso
from station.store.tables import SESSION_STATES, patients, sessions
from station.store.validation import check_choice, check_fields, clean_text

SESSION_FIELDS = ("calibration_id", "operator", "notes")


@dataclass(frozen=True)
class Session:
    """One session's row, its ``*_json`` columns decoded (``board``, ``settings``, ``scores``)."""

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
    uuid: str | None = None
    station: str = ""
    deleted_at: str | None = None

    @classmethod
    def from_row(cls, row) -> "Session":
        """A session from its ``sessions`` row (a mapping)."""
        return cls(
            id=row["id"], patient_id=row["patient_id"], protocol=row["protocol"], status=row["status"],
            started=row["started"], finished=row["finished"], board=from_json(row["board_json"]),
            calibration_id=row["calibration_id"], operator=row["operator"], notes=row["notes"],
            settings=from_json(row["settings_json"], {}), scores=from_json(row["scores_json"]), uuid=row["uuid"],
            station=row["station"], deleted_at=row["deleted_at"],
        )


class SessionRepository:
    """Reads and writes of the ``sessions`` table; a session's patient is checked with ``patients``."""

    def __init__(self, router: Router, patients_: PatientRepository, *, station: str):
        self._db = router
        self._patients = patients_
        self._station = station

    def create(self, *, patient_id: int, protocol: str, settings: dict | None = None, board: dict | None = None,
               calibration_id: int | None = None, operator: str = "", notes: str = "") -> int:
        """Start a session (status ``running``) recorded by this station; return its id.

        An offline station first tries its server again (a new session is a safe moment to switch
        back: nothing in progress holds an outbox id); ``patient_id`` and ``calibration_id`` given as
        outbox ids are then translated to the server's.

        Raises
        ------
        StationError
            No such patient, or the patient is in the trash; an operator name over one line.
        """
        if self._db.offline:
            patient_id, calibration_id = self._db.reconnect(patient_id, calibration_id)
        if self._patients.get(patient_id).deleted_at is not None:
            raise StationError(f"Patient #{patient_id} is in the trash; restore them first.")
        values = {
            "patient_id": patient_id, "protocol": protocol, "status": "running", "started": now_iso(),
            "board_json": None if board is None else to_json(board), "calibration_id": calibration_id,
            "operator": clean_text(operator, "operator"), "notes": notes, "settings_json": to_json(settings or {}),
            "uuid": new_uuid(), "station": self._station,
        }

        def refs(sid):
            context = [Ref(patients, patient_id, changed=False)]
            return context + calibration_refs(calibration_id) + [Ref(sessions, sid)]

        return self._db.write(lambda conn: insert_id(conn, sessions, values), mirror=refs)

    def finish(self, session_id: int, *, status: str = "finished", scores: dict | None = None) -> None:
        """Close a session with its final status and (optionally) its scores."""
        check_choice(status, SESSION_STATES, "session status")
        values: dict = {"status": status, "finished": now_iso()}
        if scores is not None:
            values["scores_json"] = to_json(scores)
        was_offline = self._db.offline
        self._set(session_id, values)
        if not was_offline:
            self._db.forget_finished(session_id)

    def update(self, session_id: int, **fields) -> None:
        """Change a session's ``calibration_id``, ``operator`` or ``notes``."""
        check_fields(fields, SESSION_FIELDS, "session")
        if not fields:
            return
        if "operator" in fields:
            fields["operator"] = clean_text(fields["operator"], "operator")
        self._set(session_id, fields, calibration_refs(fields.get("calibration_id")))

    def get(self, session_id: int) -> Session:
        """The session with this id, in the trash or not.

        Raises
        ------
        StationError
            No such session.
        """
        return Session.from_row(self._db.row(sessions, session_id, "session"))

    def list_all(self, patient_id: int | None = None, *, status: str | None = None,
                 deleted: bool = False) -> list[Session]:
        """Sessions by id (of one patient, in one status); with ``deleted=True`` those in the trash."""
        query = sa.select(sessions).where(sessions.c.deleted_at.isnot(None) if deleted else sessions.c.deleted_at.is_(None))
        if patient_id is not None:
            query = query.where(sessions.c.patient_id == patient_id)
        if status is not None:
            query = query.where(sessions.c.status == status)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(sessions.c.id)).mappings().all()
        return [Session.from_row(r) for r in rows]

    def delete(self, session_id: int) -> None:
        """Move a session (raw data included) to the trash."""
        self.get(session_id)
        self._set(session_id, {"deleted_at": tombstone_iso()})

    def restore(self, session_id: int) -> None:
        """Bring a session back from the trash.

        Raises
        ------
        StationError
            Not in the trash, or its patient is.
        """
        session = self.get(session_id)
        if session.deleted_at is None:
            raise StationError(f"Session #{session_id} is not in the trash.")
        if self._patients.get(session.patient_id).deleted_at is not None:
            raise StationError(f"Session #{session_id} belongs to patient #{session.patient_id}, who is in the "
                               "trash; restore the patient first.")
        self._set(session_id, {"deleted_at": None})

    def _set(self, session_id: int, values: dict, context: Sequence[Ref] = ()) -> None:
        self._db.write(lambda conn: conn.execute(sessions.update().where(sessions.c.id == session_id).values(**values)),
                       mirror=lambda _: [*context, Ref(sessions, session_id)])
