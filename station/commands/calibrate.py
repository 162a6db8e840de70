"""``station calibrate``: the guided calibration (tare, known masses, verification, drift, creep).

Interactive on a real board (prompts on stderr, Enter to confirm each step); scripted on the
virtual board, which places the requested masses itself over the wire (``CMD_SIM_SCENE``) — the
same wizard either way. A passing calibration becomes the board's active one
(``$STATION_DATA_DIR/calibrations/<board_id>.json``).
"""

from __future__ import annotations

import argparse
import logging
import sys

from station.commands.board import add_sim_board_option, add_virtual_board_id_option, sim_wii, virtual_board_id_option
from station.errors import CalibrationError, StationError

logger = logging.getLogger(__name__)

EXAMPLES = """\
examples:
  station calibrate --port /dev/ttyACM0 --operator "J. Doe"        interactive, standard procedure
  station calibrate --sim --protocol quick                          the virtual board calibrates itself
  station calibrate --sim --seed 3 --protocol quick                 another virtual board (id 5B000004)
  station simulate --link /tmp/vb &  station calibrate --port /tmp/vb --scripted --protocol quick
  station calibrate --port wii --operator "J. Doe"                  a paired Wii Balance Board (known masses)
  station calibrate --sim --board wii --protocol quick              the virtual Wii Balance Board
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="guided calibration with known masses",
        description=(
            "Calibrate a board: tare, known masses on a placement grid (least-squares gains with "
            "residual checks), verification of force and COP errors at each grid point, drift and "
            "creep checks. A passing calibration becomes the board's active calibration."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", metavar="DEV", help="serial device of the board (or of `station simulate`), or a Wii "
                     "Balance Board: wii, its Bluetooth address or /dev/input/eventN")
    src.add_argument("--sim", action="store_true", help="calibrate an in-process virtual board (implies --scripted)")
    p.add_argument("--scripted", action="store_true",
                   help="the virtual board answers the prompts by placing the masses itself (CMD_SIM_SCENE)")
    p.add_argument("--protocol", default="standard", metavar="NAME|FILE",
                   help="calibration procedure from calibration/protocols (standard, quick) or a TOML file (default: standard)")
    p.add_argument("--geometry", default=None, metavar="NAME|FILE",
                   help="board geometry from calibration/boards or a TOML file (default: reference-400x300; "
                        "wii-balance-board for a Wii Balance Board)")
    p.add_argument("--operator", default="", help="who is calibrating (stored in the calibration file)")
    p.add_argument("--model", choices=("cells", "matrix"), help="override the procedure's fit model")
    p.add_argument("--cop-correction", choices=("none", "affine", "bilinear"), help="override the procedure's COP correction")
    p.add_argument("--skip-drift", action="store_true", help="skip the empty-board drift check")
    p.add_argument("--skip-creep", action="store_true", help="skip the creep check")
    p.add_argument("--out", metavar="FILE", help="also write the calibration to FILE (JSON)")
    p.add_argument("--no-save", action="store_true", help="do not make it the board's active calibration")
    sim = p.add_argument_group("virtual board (--sim)")
    sim.add_argument("--seed", type=int, default=0, help="virtual board seed (default 0)")
    add_virtual_board_id_option(sim)
    add_sim_board_option(sim)
    sim.add_argument("--rate", type=float, default=80.0, metavar="HZ", help="virtual board frame rate (default 80)")
    sim.add_argument("--realtime", action="store_true", help="pace the virtual board by the wall clock")
    sim.add_argument("--misplace", action="append", default=[], metavar="STEP:X,Y",
                     help="rehearsal: the virtual board puts placement STEP (1-based) at X,Y mm instead")
    p.set_defaults(func=run)


def _parse_misplace(items: list[str]) -> dict:
    out = {}
    for item in items:
        try:
            step, xy = item.split(":")
            x, y = (float(v) for v in xy.split(","))
            out[int(step) - 1] = (x, y)
        except ValueError:
            raise StationError(f"--misplace '{item}' is not STEP:X,Y (e.g. 5:40,0).") from None
    return out


def _protocol(args):
    from station.calibration.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    fit = protocol.fit
    if args.model or args.cop_correction:
        import dataclasses

        fit = dataclasses.replace(fit, model=args.model or fit.model, cop_correction=args.cop_correction or fit.cop_correction)
    return protocol.replace(
        fit=fit,
        drift=None if args.skip_drift else protocol.drift,
        creep=None if args.skip_creep else protocol.creep,
    )


def _is_wii(args) -> bool:
    from station.board.wii import looks_like_wii_port

    return sim_wii(args) or (bool(args.port) and looks_like_wii_port(args.port))


def _transport(args, geometry, board_id: int | None):
    if sim_wii(args):
        from station.board.virtual.wii import virtual_wii_source

        return virtual_wii_source(seed=args.seed, realtime=args.realtime, chunk_s=0.25)
    if args.sim:
        from station.board.virtual import BoardModel, VirtualBoard, VirtualTransport

        model = BoardModel(positions_mm=tuple(map(tuple, geometry.positions_mm.tolist())), name=geometry.name)
        board = VirtualBoard(seed=args.seed, rate_hz=args.rate, board=model, board_id=board_id,
                             record_truth=False)
        return VirtualTransport(board, realtime=args.realtime, chunk_s=0.25)
    from station.board.wii import source_for_port

    return source_for_port(args.port)


def run(args) -> int:
    from station.calibration import load_geometry, save_calibration
    from station.calibration.wizard import ConsoleOperator, SimOperator, calibrate_over

    board_id = virtual_board_id_option(args)  # a bad --board-id is refused before anything starts
    protocol = _protocol(args)
    geometry = load_geometry(args.geometry or ("wii-balance-board" if _is_wii(args) else "reference-400x300"))
    misplace = _parse_misplace(args.misplace)
    scripted = args.sim or args.scripted
    if misplace and not scripted:
        raise StationError("--misplace only applies when the virtual board places the masses (--sim or --scripted).")
    transport = _transport(args, geometry, board_id)

    def make_operator(t):
        return SimOperator(t, out=sys.stderr, misplace=misplace) if scripted else ConsoleOperator()

    outcome = calibrate_over(transport, make_operator=make_operator, protocol=protocol, geometry=geometry,
                             operator_name=args.operator, for_saving=not args.no_save)
    print(outcome.format())
    cal = outcome.calibration
    if not outcome.passed:
        raise CalibrationError(
            f"the calibration of board {cal.board_id} failed ({len(outcome.problems)} problem(s) listed above); nothing was saved."
        )
    if not args.no_save:
        path = save_calibration(cal)
        print(f"active calibration of board {cal.board_id}: {path} (version {cal.version})")
    if args.out:
        print(f"written to {save_calibration(cal, args.out)}")
    return 0
