"""Live views: statokinesigram, ML/AP time series, per-cell load bars, link quality.

Each view has ``show_frame(frame)`` (or ``show_quality``) called by the window's redraw timer: the
views never read the board themselves, so their cost per redraw is one ``setData`` per curve.

What keeps a 1 kHz board at >= 30 fps (measured with ``bench/dashboard.py``): curves get at most about
two points per pixel column (the COP trail a stride of 1000 points, the time series the min/max of
each column, :func:`~station.dashboard.live_data.peak_decimate`); long traces use 1 px pens without
antialiasing; the 95 % ellipse, the read-outs and the zoom follow the data at ``SLOW_HZ`` and the
load bars at ``BARS_HZ`` (a changed label text costs a relayout); axes and their grids are cached as
pixmaps (they were repainted with every curve update).
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from station.core.cop import G_N_PER_KG
from station.dashboard import theme
from station.dashboard.live_data import (
    LiveFrame,
    decimate,
    ellipse95_outline,
    peak_decimate,
)

CELLS = ("fl", "fr", "bl", "br")
CELL_NAMES = ("front left", "front right", "back left", "back right")
#: margin drawn around the sensor rectangle to suggest the board's plate
PLATE_MARGIN_MM = 40.0
#: half-width of the zoomed statokinesigram around the trail's mean (mm)
ZOOM_HALF_MM = 60.0
#: most points drawn in the COP trail (sway lives below 10 Hz: 100 points/s is plenty)
TRAIL_POINTS = 1000
#: how often the 95 % ellipse, the COP read-out and the zoom follow the data (Hz, wall clock); the
#: trail and the dot move at the full redraw rate. Numbers changing faster than this cannot be read,
#: and every text change costs a relayout.
SLOW_HZ = 5.0
#: how often the load bars and the weight read-out change (Hz, wall clock; the bars average 0.1 s)
BARS_HZ = 10.0

# Antialiasing only on the data curves: axes and grids drawn without it cost a fraction in the
# software rasteriser (offscreen, remote desktops), and axes are redrawn only when a range changes.
pg.setConfigOptions(antialias=False, background="w", foreground="k")
#: grid line opacity (major ticks only would be nicer; pyqtgraph draws all levels)
GRID_ALPHA = 0.2


def _stepped(value: float, step: float) -> float:
    """``value`` rounded to ``step``: ranges that follow the data move in steps, not every frame."""
    return float(np.round(value / step) * step)


def _elastic(label: QLabel) -> QLabel:
    """A label whose changing text never widens the window (it elides/wraps instead)."""
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    label.setMinimumWidth(120)
    return label


def _plot(title: str | None = None) -> pg.PlotWidget:
    w = pg.PlotWidget()
    if title:
        w.setTitle(title, size="13pt")
    w.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    w.setMenuEnabled(False)
    for name in ("left", "bottom"):
        ax = w.getPlotItem().getAxis(name)
        ax.setStyle(maxTickLevel=0)  # major ticks and grid lines only: readable, and cheap to repaint
        ax.setTickFont(theme.font(10))
        ax.label.setFont(theme.font(11))
        # The grid lines belong to the axis item, whose bounding rect covers the whole plot: every
        # curve update repainted (replayed) both axes and their grids. A device-coordinate cache
        # keeps them as a pixmap until their range changes (pyqtgraph then calls update()).
        ax.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
    return w


class Statokinesigram(QWidget):
    """COP trail seen from above, with the 95 % prediction ellipse, the board outline and the cells.

    Parameters
    ----------
    positions_mm : (4, 2) sensor positions fl, fr, bl, br
    trail_s : float
        Seconds of trail drawn.
    """

    def __init__(self, positions_mm, *, trail_s: float = 10.0, zoom: bool = True, parent=None):
        super().__init__(parent)
        self.trail_s = float(trail_s)
        self.plot = _plot("Centre of pressure (seen from above)")
        item = self.plot.getPlotItem()
        item.setAspectLocked(True)
        item.setLabel("bottom", "ML (mm)   subject's right →")
        item.setLabel("left", "AP (mm)   forward →")
        self.outline = item.plot(pen=pg.mkPen("#888888", width=2))
        self.sensors = pg.ScatterPlotItem(size=16, symbol="s", brush=pg.mkBrush("#bbbbbb"), pen=pg.mkPen("#555555"))
        item.addItem(self.sensors)
        self.sensor_labels = []
        for _ in CELLS:
            label = pg.TextItem(color="#444444", anchor=(0.5, 0.5))
            label.setFont(theme.font(10, bold=True))
            item.addItem(label)
            self.sensor_labels.append(label)
        # a 1 px pen without antialiasing: Qt draws it as plain line segments (wide or antialiased
        # pens go through the path stroker, several times slower for a 1000-point trail)
        self.trail = item.plot(pen=pg.mkPen(theme.TRAIL, width=1), antialias=False)
        self.ellipse = item.plot(pen=pg.mkPen(theme.ELLIPSE, width=3), antialias=True)
        self.dot = pg.ScatterPlotItem(size=18, brush=pg.mkBrush("#1b7f3b"), pen=pg.mkPen("w", width=2))
        item.addItem(self.dot)
        self.zoom = QCheckBox("Zoom to the sway")
        self.zoom.setChecked(zoom)
        self.zoom.setToolTip(f"±{ZOOM_HALF_MM:g} mm around the mean COP; untick to see the whole board")
        self.readout = _elastic(QLabel("No load on the board"))
        self.readout.setFont(theme.font(theme.BASE_PT + 2))
        self.readout.setWordWrap(True)  # the narrow protocol page: two lines rather than a clipped area
        # room for those two lines, always (an Ignored-width label gets no height for its second line)
        from PySide6.QtGui import QFontMetrics

        self.readout.setMinimumHeight(2 * QFontMetrics(self.readout.font()).lineSpacing() + 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        row = QHBoxLayout()
        row.addWidget(self.readout, 1)
        row.addWidget(self.zoom)
        layout.addLayout(row)
        self.zoom.toggled.connect(lambda _: self._apply_range(None))
        self._last_centre = None
        self._range = None
        self._slow_t_s = None  # wall-clock time of the last ellipse / read-out update
        self._since_t_s = None
        self.set_geometry(positions_mm)

    def set_geometry(self, positions_mm) -> None:
        pos = np.asarray(positions_mm, dtype=float)
        self.positions_mm = pos
        x0, x1 = pos[:, 0].min() - PLATE_MARGIN_MM, pos[:, 0].max() + PLATE_MARGIN_MM
        y0, y1 = pos[:, 1].min() - PLATE_MARGIN_MM, pos[:, 1].max() + PLATE_MARGIN_MM
        self.outline.setData([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])
        self.sensors.setData(pos[:, 0], pos[:, 1])
        for label, name, (x, y) in zip(self.sensor_labels, CELLS, pos):
            label.setText(name.upper())
            label.setPos(x, y + (22 if y > 0 else -22))
        self._board_range = (x0 - 10, x1 + 10, y0 - 10, y1 + 10)
        self._apply_range(None)

    def _apply_range(self, centre) -> None:
        item = self.plot.getPlotItem()
        centre = centre if centre is not None else self._last_centre
        if self.zoom.isChecked() and centre is not None:
            cx, cy = _stepped(centre[0], 10.0), _stepped(centre[1], 10.0)
            wanted = (cx - ZOOM_HALF_MM, cx + ZOOM_HALF_MM, cy - ZOOM_HALF_MM, cy + ZOOM_HALF_MM)
        else:
            wanted = self._board_range
        if wanted != self._range:
            self._range = wanted
            x0, x1, y0, y1 = wanted
            item.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def show_frame(self, frame: LiveFrame, *, since_t_s: float | None = None, full: bool = False) -> None:
        """Draw the newest ``trail_s`` of ``frame`` (none older than ``since_t_s``, e.g. a stance start).

        The ellipse and the read-out follow at ``SLOW_HZ`` unless ``full``.
        """
        if frame.empty:
            return
        oldest = frame.t_s[-1] - self.trail_s
        if since_t_s is not None:
            oldest = max(oldest, since_t_s)
        start = min(int(np.searchsorted(frame.t_s, oldest)), len(frame.t_s) - 1)
        ml, ap = frame.cop_ml_mm[start:], frame.cop_ap_mm[start:]
        stride = decimate(len(ml), max_points=TRAIL_POINTS)
        self.trail.setData(ml[stride], ap[stride], connect="finite")
        if np.isfinite(ml[-1]):
            self.dot.setData([ml[-1]], [ap[-1]])
        else:
            self.dot.setData([], [])
        now = time.monotonic()
        if since_t_s != self._since_t_s or full:  # a new stance: its ellipse at once, not the last one's
            self._since_t_s, self._slow_t_s = since_t_s, None
        if self._slow_t_s is not None and now < self._slow_t_s + 1.0 / SLOW_HZ:
            return
        self._slow_t_s = now
        # the ellipse of the decimated trail: the same 95 % region (sway lives below 10 Hz) at a
        # tenth of the cost at 1 kHz
        ellipse = ellipse95_outline(ml[stride], ap[stride])
        if ellipse is None:
            self.ellipse.setData([], [])
        else:
            self.ellipse.setData(ellipse[0], ellipse[1])
        if np.isfinite(ml[-1]):
            # no-break spaces: a wrapped read-out breaks between the COP and the area, not inside them
            area = f" · 95\u00a0%\u00a0ellipse\u00a0{ellipse[2]:.0f}\u00a0mm²" if ellipse is not None else ""
            from station.core.registry import format_value

            self.readout.setText(f"COP  ML {format_value(ml[-1], 0, sign=True)} mm  "
                                 f"AP {format_value(ap[-1], 0, sign=True)} mm{area}")
        else:
            self.readout.setText("No load on the board")
        ok = np.isfinite(ml[stride])
        if ok.any() and self.zoom.isChecked():
            self._last_centre = (float(np.mean(ml[stride][ok])), float(np.mean(ap[stride][ok])))
            self._apply_range(self._last_centre)


class SwaySeries(QWidget):
    """ML and AP COP against time over the last ``span_s`` (two stacked plots, shared time axis)."""

    def __init__(self, *, span_s: float = 10.0, parent=None):
        super().__init__(parent)
        self.span_s = float(span_s)
        self.ml_plot = _plot("ML sway (mm, + right)")
        self.ap_plot = _plot("AP sway (mm, + forward)")
        self.ap_plot.setXLink(self.ml_plot)
        self.ap_plot.getPlotItem().setLabel("bottom", "time (s)")
        self.curves = []
        for plot, colour in ((self.ml_plot, theme.ML), (self.ap_plot, theme.AP)):
            item = plot.getPlotItem()
            item.setDownsampling(auto=True, mode="peak")
            item.setClipToView(True)
            item.setXRange(-self.span_s, 0.0, padding=0.0)
            item.setMouseEnabled(x=False, y=False)
            # the view decimates to two points per pixel column itself (peak_decimate, once per
            # redraw); pyqtgraph's peak downsampling stays on for whatever is drawn beyond that
            self.curves.append(item.plot(pen=pg.mkPen(colour, width=1), antialias=False, connect="finite"))
        self._half_range_mm = [None, None]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.ml_plot)
        layout.addWidget(self.ap_plot)

    def show_frame(self, frame: LiveFrame) -> None:
        if frame.empty:
            return
        t = frame.t_s - frame.t_s[-1]  # now = 0, the past is negative
        start = int(np.searchsorted(t, -self.span_s))
        bins = max(200, self.ml_plot.width())
        for k, (plot, curve, y) in enumerate(((self.ml_plot, self.curves[0], frame.cop_ml_mm),
                                              (self.ap_plot, self.curves[1], frame.cop_ap_mm))):
            t_k, y_k = peak_decimate(t[start:], y[start:], bins=bins)
            curve.setData(t_k, y_k, connect="finite")
            # a symmetric range about 0 in 10 mm steps: steady axes, and the sign reads at a glance
            finite = y_k[np.isfinite(y_k)]
            half = max(10.0, float(np.ceil(np.abs(finite).max() / 10.0) * 10.0)) if len(finite) else 10.0
            if half != self._half_range_mm[k]:
                self._half_range_mm[k] = half
                plot.getPlotItem().setYRange(-half, half, padding=0.05)


class LoadBars(QWidget):
    """Load per cell (kg) as bars, total weight (kg and % body weight) and the left/right split."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.body_mass_kg: float | None = None
        self.plot = _plot("Load per cell (kg)")
        item = self.plot.getPlotItem()
        axis = item.getAxis("bottom")
        axis.setTicks([[(i, f"{c.upper()}\n{n}") for i, (c, n) in enumerate(zip(CELLS, CELL_NAMES))]])
        axis.setHeight(52)  # room for the two-line cell names
        item.setMouseEnabled(x=False, y=False)
        item.setXRange(-0.6, 3.6, padding=0)
        self.bars = pg.BarGraphItem(x=np.arange(4), height=np.zeros(4), width=0.6,
                                    brushes=[pg.mkBrush(c) for c in theme.CELL_COLOURS])
        item.addItem(self.bars)
        self.total = _elastic(QLabel("—"))
        self.total.setFont(theme.font(theme.STATE_PT, bold=True))
        self.split = _elastic(QLabel(""))
        self.split.setToolTip("Body weight on the board, and the share of the load on its left cells (FL + BL) and "
                              "right cells (FR + BR): on one leg, where that foot stands on the board")
        self.split.setFont(theme.font(theme.LARGE_PT))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.total)
        layout.addWidget(self.split)
        self._ymax = 10.0
        self._ymin = None
        self._shown_t_s = None  # wall-clock time of the last update

    def set_body_mass(self, body_mass_kg: float | None) -> None:
        self.body_mass_kg = body_mass_kg

    def show_frame(self, frame: LiveFrame, *, full: bool = False) -> None:
        """Bars and read-outs of the newest ``frame`` (at ``BARS_HZ`` unless ``full``)."""
        if frame.empty:
            return
        now = time.monotonic()
        if self._shown_t_s is not None and now < self._shown_t_s + 1.0 / BARS_HZ and not full:
            return
        self._shown_t_s = now
        kg = frame.latest_forces_n() / G_N_PER_KG
        self.bars.setOpts(height=kg)
        # the axis only grows (a jumping scale is hard to read), in 10 kg steps
        top = max(10.0, float(np.ceil(max(kg.max(), 0.0) * 1.15 / 10.0) * 10.0))
        bottom = min(0.0, _stepped(float(kg.min()) - 5.0, 10.0)) if kg.min() < 0 else 0.0
        if top > self._ymax or bottom != self._ymin:
            self._ymax, self._ymin = max(top, self._ymax), bottom
            self.plot.getPlotItem().setYRange(self._ymin, self._ymax, padding=0)
        total_kg = float(kg.sum())
        self.total.setText(f"Total {total_kg:.1f} kg")
        parts = []
        if self.body_mass_kg:
            parts.append(f"{100.0 * total_kg / self.body_mass_kg:.0f} % body weight")
        left, right = float(kg[0] + kg[2]), float(kg[1] + kg[3])
        if total_kg > 5.0:
            parts.append(f"cells L {100 * left / total_kg:.0f} % · R {100 * right / total_kg:.0f} %")
            self.split.setText("   ·   ".join(parts))
        else:
            self.split.setText("Board empty")


