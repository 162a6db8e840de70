"""The one place that words and formats results for people: the PDF, the dashboard and the CLI.

Numbers take the metric registry's decimals, a true minus sign and never "−0"; an interval prints the
level it carries (``[+12, +50] 96 % CI``; a 0.999 interval says ``99.9 %``, never ``100 %``); block
titles and the one block order; verdict headlines and sentences from the typed results of
:mod:`station.assessment.results` (outcome enums, never parsed text); the tone (colour) of an outcome.
"""

from __future__ import annotations

import enum
import math

from station.assessment.results import (  # noqa: F401  (MINUS, NONE, number, interval_text, estimate_text: re-exported)
    MINUS,
    NONE,
    Asymmetry,
    Change,
    Comparison,
    Description,
    Interval,
    Kind,
    level_text,
    MdcSource,
    Measure,
    Outcome,
    ScoreMeaning,
    SessionScores,
    Summary,
    Method,
    Verdict,
    estimate_text,
    interval_text,
    number,
)


#: block key -> title (unknown keys are made readable by :func:`block_title`)
BLOCK_TITLES = {
    "stance/baseline/eyes_open": "Single-leg stance, baseline",
    "stance/post_primer/eyes_open": "Single-leg stance, after the primer",
    "stance/baseline/eyes_closed": "Single-leg stance, baseline, eyes closed",
    "stance/post_primer/eyes_closed": "Single-leg stance, after the primer, eyes closed",
    "rdl": "Single-leg RDL, lateral weight shift",
    "primer_rdl": "Primer RDL (rear foot elevated), lateral weight shift",
    "before_after/eyes_open": "Before / after the primer",
    "before_after/eyes_closed": "Before / after the primer, eyes closed",
}
PHASE_LABELS = {"baseline": "Baseline", "post_primer": "After primer", "primer": "Primer"}
CONDITION_LABELS = {"eyes_open": "", "eyes_closed": "eyes closed"}

#: what each test's noise term is (the verdict's sentence and the definitions page)
NOISE = {
    Method.STANCE_LOG_WELCH: ("trial-to-trial variability within the session (SD of log sway index of each leg, "
                             "Welch–Satterthwaite df)"),
    Method.STANCE_LOG_T: "trial-to-trial variability within the session (pooled SD of log sway index over both legs)",
    Method.LEG_CHANGE_LOG_T: ("trial-to-trial variability within the session (SD of log sway index of each leg, pooled "
                            "over its baseline and post-primer blocks); between-session variability does not enter"),
    Method.ASYMMETRY_CHANGE_WELCH: ("trial-to-trial variability within the session (SD of log sway index of each leg, "
                                  "pooled over its two blocks); between-session variability does not enter"),
    Method.RDL_REPETITIONS: ("repetition-to-repetition variability (pooled over both legs), inflated for the correlation "
                           "of repetitions within a set"),
    Method.RDL_SET_MEANS: "set-to-set variability (set means as units, pooled over both legs)",
    Method.DESCRIPTIVE: "trial-to-trial variability within the session",
}


class Tone(enum.Enum):
    """How a display colours an outcome."""

    BAD = "bad"
    GOOD = "good"
    NEUTRAL = "neutral"


_TONES = {Outcome.LEFT_LESS_STABLE: Tone.BAD, Outcome.RIGHT_LESS_STABLE: Tone.BAD, Outcome.WORSE: Tone.BAD,
          Outcome.INCREASED: Tone.BAD, Outcome.IMPROVED: Tone.GOOD, Outcome.REDUCED: Tone.GOOD}


def tone(outcome: Outcome) -> Tone:
    return _TONES.get(outcome, Tone.NEUTRAL)


# -- numbers and intervals ------------------------------------------------------------------------


