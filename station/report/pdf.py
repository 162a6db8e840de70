"""The clinic PDF report of one session (reportlab layout, matplotlib figures).

Page 1 is what a clinician reads in 30 seconds: who, when, which protocol, the left/right verdict with
its asymmetry index and 95 % interval, the per-side results, and the before/after verdicts of a primer
session. Then: stabilograms per side with the 95 % ellipses, the RDL per-repetition chart, the trial
table, recording quality and calibration status, and the definitions of the measures shown.

Public API: :func:`write_session_report`.
"""

from __future__ import annotations

import io
import logging
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from station.errors import StationError

log = logging.getLogger(__name__)

FONT = "StationSans"
FONT_BOLD = "StationSans-Bold"
SIDES = ("left", "right")
PHASE_LABELS = {"baseline": "Baseline", "post_primer": "After primer", "primer": "Primer"}
CONDITION_LABELS = {"eyes_open": "", "eyes_closed": "eyes closed"}
#: per-side rows of the results table: (metric key, label, unit, decimals)
#: (metric key, decimals) of the per-side stance table; labels and units come from the metric registry
STANCE_ROWS = (("stability_score", 0), ("sway_index", 2), ("mean_velocity_ml_mm_s", 1), ("range_ml_mm", 1),
               ("ellipse95_area_mm2", 0), ("touchdowns", 1))
BEFORE_AFTER_ROWS = (("sway_index", 2), ("mean_velocity_ml_mm_s", 1), ("range_ml_mm", 1), ("ellipse95_area_mm2", 0))


def metric_label(key: str, scores: dict | None = None, *, unit: bool = True) -> str:
    """``"ML velocity (mm/s)"`` from :mod:`station.core.registry`; the score's name from ``scores["score_meaning"]``."""
    from station.core import registry

    meaning = (scores or {}).get("score_meaning") or {}
    if meaning.get("key") == key and meaning.get("name"):
        lo, hi = (meaning.get("range") or (0, 100))[:2]
        return f"{meaning['name']} ({lo:g}–{hi:g})" if unit else meaning["name"]
    try:
        spec = registry.spec(key)
    except (KeyError, ValueError):
        return key.replace("_", " ")
    shown = {"×": "× reference"}.get(spec.unit, spec.unit)
    return f"{spec.label} ({shown})" if unit and shown else spec.label


#: column widths (fractions of the text width) of the per-side result tables
RESULT_WIDTHS = (0.245, 0.14, 0.14, 0.215, 0.26)
GREY = "#555555"
LIGHT = "#eef2f6"
VERDICT_COLOURS = {"left": "#2166ac", "right": "#d6604d", None: "#333333"}


# -- formatting -------------------------------------------------------------------------------------


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float, np.number)) and math.isfinite(float(v))


def fmt(v, digits: int = 1, *, sign: bool = False) -> str:
    """A number for a table cell; '–' when undefined. Uses a true minus sign."""
    from station.core.registry import format_value

    if not _finite(v):
        return "–"
    return format_value(v, digits, sign=sign).replace("-", "−")


def mean_sd(summary: dict | None, digits: int) -> str:
    if not summary or not _finite(summary.get("mean")):
        return "–"
    text = fmt(summary["mean"], digits)
    if _finite(summary.get("sd")):
        text += f" ± {fmt(summary['sd'], digits)}"
    return text


def si_text(asym: dict | None) -> str:
    """``"+47 % (+11 to +83)"``; where the ratio is undefined (a side mean near 0, or counts) the
    difference ``"R − L +7.0 mm (+5.1 to +9.0)"``; '–' when neither is defined."""
    if not asym:
        return "–"
    if _finite(asym.get("si_pct")):
        text = f"{fmt(asym['si_pct'], 0, sign=True)} %"
        low, high, digits = asym.get("ci_low_pct"), asym.get("ci_high_pct"), 0
    elif _finite(asym.get("diff")):
        unit = asym.get("unit") or ""
        text = f"R − L {fmt(asym['diff'], 1, sign=True)}{' ' + unit if unit else ''}"
        low, high, digits = asym.get("diff_ci_low"), asym.get("diff_ci_high"), 1
    else:
        return "–"
    if _finite(low) and _finite(high):
        text += f" ({fmt(low, digits, sign=True)} to {fmt(high, digits, sign=True)})"
    return text


def block_label(key: str) -> str:
    """``"baseline/eyes_open"`` -> ``"Baseline"``; ``"post_primer/eyes_closed"`` -> ``"After primer, eyes closed"``."""
    phase, _, condition = key.partition("/")
    label = PHASE_LABELS.get(phase, phase.replace("_", " ").capitalize())
    extra = CONDITION_LABELS.get(condition, condition.replace("_", " "))
    return f"{label}, {extra}" if extra else label


