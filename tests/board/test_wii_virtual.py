"""The virtual Wii Balance Board: the driver's arithmetic, the input core's stream, and what the station reads from it.

Everything runs on board time (the device advances ``chunk_s`` per wait): no wall clock.
"""

from __future__ import annotations

import numpy as np
import pytest

from station.board import wii as W
from station.board.virtual import Subject
from station.board.virtual.wii import (
    EVDEV_BUFFER_EVENTS,
    VirtualWiiBoard,
    VirtualWiiDevice,
    VirtualWiiSource,
    defuzz,
    driver_units,
)
from station.calibration.wii import default_wii_calibration
from station.core.health import cell_problems
from station.core.resample import effective_rate_hz

G = 9.80665


def test_driver_interpolation_is_the_kernels_integer_arithmetic():
    cal = (2000, 3800, 5620)
    assert [driver_units(r, cal) for r in (0, 1999, 2000, 2001, 2900, 3799, 3800, 4710, 65535)] == [
        0, 0, 0, 0, 850, 1699, 1700, 2550, 59364]
    # (2001-2000)*1700/1800 = 0.94 -> 0; (3799-2000)*1700/1800 = 1699.06 -> 1699;
    # (65535-3800)*1700/1820 = 104949500/1820 = 57664.56 -> 57664, + 1700


def test_fuzz_filter_is_the_input_cores():
    old = 100
    got = {d: defuzz(old + d, old) for d in range(-5, 6)}
    # |d| < 1: held; |d| < 2: (3 old + v) / 4; |d| < 4: (old + v) / 2; else passed (fuzz 2), C truncation
    assert got == {-5: 95, -4: 96, -3: 98, -2: 99, -1: 99, 0: 100, 1: 100, 2: 101, 3: 101, 4: 104, 5: 105}


def _run(board: VirtualWiiBoard, seconds: float, *, chunk_s: float = 0.05):
    """Every event the device delivers over ``seconds`` of board time."""
    dev = VirtualWiiDevice(board, chunk_s=chunk_s)
    events = []
    while board.time_s < seconds - 1e-9:
        if dev.wait_readable(0.05):
            events += list(dev.read())
    return events


def _frames(src: VirtualWiiSource, seconds: float):
    out = []
    while src.board.time_s < seconds - 1e-9:
        out.append(src.read(0.05).frames)
    return np.concatenate(out)


@pytest.fixture(scope="module")
def standing_stream():
    board = VirtualWiiBoard(seed=11, subject=Subject.named("healthy").replace(body_mass_kg=72.0))
    return board, _run(board, 20.0)


def test_events_come_only_on_change_in_the_drivers_order(standing_stream):
    _, events = standing_stream
    last = {}
    report = []
    n_reports = 0
    for e in events:
        if e.type == W.EV_SYN:
            assert e.code == W.SYN_REPORT and report, "a SYN_REPORT with nothing before it is dropped by the core"
            assert len({(x.sec, x.usec) for x in report} | {(e.sec, e.usec)}) == 1  # one time stamp per report
            codes = [x.code for x in report]
            assert codes == sorted(codes)  # HAT0X, HAT0Y, HAT1X, HAT1Y as wiimod_bboard_in_ext reports them
            report = []
            n_reports += 1
            continue
        assert e.type == W.EV_ABS and e.code in W.AXIS_CELL
        assert last.get(e.code) != e.value  # the input core drops a repeated value
        last[e.code] = e.value
        report.append(e)
    assert n_reports > 1000


def test_fuzz_shows_in_the_steps(standing_stream):
    _, events = standing_stream
    steps = []
    prev = {}
    for e in events:
        if e.type == W.EV_ABS:
            if e.code in prev:
                steps.append(e.value - prev[e.code])
            prev[e.code] = e.value
    steps = np.asarray(steps)
    # the input core's fuzz filter (fuzz 2) leaves a signature: a change of +1 is held, +2 and +3 become +1,
    # -1 and -2 become -1, -3 becomes -2; only changes of 4 or more pass unchanged
    assert not np.any(np.isin(steps, [0, 2, 3, -3]))
    assert np.sum(steps == 1) > 50 and np.sum(steps == -1) > 50 and np.sum(steps == -2) > 10
    assert np.all(np.abs(steps[np.abs(steps) > 2]) >= 4)


