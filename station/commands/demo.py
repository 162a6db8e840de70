"""``station demo``: the main job on the virtual board.

With a display (and without ``--headless``) it opens the live dashboard on the virtual board as a guided
first run: a demo patient is chosen, the runner page shows the primer session and says to press Start,
and the clinician picks the speed (real time or 4-20x faster) before the one click. Without a
display, or with ``--headless``, it runs a complete simulated primer session — the virtual board is
calibrated with known masses, a virtual runner whose right hip drops is tested on each leg (baseline),
guided through the primer (standing pigeon, side hip lifts, rear-foot-elevated RDL; 3 rounds) and
re-tested (post) — and writes the PDF report, saying where.

The demo keeps its patients apart from the clinic's: unless ``--data-dir`` / ``$STATION_DATA_DIR`` is
given, it stores into ``<user data dir>/demo``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from station.commands.board import add_sim_board_option, add_virtual_board_id_option, sim_wii, virtual_board_id_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="the main job on the virtual board (dashboard, or headless primer session + PDF)",
        description="Run the station on the virtual board: the live dashboard when a display is available, "
        "otherwise (or with --headless) a complete simulated primer session ending in a PDF report.",
    )
    p.add_argument("--headless", action="store_true", help="run the simulated primer session without the dashboard")
    p.add_argument("--report", metavar="PATH", default="station-demo-report.pdf",
                   help="where the headless session's PDF report goes (default: ./station-demo-report.pdf)")
    p.add_argument("--seed", type=int, default=7, help="virtual board seed (default 7)")
    add_virtual_board_id_option(p)
    add_sim_board_option(p)
    p.add_argument("--subject", default="weak-right", metavar="NAME|FILE",
                   help="the virtual patient (default weak-right: a runner whose right hip drops)")
    p.add_argument("--seconds", type=float, default=20.0, metavar="S",
                   help="single-leg trial length in the headless session (default 20)")
    p.set_defaults(func=run)


def _has_display() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform in ("offscreen", "minimal"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _demo_data_dir() -> None:
    if os.environ.get("STATION_DATA_DIR"):
        return
    from station.paths import data_dir

    os.environ["STATION_DATA_DIR"] = str(data_dir() / "demo")


def run(args) -> int:
    board_id = virtual_board_id_option(args)  # a bad --board-id is one clear line, before anything starts
    args.sim = True
    sim_wii(args)  # --board-id does not go with --board wii
    _demo_data_dir()
    if not args.headless and _has_display():
        from station.commands.qtprobe import qt_platform_loads

        ok, why = qt_platform_loads()
        if ok:
            from station.dashboard.app import run_dashboard

            return run_dashboard(sim=True, subject=args.subject, seed=args.seed, board_id=board_id, guided=True,
                                 sim_board=args.board)
        print(f"Qt cannot open a window on this display ({why}); running the headless demo instead "
              "(a simulated primer session ending in a PDF report). `make demo` as root installs the "
              "libraries Qt's xcb platform needs.")
    elif not args.headless:
        print("No display found: running the headless demo (a simulated primer session ending in a PDF report).")
    from station.commands import assess

    report = Path(args.report).expanduser().resolve()
    report.parent.mkdir(parents=True, exist_ok=True)
    # the arguments as `station assess` itself parses them (its defaults included, whatever it adds)
    parser = argparse.ArgumentParser(prog="station")
    assess.register(parser.add_subparsers())
    assess_args = parser.parse_args([
        "assess", "--sim", "--patient", "Demo runner (virtual)", "--protocol", "primer", "--report", str(report),
        "--operator", "station demo", "--body-mass", "72", "--birth-year", "1990", "--sex", "female",
        "--dominant-leg", "right", "--seconds", f"{args.seconds:g}", "--seed", str(args.seed),
        "--subject", args.subject, "--primer-effect", "30", "--board", args.board,
        *(["--board-id", f"{board_id:08X}"] if board_id is not None else []),
        "--force",  # the demo replaces its own report
    ])
    status = assess.run(assess_args)
    print(f"Demo report written to {report}")
    return status
