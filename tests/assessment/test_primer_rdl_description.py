"""The primer's rear-foot-elevated RDL is described (each leg's figure with its own 95 % interval), not a
headline verdict; sessions stored while it was a verdict still load, and show it as a description."""

import math

import numpy as np
import pytest
from scipy import stats

from station.assessment import scoring
from station.assessment.results import SessionScores
from station.report import wording

from .conftest import rdl_row


def _primer_rdl_rows(left_sets, right_sets):
    return ([rdl_row("left", s, task="rfe_rdl", phase="primer") for s in left_sets]
            + [rdl_row("right", s, task="rfe_rdl", phase="primer") for s in right_sets])


LEFT = [(4.0, 5.0, 3.0, 4.5, 3.5), (5.0, 4.0, 6.0, 4.0, 5.0), (3.0, 4.0, 5.0, 4.0, 4.0)]
RIGHT = [(12.0, 14.0, 11.0, 13.0, 12.5), (10.0, 12.0, 13.0, 11.0, 12.0), (14.0, 12.0, 13.0, 12.0, 11.0)]


def test_the_primer_rdl_is_a_description_not_a_verdict():
    scores = scoring.score(_primer_rdl_rows(LEFT, RIGHT))
    assert scores.primer_rdl is not None and scores.primer_rdl.descriptive
    assert scores.primer_rdl.headline is None and scores.primer_rdl.less_stable is None
    assert all(v.block != "primer_rdl" for v in scores.verdicts)
    (d,) = scores.descriptions
    left, right = d.side("left"), d.side("right")
    # each leg's mean with a 95 % t interval whose variance carries the within-set design effect 1 + (m - 1) 0.05
    values = np.concatenate(LEFT)
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) * math.sqrt((1 + 4 * 0.05) / values.size)
    assert left.estimate == pytest.approx(values.mean())
    assert (left.interval.low, left.interval.high) == pytest.approx((values.mean() - half, values.mean() + half))
    assert left.interval.level == 0.95 and (left.n, left.sets) == (15, 3)
    assert right.interval.low > left.interval.high  # clearly apart, and still no side named
    assert d.difference == pytest.approx(np.concatenate(RIGHT).mean() - values.mean())
    assert d.difference_interval.low > 0 and d.difference_interval.level == 0.95
    stored = scores.to_dict()
    assert "headline" not in stored["primer_rdl"] and stored["primer_rdl"]["description"]["descriptive"] is True
    assert [x["block"] for x in stored["descriptions"]] == ["primer_rdl"]
    assert all(v["block"] != "primer_rdl" for v in stored["verdicts"])
    text = wording.description_sentence(d)
    assert "descriptive, not a verdict" in text and "less stable" not in text
    assert "LEFT 4.3 mm [" in text and "95 % CI" in text


def test_a_session_stored_with_the_primer_rdl_as_a_verdict_loads_and_shows_it_as_a_description():
    stored = scoring.score(_primer_rdl_rows(LEFT, RIGHT)).to_dict()
    # the form stored before: a headline verdict naming a side, in the verdicts list, no description
    old = dict(stored["primer_rdl"])
    old.pop("description")
    old["headline"] = {"block": "primer_rdl", "kind": "asymmetry", "side": None, "less_stable": "right",
                       "verdict": "right less stable", "estimate": 7.9, "ci_low": 5.0, "ci_high": 10.8, "level": 0.96,
                       "unit": "mm", "resolution": 2.9, "measure": "R − L", "alpha": 0.04, "family_alpha": 0.04,
                       "method": "pooled t on set means"}
    old["less_stable"] = "right"
    legacy = {"primer_rdl": old, "verdicts": [old["headline"]]}
    scores = SessionScores.from_dict(legacy)
    assert scores.verdicts == []  # never a headline again
    (d,) = scores.descriptions
    assert d.side("left").estimate == pytest.approx(np.concatenate(LEFT).mean())
    assert d.side("left").interval.defined and d.difference_interval.defined
    assert scores.primer_rdl.headline is not None  # kept as stored
    assert "primer_rdl" not in {v["block"] for v in scores.to_dict()["verdicts"]}


def _primer_rdl_table(scores):
    from station.report.model import results_model

    return results_model(scores).side_table("primer_rdl")


def test_the_primer_rdl_table_names_no_side_in_any_row():
    # the report's and the dashboard's table of the described block: R − L with its own 95 % interval, and no
    # row saying "right less stable" (it did, under the page's "descriptive, not a verdict")
    scores = scoring.score(_primer_rdl_rows(LEFT, RIGHT))
    assert scores.primer_rdl.asymmetry == {}  # nothing is compared, so nothing stored can name a side
    table = _primer_rdl_table(scores)
    shift = next(r for r in table.rows if r.key == "lateral_shift_mm")
    d = scores.primer_rdl.description
    assert shift.asymmetry == "R − L " + wording.estimate_text(d.difference, d.difference_interval, 1, unit="mm")
    assert shift.asymmetry.endswith("95 % CI") and shift.outcome == "descriptive, not a verdict"
    assert all("less stable" not in r.outcome and r.tone is wording.Tone.NEUTRAL and not r.headline for r in table.rows)
    assert all(r.asymmetry == "" for r in table.rows if r.key != "lateral_shift_mm")
    # a session scored before: its stored per-metric asymmetry names the right leg; the table still does not
    legacy = scores.to_dict()
    legacy["primer_rdl"]["asymmetry"] = scoring.score(
        [rdl_row("left", s) for s in LEFT] + [rdl_row("right", s) for s in RIGHT]).to_dict()["rdl"]["asymmetry"]
    old = SessionScores.from_dict(legacy)
    assert any(a.outcome.value != "no detectable asymmetry" for a in old.primer_rdl.asymmetry.values())
    assert all("less stable" not in r.outcome for r in _primer_rdl_table(old).rows)


def test_the_rdl_of_an_rdl_session_stays_a_headline_verdict():
    rows = [rdl_row("left", s) for s in LEFT[:2]] + [rdl_row("right", s) for s in RIGHT[:2]]
    scores = scoring.score(rows)
    assert [v.block for v in scores.verdicts] == ["rdl"] and scores.descriptions == []
    assert scores.rdl.less_stable == "right"
