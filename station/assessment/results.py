"""Typed results of a session's scoring: intervals that carry their level, verdicts with an outcome enum.

Everything the scoring finds is a frozen dataclass here; nothing here is worded for people (the
report's :mod:`station.report.wording` words and formats them for the PDF, the dashboard and the CLI).
The formatting primitives of a level, a number and an interval (:func:`level_text`, :func:`number`,
:func:`interval_text`, :func:`estimate_text`) live here, below both the wording and the runner's sentences,
so an interval reads ``+31 % [+12, +50] 96 % CI`` wherever it is shown.
The stored form is JSON: every class has ``to_dict`` (JSON-able, the keys of the session's stored
scores and of the headline-verdict contract: ``block, kind, side, less_stable, verdict, estimate,
ci_low, ci_high, level, unit, resolution, ...``) and a tolerant ``from_dict`` that also reads the dicts
stored before these types existed (no ``level``, free-text ``method`` and ``noise``, a ``verdict``
string such as ``"too few touchdowns to compare"``).

Levels are coverages (``0.96`` for a 4 % two-sided test). A dict stored without a level gets the level
the station used when it was written: ``1 - alpha`` for a headline verdict, 0.95 for a descriptive row.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

SIDES = ("left", "right")
#: the coverage of every descriptive interval (per-metric asymmetries, MDC of the per-metric changes)
DESCRIPTIVE_LEVEL = 0.95
#: stance phases in session order (the one order of the stance blocks)
PHASE_ORDER = ("baseline", "post_primer")


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _finite(value) -> bool:
    return math.isfinite(_num(value))


def level_text(level: float) -> str:
    """A coverage as a percentage: 0.96 → ``"96 %"``, 0.999 → ``"99.9 %"``, 0.9615 → ``"96.15 %"``.

    As many decimals as the level needs (up to four); a level below 1 never prints as ``100 %``.
    """
    pct = 100.0 * float(level)
    for decimals in range(5):
        text = f"{pct:.{decimals}f}"
        if abs(float(text) - pct) < 1e-9 or decimals == 4:
            break
    while float(text) >= 100.0 and pct < 100.0 and decimals < 8:
        decimals += 1
        text = f"{pct:.{decimals}f}"
    return f"{text} %"


#: a true minus sign, and what an undefined number prints as (the runner's sentences, the report, the dashboard)
MINUS = "−"
NONE = "—"


def number(value, decimals: int, *, sign: bool = False) -> str:
    """``+31``, ``−4.2`` (a true minus), ``0`` (never ``−0`` or ``+0``), ``—`` when undefined."""
    from station.core.registry import format_value

    text = format_value(value, decimals, sign=sign)
    if text.lstrip("+-") == format_value(0.0, decimals):
        text = text.lstrip("+-")
    return text.replace("-", MINUS)


def _bound(value: float, decimals: int, *, sign: bool) -> str:
    """An interval's end: a non-zero end that would round to 0 gets up to three more decimals (``+0.3``), so
    an interval that excludes 0 never reads as one that starts at it."""
    for extra in range(4):
        text = number(value, decimals + extra, sign=sign)
        if value == 0 or text.lstrip("+" + MINUS).strip("0.") != "":
            return text
    return number(value, decimals, sign=sign)


def interval_text(interval: Interval | None, decimals: int, *, sign: bool = True, level: bool = True) -> str:
    """``"[+12, +50] 96 % CI"`` (``level=False``: ``"[+12, +50]"``); ``""`` when undefined. An end that would
    round to 0 without being 0 keeps a decimal more: ``"[+0.3, +121] 99.9 % CI"``."""
    if interval is None or not interval.defined:
        return ""
    text = f"[{_bound(interval.low, decimals, sign=sign)}, {_bound(interval.high, decimals, sign=sign)}]"
    return f"{text} {level_text(interval.level)} CI" if level else text


def estimate_text(estimate, interval: Interval | None, decimals: int, *, unit: str = "", sign: bool = True) -> str:
    """``"+31 % [+12, +50] 96 % CI"``; ``"—"`` when the estimate is undefined."""
    text = number(estimate, decimals, sign=sign)
    if text == NONE:
        return NONE
    text += f" {unit}" if unit else ""
    ci = interval_text(interval, decimals, sign=sign)
    return f"{text} {ci}" if ci else text


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]`` and its coverage ``level`` (0.96 = a 96 % interval).

    Unequal tails are allowed (the per-leg before/after interval): ``level`` is always the total coverage.
    """

    low: float
    high: float
    level: float

    @classmethod
    def undefined(cls, level: float) -> "Interval":
        return cls(math.nan, math.nan, level)

    @property
    def defined(self) -> bool:
        return _finite(self.low) and _finite(self.high)

    def excludes_zero(self) -> bool:
        return self.defined and (self.low > 0 or self.high < 0)

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "level": self.level}

    @classmethod
    def from_dict(cls, d, *, level: float = DESCRIPTIVE_LEVEL) -> "Interval":
        """From ``{"low", "high", "level"}`` or an old ``[low, high]`` pair (which gets ``level``)."""
        if isinstance(d, dict):
            return cls(_num(d.get("low")), _num(d.get("high")), _num(d.get("level", level)))
        if isinstance(d, (list, tuple)) and len(d) == 2:
            return cls(_num(d[0]), _num(d[1]), level)
        return cls.undefined(level)


