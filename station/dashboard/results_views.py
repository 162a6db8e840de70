"""The L/R scoreboard and the before/after view, filled from a session's scores.

Both read the dict of :func:`station.assessment.scoring.score_session` (docs/ASSESSMENT.md §4–5)
and only format it: no statistics are computed here.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from station.dashboard import theme

#: metric key -> (label, unit, decimals), in display order
STANCE_METRICS = {
    "stability_score": ("Stability score (0–100, higher = steadier)", "", 0),
    "sway_index": ("Sway index (1 = reference sway)", "", 2),
    "mean_velocity_ml_mm_s": ("ML sway velocity", "mm/s", 1),
    "range_ml_mm": ("ML range", "mm", 1),
    "ellipse95_area_mm2": ("95 % ellipse area", "mm²", 0),
    "mean_velocity_mm_s": ("Total sway velocity", "mm/s", 1),
    "touchdowns": ("Touchdowns of the free foot", "", 1),
}

RDL_METRICS = {
    "lateral_shift_mm": ("Lateral weight shift per repetition", "mm", 1),
    "ml_sd_mm": ("ML sway SD per repetition", "mm", 1),
    "duration_s": ("Repetition duration", "s", 1),
}


def _fmt(value, decimals: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return _no_negative_zero(f"{value:.{decimals}f}")


def _no_negative_zero(text: str) -> str:
    """``-0.00`` -> ``0.00``, ``-0 %`` -> ``0 %``: a change that rounds to zero has no sign."""
    if text.startswith("-") and not any(c in "123456789" for c in text.split(" ")[0]):
        return text[1:]
    return text


def _signed(value: float, decimals: int, suffix: str = "") -> str:
    """``+1.5``, ``-0.3``, ``0.0`` (no sign on a change that rounds to zero)."""
    text = f"{value:+.{decimals}f}"
    if not any(c in "123456789" for c in text):
        text = text[1:]
    return text + suffix


def _mean_sd(summary: dict | None, decimals: int) -> str:
    if not summary or summary.get("mean") is None:
        return "—"
    sd = summary.get("sd")
    text = _fmt(summary["mean"], decimals)
    if sd is not None and math.isfinite(sd):
        text += f" ± {_fmt(sd, decimals)}"
    return text + f"  (n={summary.get('n', 0)})"


def _si_text(asym: dict | None) -> str:
    if not asym or asym.get("si_pct") is None:
        return "—"
    text = f"{asym['si_pct']:+.0f} %"
    lo, hi = asym.get("ci_low_pct"), asym.get("ci_high_pct")
    if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
        text += f"  [{lo:+.0f} to {hi:+.0f}]"
    return text


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


def headline_block(scores: dict | None) -> tuple[str, dict] | None:
    """The block a session's verdict comes from: the first baseline stance block, else the RDL.

    Returns ``(title, block)`` or None when the session has no scores.
    """
    scores = scores or {}
    stance = scores.get("stance") or {}
    if stance:
        key = min(stance, key=lambda k: (not k.startswith("baseline"), k))
        return f"Single-leg stance — {key.replace('/', ', ').replace('_', ' ')}", stance[key]
    if scores.get("rdl"):
        return "Single-leg Romanian dead-lift", scores["rdl"]
    return None


def verdict_headline(block: dict) -> tuple[str, bool]:
    """``("RIGHT leg less stable\nasymmetry +36 % (95 % CI +21 to +51 %)", side_named)``."""
    overall = block.get("verdict") or {}
    less = block.get("less_stable")
    text = f"{less.upper()} leg less stable" if less else (overall.get("verdict") or "no verdict").capitalize()
    si = overall.get("si_pct")
    if si is not None and math.isfinite(si):
        text += f"\nasymmetry {si:+.0f} %"
        lo, hi = overall.get("ci_low_pct"), overall.get("ci_high_pct")
        if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
            text += f" (95 % CI {lo:+.0f} to {hi:+.0f} %)"
    return text, bool(less)


def verdict_colour(verdict: str | None) -> str:
    text = (verdict or "").lower()
    if "less stable" in text or "worse" in text:
        return theme.BAD
    if "improved" in text:
        return theme.GOOD
    return theme.MUTED


class Scoreboard(QWidget):
    """Left versus right: per-side mean ± SD, asymmetry index with its 95 % interval, the verdict."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Left / right — no session scored yet")
        self.title.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.verdict = QLabel("Run a protocol or pick a session to see the result.")
        self.verdict.setFont(theme.font(theme.VERDICT_PT, bold=True))
        self.verdict.setWordWrap(True)
        self.verdict.setAlignment(Qt.AlignCenter)
        self.table = _table(["metric", "LEFT leg", "RIGHT leg", "asymmetry SI (95 % CI)", "verdict"])
        self.note = QLabel("SI = 200 (R − L) / (R + L); positive = the right leg sways more. A side is named only "
                           "when the 95 % interval excludes 0 (the patient's own trial-to-trial noise).")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {theme.MUTED};")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.verdict.setText("Run a protocol or pick a session to see the result.")
        self.verdict.setStyleSheet("")

    def show_scores(self, scores: dict | None) -> bool:
        """Show the session's headline block (first baseline stance block, else RDL); False if none."""
        found = headline_block(scores)
        if found is None:
            self.clear()
            return False
        title, block = found
        self._show_block(block, title, STANCE_METRICS if (scores or {}).get("stance") else RDL_METRICS)
        return True

    def _show_block(self, block: dict, title: str, metrics: dict) -> None:
        self.title.setText(title)
        sides = block.get("sides", {})
        asym = block.get("asymmetry", {})
        rows = [m for m in metrics if m in sides.get("left", {}) or m in sides.get("right", {}) or m in asym]
        self.table.setRowCount(len(rows))
        for r, key in enumerate(rows):
            label, unit, decimals = metrics[key]
            a = asym.get(key) or (block.get("verdict") if key == "sway_index" else None)
            verdict = (a or {}).get("verdict", "")
            _set_row(self.table, r, [
                f"{label}" + (f" ({unit})" if unit else ""),
                _mean_sd(sides.get("left", {}).get(key), decimals),
                _mean_sd(sides.get("right", {}).get(key), decimals),
                _si_text(a),
                verdict,
            ], colour=verdict_colour(verdict))
        text, side_named = verdict_headline(block)
        self.verdict.setText(text)
        self.verdict.setStyleSheet(theme.badge_style(theme.BAD if side_named else theme.MUTED))


