"""The adaptive single-leg design's boundaries (station/assessment/sequential.py) on the pure statistics."""

import math

import numpy as np
import pytest
from scipy import stats

from station.assessment import protocols, sequential as sq, verdicts as vd

DESIGN = sq.Design()


def test_the_design_is_the_protocols_and_the_verdicts():
    block = next(s for s in protocols.get("single-leg").steps if isinstance(s, protocols.AdaptiveStance))
    assert block.sequential() == DESIGN
    assert (DESIGN.alpha_interim, DESIGN.alpha_final) == (vd.ADAPTIVE_ALPHA_INTERIM, vd.ADAPTIVE_ALPHA_FINAL)
    # the futility rule uses an 80 % interval (it never names a side); a futility stop reports the family's 96 %
    assert DESIGN.futility_alpha == 0.2 and DESIGN.report_alpha == vd.ADAPTIVE_FAMILY_ALPHA == 0.04
    assert (DESIGN.min_pairs, DESIGN.max_pairs) == (block.min_trials, block.max_trials) == (3, 12)
    assert 200 * math.tanh(DESIGN.target_log_ratio / 2) == pytest.approx(25.0)


def test_each_boundary_against_the_t_quantiles():
    se, df = 0.05, 6.0
    t_int, t_fut = stats.t.ppf(1 - 0.001 / 2, df), stats.t.ppf(1 - 0.2 / 2, df)
    t_report = stats.t.ppf(1 - 0.04 / 2, df)
    # efficacy: just beyond the interim boundary names a side, just inside does not
    assert sq.look(DESIGN, pairs=4, log_ratio=1.001 * t_int * se, log_se=se, df=df).decision is sq.Decision.EFFICACY
    inside = sq.look(DESIGN, pairs=4, log_ratio=0.999 * t_int * se, log_se=se, df=df)
    assert inside.decision is sq.Decision.CONTINUE  # 0.25 > d + half-width: +-25 % is not excluded
    # futility: 0 inside the 80 % interval and its far end inside +-25 % (log ratio 0.2513); the verdict then
    # carries the 96 % interval, which may reach beyond +-25 %
    se_f = 0.1
    d = 0.2513 - 1.01 * t_fut * se_f
    assert d < t_fut * se_f  # holds 0
    fut = sq.look(DESIGN, pairs=4, log_ratio=d, log_se=se_f, df=df)
    assert fut.decision is sq.Decision.FUTILITY and fut.alpha == 0.04
    assert fut.ci_high == pytest.approx(d + t_report * se_f) and fut.ci_low == pytest.approx(d - t_report * se_f)
    assert fut.si_ci_pct[1] > 25.0  # the 96 % interval is wider than the rule's
    assert sq.look(DESIGN, pairs=4, log_ratio=0.2513 - 0.99 * t_fut * se_f, log_se=se_f, df=df).decision \
        is sq.Decision.CONTINUE
    # the rule's interval holds 0 but reaches beyond +-25 %: no stop
    assert sq.look(DESIGN, pairs=4, log_ratio=0.0, log_se=0.2513 / t_fut * 1.01, df=df).decision is sq.Decision.CONTINUE
    # an interval inside +-25 % that excludes 0 at 80 % but not at the interim level: no futility stop; the next
    # look decides
    small = sq.look(DESIGN, pairs=4, log_ratio=1.2 * t_fut * 0.02, log_se=0.02, df=df)
    assert small.decision is sq.Decision.CONTINUE
    # the last look: the final level, never futility
    last = sq.look(DESIGN, pairs=12, log_ratio=0.0, log_se=0.01, df=22.0)
    assert last.decision is sq.Decision.LAST and last.alpha == 0.037
    with pytest.raises(ValueError, match="no look is planned after 2 pairs"):
        sq.look(DESIGN, pairs=2, log_ratio=0.0, log_se=0.1, df=2.0)


def test_welch_df_against_scipy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 0.05, 4), rng.normal(0, 0.25, 6)
    df = sq.welch_df(a.var(ddof=1), a.size, b.var(ddof=1), b.size)
    t = (b.mean() - a.mean()) / math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    p = 2 * stats.t.sf(abs(t), df)
    assert p == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue, rel=1e-9)


def test_monte_carlo_family_error_power_and_time():
    # the pure statistics of the block: 3000 sessions per condition, each leg's CV drawn from 5-25 %
    rng = np.random.default_rng(2026)
    null = sq.simulate(DESIGN, sessions=3000, true_si_pct=0.0, welch=False, rng=rng)
    assert null.named <= 0.04 + 2.6 * math.sqrt(0.04 * 0.96 / 3000)  # family error rate 4 % at most
    # healthy patients stop early for futility: most by the 4th pair of up to 12
    assert null.futility > 0.8 and null.pairs_50 <= 4 and null.mean_pairs < 5.2
    assert null.covered >= 0.95
    plain = sq.simulate(sq.Design(futility=False), sessions=3000, true_si_pct=0.0, welch=False,
                        rng=np.random.default_rng(2026))
    assert null.named <= plain.named and plain.mean_pairs > 11.95  # futility only removes false positives
    target = sq.simulate(DESIGN, sessions=3000, true_si_pct=25.0, cv_pct=(10.0, 10.0), welch=False, rng=rng)
    plain = sq.simulate(sq.Design(futility=False), sessions=3000, true_si_pct=25.0, cv_pct=(10.0, 10.0), welch=False,
                        rng=np.random.default_rng(7))
    # at the target itself the 80 % rule stops at most 10 % per look (one-sided); over all looks about 5 %
    assert target.futility < 0.08
    assert plain.named - target.named < 0.06  # the power it costs


def _cells(pre: dict, post: dict) -> dict:
    return {("baseline", side): v for side, v in pre.items()} | {("post_primer", side): v for side, v in post.items()}


def test_the_post_primer_futility_rule_against_its_definition():
    steady = [1.00, 1.02, 0.98, 1.01, 0.99, 1.00]  # log SD 0.015: every interval is narrow
    # nothing changed on either leg: no call, and each leg's 80 % interval lies far above -25 %
    same = vd.before_after(_cells({"left": steady, "right": steady}, {"left": steady[:3], "right": steady[:3]}),
                           block="before_after/eyes_open")
    assert sq.changes_called(same) == []
    assert sq.post_primer_futile(same, target_change_pct=25.0, futility_alpha=0.2)
    # the right leg improved by 30 %: a change is called, so the block goes on
    better = vd.before_after(_cells({"left": steady, "right": steady},
                                    {"left": steady[:3], "right": [0.7 * v for v in steady[:3]]}),
                             block="before_after/eyes_open")
    assert [v.side for v in sq.changes_called(better)][0] == "right"
    assert not sq.post_primer_futile(better, target_change_pct=25.0, futility_alpha=0.2)
    # a leg that varies by ~25 % from trial to trial: no call, but -25 % is not excluded yet
    noisy = [1.0, 1.45, 0.7, 1.3, 0.75, 1.1]
    wide = vd.before_after(_cells({"left": steady, "right": noisy}, {"left": steady[:3], "right": noisy[:3]}),
                           block="before_after/eyes_open")
    right = wide[1]
    low = right.log_ratio - stats.t.ppf(0.9, right.df) * right.log_se
    assert sq.changes_called(wide) == [] and low < math.log(0.75)
    assert not sq.post_primer_futile(wide, target_change_pct=25.0, futility_alpha=0.2)
    # the same leg with a smaller target (-50 %) is futile: the rule reads the target
    assert low > math.log(0.5) and sq.post_primer_futile(wide, target_change_pct=50.0, futility_alpha=0.2)
