"""The one schema of the station database, as SQLAlchemy Core tables (both backends).

The vocabularies (sexes, legs, sides, phases, states) are written here once and used by the CHECK
constraints, by :mod:`station.store.validation` and by the command line for choices.
The Alembic migrations in ``station/store/migrations/versions/`` build exactly these tables; a test
compares a freshly migrated database with this metadata.

Identity: every patient, session and trial has an ``id`` (a short integer, per database, shown to
people as ``#12``) and a ``uuid`` (globally unique, the identity used when rows move between
databases: the offline outbox, ``station sync``, ``station db migrate``). Calibrations are identified
globally by their ``digest``. Deleted patients and sessions keep their rows (and raw data) with a
``deleted_at`` tombstone until restored.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SEXES = ("female", "male", "other", "unknown")
LEGS = ("left", "right", "unknown")
SIDES = ("left", "right")
PHASES = ("familiarisation", "baseline", "primer", "post_primer")
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

#: body mass accepted for a patient (kg)
BODY_MASS_RANGE_KG = (10.0, 350.0)
BIRTH_YEAR_RANGE = (1900, 2100)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def one_of(column: str, values: tuple[str, ...], *, nullable: bool) -> str:
    """SQL text of a CHECK that ``column`` is one of ``values`` (or NULL when ``nullable``)."""
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})" if nullable else f"{column} IN ({listed})"


patients = Table(
    "patients", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),  # name or pseudonym, as the clinic chooses
    Column("birth_year", Integer, CheckConstraint(
        f"birth_year IS NULL OR birth_year BETWEEN {BIRTH_YEAR_RANGE[0]} AND {BIRTH_YEAR_RANGE[1]}", name="birth_year")),
    Column("sex", Text, CheckConstraint(one_of("sex", SEXES, nullable=True), name="sex")),
    Column("body_mass_kg", Float, CheckConstraint("body_mass_kg IS NULL OR body_mass_kg > 0", name="body_mass_kg")),
    Column("dominant_leg", Text, CheckConstraint(one_of("dominant_leg", LEGS, nullable=True), name="dominant_leg")),
    Column("notes", Text, nullable=False, server_default=""),
    Column("created", Text, nullable=False),
    Column("uuid", String(36), unique=True, index=True),
    Column("deleted_at", Text),
)

calibrations = Table(
    "calibrations", metadata,
    Column("id", Integer, primary_key=True),
    Column("board_id", Text, nullable=False),  # hex, "5B000001"
    Column("created", Text, nullable=False),  # ISO time the calibration was made
    Column("data_json", Text, nullable=False),  # Calibration.to_dict() (with "tare" when re-zeroed)
    Column("digest", Text, nullable=False, unique=True),  # sha256 of data_json: stored once, everywhere
)

sessions = Table(
    "sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("patient_id", Integer, ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("protocol", Text, nullable=False),  # "single-leg" | "rdl" | "primer" | ...
    Column("status", Text, CheckConstraint(one_of("status", SESSION_STATES, nullable=False), name="status"),
           nullable=False, server_default="running"),
    Column("started", Text, nullable=False),
    Column("finished", Text),
    Column("board_json", Text),  # BoardInfo.to_dict() of the board used
    Column("calibration_id", Integer, ForeignKey("calibrations.id")),
    Column("operator", Text, nullable=False, server_default=""),
    Column("notes", Text, nullable=False, server_default=""),
    Column("settings_json", Text, nullable=False, server_default="{}"),  # protocol parameters as run
    Column("scores_json", Text),  # scoring.score_session() result, when finished
    Column("uuid", String(36), unique=True, index=True),
    Column("station", Text, nullable=False, server_default=""),  # the station that recorded it
    Column("deleted_at", Text),
)

trials = Table(
    "trials", metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),  # order within the session, from 1
    Column("step", Text, nullable=False, server_default=""),  # protocol step label
    Column("task", Text, nullable=False),  # single_leg | rdl | quiet | pigeon | hip_lift | rfe_rdl
    Column("side", Text, CheckConstraint(one_of("side", SIDES, nullable=True), name="side")),
    Column("condition", Text, nullable=False, server_default="eyes_open"),
    Column("phase", Text, CheckConstraint(one_of("phase", PHASES, nullable=False), name="phase"),
           nullable=False, server_default="baseline"),
    Column("status", Text, CheckConstraint(one_of("status", TRIAL_STATES, nullable=False), name="status"),
           nullable=False, server_default="queued"),
    Column("reason", Text, nullable=False, server_default=""),  # why it failed / was aborted / interrupted
    Column("repeat_of", Integer, ForeignKey("trials.id")),
    Column("started", Text),
    Column("duration_s", Float),
    Column("fs_hz", Float),  # rate of the raw arrays (effective, from device time)
    Column("window_start_s", Float),  # analysed window, trial time (s from recording start)
    Column("window_end_s", Float),
    Column("calibration_id", Integer, ForeignKey("calibrations.id")),
    Column("board_json", Text),
    Column("quality_json", Text, nullable=False, server_default="{}"),
    Column("gaps_json", Text, nullable=False, server_default="[]"),
    Column("events_json", Text, nullable=False, server_default="[]"),
    Column("meta_json", Text, nullable=False, server_default="{}"),
    Column("uuid", String(36), unique=True, index=True),
    UniqueConstraint("session_id", "seq", name="uq_trials_session_seq"),
)

#: raw data of a trial: one typed little-endian blob per array (counts, device_time_s, ...)
trial_arrays = Table(
    "trial_arrays", metadata,
    Column("trial_id", Integer, ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("dtype", Text, nullable=False),  # numpy dtype string, little-endian ("<i4")
    Column("shape", Text, nullable=False),  # JSON list
    Column("rate_hz", Float),
    Column("data", LargeBinary, nullable=False),
)

#: metrics of a trial (rep = 0) or of one repetition inside it (rep = 1, 2, ...)
metrics = Table(
    "metrics", metadata,
    Column("trial_id", Integer, ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True),
    Column("rep", Integer, primary_key=True, server_default="0"),
    Column("name", Text, primary_key=True),
    Column("value", Float),  # NULL when undefined (NaN)
)

#: a station's outbox (its local SQLite file next to a server): what was changed while the server was
#: away and still has to be uploaded, by global id (kind "session", "trial" or "patient"); empty on a server
outbox = Table(
    "outbox", metadata,
    Column("kind", Text, primary_key=True),
    Column("uuid", String(36), primary_key=True),
    Column("marked", Text, nullable=False),
)
