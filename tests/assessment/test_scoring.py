"""Scoring math on hand-made metric tables: summaries, SI and its uncertainty, verdicts, MDC95."""

import math

import numpy as np
import pytest
from scipy import stats

from station.assessment import protocols, scoring
from station.assessment.scoring import Summary, asymmetry, change, summarise


def _row(side, phase="baseline", status="finished", **metrics):
    return {"task": "single_leg", "side": side, "phase": phase, "condition": "eyes_open", "status": status,
            "metrics": metrics, "reps": []}


def test_summary_ignores_missing_and_uses_sample_sd():
    s = summarise([1.0, 2.0, None, float("nan"), 6.0])
    assert (s.mean, s.n) == (3.0, 3) and s.sd == pytest.approx(math.sqrt(7.0))
    assert summarise([4.0]).sd != summarise([4.0]).sd  # NaN with one value
    assert summarise([]).n == 0


def test_sway_index_and_score_follow_the_documented_formula():
    m = {"mean_velocity_ml_mm_s": 70.0, "range_ml_mm": 35.0, "ellipse95_area_mm2": 3200.0}
    # ratios 2, 1, sqrt(4) = 2 -> geometric mean (2 * 1 * 2) ** (1/3)
    assert scoring.sway_index(m) == pytest.approx(4 ** (1 / 3))
    assert scoring.stability_score(1.0) == 50.0 and scoring.stability_score(0.5) == pytest.approx(200 / 3)
    assert math.isnan(scoring.sway_index({"range_ml_mm": 3.0}))


def test_asymmetry_index_value_uncertainty_and_verdict():
    left, right = Summary(40.0, 4.0, 3), Summary(60.0, 6.0, 3)
    a = asymmetry(left, right)
    assert a["si_pct"] == pytest.approx(40.0)
    # delta method by hand
    se_l, se_r = 4 / math.sqrt(3), 6 / math.sqrt(3)
    ga, gb = 400 * 40 / 100**2, 400 * 60 / 100**2
    se = math.sqrt((ga * se_r) ** 2 + (gb * se_l) ** 2)
    assert a["se_pct"] == pytest.approx(se)
    va, vb = (ga * se_r) ** 2, (gb * se_l) ** 2
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    assert a["df"] == pytest.approx(df)
    assert a["ci_low_pct"] == pytest.approx(40 - stats.t.ppf(0.975, df) * se)
    assert a["less_stable"] == "right" and a["verdict"] == "right less stable"
    mirrored = asymmetry(right, left)
    assert mirrored["si_pct"] == pytest.approx(-40.0) and mirrored["less_stable"] == "left"


def test_a_large_si_within_the_noise_names_no_side():
    # |SI| = 18 % (healthy range) with a trial-to-trial CV of 15 %: not a detectable asymmetry,
    # although a fixed 10 % cut-off would call it one.
    a = asymmetry(Summary(45.0, 6.75, 3), Summary(54.0, 8.1, 3))
    assert abs(a["si_pct"]) > 10.0
    assert a["less_stable"] is None and a["verdict"] == "no detectable asymmetry"
    # the same SI with very repeatable trials is detectable
    assert asymmetry(Summary(45.0, 1.0, 3), Summary(54.0, 1.0, 3))["less_stable"] == "right"


def test_one_trial_per_side_gives_no_verdict():
    a = asymmetry(Summary(40.0, math.nan, 1), Summary(80.0, 5.0, 3))
    assert a["si_pct"] == pytest.approx(200 * 40 / 120) and a["verdict"] == "not enough trials"


def test_score_stance_uses_only_finished_trials():
    rows = []
    for v in (40.0, 42.0, 38.0):
        rows.append(_row("left", mean_velocity_ml_mm_s=v, range_ml_mm=v, ellipse95_area_mm2=v * 25, touchdowns=0.0))
    for v in (60.0, 63.0, 57.0):
        rows.append(_row("right", mean_velocity_ml_mm_s=v, range_ml_mm=v, ellipse95_area_mm2=v * 25, touchdowns=2.0))
    rows.append(_row("left", status="failed", mean_velocity_ml_mm_s=500.0, range_ml_mm=500.0, ellipse95_area_mm2=1e6))
    out = scoring.score_stance(rows)
    assert out["sides"]["left"]["mean_velocity_ml_mm_s"] == {"mean": 40.0, "sd": 2.0, "n": 3}
    assert out["less_stable"] == "right" and out["summary"].startswith("single-leg stance: right less stable")
    assert out["asymmetry"]["touchdowns"]["si_pct"] == pytest.approx(200.0)
    assert out["sides"]["right"]["stability_score"]["mean"] < out["sides"]["left"]["stability_score"]["mean"]


