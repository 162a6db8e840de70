"""The PDF's closing pages: the trial table, the recording quality, the calibration status and the definitions."""

from __future__ import annotations

import logging
from datetime import datetime

from station.errors import StationError
from station.report.pdf.layout import esc, p, table
from station.report.wording import NONE, decimals_of, number

log = logging.getLogger(__name__)


#: the metrics of each trial's row (decimals from the metric registry)
TRIAL_METRICS = ("mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2")


def _defined(value) -> bool:
    return number(value, 3) != NONE


def trial_pages(model, st, width) -> list:
    """The trial table, then the recording quality and the calibration status."""
    data = model.data
    from reportlab.platypus import PageBreak, Paragraph

    rows = [["#", "Step", "Status", "Analysed window (s)", "ML vel. (mm/s)", "ML range (mm)", "Ellipse (mm²)", "Reps / TD"]]
    for t in data.trials:
        m = t.metrics
        window = _window_cell(t, st)
        if t.task in ("rdl", "rfe_rdl"):
            extra = f"{number(m.get('reps_counted'), 0)} reps" if _defined(m.get("reps_counted")) else "–"
        else:
            extra = f"{number(m.get('touchdowns'), 0)} TD" if _defined(m.get("touchdowns")) else "–"
        status = t.status + (f" (repeat of #{_seq_of(data, t.repeat_of)})" if t.repeat_of else "")
        if t.reason:
            status += f": {t.reason}"
        step = (t.step or f"{t.task} {t.side or ''}").replace(" eyes open", "")  # the default condition: no news
        rows.append([str(t.seq), p(step, st["cell"]),
                     p(status, st["cellb"] if t.status != "finished" else st["cell"]), window,
                     *(number(m.get(key), decimals_of(key)) for key in TRIAL_METRICS), extra])
    story = [PageBreak(), Paragraph("Trials", st["h1"]),
             table(rows, [f * width for f in (0.04, 0.27, 0.185, 0.14, 0.09, 0.095, 0.09, 0.09)], align_right_from=4)]
    story.append(Paragraph("Only finished trials enter the scores. TD = touchdowns of the free foot. The analysed window "
                           "runs from the stance start plus the settling time to the bound named under it (trial end, "
                           "0.5 s before a step-off, a link gap or the end of the recording); the metrics describe "
                           "that window only.", st["small"]))
    return story + _quality_section(model, st, width) + _calibration_section(data, st, width)


#: the window's end bound (the core's ``Bound`` values) in the trial table
_END_WORDS = {"duration": "trial end", "step_off": "before step-off", "gap": "link gap", "recording_end": "recording end"}


def _window_cell(t, st):
    """``start–end`` of a trial's analysed window and, under it, what ended it (from its window event)."""
    if not (_defined(t.window_start_s) and _defined(t.window_end_s)):
        return "–"
    event = next((e for e in t.events or () if isinstance(e, dict) and e.get("kind") == "window"), {})
    why = _END_WORDS.get(event.get("end_bound"), "")
    text = esc(f"{number(t.window_start_s, 1)}–{number(t.window_end_s, 1)}")
    from reportlab.platypus import Paragraph

    return Paragraph(text + (f"<br/>{esc(why)}" if why else ""), st["cell"])


def _seq_of(data, trial_id) -> str:
    return next((str(t.seq) for t in data.trials if t.id == trial_id), "?")


