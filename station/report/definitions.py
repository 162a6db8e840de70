"""Plain-language definitions of the measures a report shows, with where the full formula lives.

The formulas are the project's: docs/METRICS.md (sway metrics, events) and docs/ASSESSMENT.md
(scores, asymmetry, before/after). These texts are the clinician's summary of them; a test keeps every
metric key named here present in docs/METRICS.md.
"""

from __future__ import annotations

#: (title, unit, definition, source); metric keys in the source column are METRICS.md keys
DEFINITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("Stability score", "0–100",
     "100 / (1 + sway index). 50 = sways like the reference, 67 = half of it, 33 = twice it; higher = steadier. "
     "Reported per side as mean ± SD over the valid trials.",
     "ASSESSMENT.md §4"),
    ("Sway index", "×",
     "Geometric mean of ML velocity / 35 mm/s, ML range / 35 mm and √(ellipse area / 800 mm²): how many times the "
     "sway of a typical healthy single-leg stance (orders of magnitude, not norms). 1.0 = reference, 2.0 = twice it.",
     "ASSESSMENT.md §4"),
    ("ML velocity", "mm/s",
     "Side-to-side COP path length divided by the analysed time (mean_velocity_ml_mm_s).",
     "METRICS.md §3"),
    ("Total velocity", "mm/s",
     "COP path length in the plane divided by the analysed time (mean_velocity_mm_s).",
     "METRICS.md §3"),
    ("ML range", "mm",
     "Largest minus smallest side-to-side COP position in the analysed window (range_ml_mm).",
     "METRICS.md §3"),
    ("95 % ellipse area", "mm²",
     "Area of the 95 % prediction ellipse of the COP (ellipse95_area_mm2): the region that would hold 95 % of "
     "new samples. Drawn on the stabilograms, one per trial.",
     "METRICS.md §4"),
    ("Touchdowns", "per trial",
     "Times the free foot touched down (the board unloaded below 90 % of body weight for 0.1–3 s, or the COP "
     "jumped towards the free foot).",
     "METRICS.md §9"),
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
    ("Lateral weight shift (RDL)", "mm",
     "Per repetition: ML COP over the bottom of the hinge minus its position just before the repetition, "
     "signed outwards over the stance leg (lateral_shift_mm from ml_shift_mm).",
     "METRICS.md §9"),
    ("Repetition duration (RDL)", "s",
     "Descent + bottom hold + ascent of one repetition, from the vertical force (duration_s): the tempo.",
     "METRICS.md §9"),
    ("Analysed window and load gate", "",
     "Single-leg trials are analysed from the detected stance start plus the settling time to the trial's end. "
     "COP is undefined below 20 % of body weight (100 N if unknown); metrics use defined samples only.",
     "METRICS.md §1, ASSESSMENT.md §6"),
)

#: METRICS.md keys the definitions above rely on (checked against the document by the tests)
METRIC_KEYS = ("mean_velocity_ml_mm_s", "mean_velocity_mm_s", "range_ml_mm", "ellipse95_area_mm2", "ml_shift_mm",
               "duration_s")
