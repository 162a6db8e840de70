"""Per-trial sample series for plots and exports: time, four cell forces, total force, COP.

Two views of one recorded trial, both from the stored raw counts and the trial's calibration:

- :func:`trial_samples`: every recorded frame on the board's own clock (``device_time_s``), for CSV;
- :func:`uniform_samples`: the gap-free stretch holding the analysed window on a uniform grid, for C3D.

Both come from the one analysis path (:func:`station.core.pipeline.analyze_trial`): one load gate,
one COP.

COP is NaN where the total force is below the load threshold (20 % of body weight, 100 N when the
body mass is unknown; the load gate of docs/METRICS.md).
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


def _analysis(data, trial):
    """The one analysis path on the stored trial, with the inputs it was analysed with."""
    from station.core.pipeline import analyze_trial, stored_inputs

    cal = _calibration(data, trial)
    trial_file = data.store.trial_file(trial.id)
    mass = None
    if not stored_inputs(trial_file):  # a trial stored before analyses recorded their inputs
        mass = data.store.get_patient(data.session.patient_id).body_mass_kg
    return analyze_trial(trial_file, calibration=cal, body_mass_kg=mass), cal


def trial_samples(data, trial) -> TrialSamples:
    """Every recorded frame of ``trial`` (a ``TrialRecord`` of ``data``, a :class:`SessionData`).

    Raises
    ------
    CalibrationError
        The trial has no calibration.
    InputFileError
        The trial has no recorded data.
    """
    from station.core.resample import effective_rate_hz

    result, cal = _analysis(data, trial)
    f = result.frames
    rate = effective_rate_hz(f.t_s)
    return TrialSamples(t_s=f.t_s, forces_n=f.forces_n, total_n=f.total_n, cop_ml_mm=f.cop_ml_mm, cop_ap_mm=f.cop_ap_mm,
                        threshold_n=float(result.threshold_n), fs_hz=float(rate if np.isfinite(rate) else trial.fs_hz or 0.0),
                        positions_mm=cal.geometry.positions_mm)


def uniform_samples(data, trial) -> TrialSamples:
    """The trial as the analysis sees it: the gap-free stretch holding the window, uniform grid."""
    result, cal = _analysis(data, trial)
    return TrialSamples(t_s=np.asarray(result.t_s, dtype=float), forces_n=np.asarray(result.forces_n, dtype=float),
                        total_n=np.asarray(result.total_n, dtype=float), cop_ml_mm=np.asarray(result.cop_ml_mm, dtype=float),
                        cop_ap_mm=np.asarray(result.cop_ap_mm, dtype=float), threshold_n=float(result.threshold_n),
                        fs_hz=float(result.fs_hz), positions_mm=cal.geometry.positions_mm)
