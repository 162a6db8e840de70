"""The clinic PDF report of one session (reportlab layout, matplotlib figures).

Page 1 is what a clinician reads in 30 seconds: who, when, which protocol, the headline verdicts with
their intervals (each at its own level), and the recording quality they rest on. Then the per-side
results and the before/after tables (:mod:`.summary`, :mod:`.tables`), stabilograms per side, the RDL
repetitions and the patient's history (:mod:`.plots`), the trial table, recording quality, calibration
status and the definitions page (:mod:`.records`). Every section draws from one
:class:`station.report.model.ReportModel`, built once from the stored session.

Public API: :func:`write_session_report`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from station.errors import StationError

log = logging.getLogger(__name__)


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

    from station.privatefiles import private_temp_path, refuse_existing
    from station.report.model import report_model
    from station.report.pdf.layout import numbered_canvas, register_fonts, styles
    from station.report.pdf.plots import history_pages, rdl_pages, stabilogram_pages
    from station.report.pdf.records import definitions_page, trial_pages
    from station.report.pdf.summary import first_pages
    from station.report.session import load_session

    refuse_existing(path, force=force)
    model = report_model(load_session(store, session_id, pseudonymise=pseudonymise))
    data = model.data
    register_fonts()
    st = styles()
    out = Path(path)
    margin = 16 * mm
    width = A4[0] - 2 * margin
    story = first_pages(model, st, width)
    story += stabilogram_pages(model, st, width)
    story += rdl_pages(model, st, width)
    story += history_pages(model, st, width, criterion)
    story += trial_pages(model, st, width)
    story += definitions_page(model, st, width)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"Balance Station · session {data.session.id} · {data.patient.label} · generated {made}"
    try:
        # private (0600), unique temporary name beside it, never through a symlink (station.privatefiles)
        with private_temp_path(out, force=force) as tmp:
            doc = SimpleDocTemplate(str(tmp), pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=14 * mm,
                                    bottomMargin=16 * mm, title=f"Balance assessment — session {data.session.id}",
                                    author="Balance Station", subject=data.protocol_title)
            doc.build(story, canvasmaker=numbered_canvas(footer))
    except OSError as exc:
        raise StationError(f"Cannot write the report {out}: {exc.strerror or exc}.") from exc
    log.info("wrote the report of session %s to %s", data.session.id, out)
    return out

