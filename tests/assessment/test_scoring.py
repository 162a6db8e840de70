"""Scoring math on hand-made metric tables: summaries, SI and its uncertainty, verdicts, MDC95."""

import math

import numpy as np
import pytest
from scipy import stats

from station.assessment import protocols, scoring
from station.assessment.results import Comparison, MdcSource, Outcome
from station.assessment.scoring import (
    Summary,
    asymmetry,
    change,
    metric_asymmetry,
    summarise,
)
from station.report.wording import asymmetry_sentence, verdict_sentence

from .conftest import rdl_row
from .conftest import trial_row as _row


def test_summary_ignores_missing_and_uses_sample_sd():
    s = summarise([1.0, 2.0, None, float("nan"), 6.0])
    assert (s.mean, s.n) == (3.0, 3) and s.sd == pytest.approx(math.sqrt(7.0))
    assert summarise([4.0]).sd != summarise([4.0]).sd  # NaN with one value
    assert summarise([]).n == 0


def test_sway_index_and_score_follow_the_documented_formula():
    m = {"mean_velocity_ml_mm_s": 70.0, "range_ml_mm": 35.0, "ellipse95_area_mm2": 3200.0}
    # ratios 2, 1, sqrt(4) = 2 -> geometric mean (2 * 1 * 2) ** (1/3)
    assert scoring.sway_index(m) == pytest.approx(4 ** (1 / 3))
    # balance score: 100 up to the healthy upper sway (1.25 x reference), then 100 x 1.25 / index
    assert scoring.stability_score(1.0) == 100.0 and scoring.stability_score(0.5) == 100.0
    assert scoring.stability_score(2.5) == pytest.approx(50.0) and scoring.stability_score(1.5625) == pytest.approx(80.0)
    assert math.isnan(scoring.sway_index({"range_ml_mm": 3.0}))


def test_asymmetry_index_value_uncertainty_and_verdict():
    left, right = Summary(40.0, 4.0, 3), Summary(60.0, 6.0, 3)
    a = asymmetry(left, right)
    assert a.si_pct == pytest.approx(40.0)
    # delta method by hand
    se_l, se_r = 4 / math.sqrt(3), 6 / math.sqrt(3)
    ga, gb = 400 * 40 / 100**2, 400 * 60 / 100**2
    se = math.sqrt((ga * se_r) ** 2 + (gb * se_l) ** 2)
    assert a.se_pct == pytest.approx(se)
    va, vb = (ga * se_r) ** 2, (gb * se_l) ** 2
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    assert a.df == pytest.approx(df)
    assert a.si_interval.low == pytest.approx(40 - stats.t.ppf(0.975, df) * se)
    assert a.less_stable == "right" and a.outcome is Outcome.RIGHT_LESS_STABLE
    mirrored = asymmetry(right, left)
    assert mirrored.si_pct == pytest.approx(-40.0) and mirrored.less_stable == "left"


def test_a_large_si_within_the_noise_names_no_side():
    # |SI| = 18 % (healthy range) with a trial-to-trial CV of 15 %: not a detectable asymmetry,
    # although a fixed 10 % cut-off would call it one.
    a = asymmetry(Summary(45.0, 6.75, 3), Summary(54.0, 8.1, 3))
    assert abs(a.si_pct) > 10.0
    assert a.less_stable is None and a.outcome is Outcome.NO_ASYMMETRY
    # the same SI with very repeatable trials is detectable
    assert asymmetry(Summary(45.0, 1.0, 3), Summary(54.0, 1.0, 3)).less_stable == "right"


def test_one_trial_per_side_gives_no_verdict():
    a = asymmetry(Summary(40.0, math.nan, 1), Summary(80.0, 5.0, 3))
    assert a.si_pct == pytest.approx(200 * 40 / 120) and a.outcome is Outcome.NOT_ENOUGH_DATA


