"""The L/R scoreboard and the before/after view, filled from a session's scores.

Both read the dict of :func:`station.assessment.scoring.score_session` (docs/ASSESSMENT.md §4–5)
and only format it: no statistics are computed here.
"""

from __future__ import annotations

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

#: stance metrics shown per side, in display order (labels, units and decimals from the registry)
STANCE_METRICS = ("sway_index", "stability_score", "mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2",
                  "mean_velocity_mm_s", "touchdowns")
RDL_METRICS = ("lateral_shift_mm", "ml_max_dev_mm", "duration_s")
#: metrics that count events: their per-trial means get one decimal more than the count itself
COUNT_METRICS = ("touchdowns",)


def metric_text(key: str, *, rdl: bool = False) -> tuple[str, str, int]:
    """``(label, unit, decimals)`` of a metric from :mod:`station.core.registry` (the key itself if undeclared).

    ``rdl``: ``key`` is one of the RDL scoring's per-repetition keys (declared as ``rep_..._mean``).
    """
    from station.core import registry
    from station.report.session import RDL_REGISTRY_KEYS

    try:
        spec = registry.spec(RDL_REGISTRY_KEYS.get(key, key) if rdl else key)
    except (KeyError, ValueError):
        return key.replace("_", " "), "", 1
    unit = "" if spec.unit in ("×", "") else spec.unit
    return spec.label, unit, spec.decimals


def metric_heading(key: str, *, rdl: bool = False) -> str:
    label, unit, _ = metric_text(key, rdl=rdl)
    return f"{label} ({unit})" if unit else label


def _fmt(value, decimals: int) -> str:
    from station.core.registry import format_value

    return format_value(value, decimals)


def _signed(value: float, decimals: int, suffix: str = "") -> str:
    """``+1.5``, ``-0.3``, ``0.0`` (no sign on a change that rounds to zero; "—" when undefined)."""
    from station.core.registry import format_value

    text = format_value(value, decimals, sign=True)
    if text.lstrip("+-") == format_value(0.0, decimals):
        text = text.lstrip("+-")
    return text + (suffix if text != "—" else "")


def _mean_sd(summary: dict | None, decimals: int) -> str:
    if not summary or _fmt(summary.get("mean"), decimals) == "—":
        return "—"
    sd = summary.get("sd")
    text = _fmt(summary["mean"], decimals)
    if _fmt(sd, decimals) != "—":
        text += f" ± {_fmt(sd, decimals)}"
    return text + f"  (n={summary.get('n', 0)})"


def _si_text(asym: dict | None) -> str:
    """SI with its interval, or -- where SI is undefined (counts, a side near 0) -- the difference R − L."""
    from station.report.session import asymmetry_estimate, interval_text

    if not asym:
        return "—"
    measure, est, low, high, unit = asymmetry_estimate(asym)
    text = interval_text(est, low, high, unit=unit, decimals=None if unit == "%" else 1).replace("95 % CI ", "")
    if text == "—":
        return "—"
    return text if measure == "SI" else f"R − L {text}"


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
    """The first headline verdict of a session (baseline stance first, else the RDL).

    Returns ``(title, verdict)`` with ``verdict`` one entry of
    :func:`station.report.session.headline_verdicts`, or None when the session has no scores.
    """
    from station.report.session import block_title, headline_verdicts

    verdicts = headline_verdicts(scores)
    if not verdicts:
        return None
    return block_title(verdicts[0]["block"]), verdicts[0]


def verdict_headline(verdict: dict) -> tuple[str, bool]:
    """``("RIGHT leg less stable\nSI +36 % (96 % CI +21 to +51)", side_named)`` from a headline verdict."""
    from station.report.session import verdict_estimate
    from station.report.session import verdict_headline as headline

    text = headline(verdict)
    estimate = verdict_estimate(verdict)
    if estimate != "—":
        text += f"\n{estimate}"
    return text, bool(verdict.get("less_stable"))