class Outcome(enum.Enum):
    """What a comparison found. The values are the stored ``verdict`` vocabulary (JSON contract)."""

    LEFT_LESS_STABLE = "left less stable"
    RIGHT_LESS_STABLE = "right less stable"
    NO_ASYMMETRY = "no detectable asymmetry"
    IMPROVED = "improved"
    WORSE = "worse"
    NO_CHANGE = "no detectable change"
    REDUCED = "reduced"
    INCREASED = "increased"
    NOT_ENOUGH_DATA = "not enough trials"
    TOO_FEW_EVENTS = "too few events"

    @classmethod
    def less_stable(cls, side: str) -> "Outcome":
        return cls.LEFT_LESS_STABLE if side == "left" else cls.RIGHT_LESS_STABLE

    @property
    def side(self) -> str | None:
        """The side named less stable, or None."""
        return {Outcome.LEFT_LESS_STABLE: "left", Outcome.RIGHT_LESS_STABLE: "right"}.get(self)

    @property
    def decided(self) -> bool:
        """The data were enough to test (whatever the test found)."""
        return self not in (Outcome.NOT_ENOUGH_DATA, Outcome.TOO_FEW_EVENTS)

    @classmethod
    def parse(cls, value) -> "Outcome":
        """A stored verdict; stored sessions wrote "too few <events> to compare" before this enum existed."""
        if isinstance(value, Outcome):
            return value
        try:
            return cls(value)
        except ValueError:
            if isinstance(value, str) and value.startswith("too few"):
                return cls.TOO_FEW_EVENTS
            return cls.NOT_ENOUGH_DATA


class Kind(enum.Enum):
    ASYMMETRY = "asymmetry"
    BEFORE_AFTER = "before_after"


class Measure(enum.Enum):
    """What a verdict's estimate is (the values are the stored ``measure`` strings)."""

    SI = "SI"
    DIFFERENCE = "R − L"
    CHANGE = "change"  # a leg's before/after change, % of its baseline
    SI_CHANGE = "SI change"  # the change of the L/R asymmetry, in SI points
    MDC_CHANGE = "mdc change"  # sessions scored before the headline tests: change ± MDC95 in the metric's unit


class Method(enum.Enum):
    """The statistical test behind a verdict (which also fixes its noise term)."""

    STANCE_LOG_WELCH = "Welch t on log sway index"
    STANCE_LOG_T = "pooled t on log sway index"  # sessions scored before the Welch test
    RDL_SET_MEANS = "pooled t on set means"
    RDL_REPETITIONS = "pooled t on repetitions"
    LEG_CHANGE_LOG_T = "pooled t on log sway index (this leg's two blocks)"
    ASYMMETRY_CHANGE_WELCH = "Welch t on the change of the log L/R ratio (per-leg SDs)"
    DESCRIPTIVE = "descriptive"  # sessions scored before the headline tests

    @classmethod
    def parse(cls, value) -> "Method":
        try:
            return cls(value)
        except ValueError:
            return cls.DESCRIPTIVE


class Comparison(enum.Enum):
    """How a descriptive per-metric asymmetry compares the sides."""

    SI = "si"  # 200 (R - L) / (R + L) on the side means
    DIFFERENCE = "difference"  # R - L, a side mean near 0 (SI undefined)
    RATE = "rate"  # event counts: R - L per trial


class MdcSource(enum.Enum):
    TRIALS = "trials"  # from the pooled within-session trial SD
    DEFAULT = "default"  # a fixed share of the baseline mean (fewer than two trials in a block)


