"""A patient's sessions over time: headline asymmetry and per-side sway per visit, and a return-to-sport check.

Everything comes from the stored scores of each session (``Session.scores``, written by the scoring
when the session ended): the baseline single-leg stance block's headline verdict (SI with its
interval, or the difference R − L where SI is undefined) and each side's mean ML sway velocity with
a 95 % t interval of the trial mean (mean ± t · SD / √n from the stored per-side summary).

The return-to-sport style criterion is the clinician's: by default "asymmetry within ±10 % with the
whole 95 % interval inside ±15 %". Per visit it reads

- **met**: |SI| ≤ ``max_si_pct`` and the interval lies inside ±``ci_within_pct``;
- **not met**: the interval lies entirely outside ±``max_si_pct`` (the asymmetry is larger, beyond
  the patient's own noise);
- **undecided**: anything else (the interval is too wide to tell, or SI is undefined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the per-side sway shown across visits
SWAY_METRIC = "mean_velocity_ml_mm_s"
#: level of each leg's interval of its trial mean (the history's lower chart)
SIDE_LEVEL = 0.95
#: the stance block the history follows
HISTORY_BLOCK = "stance/baseline/eyes_open"
#: where the clinic's criterion is kept, in the station's data directory
CRITERION_FILE = "return-to-sport-criterion.json"


@dataclass(frozen=True)
class Criterion:
    """Asymmetry within ±``max_si_pct`` % with the headline test's interval inside ±``ci_within_pct`` %."""

    max_si_pct: float = 10.0
    ci_within_pct: float = 15.0

    def __post_init__(self):
        if not (self.max_si_pct > 0 and self.ci_within_pct >= self.max_si_pct):
            from station.errors import StationError

            raise StationError("The criterion needs |SI| limit > 0 and an interval limit at least as wide.")

    @property
    def text(self) -> str:
        return f"|SI| ≤ {self.max_si_pct:g} % with its interval inside ±{self.ci_within_pct:g} %"

    @classmethod
    def load(cls, data_dir) -> "Criterion":
        """The clinic's criterion saved in ``data_dir`` (the default when none was saved or it is unreadable)."""
        import json
        from pathlib import Path

        from station.errors import StationError

        path = Path(data_dir) / CRITERION_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(float(d["max_si_pct"]), float(d["ci_within_pct"]))
        except (OSError, ValueError, KeyError, TypeError, StationError):
            return cls()

    def save(self, data_dir):
        """Keep this criterion for the station (dashboard and ``station report`` read it); return the file."""
        import json
        from pathlib import Path

        from station.privatefiles import write_private

        return write_private(Path(data_dir) / CRITERION_FILE,
                             json.dumps({"max_si_pct": self.max_si_pct, "ci_within_pct": self.ci_within_pct}),
                             force=True)

    def status(self, si_pct, ci_low, ci_high) -> str:
        """``"met"``, ``"not met"`` or ``"undecided"`` for one visit (see the module docstring)."""
        values = [_num(si_pct), _num(ci_low), _num(ci_high)]
        if not all(math.isfinite(v) for v in values):
            return "undecided"
        si, low, high = values
        if abs(si) <= self.max_si_pct and -self.ci_within_pct <= low and high <= self.ci_within_pct:
            return "met"
        if low > self.max_si_pct or high < -self.max_si_pct:
            return "not met"
        return "undecided"


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def mean_interval(summary, confidence: float = SIDE_LEVEL) -> tuple[float, float, float]:
    """``(mean, low, high)``: the t interval of a trial mean from a per-side :class:`Summary`."""
    from station.assessment.stats import t_quantile

    if summary is None:
        return math.nan, math.nan, math.nan
    mean, sd, n = _num(summary.mean), _num(summary.sd), int(summary.n or 0)
    if not math.isfinite(mean) or n < 2 or not math.isfinite(sd):
        return mean, math.nan, math.nan
    half = t_quantile(1.0 - confidence, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def patient_history(store, patient_id: int, *, criterion: Criterion | None = None,
                    until_session_id: int | None = None) -> list[dict]:
    """One entry per scored session of the patient, oldest first.

    Parameters
    ----------
    store : station.store.Store
    patient_id : int
    criterion : Criterion, optional
        Default: the one saved for the station (:meth:`Criterion.load`), else ±10 % with the interval
        inside ±15 %.
    until_session_id : int, optional
        Leave out sessions after this one (a report shows the history up to its own session).

    Returns
    -------
    list of dict
        ``{"session_id", "date", "protocol", "verdict" (the block's headline :class:`Verdict`), "interval"
        (its interval, with its level), "measure" ("SI" | "R − L"), "estimate", "ci_low", "ci_high",
        "level", "unit", "criterion", "sides": {side: (mean, low, high) of a 95 % interval}}``.
    """
    from station.assessment.results import Measure, SessionScores

    criterion = criterion or Criterion.load(store.data_dir)
    out = []
    for session in store.list_sessions(patient_id):
        if until_session_id is not None and session.id > until_session_id:
            continue
        scores = SessionScores.from_dict(session.scores)
        block = scores.block(HISTORY_BLOCK)
        if block is None:
            continue
        verdict = block.headline
        si = verdict.measure is Measure.SI
        sides = {side: mean_interval(block.sides.get(side, {}).get(SWAY_METRIC)) for side in ("left", "right")}
        out.append({
            "session_id": session.id, "date": str(session.started)[:10], "protocol": session.protocol,
            "verdict": verdict, "interval": verdict.interval, "measure": verdict.measure.value,
            "estimate": verdict.estimate, "ci_low": verdict.interval.low, "ci_high": verdict.interval.high,
            "level": verdict.level, "unit": verdict.unit,
            "criterion": criterion.status(verdict.estimate, verdict.interval.low, verdict.interval.high)
            if si else "undecided",
            "sides": sides,
        })
    return out
