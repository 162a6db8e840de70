"""The PDF's results tables, drawn from the report model's worded rows (the dashboard draws the same rows)."""

from __future__ import annotations

from station.report.model import ChangeTable, ResultsModel, SideTable
from station.report.pdf.layout import SIDE_COLOURS, TONE_COLOURS, coloured, p, table
from station.report.wording import NONE, Tone

#: column widths (fractions of the text width) of the per-side result tables
RESULT_WIDTHS = (0.235, 0.13, 0.13, 0.285, 0.22)
#: column widths of the headline-verdict table on page 1
VERDICT_WIDTHS = (0.25, 0.22, 0.38, 0.15)
#: column widths of the before/after table
CHANGE_WIDTHS = (0.08, 0.21, 0.1, 0.1, 0.17, 0.1, 0.24)


def verdicts_table(results: ResultsModel, st, width):
    """Every headline verdict of the session (the list the dashboard's results page shows), or None."""
    if not results.verdicts:
        return None
    rows = [["Result", "Verdict", "Estimate [confidence interval]", "Smallest detectable"]]
    for r in results.verdicts:
        rows.append([p(r.title, st["cell"]), coloured(r.headline, SIDE_COLOURS.get(r.verdict.less_stable), st["cellb"]),
                     p(r.estimate, st["cell"]), p(r.resolution, st["cell"])])
    return table(rows, [f * width for f in VERDICT_WIDTHS], align_right_from=4)


def side_table(t: SideTable, st, width):
    """A block's measures per side; each comparison cell prints its own interval level (the headline row its
    test's, the descriptive rows 95 %)."""
    rows = [["Measure", "Left, mean ± SD", "Right, mean ± SD", "L/R asymmetry [interval]", "Verdict"]]
    for r in t.rows:
        label = r.label + (" — headline test" if r.headline else "")
        rows.append([p(label, st["cell"]), r.left, r.right, p(r.asymmetry, st["cell"]) if r.asymmetry else "",
                     coloured(r.outcome, TONE_COLOURS[r.tone], st["cellb"] if r.tone is Tone.BAD else st["cell"])])
    rows.append([t.count_label, str(t.n_left), str(t.n_right), "", ""])
    return table(rows, [f * width for f in RESULT_WIDTHS], left_cols=(4,))


def change_table(t: ChangeTable, st, width):
    """Each leg's measures before and after the primer against their minimal detectable change."""
    rows = [["Side", "Measure", "Baseline", "After", "Change", t.mdc_heading, "Verdict"]]
    side = None
    for r in t.rows:
        rows.append([r.side.capitalize() if r.side != side else "", p(r.label, st["cell"]), r.baseline, r.post,
                     r.change, r.mdc + (" *" if r.default_mdc else ""), coloured(r.outcome, TONE_COLOURS[r.tone],
                                               st["cellb"] if r.tone is not Tone.NEUTRAL else st["cell"])])
        side = r.side
    return table(rows, [f * width for f in CHANGE_WIDTHS], align_right_from=2, left_cols=(6,))


def change_summary(t: ChangeTable) -> str:
    """``"LEFT: no detectable change; RIGHT: improved"`` from the per-leg headline verdicts."""
    legs = [r for r in t.legs if r.verdict.side]
    return "; ".join(f"{r.verdict.side.upper()}: {r.verdict.outcome.value}" for r in legs) or NONE
