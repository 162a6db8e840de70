"""Plain-language definitions of the measures a report shows, with where the full formula lives.

Metric definitions come from the one registry (:mod:`station.core.registry`: label, unit, definition,
anchor in docs/METRICS.md or docs/ASSESSMENT.md); the assessment's own concepts (asymmetry, before/after,
the return-to-sport criterion, the analysed window) are written here once.
"""

from __future__ import annotations

from station.core.registry import rep_spec, spec

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


#: (title, unit, definition, source): the registry's metrics, then the assessment's concepts
DEFINITIONS: tuple[tuple[str, str, str, str], ...] = _from_registry() + (
    ("Asymmetry index (SI)", "%",
     "SI = 200 (R − L) / (R + L) on the side means; SI > 0 = the right side sways more. Each headline verdict gives "
     "its estimate with a 95 % interval from this patient's trial-to-trial variability (its sentence names the "
     "method) and the smallest asymmetry the session can detect. A side is named less stable only when the "
     "interval excludes 0 (healthy people reach |SI| ≈ 18 %, so no fixed cut-off is used). Counts (touchdowns) and "
     "means near 0 are compared by the difference R − L instead.",
     "ASSESSMENT.md §4"),
    ("Before/after change", "%",
     "Headline: each leg's change of the sway index after the primer, in %, with its 95 % interval, and the change "
     "of the asymmetry (SI points). Per-measure table: post-primer mean − baseline mean against MDC95 = 1.96 · s_w "
     "· √(1/n_pre + 1/n_post) from the pooled within-session trial SD s_w (30 % of baseline when a block has fewer "
     "than 2 trials); a change is real (improved / worse) only when it exceeds MDC95.",
     "ASSESSMENT.md §5"),
    ("Return-to-sport criterion (history)", "%",
     "Set by the clinic (default |SI| ≤ 10 % with the whole 95 % interval inside ±15 %): met when both hold, not "
     "met when the whole interval lies beyond the SI limit, undecided otherwise.",
     "report history page"),
    ("Analysed window and load gate", "",
     "Each trial is analysed from the detected stance start plus the settling time to the trial's end, or to 0.5 s "
     "before a step-off, never across a link gap; the trial table gives each window and why it ends there. COP is "
     "undefined below 20 % of body weight (100 N if unknown); metrics use defined samples only.",
     "METRICS.md#analysed-window"),
)

#: METRICS.md keys the definitions above rely on (checked against the document by the tests)
METRIC_KEYS = ("mean_velocity_ml_mm_s", "mean_velocity_mm_s", "range_ml_mm", "ellipse95_area_mm2", "ml_shift_mm",
               "duration_s")
