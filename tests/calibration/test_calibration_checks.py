"""Verification report, drift/creep rates and the wizard's stability gate."""

import dataclasses

import numpy as np
import pytest
from calib_synthetic import POSITIONS_MM, SyntheticBoard, grid_points

from station.board.virtual import Subject, VirtualBoard
from station.calibration import Calibration, load_geometry
from station.calibration.drift import measure_rate
from station.calibration.fit import STANDARD_GRAVITY
from station.calibration.protocol import load_protocol
from station.calibration.verify import verify
from station.calibration.wizard import CalibrationWizard, SimOperator
from station.errors import CalibrationError
from vlink import virtual_link


def test_drift_rate_of_a_known_ramp():
    rng = np.random.default_rng(0)
    t = np.arange(0, 300.0, 1 / 80)
    forces = np.zeros((len(t), 4)) + rng.normal(0, 0.2, (len(t), 4))
    forces += np.array([0.3, -0.1, 0.0, 0.05]) * (t[:, None] / 60.0)  # N/min per cell
    check = measure_rate(t, forces, kind="drift", max_n_per_min=0.2)
    assert check.rate_n_per_min == pytest.approx(0.25, abs=0.005)
    np.testing.assert_allclose(check.per_cell_n_per_min, [0.3, -0.1, 0.0, 0.05], atol=0.005)
    assert check.change_n == pytest.approx(0.25 * 5.0, abs=0.03)
    assert not check.passed
    assert "N/min (limit 0.2 N/min): FAIL" in check.format()


def test_verification_report_numbers():
    board = SyntheticBoard(9, noise_counts=0.0)
    cal = Calibration(board_id=1, geometry=load_geometry(), offsets_counts=board.offsets,
                      gains_n_per_count=board.gains_n_per_count * 1.004)  # every gain 0.4 % high
    placements = [board.placement(20.0, x, y) for x, y in grid_points()]
    report = verify(cal, placements, force_tol_pct=0.5, cop_rms_tol_mm=1.0, cop_max_tol_mm=2.0)
    assert [p.force_error_pct for p in report.points] == pytest.approx([0.4] * 9)
    assert report.force_rms_n == pytest.approx(0.004 * 20 * STANDARD_GRAVITY)
    assert report.cop_max_mm < 1e-9  # a common gain error does not move the COP
    assert report.passed
    tight = verify(cal, placements, force_tol_pct=0.3, cop_rms_tol_mm=1.0, cop_max_tol_mm=2.0)
    assert not tight.passed and tight.format().count("FAIL") == 10  # nine rows and the verdict


def test_cop_error_from_one_wrong_gain():
    board = SyntheticBoard(10, noise_counts=0.0)
    gains = board.gains_n_per_count.copy()
    gains[1] *= 1.01  # fr reads 1 % high
    cal = Calibration(board_id=1, geometry=load_geometry(), offsets_counts=board.offsets, gains_n_per_count=gains)
    report = verify(cal, [board.placement(20.0, 0.0, 0.0)], force_tol_pct=0.5, cop_rms_tol_mm=1.0, cop_max_tol_mm=2.0)
    p = report.points[0]
    # at the centre fr carries 1/4 of the load: total +0.25 %, COP moves by 0.0025 x (200, 150) / 1.0025
    assert p.force_error_pct == pytest.approx(0.25)
    assert (p.cop_ml_mm, p.cop_ap_mm) == pytest.approx((0.5 / 1.0025, 0.375 / 1.0025))
    np.testing.assert_allclose(POSITIONS_MM[1], [200, 150])


class LeavesSubjectOn(SimOperator):
    """Says the board is clear but leaves the swaying subject on it."""

    def clear(self, text):
        pass


def test_somebody_on_the_board_never_gives_a_stable_tare():
    vb = VirtualBoard(seed=1, subject=Subject(body_mass_kg=70.0, stance="left", task="single_leg"), record_truth=False)
    protocol = load_protocol("quick")
    protocol = protocol.replace(stability=dataclasses.replace(protocol.stability, timeout_s=5.0))
    with virtual_link(vb) as (reader, link, info):
        wizard = CalibrationWizard(reader, LeavesSubjectOn(link), protocol=protocol,
                                   geometry=load_geometry(), board_id=info.board_id)
        with pytest.raises(CalibrationError, match="No stable reading with the board empty within 5 s"):
            wizard.run()


def test_reader_gives_device_time_windows_through_the_acquisition():
    vb = VirtualBoard(seed=2, record_truth=False, rate_hz=80.0)
    with virtual_link(vb) as (reader, _link, _info):
        t, counts = reader.read(0.2)  # 0.2 s at 80 Hz: 17 frames, inclusive of both ends
        t2, _ = reader.read(0.1)
    assert len(t) == 17 and counts.shape == (17, 4) and counts.dtype == np.int64
    np.testing.assert_allclose(np.diff(t), 0.0125, atol=2e-5)
    assert len(t2) == 9


@pytest.mark.parametrize("fault, message", [
    ("saturate=fr@0.5", "Load cell\\(s\\) fr saturated"),
    ("reboot=3", "restarted or its link dropped during calibration"),
])
def test_reader_refuses_a_window_with_a_bad_cell_or_a_restart(fault, message):
    vb = VirtualBoard(seed=2, record_truth=False, faults=fault)
    with virtual_link(vb) as (reader, _link, _info):
        with pytest.raises(CalibrationError, match=message):
            for _ in range(30):
                reader.read(1.0)


def test_reader_reports_a_silent_board():
    from station.errors import PortError

    vb = VirtualBoard(seed=2, record_truth=False, faults="disconnect=0.5:30")
    with virtual_link(vb, realtime=True) as (reader, _link, _info):
        reader.idle_timeout_s = 0.5
        with pytest.raises(PortError, match="sent no data for 0.5 s|link failed"):
            for _ in range(20):
                reader.read(1.0)


def test_a_board_without_an_id_is_refused_before_any_mass_is_placed():
    from station.board.virtual import VirtualTransport
    from station.calibration.wizard import calibrate_over

    vb = VirtualBoard(seed=2, record_truth=False, board_id=0xFFFFFFFF)
    placed = []

    def operator(link):
        placed.append(link)
        return SimOperator(link)

    with pytest.raises(CalibrationError, match="station board set-id HEX --port DEV"):
        calibrate_over(VirtualTransport(vb, realtime=False), make_operator=operator, protocol=load_protocol("quick"),
                       geometry=load_geometry(), for_saving=True)
    assert placed == []  # refused before the wizard (and its first mass) started
