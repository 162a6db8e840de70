"""``station ports``: list serial ports that look like boards, and connected Wii Balance Boards."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ports",
        help="list serial ports that look like boards, and Wii Balance Boards",
        description="List candidate serial ports (pyserial enumeration, /dev/ttyACM*, /dev/ttyUSB* and the "
        "paths in $STATION_PORTS; ports with an Arduino or USB-serial bridge VID:PID are marked '*'), then the "
        "Wii Balance Boards among the input devices (/dev/input/event*, read with evdev). Give either to "
        "--port; for a Wii Balance Board --port wii (the only one) or its Bluetooth address also work.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    from station.board.ports import ARDUINO_LIKE_VIDS, list_ports
    from station.board.wii import KIND, import_evdev, list_wii_boards, unreadable_input_devices
    from station.errors import PortError

    ports = list_ports()
    boards = list_wii_boards()
    if args.json:
        doc = [
            {"device": p.device, "description": p.description, "vid_pid": p.vid_pid,
             "serial_number": p.serial_number, "likely_board": p.likely_board, "source": p.source}
            for p in ports
        ]
        doc += [{"device": b.path, "description": "Nintendo Wii Balance Board", "address": b.address,
                 "likely_board": True, "source": "evdev", "kind": KIND} for b in boards]
        print(json.dumps(doc, indent=1))
        return 0
    if not ports and not boards:
        print("no serial ports or Wii Balance Boards found (is the board plugged in or paired? for the simulator, "
              "run `station simulate`).")
    for p in ports:
        mark = "*" if p.likely_board else " "
        maker = ARDUINO_LIKE_VIDS.get(p.vid, "")
        fields = [p.device, p.vid_pid, maker, p.description]
        print(f"{mark} " + "  ".join(f for f in fields if f))
    if any(p.likely_board for p in ports):
        print("* = Arduino or USB-serial bridge (likely a board)")
    for b in boards:
        print(f"W {b.path}  {b.address}  Nintendo Wii Balance Board")
    if boards:
        print("W = Wii Balance Board (--port wii, its address, or its /dev/input path)")
    try:
        import_evdev()
    except PortError as exc:
        print(f"(Wii Balance Boards not listed: {exc})")
        return 0
    hidden = unreadable_input_devices()
    if hidden and not boards:
        print(f"({hidden} input devices are not readable by this user; a paired Wii Balance Board may be among them: "
              "see 'Using a Wii Balance Board' in hardware/README.md for the udev rule.)")
    return 0
