"""Every text of every dashboard tab fits its widget at the default window size (1500 x 900).

Measured with the widgets' own fonts (``QFontMetrics``): labels (wrapped ones by the height their text
needs at their width), buttons, combo boxes, group titles, and every cell and header of every table
against its column width; tables never need a horizontal scroll bar. The window shows a real primer
session (every block), a patient with five visits in the history, and the runner page mid-session
with its longest header, so the texts measured are the ones a clinician reads. Also: no "nan" and
no negative zero in any of them.
"""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QAbstractButton, QComboBox, QGroupBox, QLabel, QTableWidget, QWidget

from station.assessment.runner import RunnerEvent
from station.dashboard.station_link import SimOptions

from station.dashboard.app import save_screenshot

from .conftest import known_board
from .history_data import build_rehab_history


def _label_problem(label: QLabel) -> str | None:
    text = label.text()
    if not text or label.pixmap() is not None and not label.pixmap().isNull():
        return None
    rect = label.contentsRect()
    margin = label.margin() + label.indent() if label.indent() > 0 else label.margin()
    width = rect.width() - 2 * margin
    if GuiQt.mightBeRichText(text) or label.textFormat() == Qt.RichText:
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setHtml(text)
        doc.setDocumentMargin(0)
        doc.setTextWidth(width if label.wordWrap() else -1)
        need_w, need_h = doc.idealWidth(), doc.size().height()
        plain = doc.toPlainText()
    else:
        fm = QFontMetrics(label.font())
        plain = text
        if label.wordWrap():
            box = fm.boundingRect(QRect(0, 0, max(width, 1), 100_000), int(Qt.TextWordWrap), text)
            need_w = max(fm.horizontalAdvance(word) for line in text.splitlines() for word in line.split() or [""])
            need_h = box.height()
        else:
            need_w = max(fm.horizontalAdvance(line) for line in text.splitlines())
            need_h = fm.lineSpacing() * len(text.splitlines())
    if need_w > width + 1:
        return f"label {plain[:60]!r} needs {need_w:.0f} px, has {width}"
    if need_h > rect.height() + 2:
        return f"label {plain[:60]!r} needs {need_h:.0f} px of height, has {rect.height()}"
    return None


def _table_problems(table: QTableWidget) -> list[str]:
    out = []
    fm = QFontMetrics(table.font())
    header = table.horizontalHeader()
    hfm = QFontMetrics(header.font())
    total = sum(table.columnWidth(c) for c in range(table.columnCount()) if not table.isColumnHidden(c))
    if total > table.viewport().width() + 1:
        out.append(f"table {table.horizontalHeaderItem(0).text()!r}: columns {total} px in {table.viewport().width()}")
    for c in range(table.columnCount()):
        width = table.columnWidth(c)
        head = table.horizontalHeaderItem(c)
        if head is not None and hfm.horizontalAdvance(head.text()) + 8 > width:
            out.append(f"header {head.text()!r} needs {hfm.horizontalAdvance(head.text()) + 8} px, has {width}")
        for r in range(table.rowCount()):
            item = table.item(r, c)
            if item is not None and item.text() and fm.horizontalAdvance(item.text()) + 6 > width:
                out.append(f"cell {item.text()!r} needs {fm.horizontalAdvance(item.text()) + 6} px, has {width}")
    return out


