"""``station simulate``: serve the virtual board on a pseudo-terminal."""

from __future__ import annotations

import logging
import signal
import sys

from station.commands.board import add_virtual_board_id_option, virtual_board_id_option
from station.errors import StationError

logger = logging.getLogger(__name__)


class _Terminated(Exception):
    """SIGTERM arrived: stop serving, write the ground truth, exit 0."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="serve the virtual board on a pseudo-terminal",
        description="Serve the virtual board on a pseudo-terminal. Prints the device path on stdout "
        "(again after each simulated re-plug); the board streams after the host's START command, "
        "answers INFO and acknowledges commands, like the firmware.",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (hidden gains/offsets, noise, sway, faults); default 0")
    p.add_argument("--rate", type=float, default=80.0, metavar="HZ", help="nominal frame rate, 1-1000 Hz (default 80)")
    p.add_argument("--subject", default="healthy", metavar="NAME|FILE",
                   help="preset (healthy, weak-right, weak-left, empty; suffix :single-left, :rdl-right, ...) "
                   "or a .json/.toml subject file (default healthy)")
    p.add_argument("--stance", choices=("both", "left", "right"), help="override the subject's stance")
    p.add_argument("--task", choices=("quiet", "single_leg", "rdl", "steps", "empty"), help="override the subject's task")
    p.add_argument("--board", default="reference-400x300", metavar="GEOMETRY",
                   help="sensor geometry: reference-400x300 (default) or wii-balance-board")
    p.add_argument("--faults", default=None, metavar="SPEC",
                   help="e.g. corrupt=0.01,drop=0.001,burst=0.01:64,disconnect=12:2,reboot=20,dead=fr,saturate=bl,timeout=br "
                        "(disconnect=+3:1.5: 3 s after the first start command)")
    p.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds (default: until interrupted)")
    p.add_argument("--link", default=None, metavar="PATH", help="also create the symlink PATH to the device")
    p.add_argument("--truth", default=None, metavar="FILE", help="write the ground truth (.npz) on exit")
    p.add_argument("--clock-ppm", type=float, default=0.0, metavar="PPM", help="board clock error against the host (default 0)")
    add_virtual_board_id_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from station.board.virtual import BoardModel, FaultSpec, Subject, VirtualBoard
    from station.board.virtual.pty_server import serve

    subject = Subject.resolve(args.subject)
    changes = {k: v for k, v in (("stance", args.stance), ("task", args.task)) if v is not None}
    if changes:
        subject = subject.replace(**changes)
    if args.seconds is not None and args.seconds <= 0:
        raise StationError("--seconds must be positive.")
    board = VirtualBoard(
        seed=args.seed, rate_hz=args.rate, subject=subject, board=BoardModel.named(args.board),
        faults=FaultSpec.parse(args.faults),
        board_id=virtual_board_id_option(args),  # None: the seed's own id
        clock_ppm=args.clock_ppm,
        record_truth=args.truth is not None,
    )

    def announce(path: str) -> None:
        print(path, flush=True)

    def on_term(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        serve(board, link=args.link, seconds=args.seconds, on_ready=announce)
    except (_Terminated, KeyboardInterrupt):
        logger.info("simulation stopped by a signal at %.3f s", board.time_s)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if args.truth is not None:
            written = board.truth.save_npz(args.truth)
            print(f"ground truth: {written}", file=sys.stderr, flush=True)
    return 0
