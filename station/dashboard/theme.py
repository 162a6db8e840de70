"""Colours and fonts of the dashboard: one place, so every view reads the same from across the room."""

from __future__ import annotations

from PySide6.QtGui import QFont

#: link / result states -> colour
GOOD = "#1b7f3b"
WARN = "#c77800"
BAD = "#b3261e"
MUTED = "#5f6368"
LEFT = "#1f77b4"  # left side: blue, everywhere
RIGHT = "#d62728"  # right side: red, everywhere
CELL_COLOURS = ("#1f77b4", "#d62728", "#6baed6", "#fc9272")  # fl, fr, bl, br (left blue, right red)
TRAIL = "#303030"
ML = "#6a3d9a"  # time series colours: neutral, not the side colours
AP = "#1b7f3b"
ELLIPSE = "#e6550d"

#: point sizes: CUE/COUNTDOWN are read from 3 m (about 20 mm cap height on a 24" screen)
BASE_PT = 11
LARGE_PT = 16
STATE_PT = 20
CUE_PT = 36
COUNTDOWN_PT = 110
VERDICT_PT = 26

# No blanket "QWidget { font-size }" rule: a style-sheet font overrides every label's setFont().
STYLE_SHEET = """
QTabBar::tab { padding: 8px 18px; font-size: 12pt; }
QPushButton { padding: 6px 14px; font-size: 12pt; }
QPushButton#primary { background: #1b7f3b; color: white; font-weight: bold; font-size: 14pt; padding: 10px 24px; }
QPushButton#primary:disabled { background: #9bbfa6; }
QPushButton#danger { background: #b3261e; color: white; font-weight: bold; font-size: 14pt; padding: 10px 24px; }
QPushButton#danger:disabled { background: #d9a19d; }
QGroupBox { font-weight: bold; font-size: 12pt; margin-top: 14px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
QTableWidget { font-size: 12pt; }
QHeaderView::section { font-size: 11pt; font-weight: bold; padding: 4px; }
"""


def font(point_size: int, *, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSize(point_size)
    f.setBold(bold)
    return f


def badge_style(colour: str) -> str:
    """A filled rounded label (states, verdicts)."""
    return f"background: {colour}; color: white; border-radius: 8px; padding: 6px 14px;"