def significant(value, digits: int = 4) -> str:
    """A measurement for a researcher's table: ``digits`` significant digits (``1925``, ``0.8375``,
    ``64.07``), whole numbers from 10 000 on, ``n/a`` when undefined; integers, text and None as they are."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    return str(value)


def mean_sd(summary: Summary | None, decimals: int, *, n: bool = False) -> str:
    """``"35.5 ± 4.2"`` (``n=True``: ``"35.5 ± 4.2  (n=3)"``); ``"—"`` without a mean."""
    if summary is None or number(summary.mean, decimals) == NONE:
        return NONE
    text = number(summary.mean, decimals)
    if number(summary.sd, decimals) != NONE:
        text += f" ± {number(summary.sd, decimals)}"
    return text + (f"  (n={summary.n})" if n else "")


def range_text(mean, low, high, *, decimals: int = 1) -> str:
    """``"35.5 (24.0–47.0)"`` (a positive quantity with its interval); ``"—"`` when undefined."""
    text = number(mean, decimals)
    lo, hi = number(low, decimals), number(high, decimals)
    if text != NONE and lo != NONE and hi != NONE:
        text += f" ({lo}–{hi})"
    return text


# -- metrics --------------------------------------------------------------------------------------

#: the RDL scoring's per-repetition keys -> their declarations in the metric registry
RDL_REGISTRY_KEYS = {"lateral_shift_mm": "rep_lateral_shift_mm_mean", "duration_s": "rep_duration_s_mean",
                     "ml_max_dev_mm": "rep_ml_max_dev_mm_mean"}


def metric_spec(key: str, *, rdl: bool = False):
    """The registry's declaration of a scored metric (``rdl``: a per-repetition key), or None."""
    from station.core import registry

    try:
        return registry.spec(RDL_REGISTRY_KEYS.get(key, key) if rdl else key)
    except (KeyError, ValueError):
        return None


def decimals_of(key: str, *, rdl: bool = False) -> int:
    """The registry's decimals of a metric (1 when undeclared)."""
    spec = metric_spec(key, rdl=rdl)
    return spec.decimals if spec is not None else 1


def metric_label(key: str, *, rdl: bool = False, unit: bool = True, meaning: ScoreMeaning | None = None) -> str:
    """``"ML velocity (mm/s)"``, ``"Sway index (× reference)"``, ``"Balance score (0–100)"``."""
    if meaning is not None and key == meaning.key:
        name = metric_spec(key).label if metric_spec(key) else key
        return f"{name} ({meaning.low:g}–{meaning.high:g})" if unit else name
    spec = metric_spec(key, rdl=rdl)
    if spec is None:
        return key.replace("_", " ")
    shown = {"×": "× reference"}.get(spec.unit, spec.unit)
    return f"{spec.label} ({shown})" if unit and shown else spec.label


def score_meaning_text(meaning: ScoreMeaning) -> str:
    """What the balance score means, in words, with its formula."""
    upper = meaning.healthy_index_upper

    def index_at(score: float) -> str:
        return f"{100.0 * upper / score:.3g} x"

    return (f"Balance score {meaning.low:g}-{meaning.high:g}, higher = steadier: {meaning.high:g} = sways no more "
            f"than {upper:g} x a typical healthy single-leg stance (healthy adults score about {meaning.healthy_low:g}-"
            f"{meaning.high:g}); 80 = {index_at(80)}, 50 = {index_at(50)}, 25 = {index_at(25)} that sway. It "
            f"summarises the sway index; the left/right verdict is the headline test. "
            f"({meaning.high:g} x min(1, {upper:g} / sway index))")


# -- blocks ---------------------------------------------------------------------------------------


def block_title(block: str) -> str:
    """``"stance/baseline/eyes_open"`` -> ``"Single-leg stance, baseline"`` (unknown keys made readable)."""
    return BLOCK_TITLES.get(block) or block.replace("/", ", ").replace("_", " ").capitalize()


#: the patient-time blocks that are not scoring blocks (``scores["minutes_by_block"]``)
TIME_BLOCK_TITLES = {"setup": "set-up", "practice": "practice trials", "primer": "guided primer",
                     "rdl": "single-leg RDL"}


def patient_time_text(minutes, minutes_by_block: dict | None = None) -> str:
    """``"Patient time: 24.3 min (set-up 0.1, practice trials 1.1, single-leg stance, baseline 6.8, ...)"``:
    everything the patient did, on the board's clock; ``""`` when the session did not record it."""
    if not isinstance(minutes, (int, float)) or not math.isfinite(minutes):
        return ""
    parts = [f"{TIME_BLOCK_TITLES.get(k) or block_title(k).lower()} {v:.1f}" for k, v in (minutes_by_block or {}).items()
             if isinstance(v, (int, float))]
    return f"Patient time: {minutes:.1f} min" + (f" ({', '.join(parts)} min)" if parts else "") + "."


