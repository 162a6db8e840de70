"""Everything a report or an export shows about one stored session, gathered once.

``load_session(store, session_id, pseudonymise=...)`` reads the patient, the session, its trials (with
metrics), the calibrations they used and the typed scores (read from the stored ones, old sessions
included, or re-computed from the stored metrics when the session has none, e.g. an interrupted one). Pseudonymised, the patient's name, id and notes are
replaced by the installation's pseudonym and only the birth year is kept (no other date of birth is
stored anyway); free-text notes, which may name the patient, are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from station.assessment.results import SessionScores
from station.errors import StationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PatientView:
    """The patient as a report shows them: ``label`` is the name, or the pseudonym when pseudonymised."""

    label: str
    ref: str  # "12" (database id) or the pseudonym
    birth_year: int | None
    sex: str | None
    body_mass_kg: float | None
    dominant_leg: str | None
    notes: str
    pseudonymised: bool

    def to_dict(self) -> dict:
        d = {"pseudonymised": self.pseudonymised}
        if self.pseudonymised:
            d["pseudonym"] = self.label
        else:
            d |= {"id": int(self.ref), "name": self.label, "notes": self.notes}
        return d | {"birth_year": self.birth_year, "sex": self.sex, "body_mass_kg": self.body_mass_kg,
                    "dominant_leg": self.dominant_leg}


@dataclass
class SessionData:
    """One session with its patient, trials, calibrations and scores (see :func:`load_session`)."""

    store: object
    patient: PatientView
    session: object  # station.store.Session
    trials: list  # station.store.TrialRecord, in session order
    scores: SessionScores
    calibrations: dict = field(default_factory=dict)  # calibration id -> Calibration.to_dict()

    @property
    def protocol_title(self) -> str:
        return str(self.session.settings.get("title") or self.session.protocol)

    @property
    def date(self) -> str:
        """Session date, ``YYYY-MM-DD`` (UTC)."""
        return str(self.session.started)[:10]

    def trial_meta(self, trial) -> dict:
        """A trial's meta without identifying entries when pseudonymised."""
        meta = dict(trial.meta or {})
        if self.patient.pseudonymised:
            meta.pop("patient_id", None)
        return meta

    def calibration_of(self, trial):
        """The trial's ``Calibration`` (or None when it was recorded without one)."""
        from station.calibration import Calibration

        cal_id = trial.calibration_id or self.session.calibration_id
        if cal_id is None:
            return None
        return Calibration.from_dict(self.calibrations[cal_id], source=f"calibration {cal_id}")


def load_session(store, session_id, *, pseudonymise: bool = False) -> SessionData:
    """Gather a stored session for a report or an export.

    Parameters
    ----------
    store : station.store.Store
    session_id : int or str
        The session's id (a string of digits is accepted, as typed on the command line).
    pseudonymise : bool, keyword-only
        Replace the patient's name and id by the installation's pseudonym and drop free-text notes.

    Raises
    ------
    StationError
        There is no such session.
    """
    try:
        sid = int(str(session_id).strip())
    except ValueError:
        raise StationError(f"A session is given by its number (see the dashboard or `station assess`), not {session_id!r}.") from None
    session = store.get_session(sid)  # StationError "There is no session with id N."
    patient = store.get_patient(session.patient_id)
    trials = store.trials(sid)
    if session.scores:
        scores = SessionScores.from_dict(session.scores)  # old sessions' dicts included
    else:
        from station.assessment import scoring

        scores = scoring.score(store.metrics_table(sid))
        log.info("session %d has no stored scores; scored from its stored metrics", sid)
    cal_ids = {t.calibration_id for t in trials if t.calibration_id is not None}
    if session.calibration_id is not None:
        cal_ids.add(session.calibration_id)
    calibrations = {cid: store.get_calibration(cid) for cid in sorted(cal_ids)}
    if pseudonymise:
        from station.report import pseudonym as ps

        alias = ps.pseudonym(patient.id, secret=ps.installation_secret(store.data_dir))
        view = PatientView(alias, alias, patient.birth_year, patient.sex, ps.round_body_mass_kg(patient.body_mass_kg),
                           patient.dominant_leg, "", True)
        # no operator, dates to the day, body mass to 5 kg (station.report.pseudonym)
        session = ps.pseudonymised_session(session)
        trials = [ps.pseudonymised_trial(t) for t in trials]
        calibrations = {cid: ps.pseudonymised_calibration(c) for cid, c in calibrations.items()}
    else:
        view = PatientView(patient.name, str(patient.id), patient.birth_year, patient.sex, patient.body_mass_kg,
                           patient.dominant_leg, patient.notes or "", False)
    return SessionData(store=store, patient=view, session=session, trials=trials, scores=scores,
                       calibrations=calibrations)
