"""Headline verdicts: the tests they claim (checked against scipy's own t tests), the interface shape,
and the adaptive design's overall false-positive rate."""

import math

import numpy as np
import pytest
from scipy import stats

from station.assessment import scoring, verdicts as vd

KEYS = {"block", "kind", "side", "less_stable", "verdict", "estimate", "ci_low", "ci_high", "unit", "text", "resolution"}


def test_stance_headline_is_a_welch_t_on_log_sway_index():
    rng = np.random.default_rng(0)
    for _ in range(30):
        left, right = np.exp(rng.normal(0.0, 0.12, 4)), np.exp(rng.normal(0.15, 0.12, 3))
        v = vd.stance_asymmetry(left, right, block="stance/baseline/eyes_open")
        assert KEYS <= set(v)
        ref = stats.ttest_ind(np.log(right), np.log(left), equal_var=False)
        assert (v["less_stable"] is not None) == (ref.pvalue < vd.ALPHA)  # 4 %: the L/R tests' level
        assert v["df"] == pytest.approx(ref.df)
        d = np.log(right).mean() - np.log(left).mean()
        assert v["estimate"] == pytest.approx(200 * math.tanh(d / 2))
        # SI of the geometric means
        gl, gr = np.exp(np.log(left).mean()), np.exp(np.log(right).mean())
        assert v["estimate"] == pytest.approx(200 * (gr - gl) / (gr + gl))
        assert v["ci_low"] < v["estimate"] < v["ci_high"] and v["resolution"] > 0
        assert v["unit"] == "%" and v["kind"] == "asymmetry" and v["side"] is None
    assert vd.stance_asymmetry([1.0], [1.2, 1.3], block="x")["verdict"] == "not enough trials"


def test_before_after_per_side_and_asymmetry_change():
    rng = np.random.default_rng(1)
    cells = {("baseline", "left"): np.exp(rng.normal(0, 0.1, 4)), ("baseline", "right"): np.exp(rng.normal(0.4, 0.1, 4)),
             ("post_primer", "left"): np.exp(rng.normal(0, 0.1, 4)), ("post_primer", "right"): np.exp(rng.normal(0.05, 0.1, 4))}
    left, right, asym = vd.before_after(cells, block="before_after/eyes_open")
    assert (left["side"], right["side"], asym["side"]) == ("left", "right", None)
    assert all(v["kind"] == "before_after" and KEYS <= set(v) for v in (left, right, asym))
    logs = {k: np.log(v) for k, v in cells.items()}
    # the right leg's own noise: its two blocks of 4 pooled, df = 6 -- the same as scipy's pooled t
    ref = stats.ttest_ind(logs[("post_primer", "right")], logs[("baseline", "right")], equal_var=True)
    # "improved" is scipy's one-sided pooled t at 4 % (the interval's upper tail), "worse" at 1 % beyond the allowance
    less = stats.ttest_ind(logs[("post_primer", "right")], logs[("baseline", "right")], equal_var=True, alternative="less")
    assert right["df"] == 6 and (right["verdict"] == "improved") == (less.pvalue < 0.04) and ref.pvalue < 0.05
    sd = math.sqrt(sum(((logs[(p, "right")] - logs[(p, "right")].mean()) ** 2).sum() for p in ("baseline", "post_primer")) / 6)
    delta = logs[("post_primer", "right")].mean() - logs[("baseline", "right")].mean()
    half_up, half_down = (stats.t.ppf(q, 6) * sd * math.sqrt(0.5) for q in (0.96, 0.99))
    assert right["estimate"] == pytest.approx(100 * math.expm1(delta))
    assert right["ci_high"] == pytest.approx(100 * math.expm1(delta + half_up))
    assert right["ci_low"] == pytest.approx(100 * math.expm1(delta - half_down))
    assert (right["alpha_improved"], right["alpha_worse"], right["alpha"]) == (0.04, 0.01, pytest.approx(0.05))
    assert right["verdict"] == "improved" and left["verdict"] == "no detectable change"
    assert asym["verdict"] == "reduced" and asym["si_before"] > 30 and abs(asym["si_after"]) < 15
    assert asym["estimate"] == pytest.approx(asym["si_after"] - asym["si_before"])


def test_worse_needs_more_than_the_fatigue_allowance():
    # tight trials (SD 1 %): +3 % is inside the 5 % allowance, +12 % beyond it; -3 % is "improved"
    rng = np.random.default_rng(4)
    base = np.exp(rng.normal(0.0, 0.01, 6))

    def side(change_pct):
        post = base * (1 + change_pct / 100) * np.exp(rng.normal(0.0, 0.001, 6))
        cells = {("baseline", "left"): base, ("baseline", "right"): base, ("post_primer", "left"): post,
                 ("post_primer", "right"): base}
        return vd.before_after(cells, block="before_after/eyes_open")[0]

    small, big, down = side(3.0), side(12.0), side(-3.0)
    assert small["ci_low"] > 0 and small["verdict"] == "no detectable change"
    assert big["verdict"] == "worse" and down["verdict"] == "improved"
    assert small["worse_allowance_pct"] == vd.WORSE_ALLOWANCE_PCT == 5.0
    assert "beyond +5 %" in small["text"] and small["resolution_up"] > 5.0 > small["resolution_down"]