def stance_label(key: str) -> str:
    """``"baseline/eyes_open"`` -> ``"Baseline"``; ``"post_primer/eyes_closed"`` -> ``"After primer, eyes closed"``."""
    phase, _, condition = key.partition("/")
    text = PHASE_LABELS.get(phase, phase.replace("_", " ").capitalize())
    extra = CONDITION_LABELS.get(condition, condition.replace("_", " "))
    return f"{text}, {extra}" if extra else text


# -- descriptive rows -----------------------------------------------------------------------------


def outcome_text(outcome: Outcome, *, events: str = "events") -> str:
    """An outcome for a table cell: ``"right less stable"``, ``"too few touchdowns to compare"``."""
    if outcome is Outcome.TOO_FEW_EVENTS:
        return f"too few {events} to compare"
    return outcome.value


def asymmetry_text(a: Asymmetry | None, *, decimals: int = 1) -> str:
    """A descriptive asymmetry cell: ``"+47 % [+11, +83] 95 % CI"``; where SI is undefined the difference
    ``"R − L +7.0 mm [+5.1, +9.0] 95 % CI"``; ``"—"`` when neither is defined."""
    if a is None:
        return NONE
    if a.comparison is Comparison.SI and math.isfinite(a.si_pct):
        return estimate_text(a.si_pct, a.si_interval, 0, unit="%")
    text = estimate_text(a.diff, a.diff_interval, decimals, unit=a.unit)
    return NONE if text == NONE else f"R − L {text}"


def asymmetry_note(a: Asymmetry) -> str:
    """Why the SI is not given: ``"SI undefined: the left mean is near 0 or below"`` (``""`` when it is)."""
    if a.comparison is Comparison.RATE:
        return "counts are compared as events per trial, not by SI"
    if a.near_zero:
        verb = "is" if len(a.near_zero) == 1 else "are"
        return f"SI undefined: the {' and '.join(a.near_zero)} mean {verb} near 0 or below"
    return ""


def asymmetry_sentence(a: Asymmetry, *, metric: str) -> str:
    """``"touchdowns: right less stable (R − L +3.7 touchdowns per trial [+0.2, +7.1] 95 % CI)"``."""
    what = metric.replace("_", " ")
    if a.outcome is Outcome.NOT_ENOUGH_DATA:
        return f"{what}: not enough valid trials on both sides for a left/right verdict"
    if a.outcome is Outcome.TOO_FEW_EVENTS:
        return f"{what}: {outcome_text(a.outcome, events=what)} ({a.events or 0} in all)"
    note = asymmetry_note(a)
    body = asymmetry_text(a)
    if a.comparison is Comparison.SI:
        body = f"SI {body}"
    return f"{what}: {a.outcome.value} ({body}" + (f"; {note}" if note and a.near_zero else "") + ")"


def change_text(c: Change, decimals: int) -> str:
    """``"−1.5 (−12 %)"``: a metric's change and its share of the baseline mean."""
    text = number(c.change, decimals, sign=True)
    pct = number(c.change_pct, 0, sign=True)
    return f"{text} ({pct} %)" if text != NONE and pct != NONE else text


def mdc_heading(level: float) -> str:
    """``"MDC95"`` for a 95 % minimal detectable change (the level read from the change itself)."""
    return f"MDC{level_text(level).replace(' %', '')}"


def mdc_text(c: Change, decimals: int, *, default_mark: str = " *") -> str:
    """The change's MDC; ``"4.5 *"`` (``default_mark``) when it is the default share of the baseline (too few
    trials)."""
    return number(c.mdc, decimals) + (default_mark if c.mdc_source is MdcSource.DEFAULT else "")


# -- headline verdicts ----------------------------------------------------------------------------


def _estimate_decimals(v: Verdict) -> int:
    return 0 if v.unit == "%" else 2 if v.measure is Measure.MDC_CHANGE else 1


