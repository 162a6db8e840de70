"""Fixtures for the firmware tests: toolchain check, cached builds, and a firmware-in-the-loop runner.

Builds go to a per-session temporary directory through ``make -C hardware BUILD=...`` (the same
Makefile a developer uses), once per session. Without the AVR toolchain every test here skips and
names the apt command that installs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fw_toolchain import require_toolchain

HARDWARE = Path(__file__).resolve().parents[2] / "hardware"


def _make(build: Path, *targets: str, extra_cppflags: str = "") -> None:
    cmd = ["make", "-s", "-C", str(HARDWARE), f"BUILD={build}", *targets]
    if extra_cppflags:
        cmd.append(f"EXTRA_CPPFLAGS={extra_cppflags}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="session")
def hw_build(tmp_path_factory) -> Path:
    """Host programs (encoder test, simavr harness) and the uno firmware, built once."""
    require_toolchain()
    build = tmp_path_factory.mktemp("hw-build")
    _make(build, "host", "uno")
    return build


@pytest.fixture(scope="session")
def broken_clock_elf(tmp_path_factory, hw_build):
    """``broken_clock_elf(high_cycles)``: the uno firmware built with a wrong clock-high length."""
    built = {}

    def build(high_cycles: int) -> Path:
        if high_cycles not in built:
            out = tmp_path_factory.mktemp(f"hw-build-clk-{high_cycles}")
            # reuse the compiled Arduino core; only the sketch is rebuilt with the define
            shutil.copytree(hw_build / "uno", out / "uno")
            for stale in (out / "uno").glob("balance_station.*"):
                stale.unlink()
            _make(out, "uno", extra_cppflags=f"-DHX711_CLK_HIGH_CYCLES={high_cycles}")
            built[high_cycles] = out / "uno" / "balance_station.elf"
        return built[high_cycles]

    return build


@dataclass
class SimRun:
    returncode: int
    stderr: str
    report: dict
    uart: bytes
    reads: np.ndarray  # (n, 4) int64: chip, conversion index, value, cycle

    def decode(self):
        from station.board.decode import decode_frames

        return decode_frames(self.uart)


@pytest.fixture(scope="session")
def run_sim(hw_build, tmp_path_factory):
    """Run the harness on a firmware: ``run_sim(seconds=..., rate=..., cmds=[(t_s, bytes)], ...)``."""
    work = tmp_path_factory.mktemp("sim-runs")
    counter = iter(range(10**6))

    def run(*, seconds, rate=80.0, elf=None, skew_ppm=None, phase=None, loads=None, pattern=None,
            stall=None, saturate=None, cmds=(), check=True) -> SimRun:
        k = next(counter)
        uart, reads, report = work / f"uart{k}.bin", work / f"reads{k}.txt", work / f"report{k}.json"
        argv = [str(hw_build / "fw_sim"), "--elf", str(elf or hw_build / "uno" / "balance_station.elf"),
                "--seconds", repr(seconds), "--rate", repr(rate),
                "--uart-out", str(uart), "--reads", str(reads), "--report", str(report)]
        if skew_ppm is not None:
            argv += ["--skew-ppm", ",".join(str(x) for x in skew_ppm)]
        if phase is not None:
            argv += ["--phase", ",".join(str(x) for x in phase)]
        if loads is not None:
            path = work / f"loads{k}.txt"
            np.savetxt(path, np.asarray(loads, dtype=np.int64), fmt="%d")
            argv += ["--loads", str(path)]
        if pattern is not None:
            argv += ["--pattern", pattern]
        for chip, t0, t1 in stall or ():
            argv += ["--stall", f"{chip}:{t0}:{t1}"]
        for chip, t0, t1 in saturate or ():
            argv += ["--saturate", f"{chip}:{t0}:{t1}"]
        for t_s, data in cmds:
            argv += ["--cmd", f"{t_s}:{bytes(data).hex()}"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"fw_sim exited {proc.returncode}: {proc.stderr}")
        rep = json.loads(report.read_text()) if report.exists() and report.stat().st_size else {}
        rows = np.loadtxt(reads, dtype=np.int64, ndmin=2) if reads.exists() and reads.stat().st_size else np.zeros((0, 4), np.int64)
        return SimRun(proc.returncode, proc.stderr, rep, uart.read_bytes() if uart.exists() else b"", rows)

    return run
