"""Per-trial sample series for plots and exports: time, four cell forces, total force, COP.

Two views of one recorded trial, both from the stored raw counts and the trial's calibration:

- :func:`trial_samples`: every recorded frame on the board's own clock (``device_time_s``), for CSV;
- :func:`uniform_samples`: the station's analysis path (:func:`station.core.pipeline.analyze_trial`),
  i.e. the longest gap-free stretch on a uniform grid, for C3D (which needs a constant rate).

COP is NaN where the total force is below the load threshold (20 % of body weight, 100 N when the
body mass is unknown: DESIGN §3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from station.errors import CalibrationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialSamples:
    """Sample series of one trial.

    Attributes
    ----------
    t_s : ndarray (n,)
        Board time from the trial's first frame (s).
    forces_n : ndarray (n, 4)
        Cell forces fl, fr, bl, br (N).
    total_n, cop_ml_mm, cop_ap_mm : ndarray (n,)
        Total vertical force (N) and COP (mm, NaN below ``threshold_n``).
    threshold_n : float
    fs_hz : float
        Sampling rate (effective for raw samples, exact for uniform ones).
    positions_mm : ndarray (4, 2)
        Cell positions of the board the calibration describes.
    """

    t_s: np.ndarray
    forces_n: np.ndarray
    total_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray
    threshold_n: float
    fs_hz: float
    positions_mm: np.ndarray


def _calibration(data, trial):
    cal = data.calibration_of(trial)
    if cal is None:
        raise CalibrationError(f"Trial {trial.seq} of session {trial.session_id} was recorded without a calibration.")
    return cal


def trial_samples(data, trial) -> TrialSamples:
    """Every recorded frame of ``trial`` (a ``TrialRecord`` of ``data``, a :class:`SessionData`).

    Raises
    ------
    CalibrationError
        The trial has no calibration.
    InputFileError
        The trial has no recorded data.
    """
    from station.core.cop import default_threshold_n
    from station.store.database import effective_rate_hz

    cal = _calibration(data, trial)
    trial_file = data.store.trial_file(trial.id)
    counts = np.asarray(trial_file.frames["counts"])
    threshold = default_threshold_n(data.patient.body_mass_kg)
    forces = cal.forces_n(counts)
    ml, ap, total = cal.cop_mm(counts, threshold_n=threshold)
    t = np.asarray(trial_file.device_time_s, dtype=float)
    return TrialSamples(t_s=t, forces_n=forces, total_n=total, cop_ml_mm=ml, cop_ap_mm=ap, threshold_n=threshold,
                        fs_hz=float(effective_rate_hz(t) or trial.fs_hz or 0.0), positions_mm=cal.geometry.positions_mm)


def uniform_samples(data, trial) -> TrialSamples:
    """The trial as the analysis sees it: longest gap-free stretch, uniform grid (see module docstring)."""
    from station.core.pipeline import analyze_trial

    cal = _calibration(data, trial)
    result = analyze_trial(data.store.trial_file(trial.id), calibration=cal, body_mass_kg=data.patient.body_mass_kg)
    return TrialSamples(t_s=np.asarray(result.t_s, dtype=float), forces_n=np.asarray(result.forces_n, dtype=float),
                        total_n=np.asarray(result.total_n, dtype=float), cop_ml_mm=np.asarray(result.cop_ml_mm, dtype=float),
                        cop_ap_mm=np.asarray(result.cop_ap_mm, dtype=float), threshold_n=float(result.threshold_n),
                        fs_hz=float(result.fs_hz), positions_mm=cal.geometry.positions_mm)
