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


def mean_interval(summary: dict | None, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the t interval of a trial mean from a stored ``{mean, sd, n}`` summary."""
    from scipy import stats

    summary = summary or {}
    mean, sd, n = _num(summary.get("mean")), _num(summary.get("sd")), int(summary.get("n") or 0)
    if not math.isfinite(mean) or n < 2 or not math.isfinite(sd):
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
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
        ``{"session_id", "date", "protocol", "measure" ("SI" | "R − L"), "estimate", "ci_low",
        "ci_high", "unit", "verdict", "criterion", "sides": {side: (mean, low, high)}}``.
    """
    from station.report.session import headline_verdicts

    criterion = criterion or Criterion.load(store.data_dir)
    out = []
    for session in store.list_sessions(patient_id):
        if until_session_id is not None and session.id > until_session_id:
            continue
        scores = session.scores or {}
        block = (scores.get("stance") or {}).get(HISTORY_BLOCK.split("/", 1)[1])
        if not block:
            continue
        verdict = next((v for v in headline_verdicts(scores) if v["block"] == HISTORY_BLOCK), None)
        if verdict is None:
            continue
        si = verdict.get("unit") == "%"
        sides = {side: mean_interval((block.get("sides") or {}).get(side, {}).get(SWAY_METRIC))
                 for side in ("left", "right")}
        out.append({
            "session_id": session.id, "date": str(session.started)[:10], "protocol": session.protocol,
            "measure": "SI" if si else "R − L", "estimate": _num(verdict.get("estimate")),
            "ci_low": _num(verdict.get("ci_low")), "ci_high": _num(verdict.get("ci_high")),
            "unit": verdict.get("unit") or "", "verdict": verdict.get("verdict", ""),
            "criterion": criterion.status(verdict.get("estimate"), verdict.get("ci_low"), verdict.get("ci_high"))
            if si else "undecided",
            "sides": sides,
        })
    return out