def headline(verdict: dict | None) -> str:
    """The verdict as a headline: "RIGHT leg less stable" / "No detectable left/right difference"."""
    if not verdict:
        return "No left/right result"
    if verdict.get("less_stable") in SIDES:
        return f"{verdict['less_stable'].upper()} leg less stable"
    if verdict.get("verdict") == "no detectable asymmetry":
        return "No detectable left/right difference"
    return "Not enough valid trials for a left/right verdict"


# -- layout helpers ---------------------------------------------------------------------------------


def _register_fonts() -> None:
    """DejaVu Sans (shipped with matplotlib): the PDF's standard fonts lack −, √, ≥, ² ... glyphs."""
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def _styles() -> dict:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=11.5, textColor=colors.HexColor("#222222"))
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor(GREY)),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=9.8),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=FONT_BOLD, fontSize=8, leading=9.8),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=2),
        "h1": ParagraphStyle("h1", parent=base, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3),
        "verdict": ParagraphStyle("verdict", parent=base, fontName=FONT_BOLD, fontSize=15, leading=19),
    }


def _esc(text) -> str:
    """Text for a reportlab Paragraph (which parses a little XML)."""
    from xml.sax.saxutils import escape

    return escape(str(text))


def _table(rows, widths, *, header: bool = True, zebra: bool = True, align_right_from: int = 1, left_cols=()):
    """A results table: numbers right-aligned from column ``align_right_from`` on, except ``left_cols``;
    header cells wrap instead of running into each other."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Table, TableStyle

    if header:
        head = []
        for j, cell in enumerate(rows[0]):
            right = j >= align_right_from and j not in left_cols
            style = ParagraphStyle(f"hdr{int(right)}", fontName=FONT_BOLD, fontSize=8, leading=9.6,
                                   alignment=TA_RIGHT if right else TA_LEFT)
            head.append(Paragraph(_esc(cell), style) if isinstance(cell, str) else cell)
        rows = [head] + list(rows[1:])
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("LEADING", (0, 0), (-1, -1), 9.8),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("ALIGN", (align_right_from, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.HexColor("#999999")),
    ] + [("ALIGN", (j, 0), (j, -1), "LEFT") for j in left_cols]
    if header:
        style += [("FONTNAME", (0, 0), (-1, 0), FONT_BOLD), ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#333333")),
                  ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.HexColor("#333333"))]
    if zebra:
        for r in range(1 if header else 0, len(rows)):
            if (r - (1 if header else 0)) % 2 == 1:
                style.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#f5f7fa")))
    t.setStyle(TableStyle(style))
    return t


def _image(fig, width_pt: float):
    from reportlab.platypus import Image

    from station.report.figures import png_bytes

    w_in, h_in = fig.get_size_inches()
    return Image(io.BytesIO(png_bytes(fig)), width=width_pt, height=width_pt * h_in / w_in)


# -- sections ---------------------------------------------------------------------------------------


def _stance_blocks(data) -> list[tuple[str, dict]]:
    stance = data.scores.get("stance") or {}
    order = {"baseline": 0, "post_primer": 1}
    return sorted(stance.items(), key=lambda kv: (order.get(kv[0].split("/")[0], 2), kv[0]))


def _main_verdict(data) -> tuple[str, dict | None, str]:
    """(what, verdict dict, block label) of the headline result: baseline stance first, else RDL."""
    blocks = _stance_blocks(data)
    if blocks:
        key, block = blocks[0]
        return "single-leg stance", block.get("verdict"), block_label(key)
    for key, what in (("rdl", "single-leg RDL, lateral weight shift"), ("primer_rdl", "primer RDL, lateral weight shift")):
        if key in data.scores:
            return what, data.scores[key].get("verdict"), ""
    return "", None, ""


def _patient_table(data, st, width):
    p, s = data.patient, data.session
    kind = "Pseudonym" if p.pseudonymised else "Patient"
    mass = f"{p.body_mass_kg:g} kg" if _finite(p.body_mass_kg) else "–"
    left = [(kind, p.label), ("Patient id", "—" if p.pseudonymised else p.ref), ("Birth year", p.birth_year or "–"),
            ("Sex", p.sex or "–"), ("Body mass", mass), ("Dominant leg", p.dominant_leg or "–")]
    right = [("Session", f"#{s.id} — {s.status}"), ("Date", f"{data.date}  {str(s.started)[11:16]} UTC"),
             ("Protocol", data.protocol_title), ("Operator", s.operator or "–"),
             ("Board", (s.board or {}).get("board_id", "–")), ("Trials", f"{sum(t.status == 'finished' for t in data.trials)} valid of {len(data.trials)}")]
    rows = []
    for (k1, v1), (k2, v2) in zip(left, right):
        rows.append([_p(k1, st["small"]), _p(v1, st["cellb"]), _p(k2, st["small"]), _p(v2, st["cell"])])
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=[0.15 * width, 0.33 * width, 0.13 * width, 0.39 * width], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2), ("LEFTPADDING", (0, 0), (-1, -1), 3),
                           ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(LIGHT))]))
    return t


def _p(text, style):
    from reportlab.platypus import Paragraph

    return Paragraph(_esc(text), style)


def _verdict_box(data, st, width):
    """The session's first headline verdict, big, with its own sentence (the table below lists them all)."""
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    from station.report.session import headline_verdicts, verdict_headline

    verdicts = headline_verdicts(data.scores)
    first = verdicts[0] if verdicts else None
    # a primer session's headline is the change of the left/right asymmetry (the table lists the rest)
    first = next((v for v in verdicts if v.get("kind") == "before_after" and v.get("side") is None
                  and v.get("verdict") != "not enough trials"), first)
    colour = VERDICT_COLOURS.get((first or {}).get("less_stable"), "#333333")
    title = verdict_headline(first) if first else "No left/right result"
    lines = [Paragraph(f'<font color="{colour}">{_esc(title)}</font>', st["verdict"])]
    if first:
        lines.append(Paragraph(_esc(first.get("text", "")), st["body"]))
        if first.get("kind") == "asymmetry":
            meaning = ("The interval excludes 0: the difference exceeds this patient's trial-to-trial variability."
                       if first.get("less_stable") else
                       "The interval includes 0: any difference is within this patient's own trial-to-trial "
                       "variability.")
            lines.append(Paragraph(meaning, st["small"]))
    else:
        lines.append(Paragraph("This session has no finished trials that can be scored.", st["body"]))
    t = Table([[lines]], colWidths=[width], hAlign="LEFT")
    t.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor(colour)),
                           ("LEFTPADDING", (0, 0), (-1, -1), 8), ("TOPPADDING", (0, 0), (-1, -1), 6),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 7)]))
    return t


