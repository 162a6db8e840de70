"""What the store accepts: patient fields people type, and the vocabularies of sessions and trials.

Input a person can get wrong (a name, a body mass, a birth year) is refused with a
:class:`~station.errors.StationError` of one sentence before anything is written. A value only code
can get wrong (an unknown trial status or field name) is a ``ValueError``. The vocabularies
themselves are written once, in :mod:`station.store.tables`.
"""

from __future__ import annotations

import math
import re
from typing import Iterable

import numpy as np

from station.errors import StationError
from station.store.tables import BIRTH_YEAR_RANGE, BODY_MASS_RANGE_KG, LEGS, SEXES

NAME_MAX_CHARS = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(value, what: str) -> str:
    """``value`` stripped, as one line of at most :data:`NAME_MAX_CHARS` characters.

    Raises
    ------
    StationError
        A control character (a line break) or too many characters; ``what`` names the field.
    """
    text = "" if value is None else str(value).strip()
    if _CONTROL.search(text) or len(text) > NAME_MAX_CHARS:
        raise StationError(f"The {what} must be one line of at most {NAME_MAX_CHARS} characters.")
    return text


def check_patient(*, name, birth_year=None, sex=None, body_mass_kg=None, dominant_leg=None, notes="") -> dict:
    """Validated, normalised patient fields, ready to store.

    Raises
    ------
    StationError
        An empty or over-long name, a name starting with ``#``, a body mass outside
        ``BODY_MASS_RANGE_KG``, a birth year outside ``BIRTH_YEAR_RANGE``, an unknown sex or leg.
    """
    if name is None or not str(name).strip():
        raise StationError("A patient needs a name or a pseudonym.")
    name = clean_text(name, "patient's name")
    if name.startswith("#"):
        raise StationError("A patient's name cannot start with '#' (that form looks a patient up by id).")
    if sex is not None and sex not in SEXES:
        raise StationError(f"Sex must be one of {', '.join(SEXES)}, not {sex!r}.")
    if dominant_leg is not None and dominant_leg not in LEGS:
        raise StationError(f"The dominant leg must be one of {', '.join(LEGS)}, not {dominant_leg!r}.")
    body_mass_kg = _body_mass_kg(body_mass_kg)
    birth_year = _birth_year(birth_year)
    return {"name": name, "birth_year": birth_year, "sex": sex, "body_mass_kg": body_mass_kg,
            "dominant_leg": dominant_leg, "notes": "" if notes is None else str(notes)}


def _body_mass_kg(value) -> float | None:
    if value is None:
        return None
    try:
        mass_kg = float(value)
    except (TypeError, ValueError):
        raise StationError(f"Body mass must be a number of kilograms, not {value!r}.") from None
    low, high = BODY_MASS_RANGE_KG
    if not (math.isfinite(mass_kg) and low <= mass_kg <= high):
        raise StationError(f"Body mass must be between {low:g} and {high:g} kg, not {mass_kg:g}.")
    return mass_kg


def _birth_year(value) -> int | None:
    if value is None:
        return None
    low, high = BIRTH_YEAR_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise StationError(f"The birth year must be a year between {low} and {high}, not {value!r}.")
    return int(value)


def check_choice(value, choices: tuple[str, ...], what: str, *, optional: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices`` (or None when ``optional``)."""
    if not (optional and value is None) and value not in choices:
        raise ValueError(f"{what} must be one of {choices}" + (" or None" if optional else ""))


def check_fields(fields: Iterable[str], allowed: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` naming the keys of ``fields`` that are not ``allowed``."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValueError(f"unknown {what} fields: {sorted(unknown)}")