def test_rdl_uses_set_means_when_there_are_sets():
    one = vd.rdl_asymmetry([[4, 5, 3, 6]], [[9, 12, 10, 11]], block="rdl")
    assert one["method"] == "pooled t on repetitions" and one["df"] == 6 and one["less_stable"] == "right"
    # the reps of one set are correlated: each mean's variance x (1 + 3 x 0.05), at the 4 % level
    sd = math.sqrt((np.var([4, 5, 3, 6], ddof=1) + np.var([9, 12, 10, 11], ddof=1)) / 2)
    assert one["resolution"] == pytest.approx(stats.t.ppf(0.98, 6) * sd * math.sqrt(2 * 1.15 / 4))
    # two sets per leg: still repetitions, the design effect on the set size (m = 2), not on all 4
    two = vd.rdl_asymmetry([[4, 5], [3, 6]], [[9, 12], [10, 11]], block="rdl")
    assert two["method"] == "pooled t on repetitions" and two["design_effect"] == pytest.approx([1.05, 1.05])
    assert two["resolution"] == pytest.approx(stats.t.ppf(0.98, 6) * sd * math.sqrt(2 * 1.05 / 4))
    three = vd.rdl_asymmetry([[4, 5], [3, 6], [4, 5]], [[9, 12], [10, 11], [11, 10]], block="rdl")
    assert three["method"] == "pooled t on set means" and three["df"] == 4
    # identical set means (zero variance): the 0.1 mm SD floor keeps the interval finite, not zero-wide
    assert three["resolution"] == pytest.approx(stats.t.ppf(0.98, 4) * 0.1 * math.sqrt(2 / 3))


def test_adaptive_design_keeps_five_percent():
    # looks after 3, 4, 5 (interim level) and 6 (final level) trials per side, pooled t on normal logs
    rng = np.random.default_rng(2)
    n_sim = 20000
    left, right = rng.normal(0, 0.11, (n_sim, 6)), rng.normal(0, 0.11, (n_sim, 6))
    called = np.zeros(n_sim, bool)
    for n in (3, 4, 5, 6):
        alpha = vd.ADAPTIVE_ALPHA_FINAL if n == 6 else vd.ADAPTIVE_ALPHA_INTERIM
        d = right[:, :n].mean(1) - left[:, :n].mean(1)
        sp = np.sqrt((left[:, :n].var(1, ddof=1) + right[:, :n].var(1, ddof=1)) / 2)
        called |= np.abs(d) > stats.t.ppf(1 - alpha / 2, 2 * n - 2) * sp * math.sqrt(2 / n)
    rate = called.mean()
    assert 0.036 < rate <= 0.0445  # 4.0 % expected (ADAPTIVE_FAMILY_ALPHA); Monte-Carlo SE 0.0014
    assert vd.ADAPTIVE_FAMILY_ALPHA == 0.04


def test_score_session_lists_the_headline_verdicts_in_report_order():
    rows = []
    rng = np.random.default_rng(3)
    for phase, task in (("baseline", "single_leg_practice"), ("baseline", "single_leg"), ("post_primer", "single_leg")):
        for side in ("left", "right"):
            for _ in range(1 if task != "single_leg" else 3):
                f = float(np.exp(rng.normal(0.3 if side == "right" else 0.0, 0.1)))
                rows.append({"trial_id": len(rows), "task": task, "side": side, "condition": "eyes_open",
                             "phase": phase, "status": "finished", "reps": [],
                             "metrics": {"mean_velocity_ml_mm_s": 35 * f, "range_ml_mm": 35 * f,
                                         "ellipse95_area_mm2": 800 * f * f, "touchdowns": 0.0}})
    scores = scoring.score_session(rows)
    blocks = [(v["block"], v["side"]) for v in scores["verdicts"]]
    assert blocks == [("stance/baseline/eyes_open", None), ("stance/post_primer/eyes_open", None),
                      ("before_after/eyes_open", "left"), ("before_after/eyes_open", "right"),
                      ("before_after/eyes_open", None)]
    assert scores["stance"]["baseline/eyes_open"]["headline"]["n"] == {"left": 3, "right": 3}
    assert vd.headline_verdicts(scores) == scores["verdicts"]
    assert scores["score_meaning"]["healthy_range"] == [80, 100]
    # an adaptive block (its design stored with the session): the look's level, the family's rate
    from station.assessment import protocols

    adaptive = scoring.score_session(rows, design=protocols.get("single-leg").design())["stance"]["baseline/eyes_open"]
    assert (adaptive["headline"]["alpha"], adaptive["headline"]["family_alpha"]) == (0.039, vd.ADAPTIVE_FAMILY_ALPHA)
    assert adaptive["headline"]["text"].endswith("false-positive rate 4 %.")


def test_per_leg_change_spends_four_percent_on_improved_and_one_on_worse():
    # normal logs, 6 trials per leg and block, trial-to-trial SD 0.12: through before_after itself
    rng = np.random.default_rng(11)
    n_sim, sd = 2000, 0.12

    def rates(true_change_pct):
        calls = {"improved": 0, "worse": 0}
        shift = math.log1p(true_change_pct / 100)
        for _ in range(n_sim):
            cells = {("baseline", "left"): np.exp(rng.normal(0, sd, 6)), ("post_primer", "left"): np.exp(rng.normal(shift, sd, 6)),
                     ("baseline", "right"): np.exp(rng.normal(0, sd, 6)), ("post_primer", "right"): np.exp(rng.normal(0, sd, 6))}
            verdict = vd.before_after(cells, block="before_after/eyes_open")[0]["verdict"]
            calls[verdict] = calls.get(verdict, 0) + 1
        return calls["improved"] / n_sim, calls["worse"] / n_sim

    improved, worse = rates(0.0)
    assert 0.027 < improved < 0.055 and worse < 0.005  # 4 % expected (binomial SE 0.44 %); worse ~0
    _, worse_at_allowance = rates(vd.WORSE_ALLOWANCE_PCT)
    assert worse_at_allowance < 0.018  # 1 % expected at an increase of exactly the allowance