BEFORE_AFTER_METRICS = {
    "sway_index": ("Sway index", "", 2),
    "mean_velocity_ml_mm_s": ("ML sway velocity", "mm/s", 1),
    "range_ml_mm": ("ML range", "mm", 1),
    "ellipse95_area_mm2": ("95 % ellipse area", "mm²", 0),
    "mean_velocity_mm_s": ("Total sway velocity", "mm/s", 1),
}


class BeforeAfter(QWidget):
    """Baseline versus post-primer per side and metric: change, MDC95 and the verdict."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Before / after the primer")
        self.title.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.summary = QLabel("No primer session selected.")
        self.summary.setFont(theme.font(theme.LARGE_PT))
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.table = _table(["side · metric", "before", "after", "change", "MDC95", "verdict"])
        note = QLabel("Before = mean of the baseline trials, after = mean of the trials after the primer. A change "
                      "counts only when it is larger than the minimal detectable change (MDC95, from the trial-to-"
                      "trial variability of this session); lower sway = improved. The side's verdict follows its "
                      "sway index.")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {theme.MUTED};")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)

    def show_scores(self, scores: dict | None) -> bool:
        blocks = (scores or {}).get("before_after") or {}
        if not blocks:
            self.table.setRowCount(0)
            self.title.setText("Before / after the primer")
            self.summary.setText("No before/after comparison in this session (run the primer protocol).")
            return False
        key = "eyes_open" if "eyes_open" in blocks else min(blocks)
        sides = blocks[key].get("sides", {})
        self.title.setText(f"Before / after the primer — single-leg stance, {key.replace('_', ' ')}")
        rows, lines = [], []
        counts = set()
        for side in ("left", "right"):
            data = sides.get(side) or {}
            verdict = data.get("verdict")
            if isinstance(verdict, dict):
                verdict = verdict.get("verdict")
            index = (data.get("metrics") or {}).get("sway_index") or {}
            if verdict:
                detail = ""
                if index.get("change_pct") is not None:
                    detail = f" (sway index {_signed(index['change_pct'], 0, ' %')})"
                lines.append(f"<b>{side.upper()} leg:</b> <span style='color:{verdict_colour(verdict)}'>"
                             f"{verdict}</span>{detail}")
            for metric, (label, unit, decimals) in BEFORE_AFTER_METRICS.items():
                m = (data.get("metrics") or {}).get(metric)
                if m:
                    rows.append((side, label, unit, decimals, m))
                    counts.add((m.get("n_baseline"), m.get("n_post")))
        if len(counts) == 1:
            n_before, n_after = counts.pop()
            if n_before and n_after:
                self.table.setHorizontalHeaderLabels(["side · metric", f"before (mean of {n_before})",
                                                      f"after (mean of {n_after})", "change", "MDC95", "verdict"])
        self.table.setRowCount(len(rows))
        for r, (side, label, unit, decimals, m) in enumerate(rows):
            change = _fmt(m.get("change"), decimals)
            if m.get("change") is not None and m.get("change_pct") is not None:
                change = f"{_signed(m['change'], decimals)} ({_signed(m['change_pct'], 0, ' %')})"
            mdc = _fmt(m.get("mdc95"), decimals) + (" (default)" if m.get("mdc_source") == "default" else "")
            _set_row(self.table, r, [
                f"{side.upper()} · {label}" + (f" ({unit})" if unit else ""),
                _fmt(m.get("baseline_mean"), decimals),
                _fmt(m.get("post_mean"), decimals),
                change,
                mdc,
                m.get("verdict", ""),
            ], colour=verdict_colour(m.get("verdict")), first_colour=theme.LEFT if side == "left" else theme.RIGHT)
        self.summary.setText("&nbsp;&nbsp;·&nbsp;&nbsp;".join(lines) or "No verdict.")
        return True
