"""Dashboard test fixtures: a private data directory, windows on the in-process virtual board.

Screenshots go to the test's tmp dir and, when ``STATION_SCREENSHOTS`` names a folder (e.g.
``docs/screenshots``), are copied there too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

# the virtual board of the tests that skip the calibration: gains and offsets known here
GAINS_COUNTS_PER_N = (55.0, 54.0, 56.0, 55.5)
OFFSETS_COUNTS = (1200, -2100, 3050, 480)


@pytest.fixture
def store(tmp_path, monkeypatch):
    from station.store import Store

    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    s = Store.open(tmp_path / "data")
    yield s
    s.close()


def known_board(seed: int):
    """A BoardModel with known gains and the matching Calibration of the virtual board of ``seed`` (its id)."""
    from station.board.virtual import BoardModel
    from station.board.virtual.board import virtual_board_id
    from station.calibration import Calibration, load_geometry

    model = BoardModel(gains_counts_per_n=GAINS_COUNTS_PER_N, offsets_counts=OFFSETS_COUNTS)
    cal = Calibration(board_id=virtual_board_id(seed), geometry=load_geometry("reference-400x300"),
                      offsets_counts=np.asarray(OFFSETS_COUNTS, float),
                      gains_n_per_count=1.0 / np.asarray(GAINS_COUNTS_PER_N))
    return model, cal


@pytest.fixture
def make_window(qtbot, store):
    """``make_window(sim_options, calibration=None, **window_kwargs)`` -> started MainWindow (shut down after)."""
    from station.dashboard.station_link import BoardLink
    from station.dashboard.window import MainWindow

    windows = []

    def make(sim, *, calibration=None, **kwargs):
        link = BoardLink(sim=sim, calibration=calibration)
        window = MainWindow(link, store, **kwargs)
        qtbot.addWidget(window)
        window.show()
        window.start()
        windows.append(window)
        qtbot.waitUntil(lambda: window.started or link.error is not None, timeout=60_000)
        assert link.error is None
        return window

    yield make
    for w in windows:
        w.shutdown()


def save_png(widget, tmp_path: Path, name: str) -> Path:
    """Grab ``widget`` to ``tmp_path/name`` (and to $STATION_SCREENSHOTS/name when set)."""
    from station.dashboard.app import save_screenshot

    path = save_screenshot(widget, tmp_path / name)
    target = os.environ.get("STATION_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def image_stats(path: Path):
    """(width, height, number of distinct colours, fraction of non-background pixels) of a PNG."""
    from PySide6.QtGui import QImage

    img = QImage(str(path))
    assert not img.isNull(), f"{path} is not a readable PNG"
    img = img.convertToFormat(QImage.Format_RGB32)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint32, count=img.bytesPerLine() * h // 4).reshape(h, -1)[:, :w]
    values, counts = np.unique(arr, return_counts=True)
    background = counts.max() / arr.size
    return w, h, len(values), 1.0 - background


def plain_text(label) -> str:
    """What a (rich-text) QLabel shows, as plain text."""
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText()