def _stance_table(block: dict, st, width, scores: dict | None = None):
    sides = block.get("sides") or {}
    asym = block.get("asymmetry") or {}
    rows = [["Measure", "Left, mean ± SD", "Right, mean ± SD", "SI % (95 % CI)", "Verdict"]]
    for key, digits in STANCE_ROWS:
        if key not in (sides.get("left") or {}) and key not in (sides.get("right") or {}):
            continue
        a = block.get("verdict") if key == "sway_index" else asym.get(key)
        verdict = (a or {}).get("verdict", "") if a else ""
        rows.append([_p(metric_label(key, scores), st["cell"]), mean_sd(sides.get("left", {}).get(key), digits),
                     mean_sd(sides.get("right", {}).get(key), digits), _p(si_text(a), st["cell"]) if a else "",
                     _p(verdict, st["cellb"] if (a or {}).get("less_stable") else st["cell"])])
    n_left = (sides.get("left", {}).get("sway_index") or {}).get("n", 0)
    n_right = (sides.get("right", {}).get("sway_index") or {}).get("n", 0)
    rows.append(["Valid trials", str(n_left), str(n_right), "", ""])
    return _table(rows, [f * width for f in RESULT_WIDTHS], left_cols=(4,))


def _before_after_table(ba: dict, st, width):
    rows = [["Side", "Measure", "Baseline", "After", "Change", "MDC95", "Verdict"]]
    for side in SIDES:
        metrics = (ba.get("sides", {}).get(side) or {}).get("metrics", {})
        for i, (key, digits) in enumerate(BEFORE_AFTER_ROWS):
            label = metric_label(key)
            m = metrics.get(key) or {}
            change = "–"
            if _finite(m.get("change")):
                change = fmt(m["change"], digits, sign=True)
                if _finite(m.get("change_pct")):
                    change += f" ({fmt(m['change_pct'], 0, sign=True)} %)"
            mdc = fmt(m.get("mdc95"), digits) + (" *" if m.get("mdc_source") == "default" else "")
            verdict = m.get("verdict", "–")
            rows.append([side.capitalize() if i == 0 else "", _p(label, st["cell"]), fmt(m.get("baseline_mean"), digits),
                         fmt(m.get("post_mean"), digits), change, mdc,
                         _p(verdict, st["cellb"] if verdict in ("improved", "worse") else st["cell"])])
    t = _table(rows, [0.08 * width, 0.21 * width, 0.11 * width, 0.11 * width, 0.17 * width, 0.11 * width, 0.21 * width],
               align_right_from=2, left_cols=(6,))
    return t


#: column widths (fractions of the text width) of the headline-verdict table on page 1
VERDICT_WIDTHS = (0.27, 0.25, 0.31, 0.17)