def test_score_stance_uses_only_finished_trials():
    rows = []
    for v in (40.0, 42.0, 38.0):
        rows.append(_row("left", mean_velocity_ml_mm_s=v, range_ml_mm=v, ellipse95_area_mm2=v * 25, touchdowns=0.0))
    for v in (60.0, 63.0, 57.0):
        rows.append(_row("right", mean_velocity_ml_mm_s=v, range_ml_mm=v, ellipse95_area_mm2=v * 25, touchdowns=2.0))
    rows.append(_row("left", status="failed", mean_velocity_ml_mm_s=500.0, range_ml_mm=500.0, ellipse95_area_mm2=1e6))
    out = scoring.stance_scores(rows)
    assert out.sides["left"]["mean_velocity_ml_mm_s"] == Summary(40.0, 2.0, 3)
    assert out.less_stable == "right"
    assert verdict_sentence(out.headline).startswith(
        "Single-leg stance, baseline: RIGHT leg less stable — sway index SI +")
    touchdowns = out.asymmetry["touchdowns"]  # a count: compared per trial, never by SI
    assert touchdowns.comparison is Comparison.RATE and math.isnan(touchdowns.si_pct)
    assert (touchdowns.events, touchdowns.diff) == (6, 2.0)
    assert out.sides["right"]["stability_score"].mean < out.sides["left"]["stability_score"].mean


def _stance_rows(metric, left, right):
    base = {"mean_velocity_ml_mm_s": 40.0, "range_ml_mm": 40.0, "ellipse95_area_mm2": 1000.0, "touchdowns": 0.0}
    return [_row(side, **(base | {metric: v})) for side, values in (("left", left), ("right", right)) for v in values]


def test_a_touchdown_or_two_against_none_is_too_few_to_compare():
    # left never touches down, right once in three trials: SI was "+200 % (+200 to +200)", "right less stable"
    out = scoring.stance_scores(_stance_rows("touchdowns", [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]))
    a = out.asymmetry["touchdowns"]
    assert a.outcome is Outcome.TOO_FEW_EVENTS and a.less_stable is None
    assert a.events == 1 and a.diff == pytest.approx(1 / 3) and a.unit == "touchdowns per trial"
    assert all(math.isnan(x) for x in (a.si_pct, a.si_interval.low, a.si_interval.high, a.diff_interval.low,
                                       a.diff_interval.high))
    assert asymmetry_sentence(a, metric="touchdowns") == "touchdowns: too few touchdowns to compare (1 in all)"
    # four in all is still too few; the sway verdict is untouched (identical sway on both sides)
    few = scoring.stance_scores(_stance_rows("touchdowns", [0.0, 0.0, 0.0], [2.0, 1.0, 1.0]))
    assert few.asymmetry["touchdowns"].outcome is Outcome.TOO_FEW_EVENTS
    assert few.headline.outcome is Outcome.NO_ASYMMETRY


def test_touchdowns_are_compared_as_a_difference_per_trial_with_a_poisson_floor():
    left, right = summarise([0.0, 1.0, 0.0]), summarise([4.0, 5.0, 3.0])
    a = metric_asymmetry("touchdowns", left, right)
    # 13 events in 6 trials: each side's per-trial variance is at least the pooled rate 13/6 (Poisson)
    var = 13 / 6
    se = math.sqrt(var / 3 + var / 3)
    t = stats.t.ppf(0.975, 4)  # Welch df of two equal terms with 2 df each
    assert (a.comparison, a.events) == (Comparison.RATE, 13) and math.isnan(a.si_pct)
    assert a.diff == pytest.approx(11 / 3) and a.diff_se == pytest.approx(se)
    assert a.diff_interval.low == pytest.approx(11 / 3 - t * se) and a.diff_interval.high == pytest.approx(11 / 3 + t * se)
    assert a.less_stable == "right"
    # zero touchdowns on one side, two on every trial of the other: no zero-width certainty
    b = metric_asymmetry("touchdowns", summarise([0.0] * 3), summarise([2.0] * 3))
    assert b.diff_interval.high - b.diff_interval.low == pytest.approx(2 * t * math.sqrt(1 / 3 + 1 / 3))  # rate 1/trial
    assert b.outcome is Outcome.NO_ASYMMETRY
    low = f"{11 / 3 - t * se:+.1f}".replace("-", "−")
    assert asymmetry_sentence(a, metric="touchdowns") == (
        f"touchdowns: right less stable (R − L +3.7 touchdowns per trial [{low}, {11 / 3 + t * se:+.1f}] 95 % CI)")