@dataclass(frozen=True)
class Verdict:
    """One headline verdict: a test's outcome, estimate and interval, and what it rests on.

    ``alpha`` is the test's own level (the interval is a ``1 - alpha`` interval, except the per-leg
    before/after change whose unequal tails ``alpha_improved`` + ``alpha_worse`` make ``alpha``);
    ``family_alpha`` the false-positive rate of the block (an adaptive block: over all its looks).
    ``resolution`` is the smallest effect the session could have called, in ``unit``.
    """

    block: str
    kind: Kind
    side: str | None
    outcome: Outcome
    measure: Measure
    estimate: float
    interval: Interval
    unit: str
    resolution: float
    alpha: float
    family_alpha: float
    method: Method
    df: float = 0.0
    n: dict = field(default_factory=dict)
    #: per-leg change only: the smallest detectable decrease / increase (%), the one-sided tails and the
    #: allowance an increase must exceed to count as worse
    resolution_down: float = math.nan
    resolution_up: float = math.nan
    alpha_improved: float = math.nan
    alpha_worse: float = math.nan
    worse_allowance_pct: float = math.nan
    #: asymmetry change only: SI before and after the primer, each with its interval
    si_before: float = math.nan
    si_before_interval: Interval | None = None
    si_after: float = math.nan
    si_after_interval: Interval | None = None
    #: RDL on repetitions: each side's design effect
    design_effect: tuple[float, ...] = ()
    log_ratio: float = math.nan
    log_se: float = math.nan

    @property
    def less_stable(self) -> str | None:
        return self.outcome.side

    @property
    def level(self) -> float:
        return self.interval.level

    def to_dict(self) -> dict:
        """The stored form: the headline-verdict contract keys plus what the verdict rests on."""
        d = {"block": self.block, "kind": self.kind.value, "side": self.side, "less_stable": self.less_stable,
             "verdict": self.outcome.value, "estimate": self.estimate, "ci_low": self.interval.low,
             "ci_high": self.interval.high, "level": self.interval.level, "unit": self.unit,
             "resolution": self.resolution, "measure": self.measure.value, "alpha": self.alpha,
             "family_alpha": self.family_alpha, "df": self.df, "n": dict(self.n), "method": self.method.value,
             "log_ratio": self.log_ratio, "log_se": self.log_se}
        if self.kind is Kind.BEFORE_AFTER and self.side:
            d |= {"resolution_down": self.resolution_down, "resolution_up": self.resolution_up,
                  "alpha_improved": self.alpha_improved, "alpha_worse": self.alpha_worse,
                  "worse_allowance_pct": self.worse_allowance_pct}
        if self.si_before_interval is not None:
            d |= {"si_before": self.si_before, "si_before_ci": self.si_before_interval.to_dict(),
                  "si_after": self.si_after, "si_after_ci": (self.si_after_interval or Interval.undefined(
                      self.si_before_interval.level)).to_dict()}
        if self.design_effect:
            d["design_effect"] = list(self.design_effect)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        """A stored verdict, old ones included (no level: ``1 - alpha``, or 0.95 without an alpha)."""
        alpha = _num(d.get("alpha"))
        default_level = 1.0 - alpha if 0.0 < alpha < 1.0 else DESCRIPTIVE_LEVEL
        kind = Kind(d.get("kind") or "asymmetry")
        side = d.get("side") if d.get("side") in SIDES else None
        measure = d.get("measure")
        try:
            measure = Measure(measure)
        except ValueError:
            measure = (Measure.CHANGE if kind is Kind.BEFORE_AFTER and side else Measure.SI_CHANGE
                       if kind is Kind.BEFORE_AFTER else Measure.SI if d.get("unit") == "%" else Measure.DIFFERENCE)
        outcome = Outcome.parse(d.get("verdict"))
        if outcome.side is None and d.get("less_stable") in SIDES:
            outcome = Outcome.less_stable(d["less_stable"])
        before = d.get("si_before_ci")
        after = d.get("si_after_ci")
        return cls(
            block=str(d.get("block") or ""), kind=kind, side=side, outcome=outcome, measure=measure,
            estimate=_num(d.get("estimate")),
            interval=Interval(_num(d.get("ci_low")), _num(d.get("ci_high")), _num(d.get("level", default_level))),
            unit=str(d.get("unit") or ""), resolution=_num(d.get("resolution")),
            alpha=alpha if math.isfinite(alpha) else 1.0 - DESCRIPTIVE_LEVEL,
            family_alpha=_num(d.get("family_alpha", alpha)), method=Method.parse(d.get("method")),
            df=_num(d.get("df", 0.0)), n=dict(d.get("n") or {}),
            resolution_down=_num(d.get("resolution_down")), resolution_up=_num(d.get("resolution_up")),
            alpha_improved=_num(d.get("alpha_improved")), alpha_worse=_num(d.get("alpha_worse")),
            worse_allowance_pct=_num(d.get("worse_allowance_pct")),
            si_before=_num(d.get("si_before")),
            si_before_interval=Interval.from_dict(before, level=default_level) if before is not None else None,
            si_after=_num(d.get("si_after")),
            si_after_interval=Interval.from_dict(after, level=default_level) if after is not None else None,
            design_effect=tuple(_num(x) for x in d.get("design_effect") or ()),
            log_ratio=_num(d.get("log_ratio")), log_se=_num(d.get("log_se")),
        )