def _verdicts_table(data, st, width):
    """Every headline verdict of the session (the list the dashboard's results page shows)."""
    from station.report.session import block_title, headline_verdicts, verdict_estimate, verdict_headline

    verdicts = headline_verdicts(data.scores)
    if not verdicts:
        return None
    rows = [["Result", "Verdict", "Estimate (confidence interval)", "Smallest detectable"]]
    for v in verdicts:
        res = v.get("resolution")
        unit = v.get("unit") or ""
        unit = " points" if v.get("measure") == "SI change" else (f" {unit}" if unit else "")
        detectable = f"±{fmt(res, 0 if unit.strip() in ('%', 'points') else 1)}{unit}" if _finite(res) else "–"
        if _finite(v.get("resolution_down")) and _finite(v.get("resolution_up")):  # per-leg change: its two sides
            detectable = f"−{fmt(v['resolution_down'], 0)} % / +{fmt(v['resolution_up'], 0)} %"
        colour = VERDICT_COLOURS.get(v.get("less_stable"), "#333333")
        from reportlab.platypus import Paragraph

        rows.append([_p(block_title(v["block"]), st["cell"]),
                     Paragraph(f'<font color="{colour}">{_esc(verdict_headline(v))}</font>', st["cellb"]),
                     _p(verdict_estimate(v, minus="−"), st["cell"]), _p(detectable, st["cell"])])
    return _table(rows, [f * width for f in VERDICT_WIDTHS], align_right_from=4)


def _first_page(data, st, width) -> list:
    from reportlab.platypus import Paragraph, Spacer

    story = [Paragraph("Balance assessment report", st["title"]),
             Paragraph(_esc(f"{data.protocol_title} · {data.date}"), st["small"]), Spacer(1, 5),
             _patient_table(data, st, width), Spacer(1, 8), _verdict_box(data, st, width)]
    verdicts = _verdicts_table(data, st, width)
    if verdicts is not None:
        story += [Paragraph("Headline verdicts: every block of the session", st["h2"]), verdicts]
    meaning = (data.scores.get("score_meaning") or {}).get("text")
    if meaning and data.scores.get("stance"):  # the score summarises stance trials only
        story.append(Paragraph(_esc(meaning), st["small"]))
    quality = _verdict_quality_line(data)
    if quality:
        story += [Spacer(1, 4), Paragraph(_esc(quality), st["small"])]
    from reportlab.platypus import PageBreak

    story.append(PageBreak())  # page 1 is the summary; the per-side results follow on their own page
    blocks = _stance_blocks(data)
    for key, block in blocks:
        story += [Paragraph(f"Single-leg stance — {_esc(block_label(key))}: results per side", st["h2"]),
                  _stance_table(block, st, width, data.scores)]
    ba_all = data.scores.get("before_after") or {}
    for condition, ba in ba_all.items():
        extra = CONDITION_LABELS.get(condition, condition)
        sides = ba.get("sides", {})
        from station.report.session import headline_verdicts

        heads = {v["side"]: v["verdict"] for v in headline_verdicts(data.scores)
                 if v.get("kind") == "before_after" and v.get("side") and v["block"] == f"before_after/{condition}"}
        summary = "; ".join(f"{side.upper()}: {heads.get(side) or (sides.get(side) or {}).get('verdict', '–')}"
                            for side in SIDES)
        story += [Paragraph(f"Before / after the primer{', ' + _esc(extra) if extra else ''} — {_esc(summary)}", st["h2"]),
                  _before_after_table(ba, st, width)]
        if any((m or {}).get("mdc_source") == "default" for s in sides.values() for m in (s or {}).get("metrics", {}).values()):
            story.append(Paragraph("* MDC95 = 30 % of baseline: fewer than 2 valid trials in a block.", st["small"]))
    # the RDL set of an RDL session belongs on page 1; the primer's own RDL only when nothing else is scored
    for key, title in (("rdl", "Single-leg RDL"), ("primer_rdl", "Primer: rear-foot-elevated RDL")):
        if key in data.scores and (key == "rdl" or not blocks):
            story += [Paragraph(f"{title}: lateral weight shift per repetition", st["h2"]),
                      _rdl_table(data.scores[key], st, width, _headline_of(data, key))]
    if not blocks and not any(k in data.scores for k in ("rdl", "primer_rdl")):
        story.append(Paragraph("This session has no finished trials that can be scored.", st["body"]))
    return story


#: tasks whose finished trials the headline verdicts rest on
SCORED_TASKS = ("single_leg", "rdl", "rfe_rdl")


def _verdict_quality_line(data) -> str:
    """Page 1: the recording quality of the trials the verdicts rest on, against the gates' limits."""
    from station.core.health import LIMITS

    scored = [t for t in data.trials if t.status == "finished" and t.task in SCORED_TASKS]
    if not scored:
        return ""
    frames = lost = gaps = missed = 0
    for t in scored:
        q = t.quality or {}
        frames += int(q.get("frames") or 0)
        lost += int(q.get("lost") or 0)
        gaps += int(q.get("gaps") or 0)
        missed += int(q.get("missed_conversions") or 0)
    lost_pct = 100.0 * lost / max(frames + lost, 1)
    missed_pct = 100.0 * missed / max(frames, 1)
    failed = sum(1 for t in data.trials if t.status == "failed")
    text = (f"Recordings the verdicts rest on: {len(scored)} trials, {frames} frames, {lost} lost "
            f"({lost_pct:.2f} %), {gaps} gap{'s' if gaps != 1 else ''}, {missed} missed conversions "
            f"({missed_pct:.2f} %). A trial is valid only with at most {100 * LIMITS['lost_fraction']:g} % lost "
            f"frames and {100 * LIMITS['missed_fraction']:g} % missed conversions, no gap and at least "
            f"{100 * LIMITS['rate_fraction']:g} % of the nominal rate inside its analysed "
            f"window")
    text += (f"; {failed} trial{'s' if failed != 1 else ''} failed (quality, stance or cells) and "
             f"{'were' if failed != 1 else 'was'} repeated or left out (trial table)." if failed else "; none failed.")
    return text


