"""``station export SESSION --format trial``: each stored trial as ``trial-<seq>.trial``.

A trial file holds the raw counts and device times, the board, the calibration the trial was
analysed with, and in ``meta`` the trial's identity (task, side, phase, condition, step) and
``meta["analysis"]``: the inputs the station analysed it with (protocol: task, side, duration,
exclusion, repetitions; body mass; preset). ``station analyze trial-<seq>.trial --json`` therefore
gives exactly the stored metrics (:func:`station.core.pipeline.analyze_trial` reads those inputs).
"""

from __future__ import annotations

import logging
from pathlib import Path

from station.board.trialfile import write_trial
from station.core.pipeline import stored_inputs
from station.errors import StationError
from station.privatefiles import refuse_existing

log = logging.getLogger(__name__)


def trial_for_export(data, record):
    """The stored trial ``record`` of session ``data`` as a self-contained :class:`TrialFile` (or None)."""
    try:
        trial = data.store.trial_file(record.id)
    except StationError as exc:
        log.info("trial %s has no raw data: %s", record.seq, exc)
        return None
    meta = dict(trial.meta or {})
    meta.update(task=record.task, side=record.side, phase=record.phase, condition=record.condition, step=record.step,
                seq=record.seq, status=record.status, reason=record.reason)
    inputs = stored_inputs(trial)
    if inputs:
        meta["analysis"] = inputs
    if data.patient.body_mass_kg is not None and not data.patient.pseudonymised:
        meta.setdefault("body_mass_kg", data.patient.body_mass_kg)
    for private in ("patient_id", "session_id", "trial_id"):
        if data.patient.pseudonymised:
            meta.pop(private, None)
    trial.meta = meta
    return trial


def write_trials(data, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """Write every stored trial with raw data of a session into ``out_dir``; return the paths."""
    out = Path(out_dir)
    paths = []
    for record in data.trials:
        trial = trial_for_export(data, record)
        if trial is None:
            continue
        path = out / f"trial-{record.seq}.trial"
        refuse_existing(path, force=force)
        write_trial(path, trial, force=force)
        paths.append(path)
    return paths
