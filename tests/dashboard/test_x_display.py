"""The main job on a real X display: the dashboard under Xvfb with Qt's xcb platform (not offscreen).

The test starts its own Xvfb (a free display number), runs ``station demo`` / ``station dashboard
--sim`` as subprocesses with ``QT_QPA_PLATFORM=xcb``, waits for the top-level window, grabs the whole X
screen with ``xwd -root`` and checks that what is on the screen is the dashboard: the window title
and size from ``xwininfo``, the green "Board connected" badge at the top of the side panel, the
plots in the tab area. A missing xcb library (libxcb-icccm4, libxcb-keysyms1) makes Qt
abort here, exactly as it did for a clinician running ``make demo``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .x_driver import run_driver
from .xdisplay import Xvfb, missing_tools, save_rgb_png, window_geometry

if missing_tools() and os.environ.get("STATION_REQUIRE_X"):
    raise RuntimeError(f"STATION_REQUIRE_X is set but the X tools are missing: {missing_tools()} "
                       "(Debian: xvfb x11-apps x11-utils)")
pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"X tools missing: {missing_tools()}")

TITLE = "Balance Station"
GOOD_RGB = (0x1B, 0x7F, 0x3B)  # theme.GOOD: the "Board connected" badge and the Start button


def _keep(png: Path) -> None:
    target = os.environ.get("STATION_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(target) / png.name)


def _green(rgb: np.ndarray) -> np.ndarray:
    """Saturated green (the enabled Start button, the connected badge); not the pale disabled button."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (g > r + 50) & (g > b + 40)


def _near(rgb: np.ndarray, colour, tol: int = 12) -> np.ndarray:
    return (np.abs(rgb.astype(int) - np.asarray(colour)) <= tol).all(axis=-1)


def _wait_for(predicate, timeout_s: float, proc: subprocess.Popen, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the dashboard exited ({proc.returncode}) before {what}:\n{err[-3000:]}")
        value = predicate()
        if value is not None:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _run_on_display(x: Xvfb, args: list[str], tmp_path: Path, name: str, *, ready) -> tuple[np.ndarray, tuple]:
    env = x.env(STATION_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "station", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        geometry = _wait_for(lambda: window_geometry(x.windows(), TITLE), 90, proc, "the window appeared")
        rgb = _wait_for(lambda: (lambda img: img if ready(img, geometry) else None)(x.grab()), 120, proc,
                        "the dashboard was ready")
        time.sleep(3.0)  # a few seconds of live data on the screen
        rgb = x.grab()
        assert proc.poll() is None, "the dashboard must still be running"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    _keep(save_rgb_png(rgb, tmp_path / name))
    return rgb, geometry


def _connected(rgb, geometry) -> bool:
    x0, y0, w, h = geometry
    badge = rgb[y0:y0 + 80, x0:x0 + 330]
    return _near(badge, GOOD_RGB).mean() > 0.2


def test_dashboard_runs_on_a_real_x_display(tmp_path):
    with Xvfb(width=1600, height=1000) as x:
        rgb, (x0, y0, w, h) = _run_on_display(x, ["dashboard", "--sim", "--subject", "weak-right"], tmp_path,
                                              "x-display-live.png", ready=_connected)
    assert (w, h) == (1500, 900)  # the window's own size, mapped on the 1600x1000 screen
    assert x0 + w <= 1600 and y0 + h <= 1000
    window = rgb[y0:y0 + h, x0:x0 + w]
    outside = np.concatenate([rgb[:, x0 + w:].reshape(-1, 3), rgb[y0 + h:, :].reshape(-1, 3)])
    # Xvfb's root is one flat colour; the window is not
    assert len(np.unique(outside.reshape(-1, 3), axis=0)) <= 2
    assert len(np.unique(window.reshape(-1, 3)[::7], axis=0)) > 50
    # the side panel's badge is green ("Board connected"), the live plots draw dark lines on white
    assert _near(window[0:80, 0:330], GOOD_RGB).mean() > 0.2
    plots = window[80:800, 360:1450]
    white = _near(plots, (255, 255, 255), tol=3).mean()
    dark = (plots.max(axis=-1) < 90).mean()
    assert white > 0.4 and dark > 0.005, (white, dark)


def test_station_demo_opens_the_guided_dashboard_on_the_display(tmp_path):
    """`make demo` with a display: the dashboard, a demo patient chosen and a green Start to press."""

    def start_button_shown(rgb, geometry):
        x0, y0, w, h = geometry
        return _connected(rgb, geometry) and _green(rgb[y0 + 80:y0 + 500, x0 + 330:x0 + w]).sum() > 5000

    with Xvfb(width=1600, height=1000) as x:
        rgb, (x0, y0, w, h) = _run_on_display(x, ["demo"], tmp_path, "x-display-demo.png", ready=start_button_shown)
    from station.store import Store

    with Store.open(tmp_path / "data") as store:
        names = [p.name for p in store.list_patients()]
    assert names == ["Demo runner (virtual)"]


def test_a_primer_session_on_the_x_display_running_results_and_history(tmp_path):
    """The window on the X server through a whole (short, faster than real time) primer session: the
    X root grabbed while a post-primer trial counts down, on the results page, and on the History tab."""
    out = tmp_path / "shots"
    with Xvfb(width=1600, height=1000) as x:
        run_driver("tests.dashboard.x_driver", tmp_path / "data", out, x)
    from PIL import Image

    for name in ("x-display-protocol-running.png", "x-display-results.png", "x-display-history.png"):
        png = out / name
        _keep(png)
        rgb = np.asarray(Image.open(png).convert("RGB"))
        assert rgb.shape == (1000, 1600, 3)  # the whole X screen, the window on it
        window = rgb[:900, :1500]
        assert len(np.unique(window.reshape(-1, 3)[::7], axis=0)) > 50, name
        assert _green(window[0:80, 0:330]).mean() > 0.2, name  # "Board connected"
    from station.store import Store

    with Store.open(tmp_path / "data") as store:
        demo = next(p for p in store.list_patients() if p.name == "Demo runner (virtual)")
        session = store.list_sessions(demo.id)[-1]
    assert session.status == "finished" and session.protocol == "primer"
    blocks = {v["block"] for v in session.scores["verdicts"]}
    assert {"stance/baseline/eyes_open", "stance/post_primer/eyes_open", "before_after/eyes_open"} <= blocks
    # the primer's RDL is described, not tested
    assert "primer_rdl" not in blocks and [d["block"] for d in session.scores["descriptions"]] == ["primer_rdl"]


def test_the_demo_probes_qt_before_opening_a_window(tmp_path):
    """`station demo` asks a child process whether Qt's platform starts (a failing Qt aborts the process)."""
    from station.commands.qtprobe import qt_platform_loads

    with Xvfb(width=800, height=600) as x:
        assert qt_platform_loads(x.env()) == (True, "")
    ok, why = qt_platform_loads(dict(os.environ, DISPLAY=":65000", QT_QPA_PLATFORM="xcb"))
    assert not ok and why == "qt.qpa.xcb: could not connect to display :65000"