def test_identical_trials_do_not_make_a_side_certain():
    # SD 0 on both sides over 3 trials: the SD is floored at the metric's resolution (0.5 mm for range)
    a = metric_asymmetry("range_ml_mm", Summary(40.0, 0.0, 3), Summary(44.0, 0.0, 3))
    ga, gb = 400 * 40 / 84**2, 400 * 44 / 84**2
    se = math.sqrt((ga**2 + gb**2) * 0.5**2 / 3)
    assert a.comparison is Comparison.SI and a.si_pct == pytest.approx(200 * 4 / 84)
    assert a.se_pct == pytest.approx(se) and a.si_interval.high - a.si_interval.low > 0
    assert a.si_interval.low == pytest.approx(a.si_pct - stats.t.ppf(0.975, a.df) * se)
    # one side with SD 0 is floored too (the other side's noise alone no longer decides)
    b = asymmetry(Summary(40.0, 0.0, 3), Summary(60.0, 6.0, 3))
    assert b.se_pct > math.sqrt((400 * 40 / 100**2) ** 2 * 36 / 3)
    # a metric without a listed resolution: 1 % of the larger mean
    c = asymmetry(Summary(10.0, 0.0, 2), Summary(10.0, 0.0, 2))
    assert c.si_pct == 0.0 and c.si_interval.high > 0.5 and c.outcome is Outcome.NO_ASYMMETRY


def test_a_side_mean_near_zero_is_compared_as_a_difference_not_si():
    left, right = [0.5, -1.2, 0.8, 0.1, -0.3], [6.0, 8.0, 5.0, 9.0, 7.0]  # SI would be +201 %
    a = metric_asymmetry("lateral_shift_mm", summarise(left), summarise(right))
    se = math.sqrt(np.var(left, ddof=1) / 5 + np.var(right, ddof=1) / 5)
    va, vb = np.var(right, ddof=1) / 5, np.var(left, ddof=1) / 5
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 4)
    assert a.comparison is Comparison.DIFFERENCE and math.isnan(a.si_pct) and math.isnan(a.si_interval.low)
    assert a.diff == pytest.approx(7.02) and a.diff_se == pytest.approx(se)
    assert a.diff_interval.low == pytest.approx(7.02 - stats.t.ppf(0.975, df) * se)
    assert a.less_stable == "right" and a.near_zero == ("left",)
    # a signed metric whose side means straddle 0: R + L ~ 0 made SI explode (+5200 %)
    b = metric_asymmetry("lateral_shift_mm", summarise([-6.0, -7.0, -5.0]), summarise([6.5, 7.0, 6.0]))
    assert b.comparison is Comparison.DIFFERENCE and math.isnan(b.si_pct) and b.diff == pytest.approx(12.5)
    # a small positive mean within 2 standard errors of 0 is "near 0" as well
    c = metric_asymmetry("lateral_shift_mm", summarise([2.0, -1.0, 3.0]), summarise([6.0, 7.0, 8.0]))
    assert c.comparison is Comparison.DIFFERENCE


