"""The lockstep virtual session (station/assessment/virtual_session.py) plus the tests' ground-truth helper."""

from __future__ import annotations

import numpy as np

from station.assessment import virtual_session
from station.assessment.virtual_session import (  # noqa: F401
    GAINS_COUNTS_PER_N, OFFSETS_COUNTS, LockstepClock, PacedTransport, SimRun, calibration_for,
)
from station.store import Store


def run_protocol(protocol, *, data_dir, store: Store | None = None, **kwargs) -> SimRun:
    """:func:`virtual_session.run_protocol` with a store opened in ``data_dir`` (unless one is given)."""
    return virtual_session.run_protocol(protocol, store=store or Store.open(data_dir), **kwargs)


def truth_metrics(store: Store, trial, truth) -> dict:
    """The sway metrics of the ground-truth COP over the trial's analysed window (same preset)."""
    from station.core.metrics import compute_metrics, with_overrides

    arrays = store.trial_arrays(trial.id)
    sel = (arrays["device_time_s"] >= trial.window_start_s) & (arrays["device_time_s"] <= trial.window_end_s)
    t_us = arrays["t_us"][sel]
    idx = np.searchsorted(truth.t_us, t_us)  # the board's clock increases monotonically in a short run
    assert np.array_equal(truth.t_us[idx], t_us)
    return compute_metrics(truth.cop_ml_mm[idx], truth.cop_ap_mm[idx], t_s=truth.t_s[idx],
                           preset=with_overrides("clinical", exclude_s=0.0))
