#!/usr/bin/env python3
"""Write the technician's drawings as SVG: ``wiring.svg`` and ``mounting.svg`` (this folder).

Plain Python, no dependencies: the drawings are data here (pins, positions, sizes in mm), so a change
of the wiring table in ``hardware/README.md`` is a change of this file, and ``python3
hardware/docs/make_diagrams.py`` redraws both. ``--png`` also renders PNG copies with Qt's SVG
renderer (PySide6, from the project's venv).

The pins are those of ``firmware/balance_station.ino`` (Uno / Nano): PD_SCK of all four HX711 on
D8, DOUT fl/fr/bl/br on D4/D5/D6/D7. The geometry is ``calibration/`` "reference-400x300": cells
400 mm apart medio-laterally and 300 mm antero-posteriorly, origin at their centre.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent

#: cell -> (Arduino DOUT pin, colour on the drawings)
CELLS = {"fl": ("D4", "#1f77b4"), "fr": ("D5", "#d62728"), "bl": ("D6", "#6baed6"), "br": ("D7", "#fc9272")}
CELL_NAMES = {"fl": "front left", "fr": "front right", "bl": "back left", "br": "back right"}
SCK_PIN = "D8"
#: full-bridge load cell wire colours (the common 4-wire convention; check the cell's data sheet)
BRIDGE_WIRES = (("E+", "red", "#d00000"), ("E−", "black", "#000000"), ("A−", "white", "#999999"),
                ("A+", "green", "#00a000"))
#: reference geometry (mm)
SPACING_ML_MM, SPACING_AP_MM = 400.0, 300.0
PLATE_ML_MM, PLATE_AP_MM = 450.0, 350.0


class Svg:
    def __init__(self, width: float, height: float):
        self.width, self.height = width, height
        self.items: list[str] = []

    def rect(self, x, y, w, h, *, fill="white", stroke="#222", width=1.5, rx=4, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" '
                          f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{d}/>')

    def line(self, points, *, stroke="#222", width=2.0, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.items.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="{width}"{d}/>')

    def dot(self, x, y, *, r=3.5, fill="#222"):
        self.items.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}"/>')

    def circle(self, x, y, r, *, fill="none", stroke="#222", width=1.5):
        self.items.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}" stroke="{stroke}" '
                          f'stroke-width="{width}"/>')

    def text(self, x, y, s, *, size=13, anchor="start", weight="normal", fill="#222"):
        self.items.append(f'<text x="{x:.1f}" y="{y:.1f}" font-family="DejaVu Sans, Arial, sans-serif" '
                          f'font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" fill="{fill}">'
                          f'{escape(s)}</text>')

    def arrow(self, x0, y0, x1, y1, *, stroke="#222"):
        self.line([(x0, y0), (x1, y1)], stroke=stroke, width=1.8)
        import math

        a = math.atan2(y1 - y0, x1 - x0)
        for da in (2.6, -2.6):
            self.line([(x1, y1), (x1 + 10 * math.cos(a + da), y1 + 10 * math.sin(a + da))], stroke=stroke, width=1.8)

    def write(self, path: Path) -> Path:
        body = "\n  ".join(self.items)
        path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                        f'viewBox="0 0 {self.width} {self.height}">\n  <rect width="100%" height="100%" '
                        f'fill="white"/>\n  {body}\n</svg>\n', encoding="utf-8")
        return path


def wiring(path: Path) -> Path:
    """Arduino -> four HX711 (shared clock, one data line each) -> one full-bridge cell per HX711."""
    svg = Svg(1100, 800)
    svg.text(550, 32, "Balance Station wiring: one HX711 per full-bridge load cell, shared clock",
             size=18, anchor="middle", weight="bold")
    # Arduino
    ax, ay, aw, ah = 40, 120, 190, 430
    svg.rect(ax, ay, aw, ah, fill="#e8f0f8", stroke="#1f4e79", width=2.5)
    svg.text(ax + aw / 2, ay + 28, "Arduino Uno / Nano", size=15, anchor="middle", weight="bold")
    svg.text(ax + aw / 2, ay + 48, "ATmega328P, 16 MHz", size=11, anchor="middle")
    pins = ["5V", "GND", SCK_PIN] + [CELLS[c][0] for c in CELLS]
    pin_y = {}
    for i, name in enumerate(pins):
        y = ay + 90 + i * 48
        pin_y[name] = y
        svg.dot(ax + aw, y, r=5)
        label = {"5V": "5V", "GND": "GND", SCK_PIN: f"{SCK_PIN} (PB0) clock"}.get(name)
        if label is None:
            cell = next(c for c, (p, _) in CELLS.items() if p == name)
            label = f"{name} (PD{name[1]}) data {cell}"
        svg.text(ax + aw - 10, y + 4, label, size=12, anchor="end")
    svg.text(ax + aw / 2, ay + ah + 26, "USB to the PC (500 000 baud)", size=12, anchor="middle")
    # HX711 modules and cells
    hx, hw, hh = 470, 170, 130
    cx = 800
    bus_x = {"5V": 300, "GND": 320, SCK_PIN: 340}
    for name, x in bus_x.items():
        colour = {"5V": "#d00000", "GND": "#000000", SCK_PIN: "#7a4bb5"}[name]
        svg.line([(ax + aw, pin_y[name]), (x, pin_y[name])], stroke=colour, width=2.2)
        svg.line([(x, 70 + 45), (x, 70 + 3 * 158 + 45 + 2 * 22)], stroke=colour, width=2.2)
        svg.dot(x, pin_y[name], r=3.5, fill=colour)
    for k, (cell, (pin, colour)) in enumerate(CELLS.items()):
        y0 = 70 + k * 158
        svg.rect(hx, y0, hw, hh, fill="#f4f4f4", stroke="#333", width=2)
        svg.text(hx + hw / 2, y0 + 22, f"HX711 #{k + 1} ({cell})", size=14, anchor="middle", weight="bold")
        left = [("VCC", "5V"), ("GND", "GND"), ("SCK", SCK_PIN), ("DT", pin)]
        for i, (label, net) in enumerate(left):
            y = y0 + 45 + i * 22
            svg.dot(hx, y, r=3.5)
            svg.text(hx + 8, y + 4, label, size=11)
            if net in bus_x:
                c = {"5V": "#d00000", "GND": "#000000", SCK_PIN: "#7a4bb5"}[net]
                svg.line([(bus_x[net], y), (hx, y)], stroke=c, width=1.8)
                svg.dot(bus_x[net], y, r=3, fill=c)
            else:
                svg.line([(ax + aw, pin_y[pin]), (270 + 6 * k, pin_y[pin]), (270 + 6 * k, y), (hx, y)],
                         stroke=colour, width=2.2)
        for i, (label, wire, wcolour) in enumerate(BRIDGE_WIRES):
            y = y0 + 45 + i * 22
            svg.dot(hx + hw, y, r=3.5)
            svg.text(hx + hw - 8, y + 4, label, size=11, anchor="end")
            svg.line([(hx + hw, y), (cx - 10, y)], stroke=wcolour, width=2.2)
            svg.text(hx + hw + 12, y - 3, wire, size=9, fill="#555")
        svg.text(hx + hw / 2, y0 + hh - 4, "RATE high = 80 SPS", size=10, anchor="middle", fill="#7a4bb5")
        # the cell: a full Wheatstone bridge drawn as a diamond
        my = y0 + 45 + 1.5 * 22
        pts = [(cx + 60, my - 45), (cx + 115, my), (cx + 60, my + 45), (cx + 5, my)]
        svg.line(pts + [pts[0]], stroke=colour, width=2.5)
        for i in range(4):
            svg.dot(*pts[i], r=3)
        svg.text(cx + 60, my - 52, f"load cell {cell} ({CELL_NAMES[cell]})", size=12, anchor="middle",
                 weight="bold")
        svg.text(cx + 60, my + 4, "4 gauges", size=10, anchor="middle", fill="#555")
        svg.line([(cx - 10, y0 + 45), (cx + 60, y0 + 45), (cx + 60, my - 45)], stroke="#d00000", width=1.5)
        svg.line([(cx - 10, y0 + 67), (cx + 40, y0 + 67), (cx + 40, my + 80), (cx + 60, my + 80), (cx + 60, my + 45)],
                 stroke="#000", width=1.5)
        svg.line([(cx - 10, y0 + 89), (cx + 5, y0 + 89), (cx + 5, my)], stroke="#999", width=1.5)
        svg.line([(cx - 10, y0 + 111), (cx - 2, y0 + 111), (cx - 2, my + 95), (cx + 130, my + 95), (cx + 130, my),
                  (cx + 115, my)], stroke="#00a000", width=1.5)
    svg.text(40, 725, "Nets: 5V and GND to every HX711; one clock (D8) to all four SCK pins; each DT to its own pin "
             "(D4-D7: one PIND read samples all four).", size=12)
    svg.text(40, 747, "Half-bridge (3-wire) cells: two of them make one full bridge, so four half-bridge cells "
             "give only two channels;", size=12)
    svg.text(40, 769, "for four corners use four full-bridge cells, or complete each half-bridge with two 1 kΩ 0.1 % "
             "resistors (half the signal).", size=12)
    return svg.write(path)


def mounting(path: Path) -> Path:
    """Top view (axes, cell positions, names) and a side section of one corner."""
    svg = Svg(1100, 640)
    svg.text(550, 32, "Mounting: top view of the board (subject faces forward) and one corner in section",
             size=18, anchor="middle", weight="bold")
    scale = 1.1  # px per mm
    ox, oy = 320, 330  # origin (centre of the four cells)
    pw, ph = PLATE_ML_MM * scale, PLATE_AP_MM * scale
    svg.rect(ox - pw / 2, oy - ph / 2, pw, ph, fill="#f3e7d3", stroke="#8a6d3b", width=2.5, rx=8)
    svg.text(ox, oy - ph / 2 - 12, f"top plate {PLATE_ML_MM:g} × {PLATE_AP_MM:g} mm, 18 mm plywood", size=13,
             anchor="middle")
    for cell, (_, colour) in CELLS.items():
        x = ox + (SPACING_ML_MM / 2 if cell.endswith("r") else -SPACING_ML_MM / 2) * scale
        y = oy + (-SPACING_AP_MM / 2 if cell.startswith("f") else SPACING_AP_MM / 2) * scale
        svg.circle(x, y, 13, fill=colour, stroke="#222")
        svg.text(x, y + 4, cell, size=11, anchor="middle", weight="bold", fill="white")
        dy = -22 if cell.startswith("f") else 34
        svg.text(x, y + dy, CELL_NAMES[cell], size=11, anchor="middle")
    # spacing dimensions
    fy = oy - SPACING_AP_MM / 2 * scale
    svg.line([(ox - SPACING_ML_MM / 2 * scale, fy + 40), (ox + SPACING_ML_MM / 2 * scale, fy + 40)], stroke="#555",
             width=1.2, dash="5,4")
    svg.text(ox, fy + 36, f"{SPACING_ML_MM:g} mm (ML)", size=11, anchor="middle", fill="#555")
    rx = ox + SPACING_ML_MM / 2 * scale
    svg.line([(rx - 40, oy - SPACING_AP_MM / 2 * scale), (rx - 40, oy + SPACING_AP_MM / 2 * scale)], stroke="#555",
             width=1.2, dash="5,4")
    svg.text(rx - 46, oy + 64, f"{SPACING_AP_MM:g} mm (AP)", size=11, anchor="end", fill="#555")
    # axes and feet
    svg.arrow(ox, oy, ox + 90, oy, stroke="#6a3d9a")
    svg.arrow(ox, oy, ox, oy - 90, stroke="#1b7f3b")
    svg.text(ox + 40, oy - 8, "x = ML, + right", size=12, fill="#6a3d9a")
    svg.text(ox + 6, oy - 96, "y = AP, + forward", size=12, fill="#1b7f3b")
    svg.dot(ox, oy, r=4)
    svg.text(ox - 8, oy + 18, "origin", size=10, anchor="end")
    for side, fx in (("L", -60), ("R", 60)):
        svg.rect(ox + fx - 22, oy + 30, 44, 95, fill="none", stroke="#777", width=1.5, rx=20, dash="4,3")
        svg.text(ox + fx, oy + 84, side, size=14, anchor="middle", fill="#777")
    svg.text(ox, oy + ph / 2 + 28, "forward ↑ (the subject faces the top edge; cable exits at the back)", size=12,
             anchor="middle")
    # section of one corner
    sx, sy = 640, 190
    svg.text(sx + 200, sy - 70, "corner section (not to scale)", size=14, anchor="middle", weight="bold")
    svg.rect(sx, sy, 400, 26, fill="#f3e7d3", stroke="#8a6d3b", width=2, rx=2)
    svg.text(sx + 200, sy + 18, "top plate (rigid; the load enters only through the cells)", size=11,
             anchor="middle")
    svg.rect(sx + 150, sy + 26, 60, 14, fill="#ccc", stroke="#333", width=1.5, rx=1)
    svg.text(sx + 218, sy + 38, "spacer on the cell's load end", size=10)
    svg.rect(sx + 60, sy + 40, 240, 30, fill="#e0e0e0", stroke="#333", width=2, rx=2)
    svg.text(sx + 180, sy + 60, "beam load cell (full bridge)", size=11, anchor="middle")
    svg.rect(sx + 60, sy + 70, 60, 14, fill="#ccc", stroke="#333", width=1.5, rx=1)
    svg.text(sx + 128, sy + 82, "spacer on the fixed end", size=10)
    svg.rect(sx, sy + 84, 400, 22, fill="#d9d9d9", stroke="#555", width=2, rx=2)
    svg.text(sx + 200, sy + 100, "base plate / floor frame", size=11, anchor="middle")
    svg.arrow(sx + 180, sy - 50, sx + 180, sy - 2, stroke="#b3261e")
    svg.text(sx + 190, sy - 26, "load", size=11, fill="#b3261e")
    notes = [
        "Fixed end bolted to the base, load end under the top plate:",
        "the beam must bend freely (2-3 mm of air under its free",
        "length; nothing else may touch the top plate).",
        "Mount all four cells the same way round (arrow down).",
        "Cell centres 400 × 300 mm apart: the calibration's",
        "verification grid measures any COP error that is left.",
        "Four equal cable lengths to the HX711s, away from the USB",
        "cable; the HX711s and the Arduino in a box at the back edge.",
    ]
    for i, note in enumerate(notes):
        svg.text(sx, sy + 150 + 20 * i, note, size=12)
    return svg.write(path)


def render_png(svg_path: Path) -> Path:
    """Render ``svg_path`` to a PNG beside it (Qt's SVG renderer, offscreen)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (keeps Qt alive)
    renderer = QSvgRenderer(str(svg_path))
    size = renderer.defaultSize()
    image = QImage(size.width(), size.height(), QImage.Format_ARGB32)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, size.width(), size.height()))
    painter.end()
    out = svg_path.with_suffix(".png")
    image.save(str(out))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the SVG files (default: this folder)")
    parser.add_argument("--png", action="store_true", help="also render PNG copies (needs PySide6)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for svg_path in (wiring(args.out / "wiring.svg"), mounting(args.out / "mounting.svg")):
        print(svg_path)
        if args.png:
            print(render_png(svg_path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
