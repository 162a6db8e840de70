"""Stance start and step-off detection on hand-made load and COP traces (exact, known answers)."""

import numpy as np
import pytest

from station.assessment import analysis

FS = 100.0
T = np.arange(0, 12, 1 / FS)
WEIGHT = 700.0


def _trace():
    # both feet (COP 0) until 1.0 s, then shifting to the left foot (-100 mm) linearly over 0.5 s
    ml = np.where(T < 1.0, 0.0, np.maximum(-100.0, -200.0 * (T - 1.0)))
    total = np.full_like(T, WEIGHT)
    return total, ml


def test_stance_starts_where_the_cop_has_moved_30_mm_to_the_cued_side():
    total, ml = _trace()
    start = analysis.detect_stance_start(T, total, ml, side="left", min_load=0.8 * WEIGHT, reference_ml_mm=0.0)
    # -200 mm/s from 1.0 s: 30 mm at 1.15 s
    assert start == pytest.approx(1.15, abs=1.5 / FS)
    assert analysis.detect_stance_start(T, total, ml, side="right", min_load=0.8 * WEIGHT, reference_ml_mm=0.0) is None
    # not loaded enough (someone leaning on the board with one hand): no stance
    assert analysis.detect_stance_start(T, 0.5 * total, ml, side="left", min_load=0.8 * WEIGHT, reference_ml_mm=0.0) is None


def test_reference_is_the_median_loaded_cop_or_the_centre():
    total, ml = _trace()
    assert analysis.reference_ml(total[:50], ml[:50] + 7.0, min_load=500.0) == 7.0
    assert analysis.reference_ml(np.zeros(50), ml[:50], min_load=500.0) == 0.0


def test_step_off_needs_a_long_unloading_touchdowns_do_not_count():
    total = np.full_like(T, WEIGHT)
    total[(T >= 4.0) & (T < 4.8)] = 0.3 * WEIGHT  # a touchdown: 70 % unloaded for 0.8 s
    assert analysis.detect_step_off(T, total, weight_n=WEIGHT, after_s=1.0) is None
    total[T >= 9.0] = 0.0  # stepped off for good at 9 s
    assert analysis.detect_step_off(T, total, weight_n=WEIGHT, after_s=1.0) == pytest.approx(9.0)
    assert analysis.detect_step_off(T, total, weight_n=WEIGHT, after_s=1.0, until_s=8.0) is None


def test_min_load_from_body_mass():
    assert analysis.min_load_n(70.0) == pytest.approx(0.8 * 70.0 * 9.80665)
    assert analysis.min_load_n(None) == 200.0


def test_a_calibration_that_does_not_fit_stops_the_assessment(tmp_path, monkeypatch):
    """Another board's calibration (gains 1.5 x): the first trial names it and the session stops, no repeats."""
    import dataclasses

    from station.assessment import protocols, virtual_session
    from station.errors import CalibrationError
    from station.store import Store

    good = virtual_session.calibration_for
    monkeypatch.setattr(virtual_session, "calibration_for",
                        lambda board: dataclasses.replace(good(board), gains_n_per_count=1.5 * good(board).gains_n_per_count))
    protocol = protocols.get("single-leg", trials_per_side=1, duration_s=6.0, exclude_s=1.0, familiarisation=0)
    store = Store.open(tmp_path)
    with pytest.raises(CalibrationError, match="the assessment stopped: the board measured 10[0-9].[0-9] kg for a patient of 70.0 kg"):
        virtual_session.run_protocol(protocol, store=store, seed=5, sim_subject={"preset": "healthy"})
    session = store.list_sessions()[0]
    trials = store.trials(session.id)
    assert session.status == "failed" and len(trials) == 1 and trials[0].status == "failed"
    assert "calibration does not fit this board" in trials[0].reason
