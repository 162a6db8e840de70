"""Everything a report or an export shows about one stored session, gathered once.

``load_session(store, session_id, pseudonymise=...)`` reads the patient, the session, its trials (with
metrics), the calibrations they used and the scores (re-computed from the stored metrics when the
session has none, e.g. an interrupted one). Pseudonymised, the patient's name, id and notes are
replaced by the installation's pseudonym and only the birth year is kept (no other date of birth is
stored anyway); free-text notes, which may name the patient, are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

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
    scores: dict
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
    scores = session.scores
    if not scores:
        from station.assessment import scoring

        scores = scoring.score_session(store.metrics_table(sid))
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
    return SessionData(store=store, patient=view, session=session, trials=trials, scores=scores or {},
                       calibrations=calibrations)



# -- headline verdicts and their texts (shared by the PDF and the dashboard) -------------------------

#: block key -> title, in report order
BLOCK_TITLES = {
    "stance/baseline/eyes_open": "Single-leg stance, baseline",
    "stance/post_primer/eyes_open": "Single-leg stance, after the primer",
    "stance/baseline/eyes_closed": "Single-leg stance, baseline, eyes closed",
    "stance/post_primer/eyes_closed": "Single-leg stance, after the primer, eyes closed",
    "rdl": "Single-leg RDL, lateral weight shift",
    "primer_rdl": "Primer RDL (rear foot elevated), lateral weight shift",
    "before_after/eyes_open": "Before / after the primer",
    "before_after/eyes_closed": "Before / after the primer, eyes closed",
}


#: the RDL scoring's per-repetition keys -> their declarations in the metric registry
RDL_REGISTRY_KEYS = {"lateral_shift_mm": "rep_lateral_shift_mm_mean", "duration_s": "rep_duration_s_mean",
                     "ml_max_dev_mm": "rep_ml_max_dev_mm_mean"}


def block_title(block: str) -> str:
    """``"stance/baseline/eyes_open"`` -> ``"Single-leg stance, baseline"`` (unknown keys made readable)."""
    return BLOCK_TITLES.get(block) or block.replace("/", ", ").replace("_", " ").capitalize()


def _num(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return v


def interval_text(estimate, low, high, *, unit: str = "", decimals: int | None = None, minus: str = "-",
                  level: float | None = 95.0) -> str:
    """``"+31 % (95 % CI +12 to +50)"``; ``"—"`` when the estimate is undefined; never "nan" or "-0".

    ``level`` is the interval's confidence in % (``None``: ``"+31 % (+12 to +50)"``, for a column whose
    heading names it).
    """
    from station.core.registry import format_value

    if decimals is None:
        decimals = 0 if unit == "%" else 1
    text = format_value(estimate, decimals, sign=True)
    if text == "—":
        return text
    text += f" {unit}" if unit else ""
    lo, hi = format_value(low, decimals, sign=True), format_value(high, decimals, sign=True)
    if lo != "—" and hi != "—":
        text += f" ({level:.0f} % CI {lo} to {hi})" if level is not None else f" ({lo} to {hi})"
    return text.replace("-", minus)


def range_text(mean, low, high, *, decimals: int = 1) -> str:
    """``"35.5 (24.0–47.0)"`` (a positive quantity with its interval); ``"—"`` when undefined."""
    from station.core.registry import format_value

    text = format_value(mean, decimals)
    lo, hi = format_value(low, decimals), format_value(high, decimals)
    if text != "—" and lo != "—" and hi != "—":
        text += f" ({lo}–{hi})"
    return text.replace("-", "−")


def asymmetry_estimate(asym: dict | None) -> tuple[str, float, float, float, str]:
    """``(measure, estimate, ci_low, ci_high, unit)`` of a scoring asymmetry dict.

    SI (%) where it is defined, otherwise the difference R − L in the metric's unit (counts: events
    per trial). ``measure`` is ``"SI"`` or ``"R − L"``.
    """
    asym = asym or {}
    si = _num(asym.get("si_pct"))
    if asym.get("method") == "si" and si == si:
        return "SI", si, _num(asym.get("ci_low_pct")), _num(asym.get("ci_high_pct")), "%"
    return ("R − L", _num(asym.get("diff")), _num(asym.get("diff_ci_low")), _num(asym.get("diff_ci_high")),
            asym.get("unit") or "")


def _from_asymmetry(block: str, asym: dict) -> dict:
    measure, est, low, high, unit = asymmetry_estimate(asym)
    less = asym.get("less_stable")
    return {"block": block, "kind": "asymmetry", "side": None, "less_stable": less,
            "verdict": asym.get("verdict") or "not enough trials", "estimate": est, "ci_low": low, "ci_high": high,
            "unit": unit, "measure": measure, "text": "", "resolution": float("nan")}


def _from_change(block: str, side: str, change: dict) -> dict:
    est, mdc = _num(change.get("change")), _num(change.get("mdc95"))
    return {"block": block, "kind": "before_after", "side": side, "less_stable": None,
            "verdict": change.get("verdict") or "not enough trials", "estimate": est, "ci_low": est - mdc,
            "ci_high": est + mdc, "unit": "", "measure": "change", "text": "", "resolution": mdc}


def headline_verdicts(scores: dict | None) -> list[dict]:
    """The session's headline verdicts, in report order (the list of ``docs`` / common interface).

    ``scores["verdicts"]`` when the scoring stored them (the verdicts module); for sessions scored
    before it, the same list shape read from the per-block results already in ``scores`` (nothing is
    re-computed). Every entry gets a ``text`` for people when it has none.
    """
    scores = scores or {}
    if scores.get("verdicts") is not None:
        verdicts = [dict(v) for v in scores["verdicts"]]
    else:
        verdicts = []
        stance = scores.get("stance") or {}
        order = {"baseline": 0, "post_primer": 1}
        for key in sorted(stance, key=lambda k: (order.get(k.split("/")[0], 2), k)):
            if stance[key].get("verdict"):
                verdicts.append(_from_asymmetry(f"stance/{key}", stance[key]["verdict"]))
        for key in ("rdl", "primer_rdl"):
            if (scores.get(key) or {}).get("verdict"):
                verdicts.append(_from_asymmetry(key, scores[key]["verdict"]))
        for condition, ba in sorted((scores.get("before_after") or {}).items()):
            for side in ("left", "right"):
                metric = (((ba.get("sides") or {}).get(side) or {}).get("metrics") or {}).get("sway_index")
                if metric:
                    verdicts.append(_from_change(f"before_after/{condition}", side, metric))
    for v in verdicts:
        if not v.get("text"):
            v["text"] = verdict_text(v)
    return verdicts


def verdict_headline(v: dict) -> str:
    """``"RIGHT leg less stable"``, ``"RIGHT leg: improved"``, ``"No detectable left/right difference"``."""
    verdict = v.get("verdict") or ""
    if v.get("kind") == "before_after":
        who = f"{v['side'].upper()} leg" if v.get("side") else "Asymmetry"
        return f"{who}: {verdict}"
    if v.get("less_stable") in ("left", "right"):
        return f"{v['less_stable'].upper()} leg less stable"
    if verdict == "no detectable asymmetry":
        return "No detectable left/right difference"
    return verdict[:1].upper() + verdict[1:]


def ci_level(v: dict) -> float:
    """Confidence (%) of a headline verdict's interval: ``100 (1 - alpha)`` (96 % for the 4 % L/R tests);
    95 for verdicts stored without their level."""
    alpha = _num(v.get("alpha"))
    return 100.0 * (1.0 - alpha) if alpha == alpha and 0.0 < alpha < 1.0 else 95.0


def verdict_estimate(v: dict, *, minus: str = "-", label: bool = True) -> str:
    """The estimate with its interval: ``"SI +31 % (96 % CI +12 to +50)"``, ``"R − L +1.3 touchdowns ..."``.

    The interval's level is the verdict's own (:func:`ci_level`); ``label=False`` leaves it out.
    """
    measure = v.get("measure") or ("change" if v.get("kind") == "before_after" else
                                   "SI" if v.get("unit") == "%" else "R − L")
    if v.get("kind") == "before_after" and v.get("side") is None:
        measure = "SI change"
    body = interval_text(v.get("estimate"), v.get("ci_low"), v.get("ci_high"), unit=v.get("unit") or "",
                         decimals=2 if v.get("kind") == "before_after" and v.get("unit") in ("", None) else None,
                         minus=minus, level=ci_level(v) if label else None)
    if body == "—":
        return "—"
    if v.get("kind") == "before_after" and v.get("side") and not v.get("unit"):
        body = body.replace(f"{ci_level(v):.0f} % CI", "±MDC95")
    if measure == "SI change" and _num(v.get("si_before")) == _num(v.get("si_before")):
        # the primer's headline: the asymmetry before -> after, and its change in SI points
        from station.core.registry import format_value

        before, after = (format_value(_num(v.get(k)), 0, sign=True).replace("-", minus) for k in ("si_before", "si_after"))
        return f"SI {before} → {after} %, change {body.replace(' %', '', 1)}"  # the change is in SI points
    return f"{measure} {body}"


def verdict_text(v: dict) -> str:
    """One sentence: ``"Single-leg stance, baseline: RIGHT leg less stable, SI +31 % (96 % CI +12 to +50)"``."""
    estimate = verdict_estimate(v)
    text = f"{block_title(v.get('block', ''))}: {verdict_headline(v)}"
    if v.get("kind") == "before_after" and v.get("side"):
        text += " (sway index)"
    return text + (f", {estimate}" if estimate != "—" else "")
