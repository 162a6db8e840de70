"""``station board info|set-id HEX --port DEV``: show a board's identity, or give it an id.

Every board needs a unique id: calibrations are stored per board id, and a new chip reports
FFFFFFFF (erased EEPROM), which the station refuses to store a calibration for. ``set-id`` writes
the id over the protocol (CMD_SET_BOARD_ID, acknowledged), then asks the board for its info again
and checks that it reports the new id.

It also holds the one parser of a board id typed by a user (:func:`parse_board_id`) and the
``--board-id HEX`` option of every command that creates a virtual board (``simulate``, ``calibrate
--sim``, ``assess --sim``, ``dashboard --sim``, ``demo``, ``stream --sim``), whose default is the
seed's own id (:func:`station.board.virtual.board.virtual_board_id`).
"""

from __future__ import annotations

import json
import logging
import struct

from station.errors import PortError, StationError

log = logging.getLogger(__name__)

#: ids a board must not be given: the erased-EEPROM value and zero
RESERVED_IDS = (0xFFFFFFFF, 0x00000000)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "board",
        help="show a board's identity, or set its id",
        description="info: print the board's protocol, firmware, id, ADC and nominal rate. set-id HEX: write a new "
        "board id (8 hex digits, unique per board) to the board's EEPROM and read it back. Calibrations are kept per "
        "board id, so every board needs its own; a new board reports FFFFFFFF until one is set.",
    )
    p.add_argument("action", choices=("info", "set-id"), help="what to do")
    p.add_argument("board_id", nargs="?", metavar="HEX", help="the new id, for set-id (e.g. 5B000002)")
    p.add_argument("--port", required=True, metavar="DEV", help="serial device of the board")
    p.add_argument("--baud", type=int, default=500_000, help="baud rate (default 500000; native-USB boards ignore it)")
    p.add_argument("--json", action="store_true", help="print the info as one JSON object")
    p.set_defaults(func=run)


def parse_board_id(text: str, *, allow_reserved: bool = False) -> int:
    """The one parser of a board id typed by a user: ``"5b000002"`` or ``"0x5B000002"`` -> 0x5B000002.

    Parameters
    ----------
    text : str
        1-8 hexadecimal digits, optionally prefixed ``0x``.
    allow_reserved : bool
        Accept 00000000 and FFFFFFFF (a virtual board may play a new, unprogrammed chip); a real
        board is never given them.

    Raises
    ------
    StationError
        Not 1-8 hex digits, or a reserved id when those are not allowed.
    """
    raw = str(text).strip()
    digits = raw[2:] if raw.lower().startswith("0x") else raw
    if not digits or len(digits) > 8 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise StationError(f"board id '{text}' is not 1-8 hexadecimal digits (e.g. 5B000002).")
    value = int(digits, 16)
    if value in RESERVED_IDS and not allow_reserved:
        raise StationError(f"board id {value:08X} is reserved (it means 'no id'); choose another, e.g. 5B000002.")
    return value


#: help of ``--board-id`` on every command that creates a virtual board
VIRTUAL_BOARD_ID_HELP = ("the virtual board's id, 8 hex digits (default: one id per seed, 5B000000 + seed + 1, "
                         "so seed 0 is 5B000001); calibrations are kept per board id")


def add_virtual_board_id_option(parser, *, help_prefix: str = "") -> None:
    """Add ``--board-id HEX`` (the id of an in-process or simulated virtual board) to ``parser`` or a group."""
    parser.add_argument("--board-id", default=None, metavar="HEX", help=help_prefix + VIRTUAL_BOARD_ID_HELP)


#: the virtual boards ``--sim`` can run (``--board``)
SIM_BOARDS = ("station", "wii")


def add_sim_board_option(parser) -> None:
    """Add ``--board station|wii`` (which virtual board ``--sim`` runs) to ``parser`` or a group."""
    parser.add_argument("--board", choices=SIM_BOARDS, default="station",
                        help="the virtual board --sim runs: station (the Arduino/HX711 board, default) or wii (a "
                             "virtual Wii Balance Board: the kernel driver's event stream, 10 g units, irregular "
                             "50-100 Hz)")


def sim_wii(args) -> bool:
    """True when ``--sim --board wii`` asks for the virtual Wii Balance Board (refuses ``--board-id`` with it)."""
    if not (getattr(args, "sim", False) and getattr(args, "board", "station") == "wii"):
        return False
    if getattr(args, "board_id", None) is not None:
        raise StationError("--board-id is for the station's virtual board; a Wii Balance Board's id comes from its "
                           "Bluetooth address (the virtual one's from its seed).")
    return True


def virtual_board_id_option(args) -> int | None:
    """``--board-id`` as an int, or None when not given (the virtual board then takes its seed's id).

    FFFFFFFF is allowed: a virtual board may play a new chip, whose calibration the station refuses to store.
    Given together with ``--port`` (a real board) it is refused: a real board's id is set with ``board set-id``.
    """
    text = getattr(args, "board_id", None)
    if text is None:
        return None
    if getattr(args, "port", None):
        raise StationError("--board-id sets the id of the virtual board (--sim); a real board keeps its id in its "
                           "EEPROM: `station board set-id HEX --port DEV` changes it.")
    return parse_board_id(text, allow_reserved=True)


def _print_info(info, *, as_json: bool) -> None:
    d = info.to_dict()
    if as_json:
        print(json.dumps(d))
        return
    print(f"board {d['board_id']}: protocol {d['protocol']}, firmware {d['firmware']}, {d['adc_kind']}, "
          f"{d['nominal_rate_hz']} Hz, {d['channels']} channels"
          + ("  (no id set: run `station board set-id HEX --port DEV`)" if info.board_id == 0xFFFFFFFF else ""))


def run(args) -> int:
    from station.board.protocol import ACK_OK, ACK_UNSUPPORTED, CMD_SET_BOARD_ID
    from station.board.serial_transport import SerialTransport

    if args.action == "info" and args.board_id is not None:
        raise StationError("board info takes no id; to change it use `station board set-id HEX --port DEV`.")
    if args.action == "set-id":
        if args.board_id is None:
            raise StationError("board set-id needs the new id: `station board set-id HEX --port DEV`.")
        value = parse_board_id(args.board_id)
    transport = SerialTransport(args.port, baudrate=args.baud)
    info = transport.open()
    try:
        if args.action == "info":
            _print_info(info, as_json=args.json)
            return 0
        old = info.board_id_hex
        result = transport.command(CMD_SET_BOARD_ID, struct.pack("<I", value))
        if result == ACK_UNSUPPORTED:
            raise StationError(f"the firmware of the board on {args.port} cannot set its id (firmware {info.firmware}); "
                               "update the firmware.")
        if result != ACK_OK:
            raise StationError(f"the board on {args.port} refused the id {value:08X} (result {result}).")
        back = transport.request_info()
        if back.board_id != value:
            raise PortError(f"the board on {args.port} acknowledged id {value:08X} but reports {back.board_id_hex}: "
                            "its EEPROM write did not stick.")
    finally:
        transport.close()
    print(f"board id set: {old} -> {back.board_id_hex} (read back from the board on {args.port})")
    return 0
