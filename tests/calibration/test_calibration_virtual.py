"""End to end on the virtual board (non-realtime): hidden gains recovered, verification, residual
check, drift. The virtual board places the masses itself over the wire (CMD_SIM_SCENE)."""

import dataclasses
import io
import re

import numpy as np
import pytest

from station.board.protocol import CMD_SIM_SCENE
from station.board.virtual import BoardModel, VirtualBoard
from station.board.virtual.board import virtual_board_id
from station.calibration import load_geometry
from station.calibration.protocol import load_protocol
from station.calibration.wizard import CalibrationWizard, ConsoleOperator, SimOperator, sim_scene_acknowledged
from vlink import virtual_link


def run_wizard(*, seed=3, board=None, protocol=None, misplace=None, geometry="reference-400x300"):
    vb = VirtualBoard(seed=seed, board=board or BoardModel(), record_truth=False)
    with virtual_link(vb) as (reader, link, info):
        wizard = CalibrationWizard(
            reader, SimOperator(link, misplace=misplace), protocol=protocol or load_protocol("quick"),
            geometry=load_geometry(geometry), board_id=info.board_id, operator_name="pytest",
        )
        outcome = wizard.run()
    return vb, reader, outcome


@pytest.fixture(scope="module")
def quick_run():
    """Default virtual board (12 counts RMS noise, drift, creep, channel skew), quick procedure."""
    return run_wizard(protocol=load_protocol("quick").replace(drift=None, creep=None))


def test_hidden_gains_and_offsets_recovered(quick_run):
    vb, reader, outcome = quick_run
    cal = outcome.calibration
    true_gains = 1.0 / vb.hidden_gains_counts_per_n
    np.testing.assert_allclose(cal.gains_n_per_count, true_gains, rtol=0.002)  # the 0.2 % requirement
    np.testing.assert_allclose(cal.gains_n_per_count, true_gains, rtol=5e-4)  # what it actually achieves
    np.testing.assert_allclose(cal.offsets_counts, vb.hidden_offsets_counts, atol=5.0)
    assert cal.board_id == f"{virtual_board_id(vb.seed):08X}"  # the seed's own id, not a fixed one
    assert sim_scene_acknowledged(reader)


def test_verification_on_nine_point_grid(quick_run):
    _, _, outcome = quick_run
    report = outcome.verification
    assert len(report.points) == 9
    assert {(p.x_mm, p.y_mm) for p in report.points} == {(x, y) for x in (-100.0, 0.0, 100.0) for y in (-75.0, 0.0, 75.0)}
    assert report.cop_rms_mm <= 1.0
    assert report.force_max_pct <= 0.5
    assert report.passed and outcome.passed
    # every point's expected load is the applied mass's weight
    assert all(p.expected_n == pytest.approx(20.0 * 9.80665) for p in report.points)


def test_calibration_record_contents(quick_run):
    _, _, outcome = quick_run
    d = outcome.calibration.to_dict()
    assert d["protocol"] == "quick" and d["operator"] == "pytest" and d["validity_days"] == 30
    assert [(m["mass_kg"], m["x_mm"], m["y_mm"]) for m in d["masses"]][4] == (20.0, 0.0, 0.0)
    assert d["residuals"]["n_placements"] == 9 and d["residuals"]["suspects"] == []
    assert d["residuals"]["condition_number"] < 3.0
    assert d["verification"]["passed"] is True
    assert "PASS" in outcome.format().splitlines()[-1]


def test_misplaced_mass_is_caught_by_the_residual_check():
    protocol = load_protocol("quick").replace(drift=None, creep=None)
    _, _, outcome = run_wizard(seed=4, protocol=protocol, misplace={4: (40.0, 0.0)})  # centre step, mass 40 mm right
    assert outcome.fit.suspects == [4]
    assert not outcome.passed
    assert outcome.verification is None  # no verification after a failed fit
    assert "placement 5 (20 kg at (0, 0) mm)" in outcome.problems[0]
    loo = np.hypot(*outcome.fit.loo_cop_error_mm[4])
    assert loo == pytest.approx(40.0, abs=5.0)


