"""Error rates of the headline verdicts on realistic virtual patients, through the runner.

Every session runs the real protocol (``station.assessment.protocols``) through the real runner,
analysis, store and scoring on the path of ``station assess --sim`` itself
(``station.assessment.virtual_session.run_sim_session``: the same board for the same seed, calibrated
with the known-mass wizard, in lockstep with the runner's clock), so a session's patient minutes are
those ``assess --sim --seed N`` prints. Two populations (``--population``): the realistic presets
(trial-to-trial CV 10 %, session CV 10 %, practice and fatigue; docs/ASSESSMENT.md §10) and the
heterogeneous one (a trial-to-trial CV drawn per patient and leg from 5 to 25 %, occasional outlier
trials: several touchdowns, or much steadier; ``station.board.virtual.subject.HeterogeneousPatient``).

For each condition it prints, with 95 % Wilson intervals (scipy): the false-positive rate (a side named
or a change called where none exists), power (the right side / the right direction called), wrong-side
rate, coverage of the reported interval (of the true value: 0 for symmetric patients, else the
condition's mean estimate over all seeds), and patient time per session (median, 90th percentile, and
per block).

  nice .venv/bin/python bench/verdicts.py --seeds 200 --population both    # the full study (long: run it once)
  nice .venv/bin/python bench/verdicts.py --quick              # 20 seeds per condition, minutes
  nice .venv/bin/python bench/verdicts.py --only stance-null,rdl-4v12 --seeds 50 --population heterogeneous
  nice .venv/bin/python bench/verdicts.py --only primer-null --seed-start 200 --save study.jsonl   # add sessions
  .venv/bin/python bench/verdicts.py --summarise study.jsonl   # the saved study, all runs together
  nice .venv/bin/python bench/verdicts.py --board wii --only stance-weak-right --seeds 30   # on the virtual Wii board
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the primer's unrecorded timers (pigeon holds, paced hip lifts) shortened to save CPU: they change no
#: statistic (practice and fatigue count recorded trials and sets, all kept: 3 rounds of RFE-RDL sets),
#: only the patient time, which is printed for the full timers by ``--full-primer``
PRIMER_BENCH = {"pigeon_s": 5.0, "hip_lifts": 2}
#: name -> (block family, protocol name, protocol settings, subject fields, post-primer adjustment)
#: weak-side effects: ML sway scale s changes the sway index by about s^(5/6) (ML velocity and range ~ s,
#: sqrt ellipse area ~ s^(1/2)): s = 1.35 gives a true SI of about +25 %; s x 0.71 after the primer
#: about -25 % of the weak side's sway index before fatigue (-21 % net), s x 0.664 -25 % net
CONDITIONS = {
    "stance-null": ("stance", "single-leg", {}, {"preset": "healthy"}, None),
    "stance-si15": ("stance", "single-leg", {}, {"preset": "healthy", "sway_scale_right": 1.2}, None),
    "stance-si25": ("stance", "single-leg", {}, {"preset": "healthy", "sway_scale_right": 1.35}, None),
    "stance-weak-right": ("stance", "single-leg", {}, {"preset": "weak-right"}, None),
    "rdl-null": ("rdl", "rdl", {}, {"preset": "healthy"}, None),
    "rdl-4v12": ("rdl", "rdl", {}, {"preset": "healthy", "rdl_ml_shift_mm_right": 12.0}, None),
    # the default RDL protocol is 2 sets of 10 per leg; one set of 10 is the design
    "rdl-4v12-1set": ("rdl", "rdl", {"sets_per_side": 1}, {"preset": "healthy", "rdl_ml_shift_mm_right": 12.0}, None),
    "rdl-null-1set": ("rdl", "rdl", {"sets_per_side": 1}, {"preset": "healthy"}, None),
    "primer-null": ("primer", "primer", PRIMER_BENCH, {"preset": "weak-right"}, None),
    "primer-weak-25": ("primer", "primer", PRIMER_BENCH, {"preset": "weak-right"}, {"sway_scale_right": 1.5 * 0.71}),
    # the same with a net true change of -25 %: the primer's effect (x 0.664) outweighs the session's fatigue
    # (+4-5 % on an unchanged leg, primer-null), so the weak leg's sway index really is 25 % lower after it
    "primer-weak-25-net": ("primer", "primer", PRIMER_BENCH, {"preset": "weak-right"}, {"sway_scale_right": 1.5 * 0.664}),
}
DEFAULT_ORDER = ["primer-null", "primer-weak-25", "primer-weak-25-net", "stance-null", "stance-si25", "rdl-null", "rdl-4v12",
                 "rdl-4v12-1set", "rdl-null-1set", "stance-si15", "stance-weak-right"]
#: false-positive conditions run more sessions (x --seeds): a rate near 5 % needs several hundred sessions
#: before the upper end of its 95 % interval says anything useful
NULL_SEEDS_FACTOR = {"stance-null": 3, "rdl-null": 3, "rdl-null-1set": 3}

_STORE = None


def _init_worker():
    global _STORE
    from station.store import Store

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _STORE = Store.open(Path(tempfile.mkdtemp(prefix="bench-verdicts-")))


def run_session(store, protocol, subject: dict, seed: int, *, population: str = "realistic", post: dict | None = None,
                board_kind: str = "station"):
    """One simulated session on the path of ``station assess --sim`` (the same board, calibration, patient
    fields and runner for the same seed): returns ``(runner, board, heterogeneous)``, the last the
    :class:`HeterogeneousPatient` (its legs' CVs and outlier trials) or None.

    ``population``: ``realistic`` (the preset's own variability) or ``heterogeneous`` (a trial-to-trial CV
    of the patient's own on each leg and occasional outlier trials, ``Subject``'s
    :class:`HeterogeneousPatient`). ``post``: subject fields of the post-primer trials. ``board_kind``:
    ``station`` (the station's virtual board) or ``wii`` (the virtual Wii Balance Board, forces from the
    driver's 10 g units, tared by the runner, as ``station assess --sim --board wii``).
    """
    from station.assessment.virtual_session import run_sim_session, sim_calibration, sim_transport, subject_fields
    from station.board.virtual import Subject
    from station.board.virtual.subject import HeterogeneousPatient

    person = Subject.from_dict(subject)
    patient = store.add_patient(name=f"virtual {seed}", body_mass_kg=person.body_mass_kg)
    het = HeterogeneousPatient(person, seed=seed) if population == "heterogeneous" else None

    def adjust(step):
        fields = dict(post) if post and step.phase == "post_primer" else {}
        if het is not None:
            fields = het.scene_fields(side=step.side, task="single_leg" if step.kind == "stance" else "rdl", base=fields)
        return fields

    transport = sim_transport(seed, board_kind=board_kind)
    if board_kind == "wii":
        from station.calibration.wii import default_wii_calibration

        calibration = default_wii_calibration(transport.board.info.board_id)
    else:
        calibration = sim_calibration(seed, operator_name="bench")
    runner = run_sim_session(protocol, transport=transport, calibration=calibration,
                             store=store, patient_id=patient, sim_subject=subject_fields(person),
                             sim_adjust=adjust if (post or het is not None) else None)
    return runner, transport.board, het


def _session(task):
    """One session of one condition: the headline verdicts and the patient time."""
    name, seed, population, board_kind = task
    from station.assessment import protocols

    family, proto, settings, subject, post = CONDITIONS[name]
    protocol = protocols.get(proto, **settings)
    t0 = time.perf_counter()
    runner, board, het = run_session(_STORE, protocol, subject, seed, population=population, post=post,
                                     board_kind=board_kind)
    store = _STORE
    session = store.get_session(runner.session_id)
    scores = session.scores or {}
    trials = store.trials(runner.session_id)
    counted = [t.metrics.get("reps_counted") for t in trials if t.task in ("rdl", "rfe_rdl") and t.status == "finished"]
    rep_sets = [(t.side, [r.get("lateral_shift_mm") for r in t.rep_metrics]) for t in trials
                if t.task == "rdl" and t.status == "finished"]
    stance_trials = sum(1 for t in trials if t.task == "single_leg" and t.status == "finished")
    # the scored stance trials themselves (phase, side, sway index): --save keeps them, so a study of
    # another test rule can re-use the sessions
    stance = [(t.phase, t.side, t.metrics.get("sway_index")) for t in trials
              if t.task == "single_leg" and t.status == "finished"]
    return {"name": name, "seed": seed, "population": population, "status": session.status,
            "verdicts": scores.get("verdicts") or [], "descriptions": scores.get("descriptions") or [],
            "minutes": float(scores.get("minutes", math.nan)),
            "minutes_by_block": scores.get("minutes_by_block") or {}, "cpu_s": time.perf_counter() - t0,
            "reps_counted": counted, "stance_trials": stance_trials, "rdl_sets": len(counted), "rep_sets": rep_sets,
            "failed_trials": [(t.task, t.side, t.reason) for t in trials if t.status == "failed"],
            "stance": stance, "trial_cv_pct": het.trial_cv_pct if het is not None else None,
            "outliers": [k for _, _, k in het.trials] if het is not None else []}


def wilson(k: int, n: int) -> tuple[float, float]:
    from scipy import stats

    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{100 * k / max(n, 1):5.1f} % [{100 * lo:4.1f}, {100 * hi:4.1f}] ({k}/{n})"


def _blocks(family: str) -> list[tuple[str, str | None]]:
    if family == "stance":
        return [("stance/baseline/eyes_open", None)]
    if family == "rdl":
        return [("rdl", None)]
    return [("before_after/eyes_open", "left"), ("before_after/eyes_open", "right"), ("before_after/eyes_open", None),
            ("stance/baseline/eyes_open", None)]


def _level(v: dict) -> float:
    """The coverage of a stored verdict's interval (studies saved before intervals carried it: 1 - alpha)."""
    return v["level"] if v.get("level") is not None else 1.0 - v["alpha"] if v.get("alpha") else 0.0


def summarise(name: str, results: list[dict], population: str = "realistic") -> list[str]:
    family, _, _, subject, post = CONDITIONS[name]
    null_lr = subject.get("preset") == "healthy" and len(subject) == 1
    lines = [f"== {name} [{population}]: {len(results)} sessions; subject {subject}" + (f", post-primer {post}" if post else "")]
    minutes = np.array([r["minutes"] for r in results])
    lines.append(f"   patient time per session: median {np.nanmedian(minutes):.2f} min, 90th pct "
                 f"{np.nanpercentile(minutes, 90):.2f} min (mean {np.nanmean(minutes):.2f}); "
                 f"finished {sum(r['status'] == 'finished' for r in results)}/{len(results)}; "
                 f"CPU {np.mean([r['cpu_s'] for r in results]):.1f} s/session")
    blocks = sorted({b for r in results for b in r.get("minutes_by_block") or {}})
    if blocks:
        lines.append("   median minutes per block: " + ", ".join(
            f"{b} {np.median([r['minutes_by_block'].get(b, 0.0) for r in results]):.2f}" for b in blocks))
    if population == "heterogeneous":
        kinds = [k for r in results for k in r.get("outliers") or []]
        lines.append(f"   outlier trials: {kinds.count('touchdowns')} with several touchdowns, {kinds.count('steady')} "
                     f"much steadier, of {len(kinds)} cued trials")
    if family == "primer" and PRIMER_BENCH:
        from station.assessment import protocols

        def timers(proto):
            return sum(st.total_s for st in proto.steps if st.kind == "exercise")

        extra = (timers(protocols.get("primer")) - timers(protocols.get("primer", **PRIMER_BENCH))) / 60.0
        lines.append(f"   in the clinic (full primer timers, +{extra:.1f} min): median {np.nanmedian(minutes) + extra:.2f} min, "
                     f"90th pct {np.nanpercentile(minutes, 90) + extra:.2f} min (mean {np.nanmean(minutes) + extra:.1f})")
    if family == "stance":
        n_tr = np.array([r["stance_trials"] for r in results]) / 2
        lines.append(f"   scored trials per leg: mean {n_tr.mean():.2f}, median {np.median(n_tr):.1f} (adaptive)")
    sets = [c for r in results for c in r["reps_counted"]]
    if sets:
        asked = 10
        phantom = sum(1 for c in sets if c > asked)
        exact = sum(1 for c in sets if c == asked)
        lines.append(f"   RDL sets: {len(sets)} finished; exactly {asked} reps {rate(exact, len(sets))}; "
                     f"more than {asked} (phantom) {rate(phantom, len(sets))}; fewer (a primer set, kept) "
                     f"{rate(sum(1 for c in sets if c < asked), len(sets))}")
    failed = [f for r in results for f in r.get("failed_trials") or []]
    if failed:
        lines.append(f"   failed (and repeated) trials: {len(failed)} in {sum(bool(r.get('failed_trials')) for r in results)} "
                     f"sessions, e.g. " + "; ".join(sorted({f'{task} {side}: {why}' for task, side, why in failed})[:3]))
    if family == "rdl":
        lines += _within_set_correlation(subject, results)
    for block, side in _blocks(family):
        vs = [next((v for v in r["verdicts"] if v["block"] == block and v.get("side") == side), None) for r in results]
        vs = [v for v in vs if v is not None and np.isfinite(v.get("estimate", math.nan))]
        n = len(vs)
        if not n:
            lines.append(f"   {block} {side or ''}: no verdicts")
            continue
        label = f"{block}{' ' + side if side else ''}"
        if block.startswith("before_after"):
            called = [v for v in vs if v["verdict"] not in ("no detectable change", "not enough trials")]
            if post is None:
                ups = sum(v["verdict"] in ("worse", "increased") for v in called)
                lines.append(f"   {label}: false-positive (any change called) {rate(len(called), n)}; of them "
                             f"improved/reduced {len(called) - ups}, worse/increased {ups}")
                truth = 0.0 if side is None else float(np.mean([v["estimate"] for v in vs]))
            else:
                want = "improved" if side == "right" else ("reduced" if side is None else None)
                if want:
                    good = sum(v["verdict"] == want for v in vs)
                    lines.append(f"   {label}: power ('{want}') {rate(good, n)}; opposite call "
                                 f"{rate(sum(v['verdict'] not in (want, 'no detectable change') for v in vs), n)}")
                else:
                    lines.append(f"   {label}: false-positive (unchanged leg) {rate(len(called), n)}")
                truth = float(np.mean([v["estimate"] for v in vs]))
        else:
            named = [v for v in vs if v.get("less_stable")]
            truly_null = (family == "stance" and null_lr) or (family == "rdl" and "rdl_ml_shift_mm_right" not in subject)
            if truly_null:
                lines.append(f"   {label}: false-positive (a side named) {rate(len(named), n)}")
                truth = 0.0
            else:
                right = sum(v["less_stable"] == "right" for v in vs)
                left = sum(v["less_stable"] == "left" for v in vs)
                lines.append(f"   {label}: power (right named) {rate(right, n)}; wrong side {rate(left, n)}")
                truth = 8.0 if (family == "rdl" and subject.get("rdl_ml_shift_mm_right") == 12.0) else \
                    float(np.mean([v["estimate"] for v in vs]))
        covered = sum(v["ci_low"] <= truth <= v["ci_high"] for v in vs)
        res = np.median([v["resolution"] for v in vs])
        lines.append(f"      estimate mean {np.mean([v['estimate'] for v in vs]):+.1f} {vs[0]['unit']}, true {truth:+.1f}; "
                     f"coverage {rate(covered, n)}; median resolution ±{res:.1f} {vs[0]['unit']}")
        levels = sorted({round(100 * _level(v), 1) for v in vs if _level(v)})
        if len(levels) > 1:  # an adaptive block: each interval is at the level of the look where it stopped
            for level in levels:
                at = [v for v in vs if round(100 * _level(v), 1) == level]
                lines.append(f"      {level:g} % intervals (stopped at that look): {len(at)} sessions, coverage "
                             f"{rate(sum(v['ci_low'] <= truth <= v['ci_high'] for v in at), len(at))}")
            nominal = 100 * np.mean([_level(v) for v in vs])
            lines.append(f"      nominal coverage of this mix of levels: {nominal:.1f} %")
    lines += _descriptions(results)
    return lines


def _descriptions(results: list[dict]) -> list[str]:
    """The described blocks (the primer's RDL): how often each leg's 95 % intervals do not overlap, and the
    coverage of the R − L interval (of the mean R − L over the sessions; no verdict, no error rate)."""
    out = []
    blocks = sorted({d["block"] for r in results for d in r.get("descriptions") or ()})
    for block in blocks:
        ds = [d for r in results for d in r.get("descriptions") or () if d["block"] == block]
        ds = [d for d in ds if np.isfinite(d.get("difference", math.nan))]
        if not ds:
            continue
        n = len(ds)
        truth = float(np.mean([d["difference"] for d in ds]))
        covered = sum(d["difference_ci_low"] <= truth <= d["difference_ci_high"] for d in ds)
        apart = sum(d["difference_ci_low"] > 0 for d in ds)
        half = np.median([(d["difference_ci_high"] - d["difference_ci_low"]) / 2 for d in ds])
        out.append(f"   {block} (described, not tested): R − L mean {truth:+.1f} {ds[0]['unit']}, 95 % interval above 0 "
                   f"{rate(apart, n)}; coverage {rate(covered, n)}; median half-width ±{half:.1f} {ds[0]['unit']}")
    return out


def _within_set_correlation(subject: dict, results: list[dict]) -> list[str]:
    """The design effect of a set's mean lateral shift, and the exchangeable correlation it implies.

    Per leg: the variance of the set means around the patient's true typical shift (every source: the
    sway shared by the repetitions, the set's own level) over the mean within-set variance / m.
    ``rho = (ratio - 1) / (m - 1)``; its 95 % interval from the chi-square of the numerator.
    """
    from scipy import stats

    from station.assessment.verdicts import RDL_WITHIN_SET_CORRELATION
    from station.board.virtual import Subject

    out = []
    for side in ("left", "right"):  # the true typical shift: the condition's, else the preset's
        truth = float(subject.get(f"rdl_ml_shift_mm_{side}", Subject.named(subject["preset"]).side_value("rdl_ml_shift_mm", side)))
        sets = [np.asarray([x for x in reps if x is not None and np.isfinite(x)], float)
                for r in results for s, reps in r["rep_sets"] if s == side]
        sets = [x for x in sets if x.size >= 3]
        if len(sets) < 10:
            continue
        m = float(np.mean([x.size for x in sets]))
        num = float(np.mean([(x.mean() - truth) ** 2 for x in sets]))
        den = float(np.mean([x.var(ddof=1) / x.size for x in sets]))
        k = len(sets)
        lo, hi = num * k / stats.chi2.ppf(0.975, k) / den, num * k / stats.chi2.ppf(0.025, k) / den
        rho = lambda ratio: (ratio - 1.0) / (m - 1.0)
        out.append(f"   within-set correlation, {side} ({truth:g} mm): design effect {num / den:.2f} "
                   f"[{lo:.2f}, {hi:.2f}] over {k} sets of {m:.0f} -> rho {rho(num / den):+.3f} "
                   f"[{rho(lo):+.3f}, {rho(hi):+.3f}] (the verdict assumes {RDL_WITHIN_SET_CORRELATION:.2f})")
    return out


#: what --save keeps of each session (enough for --summarise to print the same summary)
SAVED = ("name", "seed", "population", "status", "minutes", "minutes_by_block", "verdicts", "descriptions",
         "reps_counted", "stance",
         "rep_sets", "cpu_s", "stance_trials", "trial_cv_pct", "outliers", "failed_trials")


def summarise_saved(path: Path, names: list[str] | None = None) -> int:
    """Print the summary of every condition saved in ``path`` (one JSON object per session)."""

    by_key: dict[tuple[str, str], dict[int, dict]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    for number, line in enumerate(lines, 1):
        try:
            r = json.loads(line)
            by_key.setdefault((r["name"], r.get("population", "realistic")), {})[int(r["seed"])] = r
        except (ValueError, KeyError, TypeError):
            print(f"{path}:{number}: not a saved session", file=sys.stderr)
            return 2
    wanted = names or [n for n in DEFAULT_ORDER if any(k[0] == n for k in by_key)]
    for name in wanted:
        keys = [k for k in by_key if k[0] == name]
        if name not in CONDITIONS or not keys:
            print(f"no saved sessions of {name!r} in {path}", file=sys.stderr)
            return 2
        for key in sorted(keys):
            results = [dict({"cpu_s": math.nan, "stance_trials": 0, "rep_sets": [], "reps_counted": [], "failed_trials": []}, **r)
                       for _, r in sorted(by_key[key].items())]
            seeds = sorted(by_key[key])
            print(f"(saved seeds {seeds[0]}..{seeds[-1]})")
            for line in summarise(name, results, key[1]):
                print(line, flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=200,
                   help="sessions per condition (default 200; x3 for stance-null and rdl-null)")
    p.add_argument("--quick", action="store_true", help="20 seeds per condition")
    p.add_argument("--only", default="", help="comma-separated conditions (default: all, in priority order)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--seed-start", type=int, default=0,
                   help="first seed (default 0): a later run with --seed-start N adds new sessions to an earlier one")
    p.add_argument("--save", default="", metavar="FILE.jsonl",
                   help="append every session's headline verdicts to this file (one JSON object per session)")
    p.add_argument("--full-primer", action="store_true", help="primer conditions with the clinic's full timers")
    p.add_argument("--board", choices=("station", "wii"), default="station",
                   help="the virtual board the sessions run on: station (default) or wii (the virtual Wii Balance "
                        "Board: driver units, change-only events, irregular timing)")
    p.add_argument("--population", choices=("realistic", "heterogeneous", "both"), default="realistic",
                   help="virtual patients: the realistic presets (default), the heterogeneous population (a "
                        "trial-to-trial CV of 5-25 %% drawn per patient and leg, outlier trials), or both")
    p.add_argument("--summarise", default="", metavar="FILE.jsonl",
                   help="run nothing: print the study saved in FILE.jsonl by --save (every run appended to it, "
                        "e.g. with --seed-start, is one study per condition; a seed saved twice counts once)")
    args = p.parse_args(argv)
    if args.summarise:
        return summarise_saved(Path(args.summarise), args.only.split(",") if args.only else None)
    if args.full_primer:
        PRIMER_BENCH.clear()
    seeds = 20 if args.quick else args.seeds
    names = [n for n in (args.only.split(",") if args.only else DEFAULT_ORDER) if n]
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown or seeds < 1:
        print(f"unknown condition(s) {', '.join(unknown)}; known: {', '.join(CONDITIONS)}" if unknown else
              "--seeds must be at least 1", file=sys.stderr)
        return 2
    print(f"bench/verdicts.py: {seeds} seeds per condition, {args.jobs} workers, {args.board} board; conditions: {', '.join(names)}", flush=True)
    t0 = time.perf_counter()
    ctx = mp.get_context("fork")
    populations = ("realistic", "heterogeneous") if args.population == "both" else (args.population,)
    with ctx.Pool(args.jobs, initializer=_init_worker) as pool:
        for name in names:
            for population in populations:
                n = seeds * NULL_SEEDS_FACTOR.get(name, 1)
                seeds_run = range(args.seed_start, args.seed_start + n)
                tasks = [(name, s, population, args.board) for s in seeds_run]
                results = []
                # each session is saved as it ends: a long study that is stopped keeps what it has run
                for r in pool.imap_unordered(_session, tasks, chunksize=1):
                    results.append(r)
                    if args.save:
                        with open(args.save, "a", encoding="utf-8") as f:
                            f.write(json.dumps({k: r[k] for k in SAVED}, default=float) + "\n")
                for line in summarise(name, results, population):
                    print(line, flush=True)
                print(f"   ({time.perf_counter() - t0:.0f} s elapsed)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