STATE_TEXT = {
    "connected": ("Board connected", theme.GOOD),
    "reconnecting": ("Board disconnected — reconnecting…", theme.WARN),
    "stopped": ("Board stopped", theme.BAD),
    "failed": ("Board stopped", theme.BAD),
    "starting": ("Starting…", theme.MUTED),
    "calibrating": ("Calibrating…", theme.MUTED),
}


class LinkQuality(QWidget):
    """Connection state (big, coloured), frame rate, lost frames, CRC errors."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = QLabel()
        self.state.setFont(theme.font(theme.STATE_PT, bold=True))
        self.state.setAlignment(Qt.AlignCenter)
        self.state.setWordWrap(True)  # a long state wraps in the side panel instead of being cut
        self.detail = _elastic(QLabel(""))
        self.detail.setWordWrap(True)
        grid = QGridLayout()
        self.values = {}
        self.names = {}
        for col, (key, title) in enumerate((("rate", "rate"), ("lost", "lost frames"), ("crc", "CRC errors"),
                                            ("gaps", "gaps"))):
            name = QLabel(title)
            name.setAlignment(Qt.AlignCenter)
            value = QLabel("—")
            value.setFont(theme.font(theme.LARGE_PT, bold=True))
            value.setAlignment(Qt.AlignCenter)
            grid.addWidget(value, 0, col)
            grid.addWidget(name, 1, col)
            self.values[key] = value
            self.names[key] = name
        # a dead, saturated or silent load cell, named (station.core.health): red, above everything else
        self.cells = _elastic(QLabel(""))
        self.cells.setWordWrap(True)
        self.cells.setStyleSheet(f"color: {theme.BAD}; font-weight: bold;")
        self.cells.setVisible(False)
        # a shared database server that went away: the station records locally (the store's outbox)
        self.database = _elastic(QLabel(""))
        self.database.setWordWrap(True)
        self.database.setStyleSheet(f"color: {theme.WARN}; font-weight: bold;")
        self.database.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.cells)
        layout.addWidget(self.database)
        layout.addLayout(grid)
        layout.addWidget(self.detail)
        self.show_state("starting")

    def show_state(self, state: str, detail: str = "") -> None:
        if state == self.state.property("state") and detail == self.detail.text():
            return  # style sheets are slow to apply: only on a change
        text, colour = STATE_TEXT.get(state, (state, theme.MUTED))
        self.state.setText(text)
        self.state.setStyleSheet(theme.badge_style(colour))
        self.state.setProperty("state", state)
        self.detail.setText(detail)

    def show_cells(self, problems: list[dict]) -> None:
        """Show the live cell problems (``station.core.health.cell_problems``); hidden when there are none."""
        text = "\n".join(f"Load cell problem: {p['message']}" for p in problems)
        if text != self.cells.text():
            self.cells.setText(text)
            self.cells.setVisible(bool(text))

    def show_database(self, offline_reason: str | None) -> None:
        """Say that the database server is unreachable and the station keeps recording locally."""
        text = (f"Database server unreachable ({offline_reason}): this station keeps recording and uploads "
                "everything when the server is back (or run `station sync`).") if offline_reason else ""
        if text != self.database.text():
            self.database.setText(text)
            self.database.setVisible(bool(text))

    def show_quality(self, quality: dict, *, nominal_rate_hz: float | None = None) -> None:
        rate = quality.get("effective_rate_hz")
        # the nominal rate goes under the value: "81 / 100 Hz" in the large font overflows the side panel
        self.values["rate"].setText(f"{rate:.0f} Hz" if rate else "—")
        self.names["rate"].setText(f"rate (of {nominal_rate_hz:g})" if nominal_rate_hz else "rate")
        self.values["lost"].setText(str(quality.get("lost", 0)))
        self.values["crc"].setText(str(quality.get("crc_errors", 0)))
        self.values["gaps"].setText(str(quality.get("gaps", 0)))
