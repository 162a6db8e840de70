"""Pseudonymised trial and JSON exports leak nothing that names or dates the patient,
and a pseudonymised trial file is still re-analysed by `station analyze` to the stored metrics.

A patient of 72.4 kg (5-kg rounding changes it: 70 kg), a calibration by "Tech Secret", a session run by
"Op Secret": none of these, no 72.4 and no time of day may appear in any exported byte.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zipfile

import numpy as np
import pytest

from station.board.trialfile import read_trial
from station.cli import main
from station.core import health
from station.core.cop import G_N_PER_KG
from station.store import Store

BODY_MASS_KG = 72.4
SECRETS = (b"Anna Secret", b"Tech Secret", b"Op Secret")
#: a JSON number 72.4 (not 72.45 or 172.4) or its float64 / float32 bytes in an array
MASS_TEXT = re.compile(rb"(?<![\d.])72\.4(?!\d)")
MASS_BYTES = (struct.pack("<d", BODY_MASS_KG), struct.pack("<f", BODY_MASS_KG))
#: any time of day; the only one allowed is midnight (a timestamp cut to its day)
TIME_OF_DAY = re.compile(rb"\d{2}:\d{2}:\d{2}")


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory):
    """A stored single-leg session of a 72.4 kg patient, with a calibration by a named operator."""
    root = tmp_path_factory.mktemp("pseudo")
    data, cal = root / "data", root / "cal.json"
    assert main(["--data-dir", str(data), "calibrate", "--sim", "--seed", "3", "--protocol", "quick",
                 "--operator", "Tech Secret", "--skip-drift", "--skip-creep", "--out", str(cal), "--no-save"]) == 0
    assert b"Tech Secret" in cal.read_bytes()
    assert main(["--data-dir", str(data), "assess", "--sim", "--seed", "3", "--calibration", str(cal),
                 "--patient", "Anna Secret", "--body-mass", str(BODY_MASS_KG), "--operator", "Op Secret",
                 "--protocol", "single-leg", "--trials", "2", "--practice", "0", "--seconds", "6",
                 "--exclude", "1"]) == 0
    return data


def leaks(data: bytes) -> list[str]:
    """What of the patient's identity and dates ``data`` gives away (empty: nothing)."""
    found = [s.decode() for s in SECRETS if s in data]
    found += [f"body mass {m.group().decode()}" for m in MASS_TEXT.finditer(data)]
    found += ["body mass as binary float" for b in MASS_BYTES if b in data]
    found += [f"time {m.group().decode()}" for m in TIME_OF_DAY.finditer(data) if m.group() != b"00:00:00"]
    return found


def npy_epoch_seconds(array) -> bool:
    a = np.asarray(array, dtype=np.float64)
    return bool(np.any(np.abs(a[np.isfinite(a)]) > 1e9))


def test_the_store_holds_what_the_export_must_hide(session_dir):
    with Store.open(session_dir, read_only=True) as store:
        session = store.get_session(1)
        patient = store.get_patient(session.patient_id)
        trial = store.trial_file(store.trials(1)[0].id)
    assert patient.body_mass_kg == BODY_MASS_KG and session.operator == "Op Secret"
    assert trial.calibration["operator"] == "Tech Secret" and trial.calibration["created"][11:19] != "00:00:00"
    assert npy_epoch_seconds(trial.host_time_s)
    assert any(e.get("inputs", {}).get("body_mass_kg") == BODY_MASS_KG for e in trial.events)