def verdict_subject(v: Verdict) -> str:
    """Whom a before/after verdict is about: ``"RIGHT leg"`` or ``"Asymmetry"``."""
    return f"{v.side.upper()} leg" if v.side else "Asymmetry"


def verdict_headline(v: Verdict | None) -> str:
    """``"RIGHT leg less stable"``, ``"RIGHT leg: improved"``, ``"No detectable left/right difference"``."""
    if v is None:
        return "No left/right result"
    if v.kind is Kind.BEFORE_AFTER:
        return f"{verdict_subject(v)}: {v.outcome.value}"
    if v.less_stable:
        return f"{v.less_stable.upper()} leg less stable"
    if v.outcome is Outcome.NO_ASYMMETRY:
        return "No detectable left/right difference"
    return "Not enough valid trials for a left/right verdict"


def verdict_estimate(v: Verdict, *, level: bool = True, full: bool = False) -> str:
    """The estimate with its interval at the verdict's own level, for a table cell.

    ``"SI +31 % [+12, +50] 96 % CI"``, ``"R − L +7.0 mm [+5.1, +9.0] 96 % CI"``, ``"change −12 % [−20, −3]
    95 % CI"``, the primer's asymmetry ``"SI +20 → +5 % (−15 points [−30, −1] 96 % CI)"`` (``full``:
    with the intervals of SI before and after, ``"SI +20 % [+5, +35] 96 % CI → +5 % [−10, +20] 96 % CI,
    change ..."``); ``"—"`` when undefined. ``level=False`` leaves the levels out (a column whose heading
    names them).
    """
    decimals = _estimate_decimals(v)
    if number(v.estimate, decimals) == NONE:
        return NONE
    interval = v.interval if level else None
    if v.measure is Measure.SI_CHANGE and v.si_before_interval is not None:
        change = estimate_text(v.estimate, interval, 0, unit="points")
        if not full:
            return f"SI {number(v.si_before, 0, sign=True)} → {number(v.si_after, 0, sign=True)} % ({change})"
        before = estimate_text(v.si_before, v.si_before_interval if level else None, 0, unit="%")
        after = estimate_text(v.si_after, v.si_after_interval if level else None, 0, unit="%")
        return f"SI {before} → {after}, change {change}"
    if v.measure is Measure.MDC_CHANGE:
        return f"change {number(v.estimate, decimals, sign=True)} ({mdc_heading(v.level)} {number(v.resolution, decimals)})"
    unit = "points" if v.measure is Measure.SI_CHANGE else v.unit
    return f"{v.measure.value} {estimate_text(v.estimate, interval, decimals, unit=unit)}"


def verdict_cell(v: Verdict) -> str:
    """A headline verdict in a per-side table's comparison column, shaped like :func:`asymmetry_text`:
    ``"+62 % [+25, +95] 96 % CI"``, ``"R − L +9.1 mm [−7.8, +26.1] 96 % CI"``; ``"—"`` when undefined."""
    text = estimate_text(v.estimate, v.interval, _estimate_decimals(v), unit=v.unit)
    return f"R − L {text}" if v.measure is Measure.DIFFERENCE and text != NONE else text


def resolution_text(v: Verdict) -> str:
    """The smallest effect the session could have called: ``"±15 %"``, ``"−12 % / +18 %"``; ``"–"``."""
    if v.kind is Kind.BEFORE_AFTER and v.side and math.isfinite(v.resolution_down) and math.isfinite(v.resolution_up):
        return f"{MINUS}{number(v.resolution_down, 0)} % / +{number(v.resolution_up, 0)} %"
    if not math.isfinite(v.resolution):
        return NONE
    unit = " points" if v.measure is Measure.SI_CHANGE else f" {v.unit}" if v.unit else ""
    return f"±{number(v.resolution, _estimate_decimals(v))}{unit}"


