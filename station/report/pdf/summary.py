"""Page 1 of the PDF (who, when, the headline verdicts, the recording quality they rest on) and the per-side
results that follow it."""

from __future__ import annotations

from station.assessment.scoring import DEFAULT_MDC_PCT
from station.report.pdf.layout import LIGHT, SIDE_COLOURS, coloured, p
from station.report.pdf.tables import change_summary, change_table, side_table, verdicts_table
from station.report import wording as w


def _patient_table(data, st, width):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    pat, s = data.patient, data.session
    kind = "Pseudonym" if pat.pseudonymised else "Patient"
    mass = f"{pat.body_mass_kg:g} kg" if pat.body_mass_kg else "–"
    left = [(kind, pat.label), ("Patient id", "—" if pat.pseudonymised else pat.ref), ("Birth year", pat.birth_year or "–"),
            ("Sex", pat.sex or "–"), ("Body mass", mass), ("Dominant leg", pat.dominant_leg or "–")]
    valid = sum(t.status == "finished" for t in data.trials)
    right = [("Session", f"#{s.id} — {s.status}"), ("Date", f"{data.date}  {str(s.started)[11:16]} UTC"),
             ("Protocol", data.protocol_title), ("Operator", s.operator or "–"),
             ("Board", (s.board or {}).get("board_id", "–")), ("Trials", f"{valid} valid of {len(data.trials)}")]
    rows = [[p(k1, st["small"]), p(v1, st["cellb"]), p(k2, st["small"]), p(v2, st["cell"])]
            for (k1, v1), (k2, v2) in zip(left, right)]
    t = Table(rows, colWidths=[0.15 * width, 0.33 * width, 0.13 * width, 0.39 * width], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2), ("LEFTPADDING", (0, 0), (-1, -1), 3),
                           ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(LIGHT))]))
    return t


def _verdict_box(results, st, width):
    """The session's main headline verdict, big, with its own sentence (the table below lists them all)."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    main = results.main
    colour = SIDE_COLOURS.get(main.verdict.less_stable if main else None, "#333333")
    lines = [coloured(main.headline if main else w.verdict_headline(None), colour, st["verdict"])]
    if main:
        lines.append(p(main.sentence, st["body"]))
        meaning = w.interval_meaning(main.verdict)
        if meaning:
            lines.append(p(meaning, st["small"]))
    else:
        lines.append(p("This session has no finished trials that can be scored.", st["body"]))
    t = Table([[lines]], colWidths=[width], hAlign="LEFT")
    t.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor(colour)),
                           ("LEFTPADDING", (0, 0), (-1, -1), 8), ("TOPPADDING", (0, 0), (-1, -1), 6),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 7)]))
    return t


def _quality_line(model) -> str:
    """The recording quality of the trials the verdicts rest on, against the gates' limits."""
    from station.core.health import LIMITS

    q = model.scored_quality
    if not q.trials:
        return ""
    c = q.counts
    text = (f"Recordings the verdicts rest on: {q.trials} trials, {c['frames']} frames, {c['lost']} lost "
            f"({q.lost_pct:.2f} %), {c['gaps']} gap{'s' if c['gaps'] != 1 else ''}, {c['missed_conversions']} missed "
            f"conversions ({q.missed_pct:.2f} %). A trial is valid only with at most {100 * LIMITS['lost_fraction']:g} % "
            f"lost frames and {100 * LIMITS['missed_fraction']:g} % missed conversions, no gap and at least "
            f"{100 * LIMITS['rate_fraction']:g} % of the nominal rate inside its analysed window")
    failed = model.failed
    text += (f"; {failed} trial{'s' if failed != 1 else ''} failed (quality, stance or cells) and "
             f"{'were' if failed != 1 else 'was'} repeated or left out (trial table)." if failed else "; none failed.")
    return text


def first_pages(model, st, width) -> list:
    """Page 1 (the summary), then the per-side results of every stance block, the before/after tables and the
    RDL set of an RDL session."""
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    data, results = model.data, model.results
    story = [Paragraph("Balance assessment report", st["title"]),
             p(f"{data.protocol_title} · {data.date}", st["small"]), Spacer(1, 5),
             _patient_table(data, st, width), Spacer(1, 8), _verdict_box(results, st, width)]
    verdicts = verdicts_table(results, st, width)
    if verdicts is not None:
        story += [Paragraph("Headline verdicts: every block of the session", st["h2"]), verdicts]
    for _title, sentence in results.descriptions:  # described, not tested: below the verdicts, never among them
        story.append(p(sentence, st["small"]))
    if results.scores.stance:  # the score summarises stance trials only
        story.append(p(results.score_meaning, st["small"]))
    quality = _quality_line(model)
    if quality:
        story += [Spacer(1, 4), p(quality, st["small"])]
    stored = data.session.scores or {}
    patient_time = w.patient_time_text(stored.get("minutes"), stored.get("minutes_by_block"))
    if patient_time:
        story += [Spacer(1, 2), p(patient_time, st["small"])]
    story.append(PageBreak())  # page 1 is the summary; the per-side results follow on their own page
    stance_tables = [t for t in results.side_tables if t.key.startswith("stance/")]
    for t in stance_tables:
        story += [p(f"{t.title}: results per side", st["h2"]), side_table(t, st, width)]
    if stance_tables:
        story.append(p("Each interval states its level: the headline test's on the sway-index row, 95 % on the "
                       "descriptive rows.", st["small"]))
    for t in results.change_tables:
        story += [p(f"{t.title} — {change_summary(t)}", st["h2"]), change_table(t, st, width)]
        if t.default_mdc:
            story.append(p(f"* {t.mdc_heading} = {DEFAULT_MDC_PCT:g} % of baseline: fewer than 2 valid trials in a block.",
                           st["small"]))
    # the RDL set of an RDL session belongs here; the primer's own RDL only when nothing else is scored
    for t in results.side_tables:
        if t.key == "rdl" or (t.key == "primer_rdl" and not stance_tables):
            story += [p(f"{t.title}: per repetition", st["h2"]), side_table(t, st, width)]
    if not results.side_tables:
        story.append(p("This session has no finished trials that can be scored.", st["body"]))
    return story

