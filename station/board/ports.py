"""Find serial ports that may be balance boards.

Candidates come from pyserial's port enumeration, the usual Linux device globs (``/dev/ttyACM*``,
``/dev/ttyUSB*``) and any paths listed in ``$STATION_PORTS`` (``os.pathsep``-separated; handy for
``station simulate --link`` symlinks). Ports whose USB VID:PID belongs to an Arduino or a common
USB-serial bridge are marked ``likely_board``.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: USB vendor ids of Arduino boards and of the bridges clones use
ARDUINO_LIKE_VIDS = {
    0x2341: "Arduino",
    0x2A03: "Arduino (.org)",
    0x1B4F: "SparkFun",
    0x239A: "Adafruit",
    0x1A86: "CH340 USB-serial",
    0x0403: "FTDI USB-serial",
    0x10C4: "CP210x USB-serial",
}


@dataclass(frozen=True)
class PortInfo:
    """One candidate port."""

    device: str
    description: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    source: str = "pyserial"

    @property
    def likely_board(self) -> bool:
        return self.vid in ARDUINO_LIKE_VIDS

    @property
    def vid_pid(self) -> str:
        return f"{self.vid:04X}:{self.pid:04X}" if self.vid is not None and self.pid is not None else ""


def list_ports(*, extra: list[str] | None = None) -> list[PortInfo]:
    """Candidate ports, likely boards first, each device listed once."""
    found: dict[str, PortInfo] = {}
    try:
        from serial.tools import list_ports as _lp

        for p in _lp.comports():
            found[p.device] = PortInfo(p.device, p.description if p.description != "n/a" else "", p.vid, p.pid,
                                       p.serial_number, "pyserial")
    except Exception as exc:  # enumeration is best effort (no sysfs in some containers)
        log.info("pyserial could not enumerate ports: %s", exc)
    for pattern in ("/dev/ttyACM*", "/dev/ttyUSB*"):
        for dev in sorted(glob.glob(pattern)):
            found.setdefault(dev, PortInfo(dev, source="glob"))
    env = [p for p in os.environ.get("STATION_PORTS", "").split(os.pathsep) if p]
    for dev in [*env, *(extra or [])]:
        if os.path.exists(dev) and dev not in found:
            target = os.path.realpath(dev)
            found[dev] = PortInfo(dev, f"-> {target}" if target != dev else "", source="STATION_PORTS")
    return sorted(found.values(), key=lambda p: (not p.likely_board, p.device))