@dataclass(frozen=True)
class Summary:
    """Mean, sample SD (ddof=1; NaN when n < 2) and count of one metric over valid trials."""

    mean: float
    sd: float
    n: int

    @property
    def se(self) -> float:
        return self.sd / math.sqrt(self.n) if self.n >= 2 else math.nan

    def to_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "n": self.n}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Summary":
        d = d or {}
        return cls(_num(d.get("mean")), _num(d.get("sd")), int(d.get("n") or 0))


@dataclass(frozen=True)
class Asymmetry:
    """A descriptive left/right comparison of one metric (its own :data:`DESCRIPTIVE_LEVEL` intervals).

    ``si_pct`` / ``si_interval`` where the SI is defined (``comparison`` SI), ``diff`` / ``diff_interval``
    (R − L in ``unit``) always; ``near_zero`` names the sides whose mean was too close to 0 for a ratio.
    """

    comparison: Comparison | None
    outcome: Outcome
    left: Summary
    right: Summary
    unit: str = ""
    si_pct: float = math.nan
    se_pct: float = math.nan
    si_interval: Interval = Interval(math.nan, math.nan, DESCRIPTIVE_LEVEL)
    df: float = math.nan
    diff: float = math.nan
    diff_se: float = math.nan
    diff_interval: Interval = Interval(math.nan, math.nan, DESCRIPTIVE_LEVEL)
    events: int | None = None
    near_zero: tuple[str, ...] = ()

    @property
    def less_stable(self) -> str | None:
        return self.outcome.side

    def to_dict(self) -> dict:
        d = {"method": self.comparison.value if self.comparison else None, "si_pct": self.si_pct,
             "se_pct": self.se_pct, "ci_low_pct": self.si_interval.low, "ci_high_pct": self.si_interval.high,
             "df": self.df, "diff": self.diff, "diff_se": self.diff_se, "diff_ci_low": self.diff_interval.low,
             "diff_ci_high": self.diff_interval.high, "level": self.si_interval.level, "unit": self.unit,
             "less_stable": self.less_stable, "verdict": self.outcome.value, "near_zero": list(self.near_zero),
             "left_mean": self.left.mean, "right_mean": self.right.mean, "n_left": self.left.n,
             "n_right": self.right.n, "sd_left": self.left.sd, "sd_right": self.right.sd}
        if self.events is not None:
            d["events"] = self.events
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "Asymmetry":
        d = d or {}
        level = _num(d.get("level", DESCRIPTIVE_LEVEL))
        try:
            comparison = Comparison(d.get("method")) if d.get("method") else None
        except ValueError:
            comparison = None
        outcome = Outcome.parse(d.get("verdict"))
        if outcome.side is None and d.get("less_stable") in SIDES:
            outcome = Outcome.less_stable(d["less_stable"])
        return cls(
            comparison=comparison, outcome=outcome,
            left=Summary(_num(d.get("left_mean")), _num(d.get("sd_left")), int(d.get("n_left") or 0)),
            right=Summary(_num(d.get("right_mean")), _num(d.get("sd_right")), int(d.get("n_right") or 0)),
            unit=str(d.get("unit") or ""), si_pct=_num(d.get("si_pct")), se_pct=_num(d.get("se_pct")),
            si_interval=Interval(_num(d.get("ci_low_pct")), _num(d.get("ci_high_pct")), level),
            df=_num(d.get("df")), diff=_num(d.get("diff")), diff_se=_num(d.get("diff_se")),
            diff_interval=Interval(_num(d.get("diff_ci_low")), _num(d.get("diff_ci_high")), level),
            events=int(d["events"]) if _finite(d.get("events")) else None,
            near_zero=tuple(s for s in d.get("near_zero") or () if s in SIDES),
        )


