"""No text of the PDF report overlaps other text or leaves the page: every table at its real size.

The words and their boxes come from the rendered PDF itself (``pdftotext -bbox``, poppler), so a cell
whose text runs into the next column ("1.3 ± 1.5" printed over "R − L +1.3 touchdowns per
trial") or a line drawn over another is found whatever drew it. Also: no "nan" and no negative zero
anywhere in the report.
"""

import re
import shutil
import subprocess
from html import unescape

import numpy as np
import pytest

from station.report.pdf import write_session_report

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")

WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')
PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')


def page_words(pdf) -> list[tuple[float, float, list]]:
    """Per page: (width, height, [(x0, y0, x1, y1, text), ...])."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    pages = []
    for chunk in html.split("<page ")[1:]:
        m = PAGE.match("<page " + chunk)
        words = [(float(a), float(b), float(c), float(d), unescape(t)) for a, b, c, d, t in WORD.findall(chunk)]
        pages.append((float(m.group(1)), float(m.group(2)), words))
    return pages


def overlaps(words: list, *, tolerance_pt: float = 0.6) -> list[tuple[str, str]]:
    """Pairs of words whose boxes overlap by more than ``tolerance_pt`` in both directions."""
    if len(words) < 2:
        return []
    box = np.array([w[:4] for w in words])
    x0, y0, x1, y1 = (box[:, i][:, None] for i in range(4))
    dx = np.minimum(x1, x1.T) - np.maximum(x0, x0.T)
    dy = np.minimum(y1, y1.T) - np.maximum(y0, y0.T)
    hit = (dx > tolerance_pt) & (dy > tolerance_pt)
    np.fill_diagonal(hit, False)
    i, j = np.nonzero(np.triu(hit))
    return [(words[a][4], words[b][4]) for a, b in zip(i, j)]


def check_report(pdf) -> None:
    pages = page_words(pdf)
    assert pages
    for number, (width, height, words) in enumerate(pages, start=1):
        assert words, f"page {number} has no text"
        assert not overlaps(words), f"page {number}: overlapping text {overlaps(words)[:5]}"
        for x0, y0, x1, y1, text in words:
            assert 0 <= x0 and x1 <= width and 0 <= y0 and y1 <= height, f"page {number}: {text!r} off the page"
        text = " ".join(w[4] for w in words)
        assert "nan" not in text.lower().split(), f"page {number}: nan"
        assert not re.search(r"[−-]0(\.0+)?(?![\d.])", text), f"page {number}: negative zero in {text!r}"


def keep_page(pdf, page: int, name: str, tmp_path) -> None:
    """Render one page (pdftoppm, 80 dpi) and copy it to ``$STATION_SCREENSHOTS/name`` when that is set."""
    import os
    from pathlib import Path

    target = os.environ.get("STATION_SCREENSHOTS")
    if not target or shutil.which("pdftoppm") is None:
        return
    stem = tmp_path / name.removesuffix(".png")
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(page), "-l", str(page), str(pdf),
                    str(stem)], check=True)
    Path(target).mkdir(parents=True, exist_ok=True)
    shutil.copy(f"{stem}.png", Path(target) / name)


def test_primer_session_report_has_no_overlapping_or_clipped_text(primer_session, tmp_path):
    pdf = write_session_report(primer_session.store, primer_session.session_id, tmp_path / "report.pdf")
    check_report(pdf)
    for page in (1, 2):
        keep_page(pdf, page, f"report-page-{page}.png", tmp_path)


def test_history_page_and_rdl_report_have_no_overlapping_text(tmp_path):
    from station.store import Store

    from tests.dashboard.history_data import CRITERION_BY_VISIT, build_rehab_history

    with Store.open(tmp_path / "data") as store:
        _, ids = build_rehab_history(store)
        pdf = write_session_report(store, ids[-1], tmp_path / "history.pdf")
        check_report(pdf)
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                              text=True).stdout
    pages = text.split("\f")
    history = next(p for p in pages if "Patient history" in p)
    keep_page(pdf, pages.index(history) + 1, "report-history.png", tmp_path)
    # the criterion per visit, as patient_history computes it from the stored verdicts
    statuses = [line.split()[-1] if not line.rstrip().endswith("not met") else "not met"
                for line in history.splitlines() if re.match(r"\s+\d\s+2026-", line)]
    assert statuses == CRITERION_BY_VISIT
