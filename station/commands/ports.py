"""``station ports``: list serial ports that look like boards."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ports",
        help="list serial ports that look like boards",
        description="List candidate serial ports (pyserial enumeration, /dev/ttyACM*, /dev/ttyUSB* and the "
        "paths in $STATION_PORTS). Ports with an Arduino or USB-serial bridge VID:PID are marked '*'.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    from station.board.ports import ARDUINO_LIKE_VIDS, list_ports

    ports = list_ports()
    if args.json:
        print(json.dumps([
            {"device": p.device, "description": p.description, "vid_pid": p.vid_pid,
             "serial_number": p.serial_number, "likely_board": p.likely_board, "source": p.source}
            for p in ports
        ], indent=1))
        return 0
    if not ports:
        print("no serial ports found (is the board plugged in? for the simulator, run `station simulate`).")
        return 0
    for p in ports:
        mark = "*" if p.likely_board else " "
        maker = ARDUINO_LIKE_VIDS.get(p.vid, "")
        fields = [p.device, p.vid_pid, maker, p.description]
        print(f"{mark} " + "  ".join(f for f in fields if f))
    if any(p.likely_board for p in ports):
        print("* = Arduino or USB-serial bridge (likely a board)")
    return 0