def _headline_of(data, block: str) -> dict | None:
    from station.report.session import headline_verdicts

    return next((v for v in headline_verdicts(data.scores) if v["block"] == block), None)


def _rdl_table(score: dict, st, width, verdict: dict | None = None):
    """Per-side repetition statistics; the asymmetry column is the block's headline verdict when given."""
    from station.report.session import RDL_REGISTRY_KEYS, ci_level, verdict_estimate

    sides = score.get("sides") or {}
    asym = (score.get("asymmetry") or {}).get("lateral_shift_mm")
    if verdict is not None:
        shift_asym = _p(verdict_estimate(verdict, minus="−", label=False), st["cell"])
        shift_verdict = _p(verdict.get("verdict", "–"), st["cellb"] if verdict.get("less_stable") else st["cell"])
    else:
        shift_asym = _p(si_text(asym), st["cell"])
        shift_verdict = _p((asym or {}).get("verdict", "–"), st["cellb"] if (asym or {}).get("less_stable") else st["cell"])
    level = ci_level(verdict) if verdict is not None else 95.0
    rows = [["Measure", "Left, mean ± SD", "Right, mean ± SD", f"Asymmetry ({level:.0f} % CI)", "Verdict"],
            [_p(metric_label(RDL_REGISTRY_KEYS["lateral_shift_mm"]), st["cell"]),
             mean_sd(sides.get("left", {}).get("lateral_shift_mm"), 1),
             mean_sd(sides.get("right", {}).get("lateral_shift_mm"), 1), shift_asym, shift_verdict],
            [_p(metric_label(RDL_REGISTRY_KEYS["duration_s"]), st["cell"]), mean_sd(sides.get("left", {}).get("duration_s"), 2),
             mean_sd(sides.get("right", {}).get("duration_s"), 2), "", ""],
            ["Repetitions", str(sides.get("left", {}).get("reps", 0)), str(sides.get("right", {}).get("reps", 0)), "", ""]]
    return _table(rows, [f * width for f in RESULT_WIDTHS], left_cols=(4,))


def _stabilogram_section(data, st, width) -> list:
    from reportlab.platypus import PageBreak, Paragraph

    from station.report.figures import StabilogramTrace, stabilogram_figure
    from station.report.samples import trial_samples

    blocks = _stance_blocks(data)
    if not blocks:
        return []
    panels, rows = {}, []
    for key, _block in blocks:
        phase, _, condition = key.partition("/")
        row = block_label(key)
        rows.append(row)
        counter = {"left": 0, "right": 0}
        for t in data.trials:
            if t.task != "single_leg" or t.status != "finished" or t.phase != phase or t.condition != condition:
                continue
            if t.side not in SIDES or not _finite(t.window_start_s) or not _finite(t.metrics.get("ellipse95_major_mm")):
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
            _image(fig, img_width)]


def _rdl_section(data, st, width) -> list:
    from reportlab.platypus import Paragraph, Spacer

    from station.report.figures import rdl_figure

    story = []
    for key, task, title in (("rdl", "rdl", "Single-leg RDL"), ("primer_rdl", "rfe_rdl", "Primer: rear-foot-elevated RDL")):
        if key not in data.scores:
            continue
        reps = {side: [r for t in data.trials if t.task == task and t.side == side and t.status == "finished"
                       for r in t.rep_metrics] for side in SIDES}
        if not any(reps.values()):
            continue
        fig = rdl_figure(reps)
        story += [Paragraph(f"{title}: repetitions", st["h1"]),
                  Paragraph("Lateral weight shift: how far the COP moved sideways, outwards over the stance leg, at the "
                            "bottom of each hinge (larger = more hip drop / lateral shift). Duration: the tempo of each "
                            "repetition. Dashed lines: the side means.", st["small"]),
                  _image(fig, width), Spacer(1, 4), _rdl_table(data.scores[key], st, width, _headline_of(data, key)),
                  Paragraph(_esc(data.scores[key].get("summary", "")), st["small"])]
    if story:
        from reportlab.platypus import PageBreak

        story.insert(0, PageBreak())
    return story


CRITERION_COLOURS = {"met": "#1b7f3b", "not met": "#b3261e", "undecided": "#555555"}


