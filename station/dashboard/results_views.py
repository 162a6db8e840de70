"""The L/R scoreboard and the before/after view, filled from a session's scores.

Both draw the report model's worded rows (:func:`station.report.model.results_model` of a session's
scores, the rows the PDF prints): no statistics and no wording are made here.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from station.dashboard import theme
from station.report import wording
from station.report.model import results_model

def metric_text(key: str, *, rdl: bool = False) -> tuple[str, str, int]:
    """``(label, unit, decimals)`` of a metric from :mod:`station.core.registry` (the key itself if undeclared).

    ``rdl``: ``key`` is one of the RDL scoring's per-repetition keys (declared as ``rep_..._mean``).
    """
    spec = wording.metric_spec(key, rdl=rdl)
    if spec is None:
        return key.replace("_", " "), "", 1
    unit = "" if spec.unit in ("×", "") else spec.unit
    return spec.label, unit, spec.decimals


def metric_heading(key: str, *, rdl: bool = False) -> str:
    label, unit, _ = metric_text(key, rdl=rdl)
    return f"{label} ({unit})" if unit else label


#: the colour of each outcome's tone
TONE_COLOURS = {wording.Tone.BAD: theme.BAD, wording.Tone.GOOD: theme.GOOD, wording.Tone.NEUTRAL: theme.MUTED}


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    # one line per row, all rows the same height (wrapped rows made the tables ragged)
    table.setWordWrap(False)
    table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
    table.verticalHeader().setDefaultSectionSize(34)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.NoSelection)
    table.setFocusPolicy(Qt.NoFocus)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
    for col in range(1, len(headers)):
        table.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeToContents)
    return table


def _set_row(table: QTableWidget, row: int, cells: list[str], *, colour: str | None = None,
             first_colour: str | None = None) -> None:
    """Fill a row; ``colour`` tints the last cell (the verdict), ``first_colour`` the first (the side)."""
    for col, text in enumerate(cells):
        item = QTableWidgetItem(text)
        if col > 0:
            item.setTextAlignment(Qt.AlignCenter)
        if colour is not None and col == len(cells) - 1:
            item.setForeground(_qcolour(colour))
        if first_colour is not None and col == 0:
            item.setForeground(_qcolour(first_colour))
        table.setItem(row, col, item)


def _qcolour(name: str):
    from PySide6.QtGui import QColor

    return QColor(name)


def headline_block(scores) -> tuple[str, object] | None:
    """The first headline verdict of a session (baseline stance first, else the RDL).

    Returns ``(title, verdict row)`` (a :class:`station.report.model.VerdictRow`), or None when the
    session has no scores.
    """
    results = results_model(scores)
    if not results.verdicts:
        return None
    return results.verdicts[0].title, results.verdicts[0]


def badge_text(row) -> tuple[str, bool]:
    """``("RIGHT leg less stable\nSI +36 % [+21, +51] 96 % CI", side_named)`` from a verdict row."""
    text = row.headline
    if row.estimate != wording.NONE:
        text += f"\n{row.estimate}"
    return text, bool(row.verdict.less_stable)


class Scoreboard(QWidget):
    """Every headline verdict of the session (one row per block), and the per-side table of a chosen block.

    The headline rows are the report model's verdict rows -- the list page 1 of the report prints; a
    click on a row (or the block chooser) shows that block's measures per side: mean ± SD, the L/R
    comparison with its interval (each at its own level) and the outcome.
    """

    NOTE = ("SI = 200 (R − L) / (R + L); positive = the right leg sways more. Counts (touchdowns) and means near 0 "
            "are compared by the difference R − L instead. A side is named only when the headline test's interval "
            "excludes 0 (the patient's own trial-to-trial noise); every interval states its level.")

    def __init__(self, parent=None):
        super().__init__(parent)
        from PySide6.QtWidgets import QComboBox, QHBoxLayout

        self.title = QLabel("Results — no session scored yet")
        self.title.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.verdict = QLabel("Run a protocol or pick a session to see the result.")
        self.verdict.setFont(theme.font(theme.VERDICT_PT, bold=True))
        self.verdict.setWordWrap(True)
        self.verdict.setAlignment(Qt.AlignCenter)
        self.verdict.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.verdicts = _table(["result", "verdict", "estimate [confidence interval]"])
        self.verdicts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.verdicts.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        self.verdicts.cellClicked.connect(lambda row, _col: self.select_row(row))
        #: blocks described, not tested (the primer's RDL): each leg's figure with its 95 % interval
        self.descriptions = QLabel("")
        self.descriptions.setWordWrap(True)
        self.descriptions.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.descriptions.setVisible(False)
        self.block = QComboBox()
        self.block.currentIndexChanged.connect(self._on_block)
        self.block_label = QLabel("Per side:")
        chooser = QHBoxLayout()
        chooser.addWidget(self.block_label)
        chooser.addWidget(self.block, 1)
        self.table = _table(["metric", "LEFT leg", "RIGHT leg", "asymmetry [interval]", "verdict"])
        self.note = QLabel(self.NOTE)
        self.note.setWordWrap(True)
        self.note.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.note.setStyleSheet(f"color: {theme.MUTED};")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.verdict)
        layout.addWidget(self.verdicts)
        layout.addWidget(self.descriptions)
        layout.addLayout(chooser)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        self._results = results_model(None)

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.verdicts.setRowCount(0)
        self.descriptions.setText("")
        self.descriptions.setVisible(False)
        self.block.blockSignals(True)
        self.block.clear()
        self.block.blockSignals(False)
        self.title.setText("Results — no session scored yet")
        self.verdict.setText("Run a protocol or pick a session to see the result.")
        self.verdict.setStyleSheet("")

    def show_scores(self, scores) -> bool:
        """Show every headline verdict and the first block's table; False if the session has none."""
        results = results_model(scores)
        if not results.verdicts:
            self.clear()
            return False
        self._results = results
        self.title.setText("Results — every block of the session")
        self.verdicts.setRowCount(len(results.verdicts))
        for r, row in enumerate(results.verdicts):
            _set_row(self.verdicts, r, [row.title, row.headline, row.estimate])
            self.verdicts.item(r, 1).setForeground(_qcolour(TONE_COLOURS[row.tone]))
        self.verdicts.setFixedHeight(self.verdicts.horizontalHeader().height() + 34 * len(results.verdicts) + 4)
        self.descriptions.setText("\n".join(sentence for _title, sentence in results.descriptions))
        self.descriptions.setVisible(bool(results.descriptions))
        text, side_named = badge_text(results.verdicts[0])
        self.verdict.setText(text)
        self.verdict.setStyleSheet(theme.badge_style(theme.BAD if side_named else theme.MUTED))
        self.block.blockSignals(True)
        self.block.clear()
        for table in results.side_tables:
            self.block.addItem(table.title, table.key)
        self.block.blockSignals(False)
        self._on_block()
        self.note.setText(self.NOTE + (f" {results.score_meaning}" if results.scores.stance else ""))
        return True

    def select_row(self, row: int) -> None:
        """Show the per-side table of headline row ``row`` (before/after rows show the baseline block)."""
        if not 0 <= row < len(self._results.verdicts):
            return
        key = self._results.verdicts[row].verdict.block
        key = key if not key.startswith("before_after/") else "stance/baseline/" + key.split("/", 1)[1]
        index = self.block.findData(key)
        if index >= 0:
            self.block.setCurrentIndex(index)

    def _on_block(self, *_) -> None:
        table = self._results.side_table(self.block.currentData() or "")
        if table is None:
            self.table.setRowCount(0)
            return
        self.table.setRowCount(len(table.rows))
        for r, row in enumerate(table.rows):
            _set_row(self.table, r, [row.label, row.left, row.right, row.asymmetry, row.outcome],
                     colour=TONE_COLOURS[row.tone])


