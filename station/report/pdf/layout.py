"""Layout of the PDF report: the font, paragraph styles, tables, images and the numbered page footer."""

from __future__ import annotations

import io
from pathlib import Path

from station.report.wording import Tone

FONT = "StationSans"
FONT_BOLD = "StationSans-Bold"
GREY = "#555555"
LIGHT = "#eef2f6"
#: colour of the side a verdict names, and of each outcome's tone
SIDE_COLOURS = {"left": "#2166ac", "right": "#d6604d", None: "#333333"}
TONE_COLOURS = {Tone.BAD: "#b3261e", Tone.GOOD: "#1b7f3b", Tone.NEUTRAL: "#333333"}


def register_fonts() -> None:
    """DejaVu Sans (shipped with matplotlib): the PDF's standard fonts lack −, √, ≥, ² ... glyphs."""
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def styles() -> dict:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=11.5, textColor=colors.HexColor("#222222"))
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor(GREY)),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=9.8),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=FONT_BOLD, fontSize=8, leading=9.8),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=2),
        "h1": ParagraphStyle("h1", parent=base, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3),
        "verdict": ParagraphStyle("verdict", parent=base, fontName=FONT_BOLD, fontSize=15, leading=19),
    }


def esc(text) -> str:
    """Text for a reportlab Paragraph (which parses a little XML)."""
    from xml.sax.saxutils import escape

    return escape(str(text))


def table(rows, widths, *, header: bool = True, zebra: bool = True, align_right_from: int = 1, left_cols=()):
    """A results table: numbers right-aligned from column ``align_right_from`` on, except ``left_cols``;
    header cells wrap instead of running into each other."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Table, TableStyle

    if header:
        head = []
        for j, cell in enumerate(rows[0]):
            right = j >= align_right_from and j not in left_cols
            style = ParagraphStyle(f"hdr{int(right)}", fontName=FONT_BOLD, fontSize=8, leading=9.6,
                                   alignment=TA_RIGHT if right else TA_LEFT)
            head.append(Paragraph(esc(cell), style) if isinstance(cell, str) else cell)
        rows = [head] + list(rows[1:])
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("LEADING", (0, 0), (-1, -1), 9.8),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("ALIGN", (align_right_from, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.HexColor("#999999")),
    ] + [("ALIGN", (j, 0), (j, -1), "LEFT") for j in left_cols]
    if header:
        style += [("FONTNAME", (0, 0), (-1, 0), FONT_BOLD), ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#333333")),
                  ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.HexColor("#333333"))]
    if zebra:
        for r in range(1 if header else 0, len(rows)):
            if (r - (1 if header else 0)) % 2 == 1:
                style.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#f5f7fa")))
    t.setStyle(TableStyle(style))
    return t


def image(fig, width_pt: float):
    from reportlab.platypus import Image

    from station.report.figures import png_bytes

    w_in, h_in = fig.get_size_inches()
    return Image(io.BytesIO(png_bytes(fig)), width=width_pt, height=width_pt * h_in / w_in)



def p(text, style):
    """A paragraph of plain text."""
    from reportlab.platypus import Paragraph

    return Paragraph(esc(text), style)


def coloured(text, colour: str, style):
    """A paragraph of plain text in one colour."""
    from reportlab.platypus import Paragraph

    return Paragraph(f'<font color="{colour}">{esc(text)}</font>', style)


def numbered_canvas(footer_left: str):
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):
        """Writes "page X of Y" once the page count is known (two-pass save)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(len(self._pages))
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            from reportlab.lib.units import mm

            width, _height = self._pagesize
            self.setFont(FONT, 7)
            self.setFillColorRGB(0.4, 0.4, 0.4)
            self.drawString(16 * mm, 9 * mm, footer_left)
            self.drawRightString(width - 16 * mm, 9 * mm, f"page {self._pageNumber} of {total}")

    return NumberedCanvas

