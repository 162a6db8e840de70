"""Patient history: the headline asymmetry and each side's sway, with intervals, across the patient's visits.

The numbers come from :func:`station.report.history.patient_history` (the stored scores of each
session), the same as the report's history page; the clinician sets the return-to-sport criterion
here and each visit shows met / not met / undecided.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from station.dashboard import theme
from station.dashboard.results_views import _set_row, _table, metric_heading

CRITERION_COLOURS = {"met": theme.GOOD, "not met": theme.BAD, "undecided": theme.MUTED}


#: the asymmetry chart's title before a patient is chosen; with visits it names the levels they carry
SI_TITLE = "Asymmetry per visit (SI with its interval)"


def _plot(title: str, ylabel: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="#202020", size="12pt")
    plot.setLabel("left", ylabel)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setTextPen("#303030")
        plot.getAxis(axis).setPen("#606060")
    return plot


def _errors(plot, x, y, low, high, colour: str, name: str) -> None:
    x, y, low, high = (np.asarray(v, float) for v in (x, y, low, high))
    ok = np.isfinite(low) & np.isfinite(high) & np.isfinite(y)
    if ok.any():
        plot.addItem(pg.ErrorBarItem(x=x[ok], y=y[ok], top=high[ok] - y[ok], bottom=y[ok] - low[ok], beam=0.12,
                                     pen=pg.mkPen(colour, width=2)))
    plot.plot(x, y, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=9, symbolBrush=colour,
              symbolPen=colour, name=name)


class HistoryView(QWidget):
    """The chosen patient's visits: SI chart with the criterion band, per-side sway chart, visit table."""

    def __init__(self, store, parent=None):
        super().__init__(parent)
        from station.report.history import Criterion

        self.store = store
        self.patient = None
        self.history: list[dict] = []
        default = Criterion.load(store.data_dir)
        self.title = QLabel("Patient history — pick a patient")
        self.title.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.max_si = QDoubleSpinBox()
        self.max_si.setRange(1.0, 50.0)
        self.max_si.setDecimals(0)
        self.max_si.setSuffix(" %")
        self.max_si.setValue(default.max_si_pct)
        self.ci_within = QDoubleSpinBox()
        self.ci_within.setRange(1.0, 80.0)
        self.ci_within.setDecimals(0)
        self.ci_within.setSuffix(" %")
        self.ci_within.setValue(default.ci_within_pct)
        for box in (self.max_si, self.ci_within):
            box.valueChanged.connect(self._criterion_changed)
        criterion = QHBoxLayout()
        criterion.addWidget(QLabel("Return-to-sport criterion:  |SI| ≤"))
        criterion.addWidget(self.max_si)
        criterion.addWidget(QLabel("with its interval inside ±"))
        criterion.addWidget(self.ci_within)
        criterion.addStretch(1)
        self.summary = QLabel("")
        self.summary.setFont(theme.font(theme.LARGE_PT, bold=True))
        self.summary.setWordWrap(True)
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.si_plot = _plot(SI_TITLE, "SI (%), + = right sways more")
        from station.report.history import SIDE_LEVEL, SWAY_METRIC
        from station.report.wording import level_text

        self.sway_plot = _plot(f"{metric_heading(SWAY_METRIC)} per leg (mean, {level_text(SIDE_LEVEL)} interval)",
                               metric_heading(SWAY_METRIC))
        self.sway_plot.addLegend(offset=(-10, 10))
        self.table = _table(["visit", "date", "asymmetry (interval)", "LEFT leg", "RIGHT leg", "criterion"])
        from PySide6.QtWidgets import QHeaderView

        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        note = QLabel("Baseline single-leg stance, eyes open, of every session. met: |SI| and its whole interval "
                      "within the limits; not met: the whole interval beyond the SI limit; undecided: the interval "
                      "is too wide to tell, or SI is undefined.")
        note.setWordWrap(True)
        note.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        note.setStyleSheet(f"color: {theme.MUTED};")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(criterion)
        layout.addWidget(self.summary)
        plots = QHBoxLayout()
        plots.addWidget(self.si_plot)
        plots.addWidget(self.sway_plot)
        layout.addLayout(plots, 3)
        layout.addWidget(self.table, 2)
        layout.addWidget(note)

    def criterion(self):
        from station.errors import StationError
        from station.report.history import Criterion

        try:
            return Criterion(float(self.max_si.value()), float(self.ci_within.value()))
        except StationError:
            return Criterion(float(self.max_si.value()), float(self.max_si.value()))

    def _criterion_changed(self, *_) -> None:
        """Keep the clinic's criterion (reports written from the command line use it too), then redraw."""
        from station.errors import StationError

        try:
            self.criterion().save(self.store.data_dir)
        except (OSError, StationError) as exc:
            self.summary.setText(f"The criterion could not be saved: {exc}")
        self.redraw()

    def show_patient(self, patient) -> None:
        self.patient = patient
        self.redraw()

    def redraw(self, *_) -> None:
        from station.report.history import SWAY_METRIC, patient_history
        from station.dashboard.results_views import metric_text
        from station.report.wording import level_text, range_text, verdict_estimate

        self.si_plot.clear()
        self.si_plot.setTitle(SI_TITLE, color="#202020", size="12pt")
        self.sway_plot.clear()
        self.table.setRowCount(0)
        if self.patient is None:
            self.title.setText("Patient history — pick a patient")
            self.summary.setText("")
            self.history = []
            return
        criterion = self.criterion()
        self.history = history = patient_history(self.store, self.patient.id, criterion=criterion)
        self.title.setText(f"Patient history — {self.patient.name}, {len(history)} visit(s)")
        if not history:
            self.summary.setText("No scored single-leg stance session yet.")
            return
        last = history[-1]
        self.summary.setText(f"Latest visit ({last['date']}): criterion {last['criterion']}")
        self.summary.setStyleSheet(f"color: {CRITERION_COLOURS[last['criterion']]};")
        x = np.arange(1, len(history) + 1, dtype=float)
        band = criterion.ci_within_pct
        for limit, colour in ((band, (27, 127, 59, 35)), (criterion.max_si_pct, (27, 127, 59, 60))):
            region = pg.LinearRegionItem(values=(-limit, limit), orientation="horizontal", movable=False,
                                         brush=pg.mkBrush(*colour), pen=pg.mkPen(None))
            self.si_plot.addItem(region)
        si = [h["measure"] == "SI" for h in history]
        # each visit's interval is that session's headline test, at its own level (an adaptive block that
        # stopped at an interim look: 99.9 %): the title names every level shown, the table each visit's
        levels = sorted({h["level"] for h, ok in zip(history, si) if ok and h["level"]})
        if levels:
            self.si_plot.setTitle(f"Asymmetry per visit (SI with its {' or '.join(map(level_text, levels))} interval)",
                                  color="#202020", size="12pt")
        _errors(self.si_plot, x[si], [h["estimate"] for h, ok in zip(history, si) if ok],
                [h["ci_low"] for h, ok in zip(history, si) if ok], [h["ci_high"] for h, ok in zip(history, si) if ok],
                "#303030", "SI")
        for offset, side, colour in ((-0.06, "left", theme.LEFT), (0.06, "right", theme.RIGHT)):
            vals = np.array([h["sides"][side] for h in history], float).reshape(-1, 3)
            _errors(self.sway_plot, x + offset, vals[:, 0], vals[:, 1], vals[:, 2], colour, f"{side} leg")
        ticks = [[(float(i), f"#{i} {h['date'][5:]}") for i, h in zip(range(1, len(x) + 1), history)]]
        for plot in (self.si_plot, self.sway_plot):
            plot.getAxis("bottom").setTicks(ticks)
            plot.setXRange(0.5, len(history) + 0.5, padding=0)
        _, _, decimals = metric_text(SWAY_METRIC)
        self.table.setRowCount(len(history))
        for r, h in enumerate(history):
            cells = [str(r + 1), h["date"], verdict_estimate(h["verdict"])]
            for side in ("left", "right"):
                cells.append(range_text(*h["sides"][side], decimals=decimals))
            cells.append(h["criterion"])
            _set_row(self.table, r, cells, colour=CRITERION_COLOURS[h["criterion"]])