def test_injected_drift_measured_within_20_percent():
    protocol = load_protocol("quick").replace(verify=None, creep=None)
    board = BoardModel(drift_n_per_min=1.0, creep=0.0)
    vb, _, outcome = run_wizard(seed=5, board=board, protocol=protocol)
    # the virtual board drifts each cell at drift_n_per_min x a hidden factor in [-1, 1]
    true_cells = board.drift_n_per_min * vb._cells.drift_factor
    measured = np.array(outcome.drift.per_cell_n_per_min)
    big = np.abs(true_cells) > 0.2
    assert big.sum() >= 2
    np.testing.assert_allclose(measured[big], true_cells[big], rtol=0.2)
    assert outcome.drift.rate_n_per_min == pytest.approx(true_cells.sum(), rel=0.2, abs=0.05)
    assert outcome.drift.minutes == pytest.approx(1.0, abs=0.02)


def test_matrix_model_and_cop_correction_on_wii_board():
    protocol = load_protocol("quick")
    protocol = protocol.replace(
        drift=None, creep=None, fit=dataclasses.replace(protocol.fit, model="matrix", cop_correction="affine")
    )
    board = BoardModel.named("wii-balance-board")
    _, _, outcome = run_wizard(seed=6, board=board, protocol=protocol, geometry="wii-balance-board")
    cal = outcome.calibration
    assert cal.gains_n_per_count.shape == (4, 4)
    assert cal.cop_correction["kind"] == "affine"
    assert outcome.verification.cop_rms_mm <= 1.0 and outcome.verification.force_max_pct <= 0.5
    # wii grid: half spacings 216.5 x 119 mm at 0.5
    assert max(p.x_mm for p in outcome.verification.points) == pytest.approx(108.25)


def test_scene_command_is_what_the_sim_operator_sends():
    sent = []

    class Recorder:
        def write(self, data):
            sent.append(data)

    op = SimOperator(Recorder())
    op.place([(20.0, 100.0, -75.0)], "Place 20 kg.")
    op.clear("Clear.")
    from station.board.protocol import encode_command

    assert sent == [
        encode_command(CMD_SIM_SCENE, b'{"subject": null, "masses": [[20.0, 100.0, -75.0]]}'),
        encode_command(CMD_SIM_SCENE, b'{"subject": null, "masses": []}'),
    ]


class Technician:
    """Reads the wizard's last prompt and does what it says on the virtual board, then presses Enter."""

    PLACE = re.compile(r"[Pp]lace ([\d.]+) kg at (.+?)(?: and leave it)?\. Press Enter")

    def __init__(self, board, out):
        self.board, self.out, self.prompts = board, out, []

    @staticmethod
    def position(text):
        if text == "the centre":
            return 0.0, 0.0
        x = y = 0.0
        for amount, direction in re.findall(r"([\d.]+) mm (left|right|forward|back)", text):
            v = float(amount)
            if direction in ("left", "right"):
                x = v if direction == "right" else -v
            else:
                y = v if direction == "forward" else -v
        return x, y

    def readline(self):
        prompt = self.out.getvalue().rsplit("\n", 1)[-1]
        self.prompts.append(prompt)
        self.board.clear_masses()
        m = self.PLACE.search(prompt)
        if m:
            self.board.place_mass(float(m.group(1)), *self.position(m.group(2)))
        return "\n"


def test_interactive_wizard_with_a_technician():
    vb = VirtualBoard(seed=8, record_truth=False)
    out = io.StringIO()
    tech = Technician(vb, out)
    protocol = load_protocol("quick").replace(drift=None)
    with virtual_link(vb) as (reader, _link, info):
        wizard = CalibrationWizard(reader, ConsoleOperator(stdin=tech, out=out), protocol=protocol,
                                   geometry=load_geometry(), board_id=info.board_id)
        outcome = wizard.run()
    assert outcome.passed, outcome.format()
    np.testing.assert_allclose(outcome.calibration.gains_n_per_count, 1.0 / vb.hidden_gains_counts_per_n, rtol=0.002)
    assert outcome.verification.cop_rms_mm <= 1.0 and outcome.creep is not None
    # tare, 9 placements, tare again, 9 verification points, creep, final clear
    assert len(tech.prompts) == 22
    assert tech.prompts[1].startswith("Place 20 kg at 100 mm left, 75 mm forward of the centre.")
    assert tech.prompts[-2].startswith("Creep check: place 20 kg at the centre and leave it.")
    assert "verification 9/9" in out.getvalue() and "100 %" in out.getvalue()