@dataclass(frozen=True)
class Change:
    """A descriptive before/after change of one metric on one leg against its minimal detectable change.

    ``mdc`` is the MDC at ``mdc_level`` (a ``t`` quantile on ``mdc_df`` degrees of freedom when it comes from
    the trials); a change is real only beyond it.
    """

    baseline: Summary
    post: Summary
    outcome: Outcome
    change: float = math.nan
    change_pct: float = math.nan
    sem: float = math.nan
    mdc: float = math.nan
    mdc_level: float = DESCRIPTIVE_LEVEL
    mdc_df: float = math.nan
    mdc_source: MdcSource | None = None

    def to_dict(self) -> dict:
        return {"baseline_mean": self.baseline.mean, "post_mean": self.post.mean, "n_baseline": self.baseline.n,
                "n_post": self.post.n, "sd_baseline": self.baseline.sd, "sd_post": self.post.sd,
                "change": self.change, "change_pct": self.change_pct, "sem": self.sem, "mdc95": self.mdc,
                "mdc_level": self.mdc_level, "mdc_df": self.mdc_df,
                "mdc_source": self.mdc_source.value if self.mdc_source else None, "verdict": self.outcome.value}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Change":
        d = d or {}
        try:
            source = MdcSource(d.get("mdc_source")) if d.get("mdc_source") else None
        except ValueError:
            source = None
        return cls(
            baseline=Summary(_num(d.get("baseline_mean")), _num(d.get("sd_baseline")), int(d.get("n_baseline") or 0)),
            post=Summary(_num(d.get("post_mean")), _num(d.get("sd_post")), int(d.get("n_post") or 0)),
            outcome=Outcome.parse(d.get("verdict")), change=_num(d.get("change")), change_pct=_num(d.get("change_pct")),
            sem=_num(d.get("sem")), mdc=_num(d.get("mdc95")), mdc_level=_num(d.get("mdc_level", DESCRIPTIVE_LEVEL)),
            mdc_df=_num(d.get("mdc_df")), mdc_source=source)


def _summaries_to_dict(sides: dict) -> dict:
    return {side: {k: s.to_dict() for k, s in metrics.items()} for side, metrics in sides.items()}


def _summaries_from_dict(d: dict | None) -> dict:
    return {side: {k: Summary.from_dict(v) for k, v in (metrics or {}).items() if isinstance(v, dict)}
            for side, metrics in (d or {}).items() if side in SIDES}


def _legacy_asymmetry_verdict(block: str, d: dict | None) -> Verdict:
    """A headline from the descriptive row a session stored before the headline tests existed (95 %)."""
    a = Asymmetry.from_dict(d)
    si = a.comparison is Comparison.SI and _finite(a.si_pct)
    return Verdict(block=block, kind=Kind.ASYMMETRY, side=None, outcome=a.outcome,
                   measure=Measure.SI if si else Measure.DIFFERENCE, estimate=a.si_pct if si else a.diff,
                   interval=a.si_interval if si else a.diff_interval, unit="%" if si else a.unit,
                   resolution=math.nan, alpha=1.0 - DESCRIPTIVE_LEVEL, family_alpha=1.0 - DESCRIPTIVE_LEVEL,
                   method=Method.DESCRIPTIVE)


@dataclass(frozen=True)
class StanceScores:
    """Single-leg stance of one phase and condition: per-side summaries, descriptive asymmetries, headline."""

    phase: str
    condition: str
    sides: dict  # side -> metric -> Summary
    asymmetry: dict  # metric -> Asymmetry (descriptive, 95 %)
    headline: Verdict

    @property
    def key(self) -> str:
        return f"{self.phase}/{self.condition}"

    @property
    def less_stable(self) -> str | None:
        return self.headline.less_stable

    def to_dict(self) -> dict:
        return {"phase": self.phase, "condition": self.condition, "sides": _summaries_to_dict(self.sides),
                "asymmetry": {k: a.to_dict() for k, a in self.asymmetry.items()},
                "headline": self.headline.to_dict(), "less_stable": self.less_stable}

    @classmethod
    def from_dict(cls, d: dict, *, key: str = "") -> "StanceScores":
        phase, _, condition = key.partition("/")
        phase, condition = d.get("phase") or phase, d.get("condition") or condition
        block = f"stance/{phase}/{condition}"
        headline = (Verdict.from_dict(d["headline"]) if d.get("headline")
                    else _legacy_asymmetry_verdict(block, d.get("verdict")))
        return cls(phase=phase, condition=condition, sides=_summaries_from_dict(d.get("sides")),
                   asymmetry={k: Asymmetry.from_dict(v) for k, v in (d.get("asymmetry") or {}).items()},
                   headline=headline)