def test_irregular_rate_of_about_50_to_100_hz(standing_stream):
    board, events = standing_stream
    t = np.array([e.sec + e.usec * 1e-6 for e in events if e.type == W.EV_SYN])
    dt_ms = np.diff(t) * 1e3
    rate = effective_rate_hz(t)
    assert 60.0 < rate < 95.0
    assert dt_ms.std() > 3.0 and dt_ms.min() > 1.0 and np.percentile(dt_ms, 99) < 40.0
    # the time stamps are the kernel's (CLOCK_REALTIME of 2026), not board seconds
    assert t[0] > 1.7e9


def test_axis_mapping_with_a_mass_at_the_front_left():
    board = VirtualWiiBoard(seed=3, gain_error_sd_pct=0.0)
    board.place_mass(20.0, -150.0, 80.0)  # front-left quadrant
    _run(board, 1.0)
    values = {code: board.abs_value(W.AXIS_CELL[code]) for code in W.CORNER_AXES}
    # top-left (HAT1X) carries the most, bottom-right (HAT0Y) the least: the kernel's layout
    assert max(values, key=values.get) == W.ABS_HAT1X and min(values, key=values.get) == W.ABS_HAT0Y
    shares = board.board.share_weights(-150.0, 80.0)[0] * 20.0 * 100  # true 10 g units per cell
    empty = [driver_units(int(z), c) for z, c in zip(board._zero_raw, board.factory_calibration)]
    got = np.array([values[c] for c in W.CORNER_AXES]) - empty
    assert np.allclose(got, shares, atol=4)


def test_known_mass_calibration_brings_the_cop_error_from_mm_to_sub_mm():
    """The station's calibration wizard, unchanged, on the virtual Wii board (published-size gain errors)."""
    import dataclasses

    from station.board.virtual.wii import virtual_wii_source
    from station.calibration.geometry import load_geometry
    from station.calibration.protocol import load_protocol
    from station.calibration.wii import cop_errors_on_virtual_board
    from station.calibration.wizard import SimOperator, calibrate_over

    source = virtual_wii_source(seed=21, chunk_s=0.25)
    outcome = calibrate_over(source, make_operator=lambda link: SimOperator(link),
                             protocol=load_protocol("quick").replace(drift=None, creep=None),
                             geometry=load_geometry("wii-balance-board"))
    assert outcome.passed
    true_gain = 1.0 / (1.0 + source.board.gain_errors)  # N per unit of each corner, relative to 10 g
    assert np.allclose(outcome.calibration.gains_n_per_count / W.N_PER_UNIT, true_gain, rtol=0.002)
    check = virtual_wii_source(seed=21, chunk_s=0.25)  # the same board, read afresh
    check.open()
    check.start()
    check.board.advance(1.0)
    empty = [check.device.absinfo(code).value for code in W.CORNER_AXES]
    base = default_wii_calibration(check.info.board_id, offsets_units=empty)
    fitted = dataclasses.replace(outcome.calibration, offsets_counts=np.asarray(empty, dtype=float))
    points = [(x, y) for y in (90.0, 30.0, -30.0, -90.0) for x in (-160.0, -55.0, 55.0, 160.0)]  # off the grid
    err = cop_errors_on_virtual_board(check, {"before": base, "after": fitted}, points, mass_kg=70.0)
    # the published figures: 2-6 mm before (Bartlett 2014: +-4.1 mm), 0.5-2 mm after a per-corner fit (the
    # virtual board has no error a per-corner gain cannot remove, so it ends below that)
    assert 1.0 < err["before"].mean() < 8.0
    assert err["after"].max() < 0.5