def test_rdl_lateral_shift_near_zero_on_one_side():
    rows = [rdl_row(side, values) for side, values in (("left", [0.5, -1.2, 0.8, 0.1, -0.3]),
                                                       ("right", [6.0, 8.0, 5.0, 9.0, 7.0]))]
    out = scoring.score(rows).rdl
    row = out.asymmetry["lateral_shift_mm"]
    assert row.comparison is Comparison.DIFFERENCE and math.isnan(row.si_pct) and row.near_zero == ("left",)
    assert out.less_stable == "right"
    assert verdict_sentence(out.headline).startswith(
        "Single-leg RDL, lateral weight shift: RIGHT leg less stable — outward lateral weight shift R − L +7.0 mm [+")
    assert "96 % CI" in verdict_sentence(out.headline)
    assert asymmetry_sentence(row, metric="lateral_shift_mm").endswith(
        "; SI undefined: the left mean is near 0 or below)")


def test_change_and_mdc95():
    before, after = Summary(50.0, 5.0, 3), Summary(35.0, 5.0, 3)
    c = change(before, after)
    t4 = stats.t.ppf(0.975, 4)  # the pooled SD has 3 + 3 - 2 = 4 degrees of freedom: t, not 1.96
    mdc = t4 * 5.0 * math.sqrt(2 / 3)
    assert c.mdc == pytest.approx(mdc) and c.sem == pytest.approx(5.0 / math.sqrt(3))
    assert c.mdc == pytest.approx(c.sem * t4 * math.sqrt(2))
    assert c.change == -15.0 and c.change_pct == pytest.approx(-30.0) and c.outcome is Outcome.IMPROVED
    assert change(before, Summary(58.0, 5.0, 3)).outcome is Outcome.NO_CHANGE
    assert change(before, Summary(65.0, 5.0, 3)).outcome is Outcome.WORSE
    # identical trials in both blocks: the SD is floored at the resolution, not 0 (every change detectable)
    same = change(Summary(1.0, 0.0, 3), Summary(1.01, 0.0, 3), resolution=0.01)
    assert same.mdc == pytest.approx(t4 * 0.01 * math.sqrt(2 / 3)) and same.outcome is Outcome.NO_CHANGE
    d = change(Summary(50.0, math.nan, 1), Summary(30.0, math.nan, 1))
    assert d.mdc_source is MdcSource.DEFAULT and d.mdc == pytest.approx(0.30 * 50.0) and d.outcome is Outcome.IMPROVED


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
    rows = [rdl_row("left", (5.0, 6.0, 4.0, 5.5, 4.5)), rdl_row("right", (12.0, 14.0, 11.0, 13.0, 12.5))]
    out = scoring.score_session(rows)["rdl"]  # the stored form keeps its keys
    assert out["sides"]["left"]["reps"] == 5 and out["sides"]["right"]["lateral_shift_mm"]["mean"] == pytest.approx(12.5)
    assert out["less_stable"] == "right" and out["headline"]["level"] == pytest.approx(0.96)


