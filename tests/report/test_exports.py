"""CSV, JSON and C3D exports of a stored session, and pseudonymisation."""

import csv
import json
import os
import stat

import numpy as np
import pytest

from station.report.csv_export import escape_cell
from station.report.exports import export_session
from station.report.pseudonym import installation_secret, pseudonym

from .conftest import BIRTH_YEAR, PATIENT_NAME


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(line for line in f if not line.startswith("#")))


def test_escape_cell_makes_formulas_inert_and_keeps_numbers():
    for text in ('=HYPERLINK("x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert escape_cell(text) == "'" + text
    assert escape_cell("Anna =1") == "Anna =1"
    assert escape_cell(-12.5) == "-12.5" and escape_cell(3) == 3 and escape_cell(float("nan")) == "" and escape_cell(None) == ""


def test_csv_export_values_and_inert_patient_name(primer_session, tmp_path):
    run = primer_session
    paths = export_session(run.store, run.session_id, tmp_path / "csv", fmt="csv")
    trials = run.store.trials(run.session_id)
    names = {p.name for p in paths}
    assert {f"session{run.session_id}_metrics.csv", f"session{run.session_id}_reps.csv"} <= names
    assert len(names) == 2 + len(trials)  # one sample table per trial

    rows = _rows(tmp_path / "csv" / f"session{run.session_id}_metrics.csv")
    header, body = rows[0], rows[1:]
    assert len(body) == len(trials)
    col = {name: i for i, name in enumerate(header)}
    for row, t in zip(body, trials):
        assert row[col["patient"]] == "'" + PATIENT_NAME  # inert: a spreadsheet shows the text
        assert int(row[col["trial_id"]]) == t.id and row[col["status"]] == t.status and row[col["side"]] == t.side
        for key in ("mean_velocity_ml_mm_s", "ellipse95_area_mm2", "sway_index"):
            if np.isfinite(t.metrics.get(key, np.nan)):
                assert float(row[col[key]]) == pytest.approx(t.metrics[key], rel=1e-12)
            else:
                assert row[col[key]] == ""
    # no cell of any CSV file starts a formula
    for p in paths:
        for row in _rows(p):
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), (p.name, cell)
                assert not cell.startswith("-") or _is_number(cell), (p.name, cell)

    reps = _rows(tmp_path / "csv" / f"session{run.session_id}_reps.csv")
    rfe = [t for t in trials if t.task == "rfe_rdl"]
    assert len(reps) - 1 == sum(len(t.rep_metrics) for t in rfe) == 6
    rcol = {name: i for i, name in enumerate(reps[0])}
    assert float(reps[1][rcol["lateral_shift_mm"]]) == pytest.approx(rfe[0].rep_metrics[0]["lateral_shift_mm"], rel=1e-12)

    # samples of one trial: every frame; forces add up; COP from the calibration's geometry
    t = trials[1]
    samples = _rows(tmp_path / "csv" / f"session{run.session_id}_trial{t.seq}_samples.csv")
    assert samples[0] == ["t_s", "f_fl_n", "f_fr_n", "f_bl_n", "f_br_n", "total_n", "cop_ml_mm", "cop_ap_mm"]
    table = np.array([[float(c) if c else np.nan for c in r] for r in samples[1:]])
    arrays = run.store.trial_arrays(t.id)
    assert len(table) == len(arrays["counts"]) == t.quality["frames"]
    np.testing.assert_allclose(table[:, 0], arrays["device_time_s"], atol=1e-6)
    np.testing.assert_allclose(table[:, 1:5].sum(axis=1), table[:, 5], atol=0.003)
    pos = np.array([[-200.0, 150.0], [200.0, 150.0], [-200.0, -150.0], [200.0, -150.0]])
    loaded = np.isfinite(table[:, 6])
    assert loaded.mean() > 0.9
    np.testing.assert_allclose(table[loaded, 1:5] @ pos[:, 0] / table[loaded, 5], table[loaded, 6], atol=0.01)
    np.testing.assert_allclose(table[loaded, 1:5] @ pos[:, 1] / table[loaded, 5], table[loaded, 7], atol=0.01)
    assert np.all(table[~loaded, 5] < 0.2 * 70.0 * 9.80665)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_json_export_holds_the_whole_session(primer_session, tmp_path):
    run = primer_session
    [path] = export_session(run.store, run.session_id, tmp_path, fmt="json")
    doc = json.loads(path.read_text())
    session = run.store.get_session(run.session_id)
    assert doc["format"] == "balance-station-session" and doc["patient"]["name"] == PATIENT_NAME
    assert doc["session"]["id"] == run.session_id and doc["session"]["protocol"] == "primer"
    assert doc["scores"]["stance"]["baseline/eyes_open"]["headline"]["estimate"] == pytest.approx(
        session.scores["stance"]["baseline/eyes_open"]["headline"]["estimate"])
    # the headline verdicts of the JSON contract, each with its interval's level and its sentence
    from station.assessment.results import SessionScores
    from station.report.wording import verdict_sentence

    verdicts = SessionScores.from_dict(session.scores).verdicts
    assert [(v["block"], v["side"], v["level"]) for v in doc["scores"]["verdicts"]] == [
        (v.block, v.side, pytest.approx(v.level)) for v in verdicts]
    assert [v["text"] for v in doc["scores"]["verdicts"]] == [verdict_sentence(v) for v in verdicts]
    trials = run.store.trials(run.session_id)
    assert [t["id"] for t in doc["trials"]] == [t.id for t in trials]
    t = trials[2]
    arrays = run.store.trial_arrays(t.id)
    np.testing.assert_array_equal(np.array(doc["trials"][2]["raw"]["counts"]), arrays["counts"])
    assert doc["trials"][2]["metrics"]["mean_velocity_ml_mm_s"] == pytest.approx(t.metrics["mean_velocity_ml_mm_s"])
    assert str(t.calibration_id) in doc["calibrations"]