def text_problems(root: QWidget) -> list[str]:
    """What does not fit (or reads "nan" / "-0") among the visible widgets under ``root``."""
    problems, texts = [], []
    for w in [root] + root.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0:
            continue
        if isinstance(w, QLabel):
            texts.append(w.text())
            problem = _label_problem(w)
        elif isinstance(w, QAbstractButton):
            texts.append(w.text())
            need = QFontMetrics(w.font()).horizontalAdvance(w.text()) + 8
            problem = f"button {w.text()!r} needs {need} px, has {w.width()}" if need > w.width() else None
        elif isinstance(w, QComboBox):
            texts.append(w.currentText())
            need = QFontMetrics(w.font()).horizontalAdvance(w.currentText()) + 24
            problem = f"combo {w.currentText()!r} needs {need} px, has {w.width()}" if need > w.width() else None
        elif isinstance(w, QGroupBox):
            need = QFontMetrics(w.font()).horizontalAdvance(w.title()) + 16
            problem = f"group {w.title()!r} needs {need} px" if need > w.width() else None
        elif isinstance(w, QTableWidget):
            problems += _table_problems(w)
            texts += [w.item(r, c).text() for r in range(w.rowCount()) for c in range(w.columnCount())
                      if w.item(r, c) is not None]
            problem = None
        else:
            problem = None
        if problem:
            problems.append(problem)
    for text in texts:
        if re.search(r"\bnan\b", text, re.IGNORECASE):
            problems.append(f"'nan' in {text!r}")
        if re.search(r"(?<![\w.])[−-]0(\.0+)?(?![\d.])", text):
            problems.append(f"negative zero in {text!r}")
    return problems


@pytest.fixture
def busy_window(make_window, store, tmp_path):
    from tests.report.sessions import build_primer_session

    primer_store, session_id = build_primer_session(tmp_path / "data", name="Primer P")
    primer_store.close()
    build_rehab_history(store)
    model, cal = known_board(2)
    window = make_window(SimOptions(seed=2, realtime=False, chunk_s=0.05, board_model=model), calibration=cal)
    window.resize(1500, 900)
    window.patients.refresh()
    return window, session_id


def _tab(window, title):
    bar = window.tabs.tabBar()
    window.tabs.setCurrentIndex(next(i for i in range(bar.count()) if bar.tabText(i) == title))


def test_every_tab_at_the_default_size_shows_every_text_whole(qtbot, busy_window, store, tmp_path):
    window, session_id = busy_window
    rehab = next(p for p in store.list_patients() if p.name.startswith("Runner B"))
    primer = next(p for p in store.list_patients() if p.name == "Primer P")
    seen = {}
    # results of the primer session: every block
    window.patients.select(primer.id)
    window.show_session(session_id)
    for title in ("L/R result", "Before / after", "Calibration", "Live"):
        _tab(window, title)
        qtbot.wait(50)
        window.redraw(full=True)
        seen[title] = text_problems(window)
        save_screenshot(window, tmp_path / f"text-bounds-{title.split()[0].replace('/', '').lower()}.png")
    # every block of the results page can be opened in the per-side table
    board = window.scoreboard
    _tab(window, "L/R result")
    for i in range(board.block.count()):
        board.block.setCurrentIndex(i)
        qtbot.wait(20)
        seen[f"L/R result: {board.block.currentText()}"] = text_problems(window)
    # the runner page mid-session, with the longest header and cue of the primer protocol
    _tab(window, "Protocol")
    panel = window.protocol
    panel.set_protocol("primer")
    panel._on_event(RunnerEvent("step", "primer round 3: rear-foot-elevated RDL, right leg",
                                {"index": 38, "total": 40, "step": {"kind": "rdl", "side": "right"}}))
    panel._on_event(RunnerEvent("cue", "Stand on your RIGHT leg, eyes open, hands on hips.", {"side": "right"}))
    panel._on_event(RunnerEvent("rep", "", {"count": 7, "target": 10}))
    panel._on_event(RunnerEvent("repeat", "Trial failed (stepped off the board after 6.2 s); repeating it.", {}))
    qtbot.wait(50)
    seen["Protocol (running)"] = text_problems(window)
    save_screenshot(window, tmp_path / "protocol-text-bounds.png")
    # the history of the rehab patient, with the side panel's full record and session list
    window.patients.select(rehab.id)
    _tab(window, "History")
    qtbot.wait(50)
    seen["History"] = text_problems(window)
    save_screenshot(window, tmp_path / "text-bounds-history.png")
    assert window.history.table.rowCount() == 5
    window.patients.begin_edit()
    qtbot.wait(20)
    seen["Edit patient"] = text_problems(window)
    bad = {k: v for k, v in seen.items() if v}
    assert not bad, "\n".join(f"{k}: {p}" for k, v in bad.items() for p in v)
