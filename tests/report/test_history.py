"""A patient's visits: what patient_history reads from the stored scores, and the clinician's criterion."""

import math

import pytest
from scipy import stats

from station.errors import StationError
from station.report.history import Criterion, mean_interval, patient_history
from station.assessment.results import SessionScores, Summary


def test_criterion_met_not_met_undecided():
    c = Criterion(max_si_pct=10.0, ci_within_pct=15.0)
    assert c.status(4.0, -6.0, 14.0) == "met"
    assert c.status(4.0, -6.0, 16.0) == "undecided"  # interval pokes out of ±15 %
    assert c.status(12.0, 1.0, 23.0) == "undecided"  # |SI| > 10 % but the interval reaches below 10 %
    assert c.status(25.0, 11.0, 39.0) == "not met"  # all of the interval beyond +10 %
    assert c.status(-25.0, -39.0, -11.0) == "not met"
    assert c.status(float("nan"), 0.0, 1.0) == "undecided" and c.status(None, None, None) == "undecided"
    assert c.text == "|SI| ≤ 10 % with its interval inside ±15 %"
    with pytest.raises(StationError):
        Criterion(max_si_pct=10.0, ci_within_pct=5.0)


def test_mean_interval_is_the_t_interval_of_the_trial_mean():
    mean, low, high = mean_interval(Summary(40.0, 4.0, 3))
    half = stats.t.ppf(0.975, 2) * 4.0 / math.sqrt(3)
    assert (mean, low, high) == pytest.approx((40.0, 40.0 - half, 40.0 + half))
    assert math.isnan(mean_interval(Summary(40.0, float("nan"), 1))[1])


def test_history_follows_the_stored_headline_verdicts(tmp_path):
    from station.store import Store

    from tests.dashboard.history_data import CRITERION_BY_VISIT, DATES, build_rehab_history

    with Store.open(tmp_path / "data") as store:
        pid, ids = build_rehab_history(store)
        history = patient_history(store, pid)
        assert [h["session_id"] for h in history] == ids and [h["date"] for h in history] == list(DATES)
        for h, sid in zip(history, ids):
            scores = store.get_session(sid).scores
            v = SessionScores.from_dict(scores).verdict_of("stance/baseline/eyes_open")
            assert (h["estimate"], h["ci_low"], h["ci_high"]) == (v.estimate, v.interval.low, v.interval.high)
            assert h["interval"] == v.interval and h["level"] == pytest.approx(0.96)
            left = scores["stance"]["baseline/eyes_open"]["sides"]["left"]["mean_velocity_ml_mm_s"]
            assert h["sides"]["left"][0] == left["mean"]
        assert [h["criterion"] for h in history] == CRITERION_BY_VISIT
        # a stricter criterion turns the fourth visit (SI +7 %, interval up to +15 %) undecided
        strict = patient_history(store, pid, criterion=Criterion(max_si_pct=8.0, ci_within_pct=12.0))
        assert strict[3]["criterion"] == "undecided"
        assert [h["session_id"] for h in patient_history(store, pid, until_session_id=ids[2])] == ids[:3]


def test_the_clinics_criterion_is_kept_for_the_station(tmp_path):
    import os

    assert Criterion.load(tmp_path) == Criterion()
    path = Criterion(8.0, 12.0).save(tmp_path)
    assert Criterion.load(tmp_path) == Criterion(8.0, 12.0)
    assert os.stat(path).st_mode & 0o777 == 0o600
    path.write_text("{not json")
    assert Criterion.load(tmp_path) == Criterion()
