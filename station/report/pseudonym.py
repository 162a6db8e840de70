"""Stable pseudonyms for exports: an HMAC of the patient id keyed by a per-installation secret.

The secret is 32 random bytes kept in ``<data_dir>/pseudonym.key`` (0600, created on first use). The
same patient always gets the same pseudonym on one installation, so pseudonymised exports of several
sessions can be joined; without the key file the pseudonym cannot be traced back to the patient.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from station.errors import StationError

log = logging.getLogger(__name__)

KEY_NAME = "pseudonym.key"
KEY_BYTES = 32
#: hex digits of the HMAC kept in a pseudonym (40 bits: collisions are negligible for one clinic)
PSEUDONYM_HEX = 10


def installation_secret(data_dir: str | os.PathLike) -> bytes:
    """The installation's pseudonym key, created (0600) on first use.

    Raises
    ------
    StationError
        The key file cannot be created or read, or is corrupt.
    """
    path = Path(data_dir) / KEY_NAME
    if not path.exists():
        # Write the key to a private temporary file, then link it into place: the link fails if another
        # process got there first, and nobody ever reads a half-written key.
        tmp = path.with_name(f".{KEY_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(KEY_BYTES) + "\n")
            try:
                os.link(tmp, path)
                log.info("created the installation's pseudonym key %s", path)
            except FileExistsError:
                pass
        except OSError as exc:
            raise StationError(f"Cannot create the pseudonym key {path}: {exc.strerror}.") from exc
        finally:
            tmp.unlink(missing_ok=True)
    try:
        text = path.read_text().strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise StationError(f"The pseudonym key {path} is unreadable or corrupt ({exc}); restore it from a backup.") from exc
    if len(key) < 16:
        raise StationError(f"The pseudonym key {path} is too short; restore it from a backup.")
    return key


def pseudonym(patient_id: int, *, secret: bytes) -> str:
    """``"P-3F9A0C21B7"``: the patient's stable pseudonym under ``secret``."""
    digest = hmac.new(secret, f"patient:{int(patient_id)}".encode(), hashlib.sha256).hexdigest()
    return "P-" + digest[:PSEUDONYM_HEX].upper()


#: body mass in pseudonymised exports is rounded to this step (kg)
BODY_MASS_STEP_KG = 5.0
#: keys dropped from a trial's metadata in pseudonymised exports (who ran it, who it was)
IDENTIFYING_META_KEYS = ("patient_id", "patient", "patient_name", "operator", "operator_name", "port", "out_path")
#: metadata keys holding a timestamp, cut to the day
DATE_META_KEYS = ("started_utc", "finished_utc", "started", "finished", "created", "recorded_utc")


def round_body_mass_kg(body_mass_kg: float | None, *, step_kg: float = BODY_MASS_STEP_KG) -> float | None:
    """Body mass to the nearest ``step_kg`` (72.4 -> 70.0, 72.5 -> 75.0); None stays None."""
    if body_mass_kg is None:
        return None
    return float(step_kg * int(float(body_mass_kg) / step_kg + 0.5))


def day_only(timestamp) -> str | None:
    """An ISO timestamp rounded down to its day: ``"2026-12-02T01:20:33+00:00"`` -> ``"2026-12-02T00:00:00+00:00"``.

    The result stays a full ISO timestamp (same time zone) so code that parses it keeps working;
    text that is not an ISO timestamp is cut to its first 10 characters.
    """
    import datetime as dt

    if timestamp is None:
        return None
    text = str(timestamp)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return text[:10]
    return when.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


#: an ISO date-time with a time of day (``2026-12-02T14:41:26``, optionally fractional and zoned)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def days_only(value):
    """A copy of a JSON-like value with every ISO timestamp in it cut to its day (:func:`day_only`).

    The keys of :data:`DATE_META_KEYS` are not the only ones that hold a time (a calibration's
    ``created``, a drift check's start): any string that starts like an ISO date-time is cut.
    """
    if isinstance(value, dict):
        return {k: days_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [days_only(v) for v in value]
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return day_only(value)
    return value


def pseudonymised_inputs(inputs: dict | None) -> dict:
    """Analysis inputs (``{"protocol", "body_mass_kg", "preset"}``) with the body mass rounded to 5 kg.

    ``body_mass_step_kg`` records the rounding, so a re-analysis widens its calibration-fit tolerance by
    half a step (:func:`station.core.health.calibration_problems`) and a pseudonymised trial that passed
    the body-mass check still passes it.
    """
    out = dict(inputs or {})
    if isinstance(out.get("body_mass_kg"), (int, float)):
        out["body_mass_kg"] = round_body_mass_kg(out["body_mass_kg"])
        out["body_mass_step_kg"] = BODY_MASS_STEP_KG
    return out


def pseudonymised_events(events) -> list:
    """Events with the body mass of their analysis inputs (the ``window`` event) rounded to 5 kg."""
    out = []
    for e in events or ():
        if isinstance(e, dict):
            e = days_only(e)
            if isinstance(e.get("inputs"), dict):
                e["inputs"] = pseudonymised_inputs(e["inputs"])
            if isinstance(e.get("body_mass_kg"), (int, float)):
                e["body_mass_kg"] = round_body_mass_kg(e["body_mass_kg"])
        out.append(e)
    return out


def pseudonymised_calibration(calibration: dict | None) -> dict | None:
    """A calibration dict without its operator, every timestamp in it cut to the day."""
    if calibration is None:
        return None
    return days_only(dict(calibration, operator=""))


def pseudonymised_session(session):
    """A copy of a store ``Session`` without operator and notes, its dates to the day."""
    import dataclasses

    return dataclasses.replace(session, notes="", operator="", started=day_only(session.started),
                               finished=day_only(session.finished), settings=days_only(session.settings or {}))


def pseudonymised_meta(meta: dict | None) -> dict:
    """A trial's metadata without identifying entries, timestamps to the day, body mass to 5 kg."""
    out = {k: v for k, v in dict(meta or {}).items() if k not in IDENTIFYING_META_KEYS}
    for k in DATE_META_KEYS:
        if k in out and out[k] is not None:
            out[k] = day_only(out[k])
    out = days_only(out)
    if isinstance(out.get("body_mass_kg"), (int, float)):
        out["body_mass_kg"] = round_body_mass_kg(out["body_mass_kg"])
    if isinstance(out.get("analysis"), dict):
        out["analysis"] = pseudonymised_inputs(out["analysis"])
    return out


def pseudonymised_trial(trial):
    """A copy of a store ``TrialRecord``: its start to the day, its metadata and events cleaned."""
    import dataclasses

    return dataclasses.replace(trial, started=day_only(trial.started), meta=pseudonymised_meta(trial.meta),
                               events=pseudonymised_events(trial.events))
