"""Every interval a clinician reads states the level it was computed at.

Two sessions recorded on the virtual board: the report tests' primer session (baseline, primer RDL, post-primer,
before/after) and an adaptive single-leg session that stops at its first, strict look (α = 0.001). Each is
rendered in the PDF (pdftotext), the dashboard's results, before/after and history views (offscreen) and
the CLI (``station assess --json`` and its text, ``station export --format json``). Every interval printed
anywhere is found by its pattern ``[low, high] L % CI``; the level of each headline verdict's interval must
be ``100 (1 − α)`` with the verdict's own stored α (never "100 %"), and every other interval is a 95 %
descriptive one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from station.cli import main

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
                                reason="poppler-utils (pdftotext, pdftoppm) not installed")

#: an interval as every display prints it
INTERVAL = re.compile(r"\[([^\[\]]+), ([^\[\]]+)\] (\d+(?:\.\d+)?) % CI")
#: a clearly weak right leg with steady trials: the adaptive block decides at its first look (interim level)
STEADY_WEAK_RIGHT = {"preset": "healthy", "sway_scale_right": 2.0, "trial_cv_pct": 0.0, "session_cv_pct": 0.0,
                     "practice_pct": 0.0, "fatigue_pct_per_trial": 0.0, "touchdowns_per_min_left": 0.0,
                     "touchdowns_per_min_right": 0.0}


def _level_pct(alpha: float) -> str:
    """``100 (1 − α)`` as the displays must print it, computed here from the stored α (not from its level)."""
    return f"{round(100.0 * (1.0 - alpha), 4):g}"


def _signed(x: float, decimals: int) -> str:
    """An interval's end as printed: signed, a true minus; an end that is not 0 never reads as 0 (it keeps up
    to three more decimals); an exact 0 unsigned."""
    for places in range(decimals, decimals + 4):
        text = f"{x:+.{places}f}"
        if float(text) != 0:
            return text.replace("-", "−")
    return f"{0:.{decimals}f}"


def _expected_intervals(stored: dict, *, before_after_si: bool = True) -> list[str]:
    """Every interval a stored headline verdict has, as ``"[a, b] L % CI"`` with L from the verdict's own α
    (``before_after_si``: also the intervals of the SI before and after the primer, which only the verdict's
    sentence prints; table cells give the change's)."""
    out = []
    for v in stored["verdicts"]:
        if v.get("ci_low") is None or v["ci_low"] != v["ci_low"]:
            continue
        decimals = 0 if v["unit"] == "%" else 1
        level = _level_pct(v["alpha"])
        out.append(f"[{_signed(v['ci_low'], decimals)}, {_signed(v['ci_high'], decimals)}] {level} % CI")
        for key in ("si_before_ci", "si_after_ci"):  # the asymmetry before and after the primer
            if key in v and before_after_si:
                out.append(f"[{_signed(v[key]['low'], 0)}, {_signed(v[key]['high'], 0)}] {level} % CI")
    return out


def _look_levels() -> set:
    """The levels of the intervals an adaptive block's looks print while it runs (the runner's progress): an
    interim look's, the last look's and the family level a futility stop reports, computed from the designs'
    own alphas."""
    from station.assessment import protocols

    levels = set()
    for block in (protocols.AdaptiveStance(), protocols.AdaptiveRdl()):
        design = block.sequential()
        levels |= {_level_pct(design.alpha_interim), _level_pct(design.alpha_final), _level_pct(design.report_alpha)}
    return levels


def _check(surface: str, text: str, stored: dict, *, sentences: bool = True, looks: bool = False) -> None:
    """Each verdict's intervals are in ``text`` at its own level; any other interval there is 95 % -- or, on a
    surface that prints the runner's progress (``looks``), at one of the adaptive looks' levels.

    ``sentences``: the surface prints the verdicts' sentences (with the SI before and after the primer)."""
    flat = " ".join(text.split())
    expected = _expected_intervals(stored, before_after_si=sentences)
    assert expected, "a session without any interval checks nothing"
    for interval in expected:
        assert interval in flat, (surface, interval)
    found = [m.group(0) for m in INTERVAL.finditer(flat)]
    assert found, surface
    for interval in found:
        level = INTERVAL.fullmatch(interval).group(3)
        assert level != "100", (surface, interval)
        assert interval in _expected_intervals(stored) or level == "95" or (looks and level in _look_levels()), (
            surface, interval)


def _pdf_text(store, session_id, path) -> str:
    from station.report.pdf import write_session_report

    pdf = write_session_report(store, session_id, path)
    return subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def _dashboard_text(store, session, qtbot) -> str:
    """Every cell and label of the results, before/after and history views showing the session."""
    from PySide6.QtGui import QTextDocument

    from station.dashboard.history_view import HistoryView
    from station.dashboard.results_views import BeforeAfter, Scoreboard

    parts = []
    board = Scoreboard()
    qtbot.addWidget(board)
    assert board.show_scores(session.scores)
    parts.append(board.verdict.text())
    for table in (board.verdicts,):
        parts += [table.item(r, c).text() for r in range(table.rowCount()) for c in range(table.columnCount())]
    for index in range(board.block.count()):  # every block's per-side table
        board.block.setCurrentIndex(index)
        t = board.table
        parts += [t.item(r, c).text() for r in range(t.rowCount()) for c in range(t.columnCount())]
    view = BeforeAfter()
    qtbot.addWidget(view)
    if view.show_scores(session.scores):
        doc = QTextDocument()
        doc.setHtml(view.summary.text())  # a rich-text label: what it shows
        parts.append(doc.toPlainText())
    history = HistoryView(store)
    qtbot.addWidget(history)
    history.show_patient(store.get_patient(session.patient_id))
    t = history.table
    parts += [t.item(r, c).text() for r in range(t.rowCount()) for c in range(t.columnCount())]
    return "\n".join(parts)


def _cli_export_text(data_dir, session_id, out_dir, capsys) -> str:
    """``station export SESSION --format json``: the headline verdicts' sentences and interval fields."""
    assert main(["--data-dir", str(data_dir), "export", str(session_id), "--format", "json", "--out", str(out_dir)]) == 0
    capsys.readouterr()
    (path,) = out_dir.glob("session*.json")
    doc = json.loads(path.read_text())
    verdicts = doc["scores"]["verdicts"]
    for v in verdicts:  # the JSON fields carry the same level as the text
        if v["ci_low"] is not None:
            assert _level_pct(v["alpha"]) == f"{round(100 * v['level'], 4):g}", v
    return "\n".join(v["text"] for v in verdicts)


def test_every_interval_of_a_primer_session_prints_its_own_level(primer_session, qtbot, tmp_path, capsys):
    from station.commands.assess import _summary

    store, sid = primer_session.store, primer_session.session_id
    session = store.get_session(sid)
    stored = session.scores
    levels = {_level_pct(v["alpha"]) for v in stored["verdicts"]}
    assert levels == {"96", "95"}  # the L/R tests at 4 %, each leg's change at 4 % + 1 %
    _check("pdf", _pdf_text(store, sid, tmp_path / "primer.pdf"), stored)
    _check("dashboard", _dashboard_text(store, session, qtbot), stored, sentences=False)
    _check("cli text", "\n".join(_summary(stored)), stored)
    _check("cli json export", _cli_export_text(store.data_dir, sid, tmp_path / "export", capsys), stored)


def test_an_adaptive_block_stopped_at_its_interim_look_says_99_9_percent(tmp_path, qtbot, capsys):
    from station.assessment import protocols
    from station.commands.assess import _summary, _verdicts_json

    from tests.assessment.simsession import run_protocol

    protocol = protocols.get("single-leg", duration_s=10.0, exclude_s=2.0)
    run = run_protocol(protocol, data_dir=tmp_path / "data", seed=3, sim_subject=STEADY_WEAK_RIGHT)
    session = run.store.get_session(run.session_id)
    stored = session.scores
    (verdict,) = stored["verdicts"]
    assert verdict["alpha"] == 0.001 and verdict["less_stable"] == "right"  # stopped at the first look
    pdf = _pdf_text(run.store, run.session_id, tmp_path / "adaptive.pdf")
    dashboard = _dashboard_text(run.store, session, qtbot)
    text = "\n".join(_summary(stored))
    doc = json.loads(_verdicts_json(run.session_id, session, stored))
    for surface, shown in (("pdf", pdf), ("dashboard", dashboard), ("cli text", text),
                           ("cli json", doc["verdicts"][0]["text"])):
        _check(surface, shown, stored, sentences=surface != "dashboard")
        assert "99.9 % CI" in shown and "100 % CI" not in shown, surface
    assert doc["verdicts"][0]["level"] == pytest.approx(0.999)
    run.store.close()


def test_assess_json_and_text_print_each_verdicts_own_level(tmp_path, capsys):
    rc = main(["--data-dir", str(tmp_path / "data"), "assess", "--sim", "--subject", "weak-right", "--patient", "Runner 5",
               "--body-mass", "70", "--protocol", "single-leg", "--seconds", "8", "--exclude", "2", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    doc = json.loads(captured.out)
    from station.store import Store

    with Store.open(tmp_path / "data") as store:
        stored = store.get_session(doc["session_id"]).scores
    assert [v["level"] for v in doc["verdicts"]] == pytest.approx([1 - v["alpha"] for v in stored["verdicts"]])
    _check("assess --json", "\n".join(v["text"] for v in doc["verdicts"]), stored)
    _check("assess text", captured.err, stored, looks=True)  # with --json, people read stderr (and the looks)
    assert "99.9 % CI" in captured.err  # this session's interim looks, each at its own level