def test_cop_of_a_standing_person_matches_ground_truth_on_a_perfect_board():
    board = VirtualWiiBoard(seed=5, subject=Subject.named("healthy").replace(body_mass_kg=80.0), gain_error_sd_pct=0.0)
    src = VirtualWiiSource(VirtualWiiDevice(board))
    src.open()
    src.start()
    frames = _frames(src, 15.0)
    truth = board.truth
    # the empty-board reading of each corner (what a tare measures), from the board's own zero
    empty = [driver_units(int(z), c) for z, c in zip(board._zero_raw, board.factory_calibration)]
    cal = default_wii_calibration(src.info.board_id, offsets_units=empty)
    ml, ap, total = cal.cop_mm(frames["counts"])
    at = {int(u): i for i, u in enumerate(truth.t_us)}
    rows = np.array([at[int(u)] for u in frames["t_us"]])  # each frame is one report of the truth
    err = np.hypot(ml - truth.cop_ml_mm[rows], ap - truth.cop_ap_mm[rows])
    assert np.sqrt(np.mean(err**2)) < 0.5 and err.max() < 2.0
    assert abs(np.median(total) - 80.0 * G) < 0.01 * 80.0 * G


@pytest.mark.parametrize("fault, cell, code", [("dead=fr@2", "fr", "cell_dead"), ("timeout=bl@2", "bl", "cell_dead"),
                                               ("saturate=br@2", "br", "cell_saturated")])
def test_a_dead_silent_or_saturated_corner_is_a_cell_problem(fault, cell, code):
    board = VirtualWiiBoard(seed=8, subject=Subject.named("healthy"), faults=fault)
    src = VirtualWiiSource(VirtualWiiDevice(board))
    src.open()
    src.start()
    frames = _frames(src, 8.0)
    i = "fl fr bl br".split().index(cell)
    after = frames[frames["t_us"] >= frames["t_us"][0] + 2_500_000]
    if code == "cell_dead" and fault.startswith("dead"):
        assert np.all(after["counts"][:, i] == 0)  # stuck at the driver's zero point
    problems = cell_problems(frames["counts"], frames["status"], fs_hz=effective_rate_hz(frames["t_us"] * 1e-6))
    assert [(p["code"], p["cell"]) for p in problems] == [(code, cell)]
    healthy = VirtualWiiBoard(seed=8, subject=Subject.named("healthy"))
    hsrc = VirtualWiiSource(VirtualWiiDevice(healthy))
    hsrc.open()
    hsrc.start()
    hf = _frames(hsrc, 8.0)
    assert cell_problems(hf["counts"], hf["status"], fs_hz=effective_rate_hz(hf["t_us"] * 1e-6)) == []


def test_front_button_reaches_the_source_with_its_time():
    board = VirtualWiiBoard(seed=1)
    pressed = []
    src = VirtualWiiSource(VirtualWiiDevice(board), on_button=pressed.append)
    src.open()
    src.start()
    board.press_button(at_s=0.5, hold_s=0.25)
    _frames(src, 1.0)
    t_press = board.kernel_us(0.5) & 0xFFFFFFFF
    t_release = board.kernel_us(0.75) & 0xFFFFFFFF
    assert pressed == [W.ButtonEvent(t_press, True), W.ButtonEvent(t_release, False)]
    assert src.take_button_events() == pressed and src.take_button_events() == []


def test_a_reader_that_stalls_overruns_the_evdev_buffer_and_loses_frames():
    board = VirtualWiiBoard(seed=9, subject=Subject.named("healthy"))
    src = VirtualWiiSource(VirtualWiiDevice(board))
    src.open()
    src.start()
    a = _frames(src, 1.0)
    board.advance(2.0)  # nobody reads for 2 s: ~160 reports do not fit in 128 events
    assert board.overruns >= 1 and board.pending_events <= EVDEV_BUFFER_EVENTS
    b = _frames(src, 4.0)
    seq = np.concatenate([a["seq"], b["seq"]]).astype(int)
    gaps = np.diff(seq)
    assert np.all(gaps >= 1) and int(np.sum(gaps > 1)) == 1  # one overrun = one marked loss
    # after the resync the corners hold the device's state again (not the values before the stall)
    assert np.array_equal(b["counts"][-1], [board.abs_value(i) for i in range(4)])