def test_pseudonymised_exports(primer_session, tmp_path):
    run = primer_session
    session = run.store.get_session(run.session_id)
    key_path = run.store.data_dir / "pseudonym.key"
    [path] = export_session(run.store, run.session_id, tmp_path / "j", fmt="json", pseudonymise=True)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    alias = pseudonym(session.patient_id, secret=installation_secret(run.store.data_dir))
    assert alias.startswith("P-") and len(alias) == 12
    text = path.read_text()
    assert "HYPERLINK" not in text and "Example Street" not in text and '"patient_id"' not in text
    doc = json.loads(text)
    assert doc["patient"] == {"pseudonymised": True, "pseudonym": alias, "birth_year": BIRTH_YEAR, "sex": "female",
                              "body_mass_kg": 70.0, "dominant_leg": "right"}
    # stable: a second export (CSV) gives the same pseudonym; another secret gives another one
    paths = export_session(run.store, run.session_id, tmp_path / "c", fmt="csv", pseudonymise=True)
    rows = _rows(paths[0])
    assert {r[rows[0].index("patient")] for r in rows[1:]} == {alias}
    assert pseudonym(session.patient_id, secret=b"another installation key") != alias
    for p in paths:
        assert "HYPERLINK" not in p.read_text()
    ezc3d = pytest.importorskip("ezc3d")
    [first, *_] = export_session(run.store, run.session_id, tmp_path / "3", fmt="c3d", pseudonymise=True)
    assert ezc3d.c3d(str(first))["parameters"]["SUBJECTS"]["NAMES"]["value"] == [alias]


def test_c3d_force_platform_gives_the_station_cop(primer_session, tmp_path):
    ezc3d = pytest.importorskip("ezc3d")
    from station.core.pipeline import analyze_trial

    run = primer_session
    trials = run.store.trials(run.session_id)
    paths = export_session(run.store, run.session_id, tmp_path, fmt="c3d")
    assert len(paths) == len(trials)
    for t in (trials[0], trials[2], next(t for t in trials if t.task == "rfe_rdl")):
        c = ezc3d.c3d(str(tmp_path / f"session{run.session_id}_trial{t.seq}.c3d"), extract_forceplat_data=True)
        fp = c["parameters"]["FORCE_PLATFORM"]
        assert int(fp["TYPE"]["value"][0]) == 2 and int(fp["USED"]["value"][0]) == 1  # type 2 by default
        np.testing.assert_allclose(fp["ORIGIN"]["value"].ravel(), [0.0, 0.0, 0.0])
        assert c["parameters"]["POINT"]["UNITS"]["value"] == ["mm"]
        # the station's own analysis of the stored raw counts
        result = analyze_trial(run.store.trial_file(t.id), body_mass_kg=70.0)
        analogs = c["data"]["analogs"][0]
        assert analogs.shape == (11, len(result.t_s))
        assert c["header"]["points"]["frame_rate"] == pytest.approx(result.fs_hz, rel=1e-6)
        np.testing.assert_allclose(analogs[6:10].T, result.forces_n, atol=1e-3 + 1e-6 * np.abs(result.forces_n).max())
        assert not analogs[[0, 1, 5]].any() and analogs[10].all()
        platform = c["data"]["platform"][0]
        # the force on the plate points down (lab z up); its size is the total vertical force
        np.testing.assert_allclose(-platform["force"][2], result.total_n, rtol=1e-5, atol=1e-2)
        defined = np.isfinite(result.cop_ml_mm)
        assert defined.sum() > 400  # (the failed trial: 6 s on the board, then empty)
        cop = platform["center_of_pressure"]
        assert np.abs(cop[0][defined] - result.cop_ml_mm[defined]).max() < 0.5
        assert np.abs(cop[1][defined] - result.cop_ap_mm[defined]).max() < 0.5
        assert np.abs(cop[2][defined]).max() < 1e-6
        # the COP point is the station's COP, marked invalid where undefined
        point = c["data"]["points"][:, 0, :]
        np.testing.assert_allclose(point[0][defined], result.cop_ml_mm[defined], atol=1e-3)
        residuals = c["data"]["meta_points"]["residuals"][0, 0]
        assert np.all(residuals[~defined] < 0) and np.all(residuals[defined] >= 0)
    # the failed trial's step-off leaves samples with nobody on the board: the COP point is invalid there
    c = ezc3d.c3d(str(tmp_path / f"session{run.session_id}_trial{trials[0].seq}.c3d"))
    assert (c["data"]["meta_points"]["residuals"][0, 0] < 0).any()
    labels = c["parameters"]["EVENT"]["LABELS"]["value"]
    assert "Stance start" in labels and "Step off" in labels


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_exports_are_private_and_never_overwritten_without_force(primer_session, tmp_path):
    from station.privatefiles import OutputExistsError

    run = primer_session
    old = os.umask(0o022)
    try:
        paths = export_session(run.store, run.session_id, tmp_path / "new" / "csv", fmt="csv")
        [js] = export_session(run.store, run.session_id, tmp_path / "new" / "csv", fmt="json")
    finally:
        os.umask(old)
    assert len(paths) > 3 and {_mode(p) for p in paths + [js]} == {0o600}
    assert _mode(tmp_path / "new") == 0o700 and _mode(tmp_path / "new" / "csv") == 0o700
    assert not [p for p in (tmp_path / "new" / "csv").iterdir() if p.name.startswith(".")]  # no temporaries left
    before = js.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists; use --force to overwrite it"):
        export_session(run.store, run.session_id, tmp_path / "new" / "csv", fmt="json")
    assert js.read_bytes() == before
    # a symlink planted at the final name: the file it points at, outside, is not touched
    victim = tmp_path / "victim.json"
    victim.write_text("keep me")
    js.unlink()
    js.symlink_to(victim)
    [again] = export_session(run.store, run.session_id, tmp_path / "new" / "csv", fmt="json", force=True)
    assert victim.read_text() == "keep me" and not again.is_symlink() and _mode(again) == 0o600
    assert json.loads(again.read_text())["session"]["id"] == run.session_id


