"""A runner followed through rehab: five weekly visits whose right-leg sway settles towards the left's.

Each visit is a real session in the store, scored by the assessment's own ``scoring.score_session``
from per-trial metric rows (3 trials per side, ML velocity with trial-to-trial noise); the visits are
dated one week apart (the store stamps sessions with the creation time, so the dates are set in the
SQLite file directly -- test data only).
"""

from __future__ import annotations

import sqlite3

import numpy as np

from station.assessment import scoring

#: right-leg ML velocity (mm/s) per visit; the left leg stays near 40 mm/s
RIGHT_BY_VISIT = (62.0, 55.0, 48.0, 42.0, 41.0)
LEFT_MM_S = 40.0
DATES = ("2026-10-28", "2026-11-04", "2026-11-11", "2026-11-18", "2026-11-25")
#: the default return-to-sport criterion per visit (|SI| <= 10 % with the interval inside +-15 %). The first
#: visit (SI +35 %) is undecided: with 3 trials per leg the stance test's Welch interval (each leg its own SD,
#: df ~3) reaches down to +7.7 %, so not all of it lies beyond the criterion
CRITERION_BY_VISIT = ["undecided", "not met", "not met", "met", "met"]


def _rows(right_mm_s: float, rng) -> list[dict]:
    rows = []
    for side, centre in (("left", LEFT_MM_S), ("right", right_mm_s)):
        for k in range(3):
            v = float(centre * (1.0 + 0.05 * rng.standard_normal()))
            m = {"mean_velocity_ml_mm_s": v, "range_ml_mm": 0.9 * v, "ellipse95_area_mm2": 20.0 * v,
                 "mean_velocity_mm_s": 1.4 * v, "rms_ml_mm": 0.2 * v, "touchdowns": float(k % 2)}
            rows.append({"trial_id": len(rows) + 1, "task": "single_leg", "side": side, "condition": "eyes_open",
                         "phase": "baseline", "status": "finished", "metrics": m, "reps": []})
    return rows


def build_rehab_history(store, *, name: str = "Runner B (rehab)", seed: int = 3) -> tuple[int, list[int]]:
    """Add the patient and the five scored visits; return ``(patient_id, session_ids)``."""
    rng = np.random.default_rng(seed)
    pid = store.add_patient(name=name, body_mass_kg=64.0, birth_year=1995, sex="male", dominant_leg="left",
                            notes="right hamstring strain, return-to-run programme")
    ids = []
    for right in RIGHT_BY_VISIT:
        sid = store.create_session(patient_id=pid, protocol="single-leg", operator="Physio C",
                                   settings={"title": "Single-leg stance, left vs right"})
        store.finish_session(sid, scores=scoring.score_session(_rows(right, rng)))
        ids.append(sid)
    db = store.data_dir / "station.sqlite3"
    with sqlite3.connect(db) as conn:
        for sid, date in zip(ids, DATES):
            conn.execute("UPDATE sessions SET started = ?, finished = ? WHERE id = ?",
                         (f"{date}T09:30:00+00:00", f"{date}T09:50:00+00:00", sid))
    return pid, ids