def test_protocol_defaults_are_the_clinic_routine():
    p = protocols.get("single-leg")
    practice, block = p.steps[:2], p.steps[2]
    assert [(s.side, s.task) for s in practice] == [("left", "single_leg_practice"), ("right", "single_leg_practice")]
    # 20 s trials (3 s excluded) after a 10 s practice trial per leg, 3-12 pairs (ASSESSMENT.md §5)
    assert [(s.duration_s, s.exclude_s) for s in practice] == [(10.0, 3.0)] * 2
    assert (block.kind, block.min_trials, block.max_trials, block.duration_s, block.exclude_s) == (
        "adaptive_stance", 3, 12, 20.0, 3.0)
    assert p.design() == {"stance/baseline/eyes_open": {"alpha": 0.037, "alpha_interim": 0.001, "adaptive": True,
                                                        "min_trials": 3, "max_trials": 12, "futility_alpha": 0.2,
                                                        "target_si_pct": 25.0}}
    assert (block.alpha(3), block.alpha(11), block.alpha(12)) == (0.001, 0.001, 0.037)
    fixed = protocols.get("single-leg", trials_per_side=3, familiarisation=0)
    assert [s.side for s in fixed.steps] == ["left", "right"] * 3 and fixed.design() == {}
    assert {(s.duration_s, s.exclude_s, s.condition) for s in fixed.steps} == {(20.0, 3.0, "eyes_open")}
    assert len(protocols.get("single-leg", eyes_closed=True, trials_per_side=3, familiarisation=0).steps) == 12
    r = protocols.get("rdl")
    # an adaptive block of 1-3 sets of 10 per side, alternating, a look after each pair (ASSESSMENT.md §5)
    (block,) = r.steps
    assert (block.kind, block.min_sets, block.max_sets, block.reps, block.target_mm) == ("adaptive_rdl", 1, 3, 10, 8.0)
    assert [block.trial(side, k).label for k, side in ((1, "left"), (1, "right"), (2, "left"))] == [
        "single-leg RDL left set 1", "single-leg RDL right set 1", "single-leg RDL left set 2"]
    assert r.design()["rdl"] | {} == {"alpha": 0.039, "alpha_interim": 0.001, "adaptive": True, "min_trials": 1,
                                      "max_trials": 3, "futility_alpha": 0.2, "target_mm": 8.0}
    fixed = protocols.get("rdl", sets_per_side=2)
    assert [(s.side, s.reps) for s in fixed.steps] == [("left", 10), ("right", 10)] * 2 and fixed.design() == {}
    pr = protocols.get("primer")
    phases = [s.phase for s in pr.steps]
    assert [(s.task, s.duration_s) for s in pr.steps[:2]] == [("single_leg_practice", 10.0)] * 2
    # 1 practice + 6 scored trials per side before, an adaptive block of 3-8 per side after (§5)
    assert phases[:14] == ["baseline"] * 14 and phases[-1] == "post_primer" and phases[14] == "primer"
    post = pr.steps[-1]
    assert (post.kind, post.min_trials, post.max_trials, post.duration_s) == ("adaptive_post", 3, 8, 20.0)
    assert pr.design() == {}  # the post block's looks never call anything: every test keeps its fixed level
    primer = pr.steps[14:-1]
    assert len(primer) == 3 * 6
    assert [(s.kind, getattr(s, "name", None) or s.task, s.side) for s in primer[:6]] == [
        ("exercise", "pigeon", "left"), ("exercise", "pigeon", "right"),
        ("exercise", "hip_lift", "left"), ("exercise", "hip_lift", "right"),
        ("rdl", "rfe_rdl", "left"), ("rdl", "rfe_rdl", "right"),
    ]
    assert primer[0].duration_s == 30.0 and primer[2].reps == 10 and primer[4].reps == 10
    assert pr.to_dict()["steps"][0]["kind"] == "stance"


@pytest.mark.parametrize("name, settings, message", [
    ("single-leg", dict(trials_per_side=0), "trials_per_side must be a whole number of at least 1"),
    ("single-leg", dict(duration_s=-5.0), "duration_s must be positive"),
    ("single-leg", dict(exclude_s=-1.0), "exclude_s must not be negative"),
    ("single-leg", dict(min_trials=4, max_trials=3), "max_trials must be at least min_trials"),
    ("rdl", dict(reps=0), "reps must be a whole number of at least 1"),
    ("primer", dict(rfe_rdl_reps=0), "rfe_rdl_reps must be a whole number of at least 1"),
    ("primer", dict(pigeon_s=-30.0), "pigeon_s must not be negative"),
])
def test_invalid_protocol_settings_are_refused(name, settings, message):
    with pytest.raises(ValueError, match=message):
        protocols.get(name, **settings)


def test_unknown_protocol_and_setting():
    with pytest.raises(Exception, match="Unknown protocol"):
        protocols.get("tightrope")
    with pytest.raises(Exception, match="Invalid protocol settings"):
        protocols.get("rdl", trials_per_side=3)
