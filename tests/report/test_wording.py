"""The one wording module: numbers, levels, intervals and verdict words from typed results."""

import math

import pytest

from station.assessment.results import Interval, Kind, Measure, Method, Outcome, Verdict
from station.report import wording as w


def _verdict(**kw) -> Verdict:
    base = dict(block="stance/baseline/eyes_open", kind=Kind.ASYMMETRY, side=None, outcome=Outcome.RIGHT_LESS_STABLE,
                measure=Measure.SI, estimate=31.4, interval=Interval(12.2, 49.6, 0.96), unit="%", resolution=18.7,
                alpha=0.04, family_alpha=0.04, method=Method.STANCE_LOG_T)
    return Verdict(**(base | kw))


def test_levels_print_as_they_are_and_never_as_100_percent():
    assert [w.level_text(x) for x in (0.95, 0.96, 0.961, 0.999, 0.9615, 0.99999)] == [
        "95 %", "96 %", "96.1 %", "99.9 %", "96.15 %", "99.999 %"]
    assert w.level_text(0.9999999) != "100 %" and w.level_text(0.9999999).startswith("99.99999")


def test_numbers_use_a_true_minus_and_no_signed_zero():
    assert w.number(-1.25, 1) == "−1.2" and w.number(3.0, 0, sign=True) == "+3" and w.number(-0.04, 1, sign=True) == "0.0"
    assert w.number(float("nan"), 1) == w.NONE == w.number(None, 1)


def test_an_interval_prints_its_own_level():
    assert w.interval_text(Interval(-8.04, 25.3, 0.96), 0) == "[−8, +25] 96 % CI"
    assert w.interval_text(Interval(5.0, 9.0, 0.999), 1, level=False) == "[+5.0, +9.0]"
    assert w.interval_text(Interval(math.nan, 1.0, 0.95), 0) == ""
    # an interval that excludes 0 never reads as one that starts at 0
    assert w.interval_text(Interval(0.3, 121.2, 0.999), 0) == "[+0.3, +121] 99.9 % CI"
    assert w.interval_text(Interval(-0.004, 2.0, 0.96), 0) == "[−0.004, +2] 96 % CI"
    assert w.interval_text(Interval(0.0, 2.0, 0.96), 0) == "[0, +2] 96 % CI"
    assert w.verdict_estimate(_verdict()) == "SI +31 % [+12, +50] 96 % CI"
    interim = _verdict(alpha=0.001, interval=Interval(12.2, 49.6, 0.999))
    assert w.verdict_estimate(interim) == "SI +31 % [+12, +50] 99.9 % CI"
    assert "100 %" not in w.verdict_sentence(interim)


def test_verdict_words_come_from_the_outcome():
    assert w.verdict_headline(_verdict()) == "RIGHT leg less stable"
    assert w.verdict_headline(_verdict(outcome=Outcome.NO_ASYMMETRY)) == "No detectable left/right difference"
    assert w.verdict_headline(_verdict(outcome=Outcome.NOT_ENOUGH_DATA)).startswith("Not enough valid trials")
    leg = _verdict(kind=Kind.BEFORE_AFTER, side="left", outcome=Outcome.IMPROVED, measure=Measure.CHANGE,
                   estimate=-21.0, interval=Interval(-31.0, -13.0, 0.95))
    assert w.verdict_headline(leg) == "LEFT leg: improved" and w.tone(leg.outcome) is w.Tone.GOOD
    assert w.verdict_estimate(leg) == "change −21 % [−31, −13] 95 % CI"
    assert w.tone(Outcome.RIGHT_LESS_STABLE) is w.Tone.BAD and w.tone(Outcome.NO_CHANGE) is w.Tone.NEUTRAL
    assert w.verdict_sentence(_verdict()) == (
        "Single-leg stance, baseline: RIGHT leg less stable — sway index SI +31 % [+12, +50] 96 % CI; smallest "
        "detectable asymmetry ±19 %; false-positive rate 4 %.")
    record = w.verdict_record(_verdict())
    assert record["level"] == pytest.approx(0.96) and record["text"] == w.verdict_sentence(_verdict())
