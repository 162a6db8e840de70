"""Patients: who was assessed, found by ``#id`` or by name, moved to the trash and back.

Names are whatever the clinic chooses (a pseudonym, even one that looks like a number); fields are
checked by :mod:`station.store.validation` before anything is written. Deleting is a tombstone
(``deleted_at``) on the patient and on their sessions, with one stamp, so restoring brings back
exactly the sessions deleted together with the patient.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from station.errors import StationError
from station.store.outbox import Ref
from station.store.routing import Router
from station.store.sql import insert_id, new_uuid, now_iso, tombstone_iso
from station.store.tables import patients, sessions
from station.store.validation import check_fields, check_patient

log = logging.getLogger(__name__)

PATIENT_FIELDS = ("name", "birth_year", "sex", "body_mass_kg", "dominant_leg", "notes")


@dataclass(frozen=True)
class Patient:
    """One patient's row; ``deleted_at`` is set while the patient is in the trash."""

    id: int
    name: str
    birth_year: int | None
    sex: str | None
    body_mass_kg: float | None
    dominant_leg: str | None
    notes: str
    created: str
    uuid: str | None = None
    deleted_at: str | None = None


class PatientRepository:
    """Reads and writes of the ``patients`` table (and the tombstones of their sessions)."""

    def __init__(self, router: Router):
        self._db = router

    def add(self, **fields) -> int:
        """Add a patient (fields as :func:`~station.store.validation.check_patient`); return its id."""
        values = check_patient(**fields)
        values.update(created=now_iso(), uuid=new_uuid())
        return self._db.write(lambda conn: insert_id(conn, patients, values), mirror=lambda pid: [Ref(patients, pid)])

    def update(self, patient_id: int, **fields) -> None:
        """Change some fields; the patient as a whole must still be valid."""
        check_fields(fields, PATIENT_FIELDS, "patient")
        current = self.get(patient_id)
        checked = check_patient(**({k: getattr(current, k) for k in PATIENT_FIELDS} | fields))
        if not fields:
            return
        values = {k: checked[k] for k in fields}
        self._db.write(lambda conn: conn.execute(patients.update().where(patients.c.id == patient_id).values(**values)),
                       mirror=lambda _: [Ref(patients, patient_id)])

    def get(self, patient_id: int) -> Patient:
        """The patient with this id, in the trash or not.

        Raises
        ------
        StationError
            No such patient.
        """
        return Patient(**self._db.row(patients, patient_id, "patient"))

    def find(self, ref: str | int, *, include_deleted: bool = False) -> Patient:
        """A patient by ``#12`` (id), else by exact name (case-insensitive, must be unique).

        A bare number is a name first (a patient may be called ``007``) and an id only when no patient
        has that name and it has no leading zero. Patients in the trash are not found, by name or by
        id, unless ``include_deleted``.

        Raises
        ------
        StationError
            No such patient, one in the trash, or several with that name.
        """
        text = str(ref).strip()
        if text.startswith("#") and text[1:].isdigit():
            return self._live(self.get(int(text[1:])), include_deleted)
        where = [sa.func.lower(patients.c.name) == text.lower()]
        if not include_deleted:
            where.append(patients.c.deleted_at.is_(None))
        with self._db.read() as conn:
            rows = conn.execute(sa.select(patients).where(*where).order_by(patients.c.id)).mappings().all()
        if not rows and text.isdigit() and text == str(int(text)):  # "12" may be an id; "007" is only a name
            return self._live(self.get(int(text)), include_deleted)
        if not rows:
            raise StationError(f"There is no patient named {text!r}; add one first or give the id as #ID.")
        if len(rows) > 1:
            ids = ", ".join(f"#{r['id']}" for r in rows)
            raise StationError(f"Several patients are named {text!r} ({ids}); give the id instead (e.g. {ids.split(',')[0]}).")
        return Patient(**rows[0])

    @staticmethod
    def _live(patient: Patient, include_deleted: bool) -> Patient:
        if patient.deleted_at is not None and not include_deleted:
            raise StationError(f"Patient #{patient.id} is in the trash (`station patients restore #{patient.id}` "
                               "brings them back).")
        return patient

    def list_all(self, *, deleted: bool = False) -> list[Patient]:
        """Patients by id; with ``deleted=True`` the ones in the trash instead."""
        where = patients.c.deleted_at.isnot(None) if deleted else patients.c.deleted_at.is_(None)
        with self._db.read() as conn:
            rows = conn.execute(sa.select(patients).where(where).order_by(patients.c.id)).mappings().all()
        return [Patient(**r) for r in rows]

    def delete(self, patient_id: int) -> int:
        """Move a patient and their sessions to the trash with one stamp; return the sessions moved."""
        self.get(patient_id)
        stamp = tombstone_iso()

        def work(conn):
            conn.execute(patients.update().where(patients.c.id == patient_id).values(deleted_at=stamp))
            moved = list(conn.execute(sa.select(sessions.c.id).where(sessions.c.patient_id == patient_id,
                                                                    sessions.c.deleted_at.is_(None))).scalars())
            conn.execute(sessions.update().where(sessions.c.id.in_(moved)).values(deleted_at=stamp))
            return moved

        moved = self._db.write(work, mirror=lambda ids: self._refs(patient_id, ids))
        log.info("patient %d and %d session(s) moved to the trash", patient_id, len(moved))
        return len(moved)

    def restore(self, patient_id: int) -> int:
        """Bring a patient back with the sessions deleted together with them; return those sessions.

        Raises
        ------
        StationError
            No such patient, or not in the trash.
        """
        patient = self.get(patient_id)
        if patient.deleted_at is None:
            raise StationError(f"Patient #{patient_id} is not in the trash.")

        def work(conn):
            conn.execute(patients.update().where(patients.c.id == patient_id).values(deleted_at=None))
            back = list(conn.execute(sa.select(sessions.c.id).where(sessions.c.patient_id == patient_id,
                                                                   sessions.c.deleted_at == patient.deleted_at)).scalars())
            conn.execute(sessions.update().where(sessions.c.id.in_(back)).values(deleted_at=None))
            return back

        return len(self._db.write(work, mirror=lambda ids: self._refs(patient_id, ids)))

    @staticmethod
    def _refs(patient_id: int, session_ids: list[int]) -> list[Ref]:
        return [Ref(patients, patient_id)] + [Ref(sessions, i) for i in session_ids]