def verdict_colour(verdict: str | None) -> str:
    text = (verdict or "").lower()
    if "less stable" in text or "worse" in text or "increased" in text:
        return theme.BAD
    if "improved" in text or "reduced" in text:
        return theme.GOOD
    return theme.MUTED


class Scoreboard(QWidget):
    NOTE = ("SI = 200 (R − L) / (R + L); positive = the right leg sways more. Counts (touchdowns) and means near 0 "
            "are compared by the difference R − L instead. A side is named only when the headline test's interval (96 %) excludes 0 "
            "(the patient's own trial-to-trial noise).")
    """Every headline verdict of the session (one row per block), and the per-side table of a chosen block.

    The headline rows are :func:`station.report.session.headline_verdicts` -- the list page 1 of the
    report prints; a click on a row (or the block chooser) shows that block's metrics per side:
    mean ± SD, SI with its 95 % interval (or the difference R − L where SI is undefined) and the
    verdict.
    """

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
        self.verdicts = _table(["result", "verdict", "estimate (confidence interval)"])
        self.verdicts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.verdicts.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        self.verdicts.cellClicked.connect(lambda row, _col: self.select_row(row))
        self.block = QComboBox()
        self.block.currentIndexChanged.connect(self._on_block)
        self.block_label = QLabel("Per side:")
        chooser = QHBoxLayout()
        chooser.addWidget(self.block_label)
        chooser.addWidget(self.block, 1)
        self.table = _table(["metric", "LEFT leg", "RIGHT leg", "asymmetry (95 % CI)", "verdict"])
        self.note = QLabel(self.NOTE)
        self.note.setWordWrap(True)
        self.note.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.note.setStyleSheet(f"color: {theme.MUTED};")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.verdict)
        layout.addWidget(self.verdicts)
        layout.addLayout(chooser)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        self._scores: dict = {}
        self._rows: list[dict] = []

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.verdicts.setRowCount(0)
        self.block.blockSignals(True)
        self.block.clear()
        self.block.blockSignals(False)
        self.title.setText("Results — no session scored yet")
        self.verdict.setText("Run a protocol or pick a session to see the result.")
        self.verdict.setStyleSheet("")

    def show_scores(self, scores: dict | None) -> bool:
        """Show every headline verdict and the first block's table; False if the session has none."""
        from station.report.session import block_title, headline_verdicts

        verdicts = headline_verdicts(scores)
        if not verdicts:
            self.clear()
            return False
        self._scores = scores or {}
        self._rows = verdicts
        self.title.setText("Results — every block of the session")
        self.verdicts.setRowCount(len(verdicts))
        from station.report.session import verdict_estimate
        from station.report.session import verdict_headline as headline

        for r, v in enumerate(verdicts):
            _set_row(self.verdicts, r, [block_title(v["block"]), headline(v), verdict_estimate(v)],
                     colour=None, first_colour=None)
            self.verdicts.item(r, 1).setForeground(_qcolour(verdict_colour(v.get("verdict"))))
        self.verdicts.setFixedHeight(self.verdicts.horizontalHeader().height() + 34 * len(verdicts) + 4)
        text, side_named = verdict_headline(verdicts[0])
        self.verdict.setText(text)
        self.verdict.setStyleSheet(theme.badge_style(theme.BAD if side_named else theme.MUTED))
        self.block.blockSignals(True)
        self.block.clear()
        for key, title in detail_blocks(self._scores):
            self.block.addItem(title, key)
        self.block.blockSignals(False)
        self._on_block()
        meaning = (self._scores.get("score_meaning") or {}).get("text")
        self.note.setText(self.NOTE + (f" {meaning}" if meaning else ""))
        return True

    def select_row(self, row: int) -> None:
        """Show the per-side table of headline row ``row`` (before/after rows show the baseline block)."""
        if not 0 <= row < len(self._rows):
            return
        key = self._rows[row]["block"]
        key = key if not key.startswith("before_after/") else "stance/baseline/" + key.split("/", 1)[1]
        index = self.block.findData(key)
        if index >= 0:
            self.block.setCurrentIndex(index)

    def _on_block(self, *_) -> None:
        key = self.block.currentData()
        if key is None:
            self.table.setRowCount(0)
            return
        block = detail_block(self._scores, key)
        self._show_block(block, STANCE_METRICS if key.startswith("stance/") else RDL_METRICS,
                         rdl=not key.startswith("stance/"))

    def _show_block(self, block: dict, metrics: tuple, *, rdl: bool = False) -> None:
        sides = block.get("sides", {})
        asym = block.get("asymmetry", {})
        meaning = self._scores.get("score_meaning") or {}
        from station.report.session import RDL_REGISTRY_KEYS

        # only measures the metric registry declares (their labels are written once, there)
        rows = [m for m in metrics if (m in sides.get("left", {}) or m in sides.get("right", {}) or m in asym)
                and (_declared(RDL_REGISTRY_KEYS.get(m, m) if rdl else m) or meaning.get("key") == m)]
        self.table.setRowCount(len(rows))
        for r, key in enumerate(rows):
            _label, _unit, decimals = metric_text(key, rdl=rdl)
            if key in COUNT_METRICS:
                decimals += 1
            a = asym.get(key) or (block.get("verdict") if key == "sway_index" else None)
            verdict = (a or {}).get("verdict", "")
            heading = metric_heading(key, rdl=rdl)
            if meaning.get("key") == key and meaning.get("name"):
                lo, hi = (meaning.get("range") or (0, 100))[:2]
                heading = f"{meaning['name']} ({lo:g}–{hi:g})"
                decimals = 0
            _set_row(self.table, r, [
                heading,
                _mean_sd(sides.get("left", {}).get(key), decimals),
                _mean_sd(sides.get("right", {}).get(key), decimals),
                _si_text(a) if a else "",
                verdict,
            ], colour=verdict_colour(verdict))


