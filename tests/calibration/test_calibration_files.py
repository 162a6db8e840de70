"""Geometries and calibration files: loading, board-id keying, staleness, private permissions."""

import datetime as dt
import json
import logging
import stat

import numpy as np
import pytest

from station.calibration import (
    BoardGeometry,
    Calibration,
    active_calibration,
    active_calibration_path,
    load_calibration,
    load_geometry,
    save_calibration,
)
from station.errors import CalibrationError, InputFileError


def test_reference_geometry_positions():
    g = load_geometry("reference-400x300")
    np.testing.assert_array_equal(g.positions_mm, [[-200, 150], [200, 150], [-200, -150], [200, -150]])
    assert (g.width_mm, g.length_mm) == (400.0, 300.0)


def test_wii_geometry_spacing():
    g = load_geometry("wii-balance-board")
    assert (g.width_mm, g.length_mm) == (433.0, 238.0)
    np.testing.assert_array_equal(g.positions_mm[1], [216.5, 119.0])  # fr: right and forward


def test_a_renamed_geometry_still_loads_by_its_old_name():
    old = load_geometry("wii-433x238")  # what earlier trial files and calibrations name
    assert old.name == "wii-balance-board" and old.positions_mm.tolist() == load_geometry("wii-balance-board").positions_mm.tolist()


def test_unknown_geometry_names_the_known_ones():
    with pytest.raises(InputFileError, match="reference-400x300"):
        load_geometry("no-such-board")


def test_off_centre_geometry_is_refused(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name = "bad"\n[sensors_mm]\nfl = [0, 300]\nfr = [400, 300]\nbl = [0, 0]\nbr = [400, 0]\n')
    with pytest.raises(CalibrationError, match="geometric centre"):
        load_geometry(p)


def _cal(board_id="5B000001", **kw):
    return Calibration(
        board_id=board_id,
        geometry=load_geometry("reference-400x300"),
        offsets_counts=[10.0, -20.0, 30.0, -40.0],
        gains_n_per_count=[0.004, 0.005, -0.0045, 0.0042],
        **{"operator": "tech", **kw},
    )


def test_forces_from_counts_per_cell_and_matrix():
    cal = _cal()
    counts = np.array([[1010, 980, 1030, -40]])
    np.testing.assert_allclose(cal.forces_n(counts), [[4.0, 5.0, -4.5, 0.0]])
    g = np.diag([0.004, 0.005, -0.0045, 0.0042])
    g[0, 1] = 0.001
    cal.gains_n_per_count = g
    np.testing.assert_allclose(cal.forces_n(counts), [[4.0 + 1.0, 5.0, -4.5, 0.0]])


def test_round_trip_through_json(tmp_path):
    cal = _cal(masses=[{"mass_kg": 20.0, "x_mm": 0.0, "y_mm": 0.0}], residuals={"cop_rms_mm": 0.3})
    path = save_calibration(cal, tmp_path / "c.json")
    back = load_calibration(path, board_id=0x5B000001)
    assert back.to_dict() == cal.to_dict()
    assert json.loads(path.read_text())["board_id"] == "5B000001"


def test_foreign_calibration_is_refused(tmp_path):
    path = save_calibration(_cal("5B000002"), tmp_path / "other.json")
    with pytest.raises(CalibrationError) as err:
        load_calibration(path, board_id=0x5B000001)
    assert str(err.value) == f"calibration file {path} belongs to board 5B000002, this board is 5B000001."


def test_stale_calibration_warns(tmp_path, caplog):
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=200)).isoformat(timespec="seconds")
    path = save_calibration(_cal(created=old, validity_days=180), tmp_path / "old.json")
    with caplog.at_level(logging.WARNING):
        cal = load_calibration(path, board_id="5b000001")
    assert cal.is_stale()
    assert "200 days old" in caplog.text and "recalibrate" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert not load_calibration(save_calibration(_cal(), tmp_path / "new.json")).is_stale()
    assert caplog.text == ""


def test_active_calibration_is_private_and_versioned(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    assert active_calibration(0x5B000001) is None
    first = save_calibration(_cal())
    assert first == tmp_path / "calibrations" / "5B000001.json" == active_calibration_path("5B000001")
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    save_calibration(_cal(operator="second"))
    active = active_calibration(0x5B000001)
    assert (active.version, active.operator) == (2, "second")
    assert load_calibration(tmp_path / "calibrations" / "5B000001.v1.json").version == 1


def test_malformed_files_give_clear_errors(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON"):
        load_calibration(p)
    p.write_text(json.dumps({"kind": "something-else"}))
    with pytest.raises(CalibrationError, match="not a Balance Station calibration"):
        load_calibration(p)
    with pytest.raises(InputFileError, match="does not exist"):
        load_calibration(tmp_path / "missing.json")


def test_rectangle_geometry_matches_reference():
    np.testing.assert_array_equal(BoardGeometry.rectangle(400, 300).positions_mm, load_geometry().positions_mm)


def test_per_session_tare_keeps_gains():
    cal = _cal()
    rng = np.random.default_rng(0)
    empty = np.array([100.0, 200.0, -300.0, 400.0]) + rng.normal(0, 5.0, (400, 4))
    fresh = cal.retared(empty)
    np.testing.assert_allclose(fresh.offsets_counts, [100, 200, -300, 400], atol=1.0)
    np.testing.assert_array_equal(fresh.gains_n_per_count, cal.gains_n_per_count)
    np.testing.assert_allclose(fresh.noise_counts, 5.0, rtol=0.15)
    np.testing.assert_array_equal(cal.offsets_counts, [10.0, -20.0, 30.0, -40.0])  # the original is untouched
    assert np.abs(fresh.forces_n(empty).mean(axis=0)).max() < 0.01


def test_an_unset_board_id_is_refused_with_how_to_set_one(tmp_path, monkeypatch):
    from station.calibration import save_calibration

    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))
    for path in (None, tmp_path / "x.json"):
        with pytest.raises(CalibrationError) as err:
            save_calibration(_cal(board_id="FFFFFFFF"), path)
        assert "FFFFFFFF" in str(err.value) and "station board set-id HEX --port DEV" in str(err.value)
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "calibrations" / "FFFFFFFF.json").exists()


def test_calibration_files_are_private_and_not_replaced_without_force(tmp_path, monkeypatch):
    from station.calibration import save_calibration
    from station.privatefiles import OutputExistsError

    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    active = save_calibration(_cal())
    assert oct(active.stat().st_mode & 0o777) == "0o600" and oct(active.parent.stat().st_mode & 0o777) == "0o700"
    mine = save_calibration(_cal(), tmp_path / "mine.json", force=False)
    with pytest.raises(OutputExistsError):
        save_calibration(_cal(), mine, force=False)
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    (tmp_path / "link.json").symlink_to(outside)
    save_calibration(_cal(), tmp_path / "link.json")  # default force for an explicit path: replaces the link itself
    assert outside.read_text() == "untouched" and not (tmp_path / "link.json").is_symlink()
