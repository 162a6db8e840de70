"""What a primer session's before/after verdict can detect, and what more trials would cost.

The full bench (``bench/verdicts.py``) measures the primer session's designs through the runner, 200
sessions a condition, hours of CPU each. This script asks the question around it in seconds: for other
numbers of baseline and post-primer trials, what power would the per-leg "improved" verdict have, how often
would it call an unchanged leg improved, and how many minutes would the session take? It runs the station's
own test (``verdicts.before_after``) and the post block's own stopping rule
(``sequential.post_primer_futile``) on simulated trials whose inputs are **measured** on a saved
``bench/verdicts.py`` study:

- each leg's trial-to-trial SD of log sway index within a block (pooled over the ``primer-null`` sessions);
- each leg's mean change between the blocks on ``primer-null`` (the session's fatigue) and the weak (right)
  leg's mean change on ``primer-weak-25`` (the primer's effect net of fatigue);
- the minutes of a pair of trials, of the set-up and practice, and of the guided primer (bench timers; the
  clinic's 30 s pigeon holds and 10 paced hip lifts add ``CLINIC_EXTRA_MIN``).

Trials are log-normal and independent (the virtual patient's trials also carry practice and fatigue trends,
which these draws do not): the figures for the current design are checked against the full bench's.

  .venv/bin/python bench/primer_design.py --study study/primer-realistic.jsonl
  .venv/bin/python bench/primer_design.py --study study/primer-realistic.jsonl --sessions 4000 --designs 6:3-8,6:6,10:10
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the clinic's primer timers (pigeon 30 s and 10 hip lifts of 3 s, per leg and round) against the bench's
#: (pigeon 5 s, 2 hip lifts): 3 rounds x 2 legs x (25 s + 24 s)
CLINIC_EXTRA_MIN = 3 * 2 * (25.0 + 24.0) / 60.0
DEFAULT_DESIGNS = "6:3-8,6:3-8@25,6:3-8@15,6:6,8:8,10:10,12:12"


def measured(path: Path) -> dict:
    """The inputs of the simulation, measured on the saved study ``path`` (see the module notes)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    null = [r for r in rows if r["name"] == "primer-null" and r["status"] == "finished"]
    effect = [r for r in rows if r["name"] == "primer-weak-25" and r["status"] == "finished"]
    if not null:
        raise SystemExit(f"{path}: no finished primer-null session")

    def logs(r, phase, side):
        return np.log([v for p, s, v in r["stance"] if p == phase and s == side])

    out = {"sessions_null": len(null), "sessions_effect": len(effect)}
    for side in ("left", "right"):
        resid, changes = [], []
        for r in null:
            pre, post = logs(r, "baseline", side), logs(r, "post_primer", side)
            resid += [pre - pre.mean(), post - post.mean()]
            changes.append(post.mean() - pre.mean())
        dof = sum(len(x) - 1 for x in resid)
        out[f"sd_{side}"] = float(math.sqrt(sum(float(np.sum(x * x)) for x in resid) / dof))
        out[f"drift_{side}"] = float(np.mean(changes))
    # without primer-weak-25 sessions: the -16 % net change measured on them before (docs/ASSESSMENT.md §11)
    out["effect_right"] = (float(np.mean([logs(r, "post_primer", "right").mean() - logs(r, "baseline", "right").mean()
                                          for r in effect])) if effect else math.log(0.84))
    pairs = [sum(1 for p, s, _ in r["stance"] if p == "baseline" and s == "left") for r in null]
    base_min = [r["minutes_by_block"]["stance/baseline/eyes_open"] for r in null]
    out["pair_min"] = float(np.median(np.asarray(base_min) / np.asarray(pairs)))
    out["fixed_min"] = float(np.median([r["minutes_by_block"].get("setup", 0) + r["minutes_by_block"].get("practice", 0)
                                        for r in null]))
    out["primer_min"] = float(np.median([r["minutes_by_block"]["primer"] for r in null])) + CLINIC_EXTRA_MIN
    return out


