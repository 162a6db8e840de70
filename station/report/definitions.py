"""Plain-language definitions of the measures a report shows, with where the full formula lives.

Metric definitions come from the one registry (:mod:`station.core.registry`: label, unit, definition,
anchor in docs/METRICS.md or docs/ASSESSMENT.md); the assessment's own concepts (asymmetry, before/after,
the return-to-sport criterion, the analysed window) are generated here from the levels, quantiles and
formulas the assessment code uses, so the page cannot drift from the numbers it explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from station.assessment import scoring
from station.assessment import verdicts as vd
from station.assessment.results import SessionScores
from station.assessment.stats import QUANTILE, t_quantile
from station.core.registry import rep_spec, spec
from station.report import wording as w

#: metrics the report shows, defined from the one registry (label, unit, definition, anchor)
REPORT_METRICS = ("stability_score", "sway_index", "mean_velocity_ml_mm_s", "mean_velocity_mm_s", "range_ml_mm",
                  "ellipse95_area_mm2", "touchdowns")
#: per-repetition measures the RDL pages show
REPORT_REP_METRICS = ("lateral_shift_mm", "duration_s")


def _from_registry() -> tuple[tuple[str, str, str, str], ...]:
    rows = []
    for key in REPORT_METRICS:
        s = spec(key)
        rows.append((s.label, s.unit, s.definition, s.anchor))
    for key in REPORT_REP_METRICS:
        s = rep_spec(key)
        rows.append((f"{s.label} (RDL)", s.unit, s.definition, s.anchor))
    return tuple(rows)


@dataclass(frozen=True)
class Definition:
    title: str
    unit: str
    text: str
    source: str


def _levels_used(scores: SessionScores | None) -> str:
    """``" In this session: 96 % (Single-leg stance, baseline), 95 % (Before / after ...)."``"""
    if scores is None or not scores.verdicts:
        return ""
    seen: dict[str, list[str]] = {}
    for v in scores.verdicts:
        if v.outcome.decided:
            titles = seen.setdefault(w.level_text(v.level), [])
            if w.block_title(v.block) not in titles:
                titles.append(w.block_title(v.block))
    if not seen:
        return ""
    return " In this session: " + "; ".join(f"{level} ({', '.join(t)})" for level, t in seen.items()) + "."


def _mdc_df(scores: SessionScores | None) -> str:
    """The MDC's quantile with this session's df: ``" Here t(0.975, 4) = 2.78."``"""
    if scores is None:
        return ""
    dfs = sorted({int(c.mdc_df) for ba in scores.before_after.values() for m in ba.sides.values()
                  for c in m.values() if math.isfinite(c.mdc_df)})
    if not dfs:
        return ""
    q = 1.0 - (1.0 - scoring.CONFIDENCE) / 2.0
    return " Here " + ", ".join(f"t({q:g}, {df}) = {t_quantile(1.0 - scoring.CONFIDENCE, df):.2f}" for df in dfs) + "."


def definitions(scores: SessionScores | None = None) -> tuple[Definition, ...]:
    """The definitions page: the registry's metrics, then the assessment's concepts with the levels, quantiles
    and formulas the code uses (and, given a session's scores, the levels and df of that session)."""
    rows = [Definition(*row) for row in _from_registry()]
    meaning = scores.score_meaning if scores is not None else scoring.SCORE_MEANING
    rows[0] = Definition(w.metric_label(meaning.key, unit=False), f"{meaning.low:g}–{meaning.high:g}",
                         w.score_meaning_text(meaning), "ASSESSMENT.md §4")
    headline = w.level_text(1.0 - vd.ALPHA)
    descriptive = w.level_text(scoring.CONFIDENCE)
    adaptive = (f"an adaptive block that stops at an interim look tests at α = {vd.ADAPTIVE_ALPHA_INTERIM:g} "
                f"({w.level_text(1.0 - vd.ADAPTIVE_ALPHA_INTERIM)} interval) and at its last look at α = "
                f"{vd.ADAPTIVE_ALPHA_FINAL:g} ({w.level_text(1.0 - vd.ADAPTIVE_ALPHA_FINAL)}), "
                f"{w.level_text(vd.ADAPTIVE_FAMILY_ALPHA)} false positives over all looks")
    rows += [
        Definition("Asymmetry index (SI)", "%",
                   f"SI = 200 (R − L) / (R + L); SI > 0 = the right side sways more. Headline (sway index): a pooled "
                   f"{QUANTILE} test on the log sway index of each trial (df = n_L + n_R − 2) at α = {vd.ALPHA:g}, "
                   f"reported as SI = 200 tanh(d / 2) with its {headline} interval; {adaptive}. Every interval "
                   f"states its own level. A side is named less stable only when the interval excludes 0 (healthy "
                   f"people reach |SI| ≈ 18 %, so no fixed cut-off is used). Per-measure rows are descriptive: "
                   f"Welch {QUANTILE} {descriptive} intervals (delta method for SI); counts (touchdowns) and means "
                   f"near 0 are compared by the difference R − L instead." + _levels_used(scores),
                   "ASSESSMENT.md §4"),
        Definition("Before/after change", "%",
                   f"Headline: each leg's change of the sway index after the primer, 100 (e^Δ − 1) % with Δ the "
                   f"difference of mean log sway index, a {QUANTILE} interval of "
                   f"{w.level_text(1.0 - vd.ALPHA_CHANGE)} with unequal tails ({w.level_text(vd.ALPHA_IMPROVED)} "
                   f"above, {w.level_text(vd.ALPHA_WORSE)} below; 'worse' only beyond +{vd.WORSE_ALLOWANCE_PCT:g} %), "
                   f"and the change of the asymmetry in SI points ({headline} interval, Welch df). Per-measure "
                   f"table: post-primer mean − baseline mean against {w.mdc_heading(scoring.CONFIDENCE)} = "
                   f"t({1.0 - (1.0 - scoring.CONFIDENCE) / 2:g}, "
                   f"n_pre + n_post − 2) · s_w · √(1/n_pre + 1/n_post), s_w the pooled within-session trial SD "
                   f"({scoring.DEFAULT_MDC_PCT:g} % of baseline when a block has fewer than 2 trials); a change is "
                   f"real (improved / worse) only beyond it." + _mdc_df(scores),
                   "ASSESSMENT.md §5"),
        Definition("Return-to-sport criterion (history)", "%",
                   f"Set by the clinic (default |SI| ≤ 10 % with the whole interval of the headline test, "
                   f"{headline} at α = {vd.ALPHA:g}, inside ±15 %): met when both hold, not met when the whole "
                   f"interval lies beyond the SI limit, undecided otherwise.", "report history page"),
        Definition("Analysed window and load gate", "",
                   "Each trial is analysed from the detected stance start plus the settling time to the trial's end, "
                   "or to 0.5 s before a step-off, never across a link gap; the trial table gives each window and why "
                   "it ends there. COP is undefined below 20 % of body weight (100 N if unknown); metrics use defined "
                   "samples only.", "METRICS.md#analysed-window"),
    ]
    return tuple(rows)


#: METRICS.md keys the definitions above rely on (checked against the document by the tests)
METRIC_KEYS = ("mean_velocity_ml_mm_s", "mean_velocity_mm_s", "range_ml_mm", "ellipse95_area_mm2", "ml_shift_mm",
               "duration_s")