@dataclass(frozen=True)
class SideFigure:
    """One leg's figure of a descriptive block: its mean with a :data:`DESCRIPTIVE_LEVEL` interval."""

    side: str
    estimate: float
    interval: Interval
    n: int  # repetitions
    sets: int

    def to_dict(self) -> dict:
        return {"side": self.side, "estimate": self.estimate, "ci_low": self.interval.low,
                "ci_high": self.interval.high, "level": self.interval.level, "n": self.n, "sets": self.sets}

    @classmethod
    def from_dict(cls, d: dict | None) -> "SideFigure":
        d = d or {}
        return cls(side=str(d.get("side") or ""), estimate=_num(d.get("estimate")),
                   interval=Interval(_num(d.get("ci_low")), _num(d.get("ci_high")),
                                     _num(d.get("level", DESCRIPTIVE_LEVEL))),
                   n=int(d.get("n") or 0), sets=int(d.get("sets") or 0))


@dataclass(frozen=True)
class Description:
    """A block described, not tested: each leg's figure and the difference R − L, every one with its own
    :data:`DESCRIPTIVE_LEVEL` interval, and no verdict (no side is named, no error rate is promised).

    The primer's rear-foot-elevated RDL is described this way: its left/right test had 58 % power at the
    asymmetry it was meant to find, too little for a headline verdict.
    """

    block: str
    metric: str  # the per-repetition metric described
    unit: str
    sides: tuple  # SideFigure, left then right
    difference: float  # R − L
    difference_interval: Interval
    method: str = "mean of the repetitions, t interval with the within-set design effect"

    def side(self, side: str) -> SideFigure | None:
        return next((f for f in self.sides if f.side == side), None)

    def to_dict(self) -> dict:
        return {"block": self.block, "descriptive": True, "metric": self.metric, "unit": self.unit,
                "sides": [f.to_dict() for f in self.sides], "difference": self.difference,
                "difference_ci_low": self.difference_interval.low,
                "difference_ci_high": self.difference_interval.high, "level": self.difference_interval.level,
                "method": self.method}

    @classmethod
    def from_dict(cls, d: dict | None, *, block: str = "") -> "Description":
        d = d or {}
        return cls(block=str(d.get("block") or block), metric=str(d.get("metric") or ""), unit=str(d.get("unit") or ""),
                   sides=tuple(SideFigure.from_dict(f) for f in d.get("sides") or ()),
                   difference=_num(d.get("difference")),
                   difference_interval=Interval(_num(d.get("difference_ci_low")), _num(d.get("difference_ci_high")),
                                                _num(d.get("level", DESCRIPTIVE_LEVEL))),
                   method=str(d.get("method") or ""))


#: blocks shown as a description (each leg's figure with its own 95 % interval), never as a headline verdict
DESCRIPTIVE_BLOCKS = ("primer_rdl",)


@dataclass(frozen=True)
class RdlScores:
    """An RDL block (``rdl`` or the primer's ``primer_rdl``): per-side repetition summaries and the headline."""

    block: str
    phase: str
    task: str
    sides: dict  # side -> metric -> Summary (the repetitions of all valid sets pooled)
    reps: dict  # side -> number of repetitions
    asymmetry: dict  # metric -> Asymmetry (descriptive, 95 %)
    #: the block's headline verdict; None for a descriptive block (:data:`DESCRIPTIVE_BLOCKS`) scored since it
    #: became one (a session stored before keeps its old verdict here, shown nowhere as a headline)
    headline: Verdict | None
    description: Description | None = None

    @property
    def descriptive(self) -> bool:
        """The block is described (each leg's figure with its interval), not tested: no headline verdict."""
        return self.block in DESCRIPTIVE_BLOCKS

    @property
    def less_stable(self) -> str | None:
        return None if self.descriptive or self.headline is None else self.headline.less_stable

    def to_dict(self) -> dict:
        sides = {side: {k: s.to_dict() for k, s in m.items()} | {"reps": self.reps.get(side, 0)}
                 for side, m in self.sides.items()}
        d = {"phase": self.phase, "task": self.task, "sides": sides,
             "asymmetry": {k: a.to_dict() for k, a in self.asymmetry.items()}, "less_stable": self.less_stable}
        if self.headline is not None:
            d["headline"] = self.headline.to_dict()
        if self.description is not None:
            d["description"] = self.description.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict, *, block: str) -> "RdlScores":
        if d.get("headline"):
            headline = Verdict.from_dict(d["headline"])
        elif block in DESCRIPTIVE_BLOCKS and (d.get("description") or not d.get("verdict")):
            headline = None
        else:
            headline = _legacy_asymmetry_verdict(block, d.get("verdict"))
        reps = {side: int((m or {}).get("reps") or 0) for side, m in (d.get("sides") or {}).items() if side in SIDES}
        sides = _summaries_from_dict(d.get("sides"))
        if d.get("description"):
            description = Description.from_dict(d["description"], block=block)
        elif block in DESCRIPTIVE_BLOCKS:  # stored while it was a verdict: described from its stored summaries
            description = description_from_summaries(block, sides)
        else:
            description = None
        return cls(block=block, phase=d.get("phase") or "", task=d.get("task") or "", sides=sides, reps=reps,
                   asymmetry={k: Asymmetry.from_dict(v) for k, v in (d.get("asymmetry") or {}).items()},
                   headline=headline, description=description)


