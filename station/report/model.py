"""The results of a session as the clinician reads them, built once and rendered by the PDF and the dashboard.

Toolkit-free: plain dataclasses of worded cells (:mod:`station.report.wording`) and the typed results
they come from, so the PDF (reportlab) and the dashboard (Qt) draw the same rows with the same labels.
:func:`results_model` works from a session's scores alone (the dashboard has nothing more);
:func:`report_model` adds what the PDF also shows: the recording quality totals (computed once here)
and the definitions page.
"""

from __future__ import annotations


import math
from dataclasses import dataclass, field, replace

from station.assessment.results import (
    SIDES,
    Asymmetry,
    MdcSource,
    Measure,
    RdlScores,
    SessionScores,
    StanceScores,
    Summary,
    Verdict,
)
from station.report import wording as w

#: per-side rows of a stance block, in display order
STANCE_ROWS = ("stability_score", "sway_index", "mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2",
               "mean_velocity_mm_s", "touchdowns")
#: per-repetition rows of an RDL block
RDL_ROWS = ("lateral_shift_mm", "ml_max_dev_mm", "duration_s")
#: per-metric before/after rows, the composite first
BEFORE_AFTER_ROWS = ("sway_index", "mean_velocity_ml_mm_s", "range_ml_mm", "ellipse95_area_mm2")
#: metrics that count events: their per-trial means get one decimal more than the count itself
COUNT_METRICS = ("touchdowns",)
#: the row of each block kind that carries the block's headline test instead of a descriptive comparison
HEADLINE_ROW = {"stance": "sway_index", "rdl": "lateral_shift_mm"}


@dataclass(frozen=True)
class VerdictRow:
    """One headline verdict, worded."""

    verdict: Verdict
    title: str
    headline: str
    estimate: str
    resolution: str
    sentence: str
    tone: w.Tone


@dataclass(frozen=True)
class SideRow:
    """One measure of a block per side: mean ± SD, the L/R comparison with its interval, the outcome."""

    key: str
    label: str
    left: str
    right: str
    asymmetry: str
    outcome: str
    tone: w.Tone
    headline: bool  # the comparison is the block's headline test (its level), not a descriptive 95 % row


@dataclass(frozen=True)
class SideTable:
    key: str  # "stance/baseline/eyes_open", "rdl", "primer_rdl"
    title: str
    rows: tuple
    count_label: str  # "Valid trials" / "Repetitions"
    n_left: int
    n_right: int


@dataclass(frozen=True)
class ChangeRow:
    side: str
    label: str
    baseline: str
    post: str
    change: str
    mdc: str
    outcome: str
    tone: w.Tone
    default_mdc: bool  # the MDC is the default share of the baseline (too few trials): ``mdc`` has no mark


@dataclass(frozen=True)
class ChangeTable:
    condition: str
    title: str
    legs: tuple  # VerdictRow per leg, then the asymmetry change
    rows: tuple
    n_baseline: int | None  # the same for every row, else None
    n_post: int | None
    mdc_heading: str
    default_mdc: bool  # a row's MDC is the default share of its baseline (too few trials)


@dataclass(frozen=True)
class ResultsModel:
    scores: SessionScores
    verdicts: tuple  # VerdictRow, in report order
    main: VerdictRow | None  # the verdict a page or a badge shows first
    side_tables: tuple  # SideTable per stance and RDL block
    change_tables: tuple  # ChangeTable per before/after condition
    score_meaning: str
    descriptions: tuple = ()  # (block title, sentence) per block described, not tested (the primer's RDL)

    def verdict_row(self, block: str) -> VerdictRow | None:
        return next((r for r in self.verdicts if r.verdict.block == block and r.verdict.side is None), None)

    def side_table(self, key: str) -> SideTable | None:
        return next((t for t in self.side_tables if t.key == key), None)


def verdict_row(v: Verdict) -> VerdictRow:
    return VerdictRow(verdict=v, title=w.block_title(v.block), headline=w.verdict_headline(v),
                      estimate=w.verdict_estimate(v), resolution=w.resolution_text(v), sentence=w.verdict_sentence(v),
                      tone=w.tone(v.outcome))


