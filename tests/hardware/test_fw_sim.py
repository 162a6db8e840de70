"""Firmware in the loop: the unmodified uno .elf in libsimavr with four simulated HX711s.

Every byte checked here was produced by the firmware and decoded with the project's decoder
(station.board.decode). The "ramp" load pattern gives every chip and conversion a distinct 24-bit
value, ``(index * 104729 + chip * 2**21 + 12345) mod 2**24``, so a count identifies exactly which
conversion of which chip it came from.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from station.board.protocol import (
    CMD_INFO,
    CMD_SET_BOARD_ID,
    CMD_SIM_SCENE,
    CMD_START,
    CMD_STOP,
    COUNT_MAX,
    COUNT_MIN,
    encode_command,
)
from station.board.decode import decode_frames

START = encode_command(CMD_START)
RAMP_MUL, RAMP_CHIP, RAMP_ADD = 104729, 1 << 21, 12345
RAMP_INV = pow(RAMP_MUL, -1, 1 << 24)
T_START_S = 0.1  # HX711s settle for 4 conversions after power-up (50 ms at 80 SPS)


def ramp_index(counts: np.ndarray, chip: int) -> np.ndarray:
    """Invert the harness's ramp pattern: which conversion produced each count of ``chip``."""
    u = counts.astype(np.int64) & 0xFFFFFF
    return ((u - RAMP_ADD - chip * RAMP_CHIP) * RAMP_INV) % (1 << 24)


def ramp_value(index: np.ndarray, chip: int) -> np.ndarray:
    u = (index.astype(np.int64) * RAMP_MUL + chip * RAMP_CHIP + RAMP_ADD) & 0xFFFFFF
    return np.where(u >= 1 << 23, u - (1 << 24), u)


def assert_clean(batch, run):
    assert batch.crc_errors == 0
    if batch.skipped_bytes:  # only allowed for a frame cut off by the end of the simulation
        assert batch.skipped_bytes < 30
        assert decode_frames(run.uart[: -batch.skipped_bytes]).skipped_bytes == 0
    assert run.report["violations"] == 0
    assert all(c["powerdowns"] == 0 and c["wrong_gain_reads"] == 0 for c in run.report["chips"])
    seq = batch.frames["seq"].astype(np.int64)
    assert np.array_equal(np.diff(seq), np.ones(len(seq) - 1, dtype=np.int64)), "sequence gap"


def test_loads_from_file_arrive_exactly_with_period_timestamps(run_sim):
    rng = np.random.default_rng(3)
    loads = rng.integers(-(1 << 23), 1 << 23, size=(1200, 4))
    loads[::97, 2] = 9_000_000  # beyond full scale: the chip saturates at the rail
    loads[::89, 0] = -9_000_000
    run = run_sim(seconds=10.5, loads=loads, cmds=[(T_START_S, START)])
    batch = run.decode()
    assert_clean(batch, run)
    f = batch.frames
    assert len(f) >= 10 * 80 - 5
    expected = np.clip(loads, COUNT_MIN, COUNT_MAX)
    # the first frame identifies the first conversion streamed; every later frame is the next one
    j0 = int(np.flatnonzero((expected == f["counts"][0]).all(axis=1))[0])
    assert np.array_equal(f["counts"], expected[j0 : j0 + len(f)])
    sat = (f["counts"] == COUNT_MAX) | (f["counts"] == COUNT_MIN)
    assert sat.any()
    bits = (f["status"][:, None] >> np.arange(4)) & 1
    assert np.array_equal(bits.astype(bool), sat)
    assert (f["status"] & 0xF0 == 0).all() and (f["missed"] == 0).all()
    # data-ready every 12 500 us (chips without skew); micros() has a 4 us resolution
    dt = np.diff(f["t_us"].astype(np.int64))
    assert np.abs(dt - 12_500).max() <= 8
    # clock phases as designed: 10 cycles high (0.625 us), at least 0.2 us low
    assert run.report["clock_high_us"] == [0.625, 0.625]
    assert 0.2 <= run.report["clock_low_us"][0] <= run.report["clock_low_us"][1] < 1.0
    # boot info frame and the ack of the start command
    assert [i.adc_kind for i in batch.infos] == ["HX711"] and batch.acks == [(CMD_START, 0)]