def test_pseudonymised_trial_files_leak_nothing_and_reanalyse_to_the_stored_metrics(session_dir, tmp_path, capsys):
    out = tmp_path / "trials"
    assert main(["--data-dir", str(session_dir), "export", "1", "--format", "trial", "--pseudonymise",
                 "--out", str(out)]) == 0
    files = sorted(out.glob("trial-*.trial"))
    assert len(files) >= 4
    with Store.open(session_dir, read_only=True) as store:
        stored = {t.seq: dict(t.metrics) for t in store.trials(1) if t.metrics}
    capsys.readouterr()
    for path in files:
        with zipfile.ZipFile(path) as zf:
            everything = path.read_bytes() + b"".join(zf.read(n) for n in zf.namelist())
        assert leaks(everything) == [], path.name
        trial = read_trial(path)
        assert trial.calibration["operator"] == "" and trial.calibration["created"].endswith("T00:00:00+00:00")
        assert trial.meta["body_mass_kg"] == 70.0 and trial.meta["analysis"]["body_mass_kg"] == 70.0
        assert trial.meta["analysis"]["body_mass_step_kg"] == 5.0
        [window] = [e for e in trial.events if e["kind"] == "window"]
        assert window["inputs"]["body_mass_kg"] == 70.0
        # host time: seconds from the trial's first frame, the clock fit's shape kept
        assert not npy_epoch_seconds(trial.host_time_s) and trial.host_time_s[0] == 0.0
        assert np.all(np.diff(trial.host_time_s) > 0) and "host_time_base" in trial.meta
        seq = int(path.stem.split("-")[1])
        assert main(["analyze", str(path), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert not [p for p in doc["problems"] if p["code"].startswith("calibration_")]
        if seq in stored:  # the same metrics as the stored (exact 72.4 kg) analysis
            for key, value in stored[seq].items():
                if key in doc["metrics"]:
                    got = doc["metrics"][key]
                    assert (got is None and math.isnan(value)) or got == value, f"trial {seq} {key}"


def test_pseudonymised_json_export_rounds_the_body_mass_of_every_window_event(session_dir, tmp_path, capsys):
    out = tmp_path / "json"
    assert main(["--data-dir", str(session_dir), "export", "1", "--format", "json", "--pseudonymise",
                 "--out", str(out)]) == 0
    [path] = out.glob("*.json")
    data = path.read_bytes()
    assert leaks(data) == []
    doc = json.loads(data)
    assert doc["patient"]["body_mass_kg"] == 70.0
    windows = [e for t in doc["trials"] for e in t["events"] if e["kind"] == "window"]
    assert len(windows) >= 4 and {e["inputs"]["body_mass_kg"] for e in windows} == {70.0}
    for t in doc["trials"]:
        assert "analysis" not in t["meta"] or t["meta"]["analysis"]["body_mass_kg"] == 70.0
    # and not pseudonymised, the export keeps the exact figure
    assert main(["--data-dir", str(session_dir), "export", "1", "--format", "json", "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads(next((tmp_path / "plain").glob("*.json")).read_bytes())
    assert {e["inputs"]["body_mass_kg"] for t in plain["trials"] for e in t["events"] if e["kind"] == "window"} == {72.4}


def test_a_rounded_body_mass_never_fails_a_calibration_that_fitted_the_true_one():
    def forces(total_kg):
        return np.full((100, 4), total_kg * G_N_PER_KG / 4)

    codes = lambda f, **kw: [p["code"] for p in health.calibration_problems(f, **kw)]  # noqa: E731
    # 79 kg measured for 72.4 kg fits (tolerance 7.24 kg); against the rounded 70 kg it would not (7 kg) ...
    assert codes(forces(79.0), body_mass_kg=72.4) == []
    assert codes(forces(79.0), body_mass_kg=70.0) == ["calibration_body_mass_mismatch"]
    # ... unless the rounding is known: max(10 % of 72.5, 5) + 2.5 = 9.75 kg
    assert codes(forces(79.0), body_mass_kg=70.0, body_mass_step_kg=5.0) == []
    assert codes(forces(79.8), body_mass_kg=70.0, body_mass_step_kg=5.0) == ["calibration_body_mass_mismatch"]
    # every true mass and every measurement that fitted it still fits after rounding to 5 kg
    from station.report.pseudonym import round_body_mass_kg

    for true_kg in np.arange(20.0, 200.0, 0.1):
        tol = max(0.10 * true_kg, 5.0)
        for measured in (true_kg - tol * 0.999, true_kg + tol * 0.999):
            assert codes(forces(measured), body_mass_kg=round_body_mass_kg(true_kg), body_mass_step_kg=5.0) == [], (true_kg, measured)