class BeforeAfter(QWidget):
    """Baseline versus post-primer per side and metric: change, MDC and the verdict."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Before / after the primer")
        self.title.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.summary = QLabel("No primer session selected.")
        self.summary.setFont(theme.font(theme.LARGE_PT))
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.table = _table(["side · metric", "before", "after", "change", "MDC95", "verdict"])
        note = QLabel("Top: the session's before/after verdicts (each leg's sway index, and the change of the "
                      "left/right asymmetry) with their intervals, as on page 1 of the report. Table: each "
                      "measure's change against its minimal detectable change (MDC, from the trial-to-trial "
                      "variability of this session); before = mean of the baseline trials, after = mean of the "
                      "trials after the primer; lower sway = improved.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {theme.MUTED};")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    def show_scores(self, scores) -> bool:
        tables = {t.condition: t for t in results_model(scores).change_tables}
        if not tables:
            self.table.setRowCount(0)
            self.title.setText("Before / after the primer")
            self.summary.setText("No before/after comparison in this session (run the primer protocol).")
            return False
        key = "eyes_open" if "eyes_open" in tables else min(tables)
        t = tables[key]
        self.title.setText(f"Before / after the primer — single-leg stance, {key.replace('_', ' ')}")
        # the headline: the session's before/after verdicts (per leg, then the asymmetry change), as the
        # report's page 1 lists them; the table below is the per-metric detail
        lines = [f"<b>{escape(wording.verdict_subject(row.verdict))}:</b> <span style='color:{TONE_COLOURS[row.tone]}'>"
                 f"{escape(row.verdict.outcome.value)}</span> ({escape(row.estimate)})" for row in t.legs]
        before = f"before (mean of {t.n_baseline})" if t.n_baseline else "before"
        after = f"after (mean of {t.n_post})" if t.n_post else "after"
        self.table.setHorizontalHeaderLabels(["side · metric", before, after, "change", t.mdc_heading, "verdict"])
        self.table.setRowCount(len(t.rows))
        for r, row in enumerate(t.rows):
            _set_row(self.table, r, [f"{row.side.upper()} · {row.label}", row.baseline, row.post, row.change,
                                     row.mdc + (" (default)" if row.default_mdc else ""), row.outcome],
                     colour=TONE_COLOURS[row.tone], first_colour=theme.LEFT if row.side == "left" else theme.RIGHT)
        self.summary.setText("&nbsp;&nbsp;·&nbsp;&nbsp;".join(lines) or "No verdict.")
        return True