def _history_section(data, st, width, criterion=None) -> list:
    """The patient's visits up to this session: SI and per-side sway with intervals, and the criterion."""
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    from station.report.figures import history_figure
    from station.report.history import SWAY_METRIC, Criterion, patient_history
    from station.report.session import interval_text, range_text

    criterion = criterion or Criterion.load(data.store.data_dir)
    history = patient_history(data.store, data.session.patient_id, criterion=criterion,
                              until_session_id=data.session.id)
    if not history:
        return []
    from station.core.registry import spec

    sway = spec(SWAY_METRIC)
    story = [PageBreak(), Paragraph("Patient history: single-leg stance over the visits", st["h1"]),
             Paragraph(_esc(f"Baseline single-leg stance, eyes open, of every session of this patient up to this "
                            f"one. Top: the asymmetry index with the interval of that session's headline test "
                            f"(96 % since the left/right tests run at 4 %); bottom: each leg's {sway.label} "
                            f"({sway.unit}), mean of the trials with its 95 % interval. Return-to-sport criterion: "
                            f"{criterion.text}."), st["small"]),
             _image(history_figure(history, max_si_pct=criterion.max_si_pct, ci_within_pct=criterion.ci_within_pct,
                                   sway_label=f"{sway.label} ({sway.unit})"), width), Spacer(1, 4)]
    rows = [["Visit", "Date", "Session", "Asymmetry (interval)", f"Left {sway.unit}", f"Right {sway.unit}", "Criterion"]]
    for i, h in enumerate(history, start=1):
        measure = "SI " if h["measure"] == "SI" else "R − L "
        asym = measure + interval_text(h["estimate"], h["ci_low"], h["ci_high"], unit=h["unit"], minus="−", level=None)
        sides = [range_text(*h["sides"][side], decimals=sway.decimals) for side in SIDES]
        colour = CRITERION_COLOURS[h["criterion"]]
        from reportlab.platypus import Paragraph

        rows.append([str(i), h["date"], f"#{h['session_id']}", _p(asym, st["cell"]),
                     _p(sides[0], st["cell"]), _p(sides[1], st["cell"]),
                     Paragraph(f'<font color="{colour}">{_esc(h["criterion"])}</font>', st["cellb"])])
    story.append(_table(rows, [0.07 * width, 0.13 * width, 0.1 * width, 0.27 * width, 0.15 * width, 0.15 * width,
                               0.13 * width], align_right_from=3, left_cols=(6,)))
    story.append(Paragraph("met: |SI| and its whole interval within the limits; not met: the whole interval beyond "
                           "the SI limit; undecided: the interval is too wide to tell, or SI is undefined.", st["small"]))
    return story


def _trial_section(data, st, width) -> list:
    from reportlab.platypus import PageBreak, Paragraph

    rows = [["#", "Step", "Status", "Analysed window (s)", "ML vel. (mm/s)", "ML range (mm)", "Ellipse (mm²)", "Reps / TD"]]
    for t in data.trials:
        m = t.metrics
        window = _window_cell(t, st)
        if t.task in ("rdl", "rfe_rdl"):
            extra = f"{fmt(m.get('reps_counted'), 0)} reps" if _finite(m.get("reps_counted")) else "–"
        else:
            extra = f"{fmt(m.get('touchdowns'), 0)} TD" if _finite(m.get("touchdowns")) else "–"
        status = t.status + (f" (repeat of #{_seq_of(data, t.repeat_of)})" if t.repeat_of else "")
        if t.reason:
            status += f": {t.reason}"
        step = (t.step or f"{t.task} {t.side or ''}").replace(" eyes open", "")  # the default condition: no news
        rows.append([str(t.seq), _p(step, st["cell"]),
                     _p(status, st["cellb"] if t.status != "finished" else st["cell"]), window,
                     fmt(m.get("mean_velocity_ml_mm_s"), 1), fmt(m.get("range_ml_mm"), 1),
                     fmt(m.get("ellipse95_area_mm2"), 0), extra])
    story = [PageBreak(), Paragraph("Trials", st["h1"]),
             _table(rows, [f * width for f in (0.04, 0.27, 0.185, 0.14, 0.09, 0.095, 0.09, 0.09)], align_right_from=4)]
    story.append(Paragraph("Only finished trials enter the scores. TD = touchdowns of the free foot. The analysed window "
                           "runs from the stance start plus the settling time to the bound named under it (trial end, "
                           "0.5 s before a step-off, a link gap or the end of the recording); the metrics describe "
                           "that window only.", st["small"]))
    return story + _quality_section(data, st, width) + _calibration_section(data, st, width)


#: the window's end bound (the core's ``Bound`` values) in the trial table
_END_WORDS = {"duration": "trial end", "step_off": "before step-off", "gap": "link gap", "recording_end": "recording end"}


def _window_cell(t, st):
    """``start–end`` of a trial's analysed window and, under it, what ended it (from its window event)."""
    if not (_finite(t.window_start_s) and _finite(t.window_end_s)):
        return "–"
    event = next((e for e in t.events or () if isinstance(e, dict) and e.get("kind") == "window"), {})
    why = _END_WORDS.get(event.get("end_bound"), "")
    text = _esc(f"{fmt(t.window_start_s, 1)}–{fmt(t.window_end_s, 1)}")
    from reportlab.platypus import Paragraph

    return Paragraph(text + (f"<br/>{_esc(why)}" if why else ""), st["cell"])