def _side_row(key: str, sides: dict, asym: Asymmetry | None, headline: Verdict | None, *, rdl: bool,
              meaning) -> SideRow:
    decimals = w.decimals_of(key, rdl=rdl) + (1 if key in COUNT_METRICS else 0)
    left, right = (w.mean_sd((sides.get(side) or {}).get(key), decimals) for side in SIDES)
    if headline is not None:
        return SideRow(key, w.metric_label(key, rdl=rdl, meaning=meaning), left, right,
                       w.verdict_cell(headline),
                       headline.outcome.value, w.tone(headline.outcome), True)
    if asym is None:
        return SideRow(key, w.metric_label(key, rdl=rdl, meaning=meaning), left, right, "", "", w.Tone.NEUTRAL, False)
    return SideRow(key, w.metric_label(key, rdl=rdl, meaning=meaning), left, right, w.asymmetry_text(asym),
                   w.outcome_text(asym.outcome, events=key.replace("_", " ")), w.tone(asym.outcome), False)


def _stance_table(block: StanceScores, meaning) -> SideTable:
    rows = []
    for key in STANCE_ROWS:
        if not any(key in (block.sides.get(side) or {}) for side in SIDES):
            continue
        if w.metric_spec(key) is None:
            continue
        headline = block.headline if key == HEADLINE_ROW["stance"] else None
        rows.append(_side_row(key, block.sides, block.asymmetry.get(key) if key != "stability_score" else None,
                              headline, rdl=False, meaning=meaning))
    n = {side: ((block.sides.get(side) or {}).get("sway_index") or Summary(math.nan, math.nan, 0)).n for side in SIDES}
    key = f"stance/{block.key}"
    return SideTable(key, w.block_title(key), tuple(rows), "Valid trials", n["left"], n["right"])


def _described_row(key: str, block: RdlScores, meaning) -> SideRow:
    """A row of a described block (the primer's RDL): each side's mean ± SD and, for the described metric, R − L
    with its own 95 % interval -- no L/R comparison names a side there, whatever an older scoring stored."""
    row = _side_row(key, block.sides, None, None, rdl=True, meaning=meaning)
    d = block.description
    if d is None or key != d.metric:
        return row
    diff = w.estimate_text(d.difference, d.difference_interval, 1, unit=d.unit)
    return replace(row, asymmetry=f"R − L {diff}" if diff != w.NONE else "", outcome=w.DESCRIPTIVE_LABEL)


def _rdl_table(block: RdlScores, meaning) -> SideTable:
    rows = []
    for key in RDL_ROWS:
        if w.metric_spec(key, rdl=True) is None or not any(key in (block.sides.get(s) or {}) for s in SIDES):
            continue
        if block.descriptive:
            rows.append(_described_row(key, block, meaning))
            continue
        headline = block.headline if key == HEADLINE_ROW["rdl"] else None
        rows.append(_side_row(key, block.sides, block.asymmetry.get(key), headline, rdl=True, meaning=meaning))
    return SideTable(block.block, w.block_title(block.block), tuple(rows), "Repetitions", block.reps.get("left", 0),
                     block.reps.get("right", 0))


def _change_tables(scores: SessionScores) -> tuple:
    tables = []
    for condition in sorted(scores.before_after):
        ba = scores.before_after[condition]
        rows, counts, levels, default = [], set(), set(), False
        for side in SIDES:
            metrics = ba.sides.get(side) or {}
            for key in BEFORE_AFTER_ROWS:
                c = metrics.get(key)
                if c is None:
                    continue
                decimals = w.decimals_of(key)
                counts.add((c.baseline.n, c.post.n))
                levels.add(c.mdc_level)
                default = default or c.mdc_source is MdcSource.DEFAULT
                rows.append(ChangeRow(side, w.metric_label(key), w.number(c.baseline.mean, decimals),
                                      w.number(c.post.mean, decimals), w.change_text(c, decimals),
                                      w.mdc_text(c, decimals, default_mark=""), c.outcome.value, w.tone(c.outcome),
                                      c.mdc_source is MdcSource.DEFAULT))
        n_base, n_post = counts.pop() if len(counts) == 1 else (None, None)
        level = levels.pop() if len(levels) == 1 else 0.95
        tables.append(ChangeTable(condition, w.block_title(f"before_after/{condition}"),
                                  tuple(verdict_row(v) for v in ba.headline), tuple(rows), n_base, n_post,
                                  w.mdc_heading(level), default))
    return tuple(tables)


