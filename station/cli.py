"""The ``station`` command.

Each subcommand lives in ``station/commands/<name>.py`` and provides ``register(subparsers)``
(adds its parser; sets ``func``) — the module is imported only when needed, so ``station --help``
and headless commands never pay for Qt or numba imports they do not use.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from station import __version__
from station.errors import StationError

#: subcommand name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("station.commands.demo", "the main job on the virtual board (dashboard, or headless primer session + PDF)"),
    "simulate": ("station.commands.simulate", "serve the virtual board on a pseudo-terminal"),
    "ports": ("station.commands.ports", "list serial ports that look like boards"),
    "board": ("station.commands.board", "show a board's identity, or set its id"),
    "record": ("station.commands.record", "capture a trial (raw frames + quality) to a trial file"),
    "calibrate": ("station.commands.calibrate", "guided calibration with known masses"),
    "analyze": ("station.commands.analyze", "sway metrics and recording quality of a trial or CSV file"),
    "assess": ("station.commands.assess", "run a whole assessment protocol headless"),
    "dashboard": ("station.commands.dashboard", "the live clinic dashboard"),
    "report": ("station.commands.report", "write a session's PDF report"),
    "export": ("station.commands.export", "export a session as CSV, JSON or C3D"),
    "stream": ("station.commands.stream", "live forces and COP as a Lab Streaming Layer outlet"),
    "patients": ("station.commands.patients", "list, add, edit, delete or restore patients"),
    "sessions": ("station.commands.sessions", "list, delete or restore sessions"),
    "sync": ("station.commands.sync", "upload what was recorded while the database server was away"),
    "db": ("station.commands.db", "database status, schema upgrade, migrate a station's history, server roles"),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station", description="Balance Station: force-plate balance assessment.")
    parser.add_argument("--version", action="version", version=f"station {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and diagnostics to stderr")
    parser.add_argument("--data-dir", help="data directory (default: $STATION_DATA_DIR or the user data directory)")
    parser.add_argument("--database", metavar="URL", help="sqlite:///FILE or postgresql://USER@HOST/DB (default: "
                        "$STATION_DATABASE_URL, else the SQLite file in the data directory); the password comes from "
                        "~/.pgpass, PGPASSWORD or a libpq service file, never from here")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Import only the chosen subcommand's module when one is named; all of them for --help.
    wanted = [a for a in (argv or []) if a in COMMANDS][:1] or list(COMMANDS)
    for name in COMMANDS:
        module_name, help_text = COMMANDS[name]
        if name in wanted:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                missing = (exc.name or "").split(".")[0]
                if missing == "station" or not missing:
                    raise
                # an optional dependency (an extra) is not installed: say which, for this command only
                p = sub.add_parser(name, help=help_text, add_help=False)
                p.set_defaults(func=None, _missing=missing)
                continue
            module.register(sub)
            continue
        sub.add_parser(name, help=help_text)
    return parser


#: optional dependency -> the extra that installs it
EXTRAS = {"PySide6": "gui", "pyqtgraph": "gui", "pylsl": "lsl"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    missing = getattr(args, "_missing", None)
    if missing:
        extra = EXTRAS.get(missing)
        how = f"pip install 'balance-station[{extra}]'" if extra else f"pip install {missing}"
        print(f"station: error: '{args.command}' needs the Python package {missing}, which is not installed ({how}).", file=sys.stderr)
        return 2
    if extra:
        parser.parse_args(argv)  # reports the unknown arguments and exits 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.data_dir:
        import os

        os.environ["STATION_DATA_DIR"] = args.data_dir
    if args.database:
        import os

        os.environ["STATION_DATABASE_URL"] = args.database
    if args.command is None or args.func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # the reader went away (`station analyze ... | head`): stop quietly, as a Unix filter does
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except StationError as exc:
        print(f"station: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("station: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
