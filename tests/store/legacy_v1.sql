-- The hand-written SQLite schema of the first store (schema_version 1), kept to test in-place migration.
CREATE TABLE patients (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,              -- name or pseudonym, as the clinic chooses
    birth_year      INTEGER CHECK (birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100),
    sex             TEXT CHECK (sex IS NULL OR sex IN ('female', 'male', 'other', 'unknown')),
    body_mass_kg    REAL CHECK (body_mass_kg IS NULL OR body_mass_kg > 0),
    dominant_leg    TEXT CHECK (dominant_leg IS NULL OR dominant_leg IN ('left', 'right', 'unknown')),
    notes           TEXT NOT NULL DEFAULT '',
    created         TEXT NOT NULL
);

CREATE TABLE calibrations (
    id              INTEGER PRIMARY KEY,
    board_id        TEXT NOT NULL,              -- hex, "5B000001"
    created         TEXT NOT NULL,              -- ISO time the calibration was made
    data_json       TEXT NOT NULL,              -- Calibration.to_dict() (with "tare" when re-zeroed)
    digest          TEXT NOT NULL UNIQUE        -- sha256 of data_json: the same calibration is stored once
);

CREATE TABLE sessions (
    id              INTEGER PRIMARY KEY,
    patient_id      INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    protocol        TEXT NOT NULL,              -- "single-leg" | "rdl" | "primer" | ...
    status          TEXT NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'finished', 'failed', 'aborted', 'interrupted')),
    started         TEXT NOT NULL,
    finished        TEXT,
    board_json      TEXT,                       -- BoardInfo.to_dict() of the board used
    calibration_id  INTEGER REFERENCES calibrations(id),
    operator        TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    settings_json   TEXT NOT NULL DEFAULT '{}', -- protocol parameters as run
    scores_json     TEXT                        -- scoring.score_session() result, when finished
);
CREATE INDEX sessions_patient ON sessions(patient_id);

CREATE TABLE trials (
    id              INTEGER PRIMARY KEY,
    session_id      INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,           -- order within the session, from 1
    step            TEXT NOT NULL DEFAULT '',   -- protocol step label, e.g. "baseline single-leg left #2"
    task            TEXT NOT NULL,              -- single_leg | rdl | quiet | pigeon | hip_lift | rfe_rdl
    side            TEXT CHECK (side IS NULL OR side IN ('left', 'right')),
    condition       TEXT NOT NULL DEFAULT 'eyes_open',
    phase           TEXT NOT NULL DEFAULT 'baseline' CHECK (phase IN ('baseline', 'primer', 'post_primer')),
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'finished', 'failed', 'aborted', 'interrupted')),
    reason          TEXT NOT NULL DEFAULT '',   -- why it failed / was aborted / interrupted
    repeat_of       INTEGER REFERENCES trials(id),
    started         TEXT,
    duration_s      REAL,
    fs_hz           REAL,                       -- rate of the raw arrays (effective, from device time)
    window_start_s  REAL,                       -- analysed window, trial time (s from recording start)
    window_end_s    REAL,
    calibration_id  INTEGER REFERENCES calibrations(id),
    board_json      TEXT,
    quality_json    TEXT NOT NULL DEFAULT '{}',
    gaps_json       TEXT NOT NULL DEFAULT '[]',
    events_json     TEXT NOT NULL DEFAULT '[]',
    meta_json       TEXT NOT NULL DEFAULT '{}',
    UNIQUE (session_id, seq)
);
CREATE INDEX trials_session ON trials(session_id);

-- Raw data of a trial: one typed little-endian blob per array (counts, device_time_s, ...).
CREATE TABLE trial_arrays (
    trial_id        INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    dtype           TEXT NOT NULL,              -- numpy dtype string, little-endian ("<i4")
    shape           TEXT NOT NULL,              -- JSON list
    rate_hz         REAL,
    data            BLOB NOT NULL,
    PRIMARY KEY (trial_id, name)
);

-- Metrics of a trial (rep = 0) or of one repetition inside it (rep = 1, 2, ...).
CREATE TABLE metrics (
    trial_id        INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    rep             INTEGER NOT NULL DEFAULT 0,
    name            TEXT NOT NULL,
    value           REAL,                       -- NULL when undefined (NaN)
    PRIMARY KEY (trial_id, rep, name)
);