def test_skewed_oscillators_stream_without_gaps_or_missed_reports(run_sim):
    skew = (0, 3000, -2000, 1000)  # ppm: chip 2 is the slowest and sets the pace
    run = run_sim(seconds=10.2, skew_ppm=skew, pattern="ramp", cmds=[(T_START_S, START)])
    batch = run.decode()
    assert_clean(batch, run)
    f = batch.frames
    assert len(f) >= 10 * 80 - 10
    idx = np.stack([ramp_index(f["counts"][:, c], c) for c in range(4)], axis=1)
    for c in range(4):  # each count is exactly a value the simulated chip produced
        assert np.array_equal(ramp_value(idx[:, c], c), f["counts"][:, c])
        assert idx[-1, c] < run.report["chips"][c]["conversions"]
    steps = np.diff(idx, axis=0)
    assert (steps[:, 2] == 1).all()  # every conversion of the slowest chip is delivered
    assert set(np.unique(steps)) <= {1, 2}  # faster chips overtake it now and then (shared clock)
    assert (f["missed"] == 0).all() and (f["status"] == 0).all()
    slow_period_us = run.report["chips"][2]["period_cycles"] / 16
    dt = np.diff(f["t_us"].astype(np.int64))
    assert abs(np.median(dt) - slow_period_us) <= 4
    # mean interval within 0.05 % (the last-ready chip changes when a faster one overtakes)
    assert abs((f["t_us"][-1] - f["t_us"][0]) / (len(f) - 1) - slow_period_us) < 6.0


def test_saturation_and_timeout_bits(run_sim):
    run = run_sim(seconds=4.0, pattern="ramp", saturate=[(2, 1.0, 1.5)], stall=[(1, 2.0, 2.6)],
                  cmds=[(T_START_S, START)])
    batch = run.decode()
    assert_clean(batch, run)
    f = batch.frames
    t = f["t_us"] / 1e6
    saturated = (f["status"] & 0x04) != 0
    in_sat = (t > 1.0 + 0.0125) & (t < 1.5)
    assert np.array_equal(saturated, in_sat | ((t >= 1.0) & (t <= 1.0125) & saturated))
    assert (f["counts"][saturated, 2] == COUNT_MAX).all()
    assert in_sat.sum() >= 38
    timeout = (f["status"] & 0x20) != 0
    # no data-ready for two periods (25 ms) -> flagged until the chip is back
    assert not timeout[t < 2.0].any() and not timeout[t > 2.62].any()
    assert timeout[(t > 2.03) & (t < 2.6)].all()
    assert timeout.sum() >= 44
    held = f["counts"][timeout, 1]
    assert (held == held[0]).all()  # the stalled channel repeats its last good count
    assert (f["status"] & ~np.uint8(0x24) == 0).all()
    # the other channels keep their pace while one is stalled
    dt = np.diff(f["t_us"].astype(np.int64))
    assert (np.abs(dt - 12_500) <= 8).sum() >= len(dt) - 4  # the 25 ms timeout gap and the return


def test_rate_the_uno_cannot_sustain_reports_missed_conversions(run_sim):
    # At 2000 SPS the firmware (Arduino Serial: ~600 us of CPU per frame sent) tops out near
    # 1 200 frames/s: the chips replace results before they are read.
    run = run_sim(seconds=3.0, rate=2000.0, pattern="ramp", cmds=[(T_START_S, START)])
    batch = run.decode()
    assert_clean(batch, run)
    f = batch.frames
    reported = f["missed"][1:].astype(np.int64)
    assert 1000 < len(f) < 0.8 * 2000 * 2.9
    for c in range(4):
        idx = ramp_index(f["counts"][:, c], c)
        assert np.array_equal(ramp_value(idx, c), f["counts"][:, c])
        really_missed = np.diff(idx) - 1
        assert really_missed.sum() > 1500
        # nothing vanishes: every conversion a chip made is either in a frame or counted as missed
        assert abs(int(reported.sum()) - int(really_missed.sum())) <= 2, c
    assert (reported > 0).mean() > 0.3  # reported frame by frame, not in one lump