def _seq_of(data, trial_id) -> str:
    return next((str(t.seq) for t in data.trials if t.id == trial_id), "?")


def _quality_section(data, st, width) -> list:
    """A summary line; the per-trial table lists only the trials with something to report."""
    from reportlab.platypus import Paragraph

    rows = [["#", "Frames", "Lost", "CRC errors", "Resyncs", "Gaps (s)", "Missed conv.", "Rate (Hz)", "Jitter (ms)"]]
    totals = {"frames": 0, "lost": 0, "crc_errors": 0, "resyncs": 0, "gaps": 0, "missed_conversions": 0}
    rates, jitters = [], []
    for t in data.trials:
        q = t.quality or {}
        for k in totals:
            totals[k] += int(q.get(k) or 0)
        if _finite(q.get("effective_rate_hz")):
            rates.append(float(q["effective_rate_hz"]))
        if _finite(q.get("jitter_ms")):
            jitters.append(float(q["jitter_ms"]))
        if not any(q.get(k) for k in ("lost", "crc_errors", "resyncs", "gaps", "missed_conversions")):
            continue
        gaps = f"{q.get('gaps', 0)} ({fmt(q.get('gap_s'), 1)})" if q.get("gaps") else "0"
        rows.append([str(t.seq), str(q.get("frames", "–")), str(q.get("lost", "–")), str(q.get("crc_errors", "–")),
                     str(q.get("resyncs", "–")), gaps, str(q.get("missed_conversions", "–")),
                     fmt(q.get("effective_rate_hz"), 1), fmt(q.get("jitter_ms"), 2)])
    lost_pct = 100.0 * totals["lost"] / max(totals["frames"] + totals["lost"], 1)
    summary = (f"{totals['frames']} frames received, {totals['lost']} lost ({lost_pct:.2f} %), "
               f"{totals['crc_errors']} CRC errors, {totals['resyncs']} resyncs, {totals['gaps']} gaps, "
               f"{totals['missed_conversions']} missed conversions")
    if rates:
        summary += (f"; rate {fmt(min(rates), 1)}–{fmt(max(rates), 1)} Hz, jitter up to {fmt(max(jitters), 2)} ms"
                    if jitters else f"; rate {fmt(min(rates), 1)}–{fmt(max(rates), 1)} Hz")
    story = [Paragraph("Recording quality", st["h2"])]
    nominal = (data.session.board or {}).get("nominal_rate_hz")
    if nominal and rates:
        from station.core.health import quality_problems

        slow = [(t.seq, p) for t in data.trials if t.quality
                for p in quality_problems(t.quality, [], nominal_rate_hz=float(nominal)) if p["code"] == "rate_low"]
        if slow:
            seqs = ", ".join(f"#{seq}" for seq, _ in slow)
            story.append(Paragraph(_esc(f"rate_low (trials {seqs}): {slow[0][1]['message']}"), st["cellb"]))
    if len(rows) == 1:
        return story + [Paragraph(_esc(summary + ". A clean recording: no trial lost data."), st["body"])]
    return story + [Paragraph(_esc(summary + ". Trials with link problems:"), st["body"]),
                    _table(rows, [0.06 * width] + [0.1175 * width] * 8)]


def _calibration_section(data, st, width) -> list:
    from reportlab.platypus import KeepTogether, Paragraph

    from station.calibration import Calibration

    story = [Paragraph("Calibration", st["h2"])]
    if not data.calibrations:
        return [KeepTogether(story + [Paragraph("No calibration is recorded with this session: forces and COP cannot be "
                                                "trusted.", st["body"])])]
    board_id = str((data.session.board or {}).get("board_id", "")).upper()
    for cal_id, d in data.calibrations.items():
        try:
            cal = Calibration.from_dict(d, source=f"calibration {cal_id}")
        except StationError as exc:
            story.append(Paragraph(_esc(f"Calibration {cal_id} is unreadable: {exc}"), st["body"]))
            continue
        used = sum(t.calibration_id == cal_id for t in data.trials)
        when = datetime.fromisoformat(data.session.started) if data.session.started else None
        age = cal.age_days(now=when) if when else cal.age_days()
        status = "STALE (older than its validity)" if age > cal.validity_days else "valid"
        lines = [f"Board {cal.board_id}, geometry {cal.geometry.name}, calibrated {cal.created[:10]}"
                 f" by {cal.operator or 'an unrecorded operator'}: {status} at the session "
                 f"({age:.0f} of {cal.validity_days:g} days). Used by {used} trial(s)."]
        if board_id and cal.board_id.upper() != board_id:
            lines.append(f"WARNING: the session's board is {board_id}, not the calibrated board {cal.board_id}.")
        r = cal.residuals or {}
        if _finite(r.get("force_rms_n")) or _finite(r.get("cop_rms_mm")):
            lines.append(f"Fit residuals: force {fmt(r.get('force_rms_n'), 2)} N rms, COP {fmt(r.get('cop_rms_mm'), 2)} mm rms"
                         f" (max {fmt(r.get('cop_max_mm'), 2)} mm) over {r.get('n_placements', '?')} placements.")
        else:
            lines.append("No fit residuals recorded (offsets and gains entered directly).")
        v = cal.verification or {}
        if v:
            passed = {True: "passed", False: "FAILED"}.get(v.get("passed"), "recorded")
            lines.append(f"Verification with known masses: {passed} — COP error {fmt(v.get('cop_rms_mm'), 2)} mm rms "
                         f"(max {fmt(v.get('cop_max_mm'), 2)} mm), force error up to {fmt(v.get('force_max_pct'), 2)} %.")
        lines.append("COP correction: " + ("applied." if cal.cop_correction else "none."))
        story += [Paragraph(_esc(line), st["body"]) for line in lines]
    return [KeepTogether(story)]