def _declared(key: str) -> bool:
    from station.core import registry

    try:
        registry.spec(key)
    except (KeyError, ValueError):
        return False
    return True


def detail_blocks(scores: dict) -> list[tuple[str, str]]:
    """``[(key, title)]`` of the blocks with a per-side table: stance blocks, RDL, primer RDL."""
    from station.report.session import block_title

    out = []
    stance = scores.get("stance") or {}
    order = {"baseline": 0, "post_primer": 1}
    for key in sorted(stance, key=lambda k: (order.get(k.split("/")[0], 2), k)):
        out.append((f"stance/{key}", block_title(f"stance/{key}")))
    for key in ("rdl", "primer_rdl"):
        if scores.get(key):
            out.append((key, block_title(key)))
    return out


def detail_block(scores: dict, key: str) -> dict:
    if key.startswith("stance/"):
        return (scores.get("stance") or {}).get(key.split("/", 1)[1]) or {}
    return scores.get(key) or {}


BEFORE_AFTER_METRICS = ("sway_index", "mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2", "mean_velocity_mm_s")


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
        note = QLabel("Top: the session's before/after verdicts (each leg's sway index, and the change of the "
                      "left/right asymmetry) with their intervals, as on page 1 of the report. Table: each "
                      "measure's change against its minimal detectable change (MDC95, from the trial-to-trial "
                      "variability of this session); before = mean of the baseline trials, after = mean of the "
                      "trials after the primer; lower sway = improved.")
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
        from station.report.session import headline_verdicts, verdict_estimate

        # the headline: the session's before/after verdicts (per leg, then the asymmetry change), as the
        # report's page 1 lists them; the table below is the per-metric detail
        for v in headline_verdicts(scores):
            if v.get("kind") != "before_after" or not v["block"].endswith("/" + key):
                continue
            who = f"{v['side'].upper()} leg" if v.get("side") else "Asymmetry"
            lines.append(f"<b>{who}:</b> <span style='color:{verdict_colour(v.get('verdict'))}'>"
                         f"{v.get('verdict', '')}</span> ({verdict_estimate(v)})")
        for side in ("left", "right"):
            data = sides.get(side) or {}
            for metric in BEFORE_AFTER_METRICS:
                m = (data.get("metrics") or {}).get(metric)
                if m:
                    label, unit, decimals = metric_text(metric)
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