def test_commands_info_board_id_unknown_stop(run_sim):
    cmds = [
        (0.10, encode_command(CMD_INFO)),
        (0.12, encode_command(CMD_SET_BOARD_ID, (0x5B000002).to_bytes(4, "little"))),
        (0.14, encode_command(CMD_INFO)),
        (0.16, encode_command(CMD_SIM_SCENE, b'{"subject": null}')),
        (0.18, bytes.fromhex("a55a00103e0e")),  # start with a bad CRC: ignored
        (0.20, encode_command(CMD_SET_BOARD_ID, b"\x01\x02")),  # short payload
        (0.30, START),
        (1.30, encode_command(CMD_STOP)),
    ]
    run = run_sim(seconds=2.0, pattern="ramp", cmds=cmds)
    batch = run.decode()
    assert_clean(batch, run)
    assert [i.board_id for i in batch.infos] == [0xFFFFFFFF, 0xFFFFFFFF, 0x5B000002]  # boot, info, info
    assert {(i.protocol_major, i.firmware, i.nominal_rate_hz, i.channels) for i in batch.infos} == {(1, "1.0.0", 80, 4)}
    assert batch.acks == [(CMD_SET_BOARD_ID, 0), (CMD_SIM_SCENE, 1), (CMD_SET_BOARD_ID, 2),
                          (CMD_START, 0), (CMD_STOP, 0)]
    t = batch.frames["t_us"] / 1e6
    assert t.min() > 0.30 and t.max() < 1.31
    assert len(t) >= 75  # ~1 s of streaming minus the 4-conversion period measurement


def test_too_short_clock_pulse_fails_the_harness(run_sim, broken_clock_elf):
    # HX711_CLK_HIGH_CYCLES=0: the clock is high for 2 cycles (0.125 us < 0.2 us)
    run = run_sim(seconds=0.5, elf=broken_clock_elf(0), cmds=[(T_START_S, START)], check=False)
    assert run.returncode == 1
    assert "clock high shorter than 0.2 us" in run.stderr
    assert "(0.125 us)" in run.stderr


def test_too_long_clock_pulse_powers_the_chips_down_and_fails(run_sim, broken_clock_elf):
    # 1000 extra cycles: 62.6 us high, beyond 50 us and past the 60 us power-down
    run = run_sim(seconds=0.5, elf=broken_clock_elf(1000), cmds=[(T_START_S, START)], check=False)
    assert run.returncode == 1
    assert "clock high longer than 50 us" in run.stderr
    assert all(c["powerdowns"] == 1 for c in run.report["chips"])


def test_make_builds_all_three_boards(hw_build):
    """``make -C hardware`` builds .elf and .hex for uno, nano and leonardo (compile-only)."""
    hardware = Path(__file__).resolve().parents[2] / "hardware"
    tmp_path = hw_build  # the session build already holds uno and the host programs
    proc = subprocess.run(["make", "-s", "-C", str(hardware), f"BUILD={tmp_path}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # ATmega328P has 26 interrupt vectors, ATmega32U4 43: the highest __vector_N names the MCU
    for board, last_vector in (("uno", 25), ("nano", 25), ("leonardo", 42)):
        elf = tmp_path / board / "balance_station.elf"
        hex_lines = (tmp_path / board / "balance_station.hex").read_text().split()
        assert elf.read_bytes()[:4] == b"\x7fELF"
        assert hex_lines[0].startswith(":") and hex_lines[-1] == ":00000001FF"
        assert len(hex_lines) > 100  # a few kB of code
        symbols = subprocess.run(["avr-objdump", "-t", str(elf)], capture_output=True, text=True).stdout
        vectors = [int(w.rsplit("_", 1)[1]) for w in symbols.split() if w.startswith("__vector_") and w[9:].isdigit()]
        assert max(vectors) == last_vector, board
