"""``station dashboard``: the live clinic dashboard (PySide6 + pyqtgraph)."""

from __future__ import annotations

import argparse
import os
import sys

from station.commands.board import add_sim_board_option, add_virtual_board_id_option, sim_wii, virtual_board_id_option
from station.errors import StationError

EXAMPLES = """\
examples:
  station dashboard --sim                                  virtual board, calibrated at start-up
  station dashboard --sim --subject weak-right --rate 1000
  station dashboard --port /dev/ttyACM0
  station dashboard --sim --screenshot live.png --after 8  save the window after 8 s and exit
  station dashboard --sim --faults disconnect=20:3        the link drops 20 s after the live view starts, for 3 s
  station dashboard --sim --board wii --subject weak-right a virtual Wii Balance Board
  station dashboard --port wii                            a paired Wii Balance Board (hardware/README.md)
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="the live clinic dashboard",
        description=(
            "Live statokinesigram, sway time series, per-cell loads and link quality; patients and "
            "sessions; the protocol runner with large cues; the left/right scoreboard, the before/after "
            "view, the calibration wizard and report export."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", metavar="DEV", help="serial device of the board (or of `station simulate`), or a Wii "
                     "Balance Board: wii, its Bluetooth address or /dev/input/eventN")
    src.add_argument("--sim", action="store_true", help="use an in-process virtual board (calibrated at start-up)")
    p.add_argument("--screenshot", metavar="PNG", help="save the window to PNG after --after seconds, then exit")
    p.add_argument("--after", type=float, default=5.0, metavar="SECONDS",
                   help="delay before the screenshot (default 5)")
    p.add_argument("--tab", choices=("live", "protocol", "result", "before-after", "history", "calibration"),
                   help="tab shown first (default live)")
    sim = p.add_argument_group("virtual board (--sim)")
    sim.add_argument("--seed", type=int, default=0, help="virtual board seed (default 0)")
    add_virtual_board_id_option(sim)
    add_sim_board_option(sim)
    sim.add_argument("--rate", type=float, default=80.0, metavar="HZ", help="frame rate (default 80, up to 1000)")
    sim.add_argument("--subject", default="healthy",
                     help="virtual patient: healthy, weak-right, weak-left (default healthy)")
    sim.add_argument("--faults", metavar="SPEC", help="faults to inject, e.g. disconnect=20:3 (times in seconds from the start of the live view)")
    p.set_defaults(func=run)


def run(args) -> int:
    board_id = virtual_board_id_option(args)
    sim_wii(args)  # refuses --board-id with --board wii
    if args.after < 0:
        raise StationError("--after must be zero or more seconds.")
    if args.screenshot is not None and not args.screenshot.lower().endswith(".png"):
        raise StationError(f"--screenshot '{args.screenshot}' must name a .png file.")
    _choose_platform(screenshot=args.screenshot is not None)
    try:
        from station.dashboard.app import run_dashboard
    except ImportError as exc:
        raise StationError(f"the dashboard needs PySide6 and pyqtgraph ({exc}).") from None
    return run_dashboard(port=args.port, sim=args.sim, seed=args.seed, rate_hz=args.rate, subject=args.subject,
                         faults=args.faults, board_id=board_id, screenshot=args.screenshot, after_s=args.after, tab=args.tab,
                         sim_board=args.board)


def _choose_platform(*, screenshot: bool) -> None:
    """Without a display Qt aborts the process: render offscreen for a screenshot, else say so."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        if not screenshot:
            from station.commands.qtprobe import qt_platform_loads

            ok, why = qt_platform_loads()
            if not ok:
                raise StationError(f"Qt cannot open a window on this display ({why}); as root, `make demo` installs "
                                   "the libraries Qt's xcb platform needs, or use --screenshot PNG.")
        return
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    raise StationError("no display to show the dashboard on (DISPLAY is not set); use --screenshot PNG, "
                       "set QT_QPA_PLATFORM=offscreen, or run `station demo --headless`.")