def results_model(scores) -> ResultsModel:
    """The worded results of a session from its scores (a :class:`SessionScores` or the stored dict)."""
    if not isinstance(scores, SessionScores):
        scores = SessionScores.from_dict(scores)
    verdicts = tuple(verdict_row(v) for v in scores.verdicts)
    # a primer session's headline is the change of the left/right asymmetry (when it could be tested)
    main = next((r for r in verdicts if r.verdict.measure is Measure.SI_CHANGE and r.verdict.outcome.decided),
                verdicts[0] if verdicts else None)
    meaning = scores.score_meaning
    tables = tuple(_stance_table(b, meaning) for b in scores.stance_blocks()) + tuple(
        _rdl_table(b, meaning) for b in scores.rdl_blocks())
    descriptions = tuple((w.block_title(d.block), w.description_sentence(d)) for d in scores.descriptions)
    return ResultsModel(scores=scores, verdicts=verdicts, main=main, side_tables=tables,
                        change_tables=_change_tables(scores), score_meaning=w.score_meaning_text(meaning),
                        descriptions=descriptions)


# -- what the PDF shows besides the results -------------------------------------------------------

QUALITY_COUNTS = ("frames", "lost", "crc_errors", "resyncs", "gaps", "missed_conversions")
#: tasks whose finished trials the headline verdicts rest on
SCORED_TASKS = ("single_leg", "rdl", "rfe_rdl")


@dataclass(frozen=True)
class QualityTotals:
    """Link-quality totals over a set of trials."""

    trials: int
    counts: dict  # QUALITY_COUNTS -> total
    rates_hz: tuple
    jitters_ms: tuple

    @property
    def lost_pct(self) -> float:
        return 100.0 * self.counts["lost"] / max(self.counts["frames"] + self.counts["lost"], 1)

    @property
    def missed_pct(self) -> float:
        return 100.0 * self.counts["missed_conversions"] / max(self.counts["frames"], 1)


def quality_totals(trials) -> QualityTotals:
    trials = list(trials)
    counts = dict.fromkeys(QUALITY_COUNTS, 0)
    rates, jitters = [], []
    for t in trials:
        q = t.quality or {}
        for k in counts:
            counts[k] += int(q.get(k) or 0)
        for value, into in ((q.get("effective_rate_hz"), rates), (q.get("jitter_ms"), jitters)):
            if isinstance(value, (int, float)) and math.isfinite(float(value)):
                into.append(float(value))
    return QualityTotals(len(trials), counts, tuple(rates), tuple(jitters))


@dataclass(frozen=True)
class ReportModel:
    """Everything the PDF shows, built once from the stored session."""

    data: object  # station.report.session.SessionData
    results: ResultsModel
    quality: QualityTotals  # every trial
    scored_quality: QualityTotals  # the finished trials the verdicts rest on
    failed: int
    definitions: tuple = field(default_factory=tuple)  # station.report.definitions.Definition


def report_model(data) -> ReportModel:
    """Build the report model of a loaded session (:func:`station.report.session.load_session`)."""
    from station.report.definitions import definitions

    results = results_model(data.scores)
    scored = [t for t in data.trials if t.status == "finished" and t.task in SCORED_TASKS]
    return ReportModel(data=data, results=results, quality=quality_totals(data.trials),
                       scored_quality=quality_totals(scored), failed=sum(t.status == "failed" for t in data.trials),
                       definitions=definitions(results.scores))