def _quality_section(model, st, width) -> list:
    """A summary line (the totals of the report model); the per-trial table lists only the trials with something
    to report."""
    from reportlab.platypus import Paragraph

    data, totals = model.data, model.quality
    rows = [["#", "Frames", "Lost", "CRC errors", "Resyncs", "Gaps (s)", "Missed conv.", "Rate (Hz)", "Jitter (ms)"]]
    for t in data.trials:
        q = t.quality or {}
        if not any(q.get(k) for k in ("lost", "crc_errors", "resyncs", "gaps", "missed_conversions")):
            continue
        gaps = f"{q.get('gaps', 0)} ({number(q.get('gap_s'), 1)})" if q.get("gaps") else "0"
        rows.append([str(t.seq), str(q.get("frames", "–")), str(q.get("lost", "–")), str(q.get("crc_errors", "–")),
                     str(q.get("resyncs", "–")), gaps, str(q.get("missed_conversions", "–")),
                     number(q.get("effective_rate_hz"), 1), number(q.get("jitter_ms"), 2)])
    c = totals.counts
    summary = (f"{c['frames']} frames received, {c['lost']} lost ({totals.lost_pct:.2f} %), "
               f"{c['crc_errors']} CRC errors, {c['resyncs']} resyncs, {c['gaps']} gaps, "
               f"{c['missed_conversions']} missed conversions")
    rates, jitters = totals.rates_hz, totals.jitters_ms
    if rates:
        summary += f"; rate {number(min(rates), 1)}–{number(max(rates), 1)} Hz"
        summary += f", jitter up to {number(max(jitters), 2)} ms" if jitters else ""
    story = [Paragraph("Recording quality", st["h2"])]
    nominal = (data.session.board or {}).get("nominal_rate_hz")
    if nominal and rates:
        from station.core.health import quality_problems

        slow = [(t.seq, problem) for t in data.trials if t.quality
                for problem in quality_problems(t.quality, [], nominal_rate_hz=float(nominal))
                if problem["code"] == "rate_low"]
        if slow:
            seqs = ", ".join(f"#{seq}" for seq, _ in slow)
            story.append(Paragraph(esc(f"rate_low (trials {seqs}): {slow[0][1]['message']}"), st["cellb"]))
    if len(rows) == 1:
        return story + [Paragraph(esc(summary + ". A clean recording: no trial lost data."), st["body"])]
    return story + [Paragraph(esc(summary + ". Trials with link problems:"), st["body"]),
                    table(rows, [0.06 * width] + [0.1175 * width] * 8)]


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
            story.append(Paragraph(esc(f"Calibration {cal_id} is unreadable: {exc}"), st["body"]))
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
        if _defined(r.get("force_rms_n")) or _defined(r.get("cop_rms_mm")):
            lines.append(f"Fit residuals: force {number(r.get('force_rms_n'), 2)} N rms, COP {number(r.get('cop_rms_mm'), 2)} mm rms"
                         f" (max {number(r.get('cop_max_mm'), 2)} mm) over {r.get('n_placements', '?')} placements.")
        else:
            lines.append("No fit residuals recorded (offsets and gains entered directly).")
        v = cal.verification or {}
        if v:
            passed = {True: "passed", False: "FAILED"}.get(v.get("passed"), "recorded")
            lines.append(f"Verification with known masses: {passed} — COP error {number(v.get('cop_rms_mm'), 2)} mm rms "
                         f"(max {number(v.get('cop_max_mm'), 2)} mm), force error up to {number(v.get('force_max_pct'), 2)} %.")
        lines.append("COP correction: " + ("applied." if cal.cop_correction else "none."))
        story += [Paragraph(esc(line), st["body"]) for line in lines]
    return [KeepTogether(story)]



def definitions_page(model, st, width) -> list:
    """The definitions of the measures shown, generated from the statistics the code uses."""
    from reportlab.platypus import PageBreak, Paragraph

    rows = [["Measure", "Unit", "Definition", "Details"]]
    for d in model.definitions:
        rows.append([p(d.title, st["cellb"]), p(d.unit, st["cell"]), p(d.text, st["cell"]), p(d.source, st["small"])])
    return [PageBreak(), Paragraph("Definitions of the measures shown", st["h1"]),
            Paragraph("Axes: ML = medio-lateral (side to side, + to the right), AP = antero-posterior (+ forward); "
                      "COP = centre of pressure. Full formulas and references: docs/METRICS.md and docs/ASSESSMENT.md "
                      "of Balance Station.", st["small"]),
            table(rows, [0.2 * width, 0.1 * width, 0.55 * width, 0.15 * width], align_right_from=99)]
