"""The PDF's figure pages: stabilograms per side, the RDL repetitions and the patient's history."""

from __future__ import annotations

import logging

import numpy as np

from station.assessment.results import SIDES
from station.errors import StationError
from station.report.pdf.layout import coloured, esc, image, p, table
from station.report import wording as w

log = logging.getLogger(__name__)


def _defined(value) -> bool:
    return w.number(value, 3) != w.NONE


def stabilogram_pages(model, st, width) -> list:
    """One panel per stance block and side: every valid trial's COP with its 95 % prediction ellipse."""
    from reportlab.platypus import PageBreak, Paragraph

    from station.report.figures import StabilogramTrace, stabilogram_figure
    from station.report.samples import trial_samples

    data = model.data
    blocks = model.results.scores.stance_blocks()
    if not blocks:
        return []
    panels, rows = {}, []
    for block in blocks:
        phase, condition = block.phase, block.condition
        row = w.stance_label(block.key)
        rows.append(row)
        counter = {"left": 0, "right": 0}
        for t in data.trials:
            if t.task != "single_leg" or t.status != "finished" or t.phase != phase or t.condition != condition:
                continue
            if t.side not in SIDES or not _defined(t.window_start_s) or not _defined(t.metrics.get("ellipse95_major_mm")):
                continue
            counter[t.side] += 1
            try:
                s = trial_samples(data, t)
            except StationError as exc:
                log.warning("no stabilogram for trial %d: %s", t.seq, exc)
                continue
            sel = (s.t_s >= t.window_start_s) & (s.t_s <= t.window_end_s) & np.isfinite(s.cop_ml_mm)
            ml, ap = s.cop_ml_mm[sel], s.cop_ap_mm[sel]
            if ml.size < 3:
                continue
            panels.setdefault((row, t.side), []).append(StabilogramTrace(
                label=f"trial {t.seq}", ml_mm=ml - ml.mean(), ap_mm=ap - ap.mean(), major_mm=t.metrics["ellipse95_major_mm"],
                minor_mm=t.metrics["ellipse95_minor_mm"], angle_deg=t.metrics.get("ellipse95_angle_deg", 0.0)))
    fig = stabilogram_figure(panels, rows=rows)
    height_limit = 640.0
    w_in, h_in = fig.get_size_inches()
    img_width = min(width, height_limit * w_in / h_in)
    return [PageBreak(), Paragraph("Stabilograms: centre of pressure per side", st["h1"]),
            Paragraph("Each trace is one valid trial's COP over its analysed window, centred on its mean; the thick "
                      "line is that trial's 95 % prediction ellipse. All panels share one scale, so larger shapes mean "
                      "more sway.", st["small"]),
            image(fig, img_width)]


def rdl_pages(model, st, width) -> list:
    """Per RDL block: the repetitions chart, the per-side table and the headline sentence."""
    from reportlab.platypus import Paragraph, Spacer

    from station.report.figures import rdl_figure
    from station.report.pdf.tables import side_table

    data = model.data
    story = []
    for block in model.results.scores.rdl_blocks():
        task, title = block.task, w.block_title(block.block)
        reps = {side: [r for t in data.trials if t.task == task and t.side == side and t.status == "finished"
                       for r in t.rep_metrics] for side in SIDES}
        if not any(reps.values()):
            continue
        fig = rdl_figure(reps)
        story += [Paragraph(esc(f"{title}: repetitions"), st["h1"]),
                  Paragraph("Lateral weight shift: how far the COP moved sideways, outwards over the stance leg, at the "
                            "bottom of each hinge (larger = more hip drop / lateral shift). Duration: the tempo of each "
                            "repetition. Dashed lines: the side means.", st["small"]),
                  image(fig, width), Spacer(1, 4), side_table(model.results.side_table(block.block), st, width),
                  p(w.description_sentence(block.description) if block.descriptive and block.description is not None
                    else w.verdict_sentence(block.headline) if block.headline is not None else "", st["small"])]
    if story:
        from reportlab.platypus import PageBreak

        story.insert(0, PageBreak())
    return story


CRITERION_COLOURS = {"met": "#1b7f3b", "not met": "#b3261e", "undecided": "#555555"}


def history_pages(model, st, width, criterion=None) -> list:
    """The patient's visits up to this session: SI and per-side sway with intervals, and the criterion."""
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    from station.report.figures import history_figure
    from station.report.history import SIDE_LEVEL, SWAY_METRIC, Criterion, patient_history

    data = model.data
    criterion = criterion or Criterion.load(data.store.data_dir)
    history = patient_history(data.store, data.session.patient_id, criterion=criterion,
                              until_session_id=data.session.id)
    if not history:
        return []
    from station.core.registry import spec

    sway = spec(SWAY_METRIC)
    story = [PageBreak(), Paragraph("Patient history: single-leg stance over the visits", st["h1"]),
             Paragraph(esc(f"Baseline single-leg stance, eyes open, of every session of this patient up to this "
                            f"one. Top: the asymmetry index with the interval of that session's headline test (its "
                            f"level in the table); bottom: each leg's {sway.label} "
                            f"({sway.unit}), mean of the trials with its {w.level_text(SIDE_LEVEL)} interval. Return-to-sport criterion: "
                            f"{criterion.text}."), st["small"]),
             image(history_figure(history, max_si_pct=criterion.max_si_pct, ci_within_pct=criterion.ci_within_pct,
                                   sway_label=f"{sway.label} ({sway.unit})"), width), Spacer(1, 4)]
    rows = [["Visit", "Date", "Session", "Asymmetry (interval)", f"Left {sway.unit}", f"Right {sway.unit}", "Criterion"]]
    for i, h in enumerate(history, start=1):
        sides = [w.range_text(*h["sides"][side], decimals=sway.decimals) for side in SIDES]
        rows.append([str(i), h["date"], f"#{h['session_id']}", p(w.verdict_estimate(h["verdict"]), st["cell"]),
                     p(sides[0], st["cell"]), p(sides[1], st["cell"]),
                     coloured(h["criterion"], CRITERION_COLOURS[h["criterion"]], st["cellb"])])
    story.append(table(rows, [0.07 * width, 0.13 * width, 0.1 * width, 0.27 * width, 0.15 * width, 0.15 * width,
                               0.13 * width], align_right_from=3, left_cols=(6,)))
    story.append(Paragraph("met: |SI| and its whole interval within the limits; not met: the whole interval beyond "
                           "the SI limit; undecided: the interval is too wide to tell, or SI is undefined.", st["small"]))
    return story