def test_change_and_mdc95():
    before, after = Summary(50.0, 5.0, 3), Summary(35.0, 5.0, 3)
    c = change(before, after)
    mdc = 1.96 * 5.0 * math.sqrt(2 / 3)
    assert c["mdc95"] == pytest.approx(mdc) and c["sem"] == pytest.approx(5.0 / math.sqrt(3))
    assert c["mdc95"] == pytest.approx(c["sem"] * 1.96 * math.sqrt(2))
    assert c["change"] == -15.0 and c["change_pct"] == pytest.approx(-30.0) and c["verdict"] == "improved"
    assert change(before, Summary(56.0, 5.0, 3))["verdict"] == "no detectable change"
    assert change(before, Summary(65.0, 5.0, 3))["verdict"] == "worse"
    d = change(Summary(50.0, math.nan, 1), Summary(30.0, math.nan, 1))
    assert d["mdc_source"] == "default" and d["mdc95"] == pytest.approx(0.30 * 50.0) and d["verdict"] == "improved"


def test_before_after_names_each_side():
    rng = np.random.default_rng(3)
    rows = []
    for phase, right_scale in (("baseline", 1.5), ("post_primer", 1.05)):
        for _ in range(3):
            for side, scale in (("left", 1.0), ("right", right_scale)):
                v = 40.0 * scale * (1 + 0.05 * rng.standard_normal())
                rows.append(_row(side, phase, mean_velocity_ml_mm_s=v, range_ml_mm=v, ellipse95_area_mm2=25 * v,
                                 mean_velocity_mm_s=1.3 * v))
    out = scoring.score_session(rows)
    ba = out["before_after"]["eyes_open"]["sides"]
    assert ba["right"]["verdict"] == "improved" and ba["left"]["verdict"] == "no detectable change"
    assert set(out["stance"]) == {"baseline/eyes_open", "post_primer/eyes_open"}


def test_rdl_scoring_uses_each_repetition():
    rows = [
        {"task": "rdl", "side": "left", "phase": "baseline", "condition": "eyes_open", "status": "finished",
         "metrics": {}, "reps": [{"lateral_shift_mm": v} for v in (5.0, 6.0, 4.0, 5.5, 4.5)]},
        {"task": "rdl", "side": "right", "phase": "baseline", "condition": "eyes_open", "status": "finished",
         "metrics": {}, "reps": [{"lateral_shift_mm": v} for v in (12.0, 14.0, 11.0, 13.0, 12.5)]},
    ]
    out = scoring.score_session(rows)["rdl"]
    assert out["sides"]["left"]["reps"] == 5 and out["sides"]["right"]["lateral_shift_mm"]["mean"] == pytest.approx(12.5)
    assert out["less_stable"] == "right"


def test_protocol_defaults_are_the_clinic_routine():
    p = protocols.get("single-leg")
    assert [s.side for s in p.steps] == ["left", "right"] * 3
    assert {(s.duration_s, s.exclude_s, s.condition) for s in p.steps} == {(30.0, 5.0, "eyes_open")}
    assert len(protocols.get("single-leg", eyes_closed=True).steps) == 12
    r = protocols.get("rdl")
    assert [(s.side, s.reps) for s in r.steps] == [("left", 10), ("right", 10)]
    pr = protocols.get("primer")
    phases = [s.phase for s in pr.steps]
    assert phases[:6] == ["baseline"] * 6 and phases[-6:] == ["post_primer"] * 6
    primer = pr.steps[6:-6]
    assert len(primer) == 3 * 6
    assert [(s.kind, getattr(s, "name", None) or s.task, s.side) for s in primer[:6]] == [
        ("exercise", "pigeon", "left"), ("exercise", "pigeon", "right"),
        ("exercise", "hip_lift", "left"), ("exercise", "hip_lift", "right"),
        ("rdl", "rfe_rdl", "left"), ("rdl", "rfe_rdl", "right"),
    ]
    assert primer[0].duration_s == 30.0 and primer[2].reps == 10 and primer[4].reps == 10
    assert pr.to_dict()["steps"][0]["kind"] == "stance"
    with pytest.raises(Exception, match="Unknown protocol"):
        protocols.get("tightrope")
