"""Re-analysis equals storage: every stored metric of a primer session is what `station analyze` gives
for the trial exported from the store. Through the command line, as a researcher would."""

from __future__ import annotations

import json
import math

import pytest

from station.cli import main
from station.store import Store

#: scores the assessment adds on top of the trial's metrics (docs/ASSESSMENT.md), not analysis output
SCORE_KEYS = {"sway_index", "stability_score", "steadiness_score"}


@pytest.fixture(scope="module")
def primer_session(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    rc = main(["--data-dir", str(data), "assess", "--sim", "--patient", "Re Analysis", "--body-mass", "72",
               "--protocol", "primer", "--trials", "2", "--seconds", "12", "--exclude", "2", "--rounds", "1",
               "--reps", "3", "--seed", "11"])
    assert rc == 0
    return data


def stored_metrics(data_dir):
    """Whole-trial metrics of session 1 as stored, by trial seq (trials with metrics only)."""
    with Store.open(data_dir, read_only=True) as store:
        return {t.seq: dict(t.metrics) for t in store.trials(1) if t.metrics}


def test_every_stored_metric_equals_a_reanalysis_of_the_exported_trial(primer_session, tmp_path, capsys):
    data = primer_session
    out = tmp_path / "trials"
    assert main(["--data-dir", str(data), "export", "1", "--format", "trial", "--out", str(out)]) == 0
    capsys.readouterr()
    stored = stored_metrics(data)
    files = sorted(out.glob("trial-*.trial"), key=lambda p: int(p.stem.split("-")[1]))
    assert {int(p.stem.split("-")[1]) for p in files} >= set(stored)
    # baseline 2 x L/R stance + post 2 x L/R stance + 1 round x 2 RFE-RDL sets, at least
    assert len(stored) >= 10
    compared = 0
    for path in files:
        seq = int(path.stem.split("-")[1])
        if seq not in stored:
            continue
        assert main(["analyze", str(path), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        got = doc["metrics"]
        want = {k: v for k, v in stored[seq].items() if k not in SCORE_KEYS}
        assert set(want) <= set(got), f"trial {seq}: missing {sorted(set(want) - set(got))}"
        for key, value in want.items():
            g = got[key]
            g = math.nan if g is None else float(g)
            assert (math.isnan(value) and math.isnan(g)) or g == value, f"trial {seq} {key}: stored {value!r}, re-analysed {g!r}"
            compared += 1
        assert doc["window"]["reason"] and doc["window"]["start_s"] is not None
    assert compared > 300
