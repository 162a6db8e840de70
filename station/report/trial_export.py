"""``station export SESSION --format trial``: each stored trial as ``trial-<seq>.trial``.

A trial file holds the raw counts and device times, the board, the calibration the trial was
analysed with, and in ``meta`` the trial's identity (task, side, phase, condition, step) and
``meta["analysis"]``: the inputs the station analysed it with (protocol: task, side, duration,
exclusion, repetitions; body mass; preset). ``station analyze trial-<seq>.trial --json`` therefore
gives exactly the stored metrics (:func:`station.core.pipeline.analyze_trial` reads those inputs).

Pseudonymised (``--pseudonymise``), a trial file also loses what could identify the patient or the
session (:mod:`station.report.pseudonym`): the calibration's operator, every timestamp cut to the day
(calibration, ``started_utc``), the body mass rounded to 5 kg wherever it appears (``meta``,
``meta["analysis"]``, the ``window`` event's inputs), and ``host_time_s`` made relative to the trial's
first frame (seconds, ``meta["host_time_base"]`` says so) instead of Unix time. The analysis does not read
host time; the rounded body mass sets the load gates (20 % and 80 % of body weight: a 2.5 kg change moves
them by 5 and 20 N, far from a standing person's load, so the window and the metrics come out the same;
tests/report/test_pseudonymised_trial_export.py compares them exactly) and the calibration-fit check; the inputs
carry ``body_mass_step_kg`` = 5, and the check's body-mass tolerance becomes that of the heaviest true
mass the rounded one stands for plus half a step (:func:`station.core.health.calibration_problems`), so
a trial that fitted its true body mass still fits.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from station.board.trialfile import write_trial
from station.core.pipeline import stored_inputs
from station.errors import StationError
from station.privatefiles import refuse_existing

log = logging.getLogger(__name__)

#: ``meta["host_time_base"]`` of a pseudonymised trial file
HOST_TIME_RELATIVE = "host_time_s: s from the trial's first frame (pseudonymised; not Unix time)"


def trial_for_export(data, record):
    """The stored trial ``record`` of session ``data`` as a self-contained :class:`TrialFile` (or None)."""
    try:
        trial = data.store.trial_file(record.id)
    except StationError as exc:
        log.info("trial %s has no raw data: %s", record.seq, exc)
        return None
    pseudonymised = data.patient.pseudonymised
    meta = dict(trial.meta or {})
    meta.update(task=record.task, side=record.side, phase=record.phase, condition=record.condition, step=record.step,
                seq=record.seq, status=record.status, reason=record.reason)
    inputs = stored_inputs(trial)
    if inputs:
        meta["analysis"] = inputs
    if data.patient.body_mass_kg is not None:
        meta.setdefault("body_mass_kg", data.patient.body_mass_kg)  # pseudonymised: already rounded
    if pseudonymised:
        from station.report import pseudonym as ps

        for private in ("patient_id", "session_id", "trial_id"):
            meta.pop(private, None)
        meta = ps.pseudonymised_meta(meta)
        trial.events = ps.pseudonymised_events(trial.events)
        trial.calibration = ps.pseudonymised_calibration(trial.calibration)
        host = np.asarray(trial.host_time_s, dtype=np.float64)
        if len(host):
            # seconds from the first frame: the clock fit's shape stays, the wall-clock time goes
            finite = host[np.isfinite(host)]
            trial.host_time_s = host - (finite[0] if len(finite) else 0.0)
        meta["host_time_base"] = HOST_TIME_RELATIVE
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