def parse_design(text: str) -> tuple[int, int, int, float]:
    """``"6:3-8@15"`` -> (6 baseline trials per leg, post 3..8, futility target 15 %); ``"6:6"`` a fixed post block;
    without ``@`` the station's target (``AdaptivePost.target_change_pct``)."""
    from station.assessment.protocols import AdaptivePost

    base, _, rest = text.partition(":")
    post, _, target = rest.partition("@")
    low, _, high = post.partition("-")
    return int(base), int(low), int(high or low), float(target or AdaptivePost.target_change_pct)


def session(rng, design, *, sd: tuple[float, float], change: tuple[float, float]) -> tuple[bool, bool, int]:
    """One simulated session: (right leg "improved", left leg "improved", post pairs run)."""
    from station.assessment import sequential, verdicts
    from station.assessment.results import Outcome

    n_pre, post_min, post_max, target = design
    pre = {side: np.exp(rng.normal(0.0, s, n_pre)) for side, s in zip(("left", "right"), sd)}
    post = {side: np.exp(rng.normal(c, s, post_max)) for side, s, c in zip(("left", "right"), sd, change)}
    for k in range(post_min, post_max + 1):
        cells = {("baseline", side): pre[side] for side in pre} | {("post_primer", side): post[side][:k] for side in post}
        found = verdicts.before_after(cells, block="before_after/eyes_open")
        futile = sequential.post_primer_futile(found, target_change_pct=target, futility_alpha=0.2)
        if k == post_max or futile:
            left, right = (v.outcome is Outcome.IMPROVED for v in found[:2])
            return right, left, k
    raise AssertionError("unreachable")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", required=True, type=Path, help="a study saved by bench/verdicts.py --save")
    p.add_argument("--sessions", type=int, default=2000, help="simulated sessions per design and case (default 2000)")
    p.add_argument("--designs", default=DEFAULT_DESIGNS,
                   help="comma-separated BASE:POSTMIN-POSTMAX[@TARGET%%] (default %(default)s; the first is the station's)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    m = measured(args.study)
    sd = (m["sd_left"], m["sd_right"])
    print(f"measured on {args.study} ({m['sessions_null']} primer-null, {m['sessions_effect']} primer-weak-25 sessions):")
    print(f"  trial-to-trial SD of log sway index: left {sd[0]:.3f}, right {sd[1]:.3f}")
    print(f"  change between the blocks, primer-null: left {100 * math.expm1(m['drift_left']):+.1f} %, right "
          f"{100 * math.expm1(m['drift_right']):+.1f} %; primer-weak-25, right: {100 * math.expm1(m['effect_right']):+.1f} %"
          + ("" if m["sessions_effect"] else " (assumed: no such session in the study)"))
    print(f"  minutes: a pair of trials {m['pair_min']:.2f}, set-up and practice {m['fixed_min']:.2f}, guided primer "
          f"with the clinic's timers {m['primer_min']:.2f}")
    cases = {
        "power, measured effect": (m["drift_left"], m["effect_right"]),
        "power, net -25 %": (m["drift_left"], math.log(0.75)),
        "unchanged legs, no fatigue": (0.0, 0.0),
        "unchanged legs, measured fatigue": (m["drift_left"], m["drift_right"]),
    }
    print(f"\n{args.sessions} simulated sessions per design and case; 'improved' calls (right leg; left leg when "
          f"both are unchanged), mean post pairs, patient minutes (median session of the case)")
    print(f"{'design':>12} | " + " | ".join(f"{c:>32}" for c in cases))
    for text in args.designs.split(","):
        design = parse_design(text)
        rng = np.random.default_rng(args.seed)
        cells = []
        for name, change in cases.items():
            runs = np.array([session(rng, design, sd=sd, change=change) for _ in range(args.sessions)], dtype=float)
            rate = runs[:, 0].mean() if name.startswith("power") else max(runs[:, 0].mean(), runs[:, 1].mean())
            minutes = m["fixed_min"] + m["primer_min"] + m["pair_min"] * (design[0] + np.median(runs[:, 2]))
            cells.append(f"{100 * rate:5.1f} % {runs[:, 2].mean():4.1f} pairs {minutes:5.1f} min")
        label = f"{design[0]}+{design[1]}" + (f"-{design[2]}" if design[2] != design[1] else "") + \
            (f"@{design[3]:g}" if design[3] != 25.0 else "")
        print(f"{label:>12} | " + " | ".join(f"{c:>32}" for c in cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