def verdict_sentence(v: Verdict) -> str:
    """One sentence for the CLI, page 1 and the JSON ``text``: the block, the outcome, the estimate with its
    interval, the resolution and the false-positive rate."""
    title = block_title(v.block)
    if not v.outcome.decided:
        what = "repetitions on both legs" if v.block in ("rdl", "primer_rdl") else "valid trials on both legs"
        if v.kind is Kind.BEFORE_AFTER:
            who = f"{v.side.upper()} leg" if v.side else "left/right asymmetry"
            return f"{title}, {who}: not enough trials in both blocks."
        return f"{title}: not enough {what} for a left/right verdict."
    estimate = verdict_estimate(v)
    if v.method is Method.DESCRIPTIVE:
        return f"{title}: {verdict_headline(v)}" + (f", {estimate}" if estimate != NONE else "") + "."
    if v.kind is Kind.ASYMMETRY:
        who = f"{v.less_stable.upper()} leg less stable" if v.less_stable else "no detectable left/right difference"
        what = "sway index" if v.measure is Measure.SI else "outward lateral weight shift"
        smallest = "asymmetry" if v.measure is Measure.SI else "difference"
        return (f"{title}: {who} — {what} {estimate}; smallest detectable {smallest} {resolution_text(v)}; "
                f"false-positive rate {level_text(v.family_alpha)}.")
    if v.side:
        return (f"{title}, {v.side.upper()} leg: {v.outcome.value} — sway index {estimate}; smallest detectable "
                f"change {resolution_text(v)} (an increase counts as worse only beyond "
                f"+{number(v.worse_allowance_pct, 0)} %, an allowance for fatigue); false-positive rate at most "
                f"{level_text(v.alpha)} per leg ({level_text(v.alpha_improved)} 'improved', {level_text(v.alpha_worse)} 'worse').")
    return (f"{title}, left/right asymmetry: {v.outcome.value} — {verdict_estimate(v, full=True)}; smallest "
            f"detectable change {resolution_text(v)}.")


def verdict_record(v: Verdict) -> dict:
    """A verdict for ``assess --json`` and the JSON export: the stored dict plus its ``text`` and ``noise``
    (what the test's noise term is)."""
    return v.to_dict() | {"text": verdict_sentence(v), "noise": NOISE[v.method]}


#: what a described (not tested) block says of itself, wherever it is shown
DESCRIPTIVE_LABEL = "descriptive, not a verdict"


def description_figures(d: Description) -> str:
    """Each leg's figure with its own interval, then R − L: ``"LEFT 4.1 mm [2.9, 5.3] 95 % CI · RIGHT 9.8 mm
    [8.2, 11.4] 95 % CI · R − L +5.7 mm [+3.8, +7.6] 95 % CI"``."""
    parts = [f"{f.side.upper()} {estimate_text(f.estimate, f.interval, 1, unit=d.unit, sign=False)}" for f in d.sides]
    diff = estimate_text(d.difference, d.difference_interval, 1, unit=d.unit)
    if diff != NONE:
        parts.append(f"R − L {diff}")
    return " · ".join(parts) if parts else NONE


def description_sentence(d: Description) -> str:
    """One sentence for the CLI, page 1, the dashboard and the JSON ``text`` of a described block."""
    return (f"{block_title(d.block)} ({DESCRIPTIVE_LABEL}: no side is named and no error rate is claimed) — "
            f"outward lateral weight shift per repetition, {description_figures(d)}.")


def description_record(d: Description) -> dict:
    """A described block for ``assess --json`` and the JSON export: the stored dict plus its ``text``."""
    return d.to_dict() | {"text": description_sentence(d)}


def interval_meaning(v: Verdict) -> str:
    """Page 1's line under an asymmetry verdict: what the interval's position means."""
    if v.kind is not Kind.ASYMMETRY or not v.outcome.decided:
        return ""
    if v.less_stable:
        return "The interval excludes 0: the difference exceeds this patient's trial-to-trial variability."
    return "The interval includes 0: any difference is within this patient's own trial-to-trial variability."


def scores_record(scores: SessionScores) -> dict:
    """A session's scores for the JSON export: the stored form, its headline verdicts with their ``text``."""
    return scores.to_dict() | {"verdicts": [verdict_record(v) for v in scores.verdicts],
                               "descriptions": [description_record(d) for d in scores.descriptions],
                               "score_meaning": scores.score_meaning.to_dict() | {
                                   "text": score_meaning_text(scores.score_meaning)}}
