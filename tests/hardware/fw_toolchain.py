"""Is the firmware toolchain installed? (used by conftest.py; without it the tests skip)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

APT_HINT = (
    "apt-get install gcc-avr avr-libc arduino-core-avr arduino-mk simavr libsimavr-dev "
    "libsimavrparts1 libelf-dev"
)


def _missing_tools() -> list[str]:
    missing = [tool for tool in ("make", "gcc", "avr-gcc", "pkg-config") if shutil.which(tool) is None]
    for path in (
        "/usr/share/arduino/Arduino.mk",
        "/usr/share/arduino/hardware/arduino/avr/cores/arduino/Arduino.h",
        "/usr/include/simavr/sim_avr.h",
        "/usr/include/libelf.h",
    ):
        if not Path(path).exists():
            missing.append(path)
    return missing


def require_toolchain() -> None:
    """Skip the calling test (or fixture) when the firmware toolchain is not installed."""
    missing = _missing_tools()
    if missing:
        pytest.skip(f"firmware toolchain missing ({', '.join(missing)}); install it with: {APT_HINT}")