#: the per-repetition metric a descriptive RDL block describes
DESCRIBED_RDL_METRIC = "lateral_shift_mm"
#: repetitions per set assumed for a session stored without its sets (the protocols' default)
DEFAULT_REPS_PER_SET = 10


def description_from_summaries(block: str, sides: dict, *, metric: str = DESCRIBED_RDL_METRIC) -> Description | None:
    """The description of an RDL block from its stored per-side summaries (a session scored before the block
    was described: its sets are not stored with the scores, so each leg's repetitions are taken as sets of
    :data:`DEFAULT_REPS_PER_SET`)."""
    from station.assessment.verdicts import describe_sides

    summaries = {side: (sides.get(side) or {}).get(metric) for side in SIDES}
    if any(s is None or s.n < 2 for s in summaries.values()):
        return None
    return describe_sides(block, {side: (s.mean, s.sd, s.n, max(1, round(s.n / DEFAULT_REPS_PER_SET)))
                                  for side, s in summaries.items()}, metric=metric, unit="mm")


@dataclass(frozen=True)
class BeforeAfterScores:
    """Baseline versus post-primer stance of one condition: per-leg metric changes and the headline verdicts."""

    condition: str
    sides: dict  # side -> metric -> Change
    headline: tuple  # Verdict per leg (left, right), then the asymmetry change

    def leg_verdict(self, side: str) -> Verdict | None:
        return next((v for v in self.headline if v.side == side), None)

    @property
    def asymmetry_change(self) -> Verdict | None:
        return next((v for v in self.headline if v.side is None), None)

    def to_dict(self) -> dict:
        sides = {side: {"metrics": {k: c.to_dict() for k, c in m.items()},
                        "verdict": (self.leg_verdict(side).outcome.value if self.leg_verdict(side) else None)}
                 for side, m in self.sides.items()}
        return {"condition": self.condition, "sides": sides, "headline": [v.to_dict() for v in self.headline]}

    @classmethod
    def from_dict(cls, d: dict, *, condition: str = "") -> "BeforeAfterScores":
        condition = d.get("condition") or condition
        sides = {side: {k: Change.from_dict(c) for k, c in ((s or {}).get("metrics") or {}).items()}
                 for side, s in (d.get("sides") or {}).items() if side in SIDES}
        if d.get("headline"):
            headline = tuple(Verdict.from_dict(v) for v in d["headline"])
        else:  # scored before the headline tests: each leg's sway-index change against its MDC95
            headline = tuple(_legacy_change_verdict(f"before_after/{condition}", side, sides[side]["sway_index"])
                             for side in SIDES if "sway_index" in sides.get(side, {}))
        return cls(condition=condition, sides=sides, headline=headline)


def _legacy_change_verdict(block: str, side: str, c: Change) -> Verdict:
    return Verdict(block=block, kind=Kind.BEFORE_AFTER, side=side, outcome=c.outcome, measure=Measure.MDC_CHANGE,
                   estimate=c.change, interval=Interval(c.change - c.mdc, c.change + c.mdc, c.mdc_level), unit="",
                   resolution=c.mdc, alpha=1.0 - c.mdc_level, family_alpha=1.0 - c.mdc_level, method=Method.DESCRIPTIVE)