def _definitions_section(st, width, scores: dict | None = None) -> list:
    from reportlab.platypus import PageBreak, Paragraph

    from station.report.definitions import DEFINITIONS

    definitions = list(DEFINITIONS)
    meaning = (scores or {}).get("score_meaning") or {}
    if meaning.get("name") and meaning.get("text"):  # the score as the scoring defines it for this session
        lo, hi = (meaning.get("range") or (0, 100))[:2]
        formula = f" ({meaning['formula']})" if meaning.get("formula") else ""
        definitions[0] = (meaning["name"], f"{lo:g}–{hi:g}", meaning["text"] + formula, "ASSESSMENT.md §4")
    rows = [["Measure", "Unit", "Definition", "Details"]]
    for title, unit, text, source in definitions:
        rows.append([_p(title, st["cellb"]), _p(unit, st["cell"]), _p(text, st["cell"]), _p(source, st["small"])])
    return [PageBreak(), Paragraph("Definitions of the measures shown", st["h1"]),
            Paragraph("Axes: ML = medio-lateral (side to side, + to the right), AP = antero-posterior (+ forward); "
                      "COP = centre of pressure. Full formulas and references: docs/METRICS.md and docs/ASSESSMENT.md "
                      "of Balance Station.", st["small"]),
            _table(rows, [0.2 * width, 0.1 * width, 0.55 * width, 0.15 * width], align_right_from=99)]


# -- the document -----------------------------------------------------------------------------------


def _numbered_canvas(footer_left: str):
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):
        """Writes "page X of Y" once the page count is known (two-pass save)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(len(self._pages))
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            from reportlab.lib.units import mm

            width, _height = self._pagesize
            self.setFont(FONT, 7)
            self.setFillColorRGB(0.4, 0.4, 0.4)
            self.drawString(16 * mm, 9 * mm, footer_left)
            self.drawRightString(width - 16 * mm, 9 * mm, f"page {self._pageNumber} of {total}")

    return NumberedCanvas


def write_session_report(store, session_id, path, *, pseudonymise: bool = False, force: bool = False,
                         criterion=None) -> Path:
    """Write the PDF report of a stored session.

    Parameters
    ----------
    store : station.store.Store
    session_id : int or str
        The session's id.
    path : path-like
        The PDF to write (parent directories are created).
    pseudonymise : bool, keyword-only
        Show the installation's pseudonym instead of the patient's name and id (birth year only).
    force : bool, keyword-only
        Replace an existing file (otherwise refused before any work, with one line).
    criterion : station.report.history.Criterion, optional
        The return-to-sport criterion of the history page (default: the one the clinic set in the
        dashboard's History tab, else ±10 % with the interval inside ±15 %).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    StationError
        Unknown session, or the file cannot be written.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    from station.report.session import load_session

    from station.privatefiles import private_temp_path, refuse_existing

    refuse_existing(path, force=force)
    data = load_session(store, session_id, pseudonymise=pseudonymise)
    _register_fonts()
    st = _styles()
    out = Path(path)
    margin = 16 * mm
    width = A4[0] - 2 * margin
    story = _first_page(data, st, width)
    story += _stabilogram_section(data, st, width)
    story += _rdl_section(data, st, width)
    story += _history_section(data, st, width, criterion)
    story += _trial_section(data, st, width)
    story += _definitions_section(st, width, data.scores)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"Balance Station · session {data.session.id} · {data.patient.label} · generated {made}"
    try:
        # private (0600), unique temporary name beside it, never through a symlink (station.privatefiles)
        with private_temp_path(out, force=force) as tmp:
            doc = SimpleDocTemplate(str(tmp), pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=14 * mm,
                                    bottomMargin=16 * mm, title=f"Balance assessment — session {data.session.id}",
                                    author="Balance Station", subject=data.protocol_title)
            doc.build(story, canvasmaker=_numbered_canvas(footer))
    except OSError as exc:
        raise StationError(f"Cannot write the report {out}: {exc.strerror or exc}.") from exc
    log.info("wrote the report of session %s to %s", data.session.id, out)
    return out

