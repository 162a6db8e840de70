"""``station dashboard`` from the command line (a subprocess: the real entry point, offscreen)."""

import os
import subprocess
import sys

from .conftest import image_stats


def _station(*args, env_extra=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "station", *args], capture_output=True, text=True, env=env,
                          check=False,
                          timeout=timeout)


def test_sim_screenshot_after_a_delay_exits_zero(tmp_path):
    png = tmp_path / "shot.png"
    r = _station("--data-dir", str(tmp_path / "data"), "dashboard", "--sim", "--subject", "weak-right",
                 "--screenshot", str(png), "--after", "6", env_extra={"QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    w, h, colours, ink = image_stats(png)
    assert (w, h) == (1500, 900)
    assert colours > 50 and ink > 0.05


def test_bad_arguments_are_one_line_errors(tmp_path):
    r = _station("dashboard", "--sim", "--screenshot", str(tmp_path / "shot.jpg"))
    assert r.returncode != 0
    assert r.stderr.strip() == f"station: error: --screenshot '{tmp_path / 'shot.jpg'}' must name a .png file."
    r = _station("dashboard")
    assert r.returncode == 2 and "one of the arguments --port --sim is required" in r.stderr


def test_no_display_is_a_clear_error_not_an_abort(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, "-m", "station", "dashboard", "--sim"], capture_output=True, text=True,
                       check=False,
                       env=env, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith("station: error: no display to show the dashboard on")
    assert "Traceback" not in r.stderr


def test_a_display_qt_cannot_open_is_a_clear_error_not_an_abort():
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":65003"
    r = subprocess.run([sys.executable, "-m", "station", "dashboard", "--sim"], capture_output=True, text=True,
                       check=False, env=env, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith("station: error: Qt cannot open a window on this display (qt.qpa.xcb: could not "
                               "connect to display :65003)")
    assert "Traceback" not in r.stderr