@dataclass(frozen=True)
class ScoreMeaning:
    """The balance score's definition as numbers: ``100 min(1, healthy_index_upper / sway index)``."""

    key: str = "stability_score"
    low: float = 0.0
    high: float = 100.0
    healthy_low: float = 80.0
    healthy_index_upper: float = 1.25

    def to_dict(self) -> dict:
        return {"key": self.key, "range": [self.low, self.high], "healthy_range": [self.healthy_low, self.high],
                "healthy_index_upper": self.healthy_index_upper}

    @classmethod
    def from_dict(cls, d: dict | None) -> "ScoreMeaning":
        d = d or {}
        lo, hi = (list(d.get("range") or (0.0, 100.0)) + [100.0])[:2]
        return cls(key=d.get("key") or "stability_score", low=_num(lo), high=_num(hi),
                   healthy_low=_num((d.get("healthy_range") or (80.0,))[0]),
                   healthy_index_upper=_num(d.get("healthy_index_upper", 1.25)))


def stance_order(key: str) -> tuple:
    """Sort key of a stance block ``"<phase>/<condition>"``: baseline, then post-primer, then the rest."""
    phase = key.split("/")[0]
    return (PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER), key)


@dataclass(frozen=True)
class SessionScores:
    """Everything a session's trials support; blocks are present only when the session has their trials."""

    stance: dict = field(default_factory=dict)  # "<phase>/<condition>" -> StanceScores, in session order
    rdl: RdlScores | None = None
    primer_rdl: RdlScores | None = None
    before_after: dict = field(default_factory=dict)  # condition -> BeforeAfterScores
    score_meaning: ScoreMeaning = ScoreMeaning()
    minutes: float | None = None

    def stance_blocks(self) -> list:
        """The stance blocks in the one block order (baseline first)."""
        return [self.stance[k] for k in sorted(self.stance, key=stance_order)]

    def rdl_blocks(self) -> list:
        return [b for b in (self.rdl, self.primer_rdl) if b is not None]

    @property
    def verdicts(self) -> list:
        """The headline verdicts in report order: stance (baseline first), RDL, before/after (a descriptive block,
        the primer's RDL, has none: :attr:`descriptions`)."""
        out = [b.headline for b in self.stance_blocks()] + [b.headline for b in self.rdl_blocks()
                                                            if not b.descriptive and b.headline is not None]
        for condition in sorted(self.before_after):
            out += list(self.before_after[condition].headline)
        return out

    @property
    def descriptions(self) -> list:
        """The blocks described, not tested (each leg's figure with its own 95 % interval), in report order."""
        return [b.description for b in self.rdl_blocks() if b.descriptive and b.description is not None]

    def verdict_of(self, block: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.block == block and v.side is None), None)

    def block(self, key: str):
        """The scores of a block key (``stance/baseline/eyes_open``, ``rdl``, ``primer_rdl``) or None."""
        if key.startswith("stance/"):
            return self.stance.get(key.split("/", 1)[1])
        return {"rdl": self.rdl, "primer_rdl": self.primer_rdl}.get(key)

    def to_dict(self) -> dict:
        d: dict = {"score_meaning": self.score_meaning.to_dict()}
        if self.stance:
            d["stance"] = {k: self.stance[k].to_dict() for k in sorted(self.stance, key=stance_order)}
        if self.rdl is not None:
            d["rdl"] = self.rdl.to_dict()
        if self.primer_rdl is not None:
            d["primer_rdl"] = self.primer_rdl.to_dict()
        if self.before_after:
            d["before_after"] = {c: b.to_dict() for c, b in sorted(self.before_after.items())}
        d["verdicts"] = [v.to_dict() for v in self.verdicts]
        d["descriptions"] = [x.to_dict() for x in self.descriptions]
        if self.minutes is not None:
            d["minutes"] = self.minutes
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "SessionScores":
        """Stored scores, old sessions included (``{}`` or None: a session without scores)."""
        d = d or {}
        minutes = d.get("minutes")
        return cls(
            stance={k: StanceScores.from_dict(v, key=k) for k, v in (d.get("stance") or {}).items() if v},
            rdl=RdlScores.from_dict(d["rdl"], block="rdl") if d.get("rdl") else None,
            primer_rdl=RdlScores.from_dict(d["primer_rdl"], block="primer_rdl") if d.get("primer_rdl") else None,
            before_after={c: BeforeAfterScores.from_dict(v, condition=c)
                          for c, v in (d.get("before_after") or {}).items() if v},
            score_meaning=ScoreMeaning.from_dict(d.get("score_meaning")),
            minutes=float(minutes) if _finite(minutes) else None)