def test_report_and_export_commands_refuse_a_second_write_with_one_line(primer_session, tmp_path):
    import subprocess
    import sys

    run = primer_session

    def station(*args):
        return subprocess.run([sys.executable, "-m", "station", "--data-dir", str(run.store.data_dir), *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    pdf = tmp_path / "r.pdf"
    first = station("report", run.session_id, "--out", pdf)
    assert first.returncode == 0, first.stderr
    assert _mode(pdf) == 0o600 and pdf.read_bytes().startswith(b"%PDF")
    size = pdf.stat().st_size
    second = station("report", run.session_id, "--out", pdf)
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert second.returncode != 0 and "Traceback" not in second.stderr
    assert lines == [f"station: error: {pdf} already exists; use --force to overwrite it."]
    assert pdf.stat().st_size == size
    forced = station("report", run.session_id, "--out", pdf, "--force")
    assert forced.returncode == 0, forced.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]  # unique temporary removed, no fixed .part name
    out = tmp_path / "exp"
    assert station("export", run.session_id, "--format", "json", "--out", out).returncode == 0
    again = station("export", run.session_id, "--format", "json", "--out", out)
    assert again.returncode != 0 and again.stderr.strip().splitlines() == [
        f"station: error: {out / f'session{run.session_id}.json'} already exists; use --force to overwrite it."]
    assert station("export", run.session_id, "--format", "json", "--out", out, "--force").returncode == 0


def test_pseudonymised_export_drops_the_operator_and_rounds_dates_and_body_mass(primer_session, tmp_path):
    from station.report.pseudonym import day_only, round_body_mass_kg

    assert [round_body_mass_kg(m) for m in (72.4, 72.5, 70.0, 67.6, 0.4)] == [70.0, 75.0, 70.0, 70.0, 0.0]
    assert round_body_mass_kg(None) is None
    assert day_only("2026-11-25T09:41:07+00:00") == "2026-11-25T00:00:00+00:00"
    run = primer_session
    session = run.store.get_session(run.session_id)
    assert session.operator == "Dr Example" and session.started[11:19] != "00:00:00"  # what the store holds
    [path] = export_session(run.store, run.session_id, tmp_path, fmt="json", pseudonymise=True)
    text = path.read_text()
    assert "Dr Example" not in text and "technician" not in text.lower().replace('"operator":""', "")
    doc = json.loads(text)
    assert doc["session"]["operator"] == "" and doc["session"]["started"].endswith("T00:00:00+00:00")
    assert len(doc["exported"]) == 10  # the export date only
    for t in doc["trials"]:
        assert t["started"] is None or t["started"].endswith("T00:00:00+00:00")
        assert "port" not in t["meta"] and "patient_id" not in t["meta"]
    for cal in doc["calibrations"].values():
        assert cal["operator"] == "" and cal["created"].endswith("T00:00:00+00:00")
    rows = _rows(export_session(run.store, run.session_id, tmp_path / "c", fmt="csv", pseudonymise=True)[0])
    started = {r[rows[0].index("started")] for r in rows[1:]} - {""}
    assert started and all(s.endswith("T00:00:00+00:00") for s in started)
