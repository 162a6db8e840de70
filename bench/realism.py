"""The virtual single-leg patients against a real recording: the figures of docs/ASSESSMENT.md §10.

For each preset (``healthy``, ``weak-right``, ``weak-left``) and seed, one session on the virtual board:
twelve 30 s single-leg stances alternating legs (eyes open), 5 s on both feet between them. Every stance is
analysed with the clinical preset (100 Hz, 10 Hz low-pass, first 5 s excluded) from the board's raw
counts through its hidden (oracle) calibration. The real recording is the shared KINVENT export (one
30 s eyes-closed trial per leg, 250 Hz), analysed with the same preset. Printed per leg: mean velocity,
ML/AP RMS, the ML/AP ratios of RMS and of mean velocity, mean and median frequencies, the share of the spectrum below 0.5 Hz / 0.5-2 Hz / above 2 Hz
(ML and AP power together), and the trial-to-trial CV of the mean velocity within a session.

  nice .venv/bin/python bench/realism.py                      # 3 seeds per preset, under a minute
  nice .venv/bin/python bench/realism.py --seeds 10 --kinvent ../shared/data/kinvent/single_leg_balance_kinvent_export.csv
  nice .venv/bin/python bench/realism.py --durations 20,30   # one table per stance duration (s)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import station.board.virtual as virtual
from station.board.protocol import CMD_START, encode_command
from station.core.cop import cop_from_forces, default_threshold_n
from station.core.metrics import compute_metrics

KEYS = ("mean_velocity_mm_s", "rms_ml_mm", "rms_ap_mm", "mean_frequency_hz", "median_frequency_ml_hz", "median_frequency_ap_hz")
BANDS = ("below_05hz", "05_2hz", "above_2hz")
DEFAULT_KINVENT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kinvent" / "single_leg_balance_kinvent_export.csv"


def band_shares(m: dict) -> list[float]:
    """Share (%) of the ML + AP power below 0.5 Hz, in 0.5-2 Hz and above 2 Hz."""
    power = [m[f"energy_{b}_ml_mm2"] + m[f"energy_{b}_ap_mm2"] for b in BANDS]
    return [100.0 * p / sum(power) for p in power]


def session(preset: str, seed: int, *, stances: int = 12, stance_s: float = 30.0, rest_s: float = 5.0) -> dict:
    """``{side: [metrics, ...]}`` of one virtual session."""
    subject = virtual.Subject.named(preset)
    vb = virtual.VirtualBoard(seed=seed, rate_hz=80.0)
    vb.write(encode_command(CMD_START))
    vb.set_subject(subject.replace(stance="both", task="quiet"))
    vb.advance(3.0)
    spans = []
    for k in range(stances):
        side = ("left", "right")[k % 2]
        start = vb.time_s
        vb.set_subject(subject.replace(stance=side, task="single_leg"))
        vb.advance(stance_s)
        spans.append((side, start, vb.time_s))
        vb.set_subject(subject.replace(stance="both", task="quiet"))
        vb.advance(rest_s)
    truth = vb.truth
    forces = (truth.counts - np.asarray(truth.meta["offsets_counts"])) / np.asarray(truth.meta["gains_counts_per_n"])
    ml, ap, _ = cop_from_forces(forces, np.asarray(truth.meta["positions_mm"]),
                                threshold_n=default_threshold_n(subject.body_mass_kg))
    out: dict = {"left": [], "right": []}
    for side, a, b in spans:
        sel = (truth.t_s >= a) & (truth.t_s < b)
        out[side].append(compute_metrics(ml[sel], ap[sel], t_s=truth.t_s[sel], preset="clinical"))
    return out


def row(label: str, trials: list[dict], cv: float | None) -> str:
    vals = [np.mean([m[k] for m in trials]) for k in KEYS]
    # ratios of the means over the trials (RMS ML / RMS AP, mean ML velocity / mean AP velocity)
    rms_ratio = vals[1] / vals[2]
    vel_ratio = np.mean([m["mean_velocity_ml_mm_s"] for m in trials]) / np.mean([m["mean_velocity_ap_mm_s"] for m in trials])
    shares = np.mean([band_shares(m) for m in trials], axis=0)
    cv_text = "—" if cv is None else f"{cv:.0f} %"
    return (f"| {label} | {vals[0]:.0f} | {vals[1]:.1f} | {vals[2]:.1f} | {rms_ratio:.2f} | {vel_ratio:.2f} | {vals[3]:.2f} | "
            f"{vals[4]:.2f} | {vals[5]:.2f} | {shares[0]:.0f} / {shares[1]:.0f} / {shares[2]:.0f} | {cv_text} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--kinvent", type=Path, default=DEFAULT_KINVENT)
    ap.add_argument("--durations", default="30", help="stance durations (s), comma-separated: one table each (default 30)")
    args = ap.parse_args(argv)
    durations = [float(d) for d in args.durations.split(",")]
    for k, stance_s in enumerate(durations):
        if k:
            print()
        if len(durations) > 1:
            print(f"{stance_s:g} s stances:")
        print("| source, leg | mean velocity (mm/s) | RMS ML (mm) | RMS AP (mm) | RMS ML/AP | velocity ML/AP | mean freq. (Hz) | "
              "median freq. ML (Hz) | median freq. AP (Hz) | power < 0.5 / 0.5-2 / > 2 Hz (%) | trial-to-trial CV of velocity |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for preset in ("healthy", "weak-right", "weak-left"):
            per_side: dict = {"left": [], "right": []}
            cvs: dict = {"left": [], "right": []}
            for seed in range(args.seeds):
                s = session(preset, seed, stance_s=stance_s)
                for side in ("left", "right"):
                    v = np.array([m["mean_velocity_mm_s"] for m in s[side]])
                    cvs[side].append(100.0 * v.std(ddof=1) / v.mean())
                    per_side[side] += s[side]
            for side in ("left", "right"):
                label = f"virtual {preset}, {side} ({args.seeds} sessions x 6 trials)"
                print(row(label, per_side[side], float(np.mean(cvs[side]))))
    if args.kinvent.is_file():
        from station.readers.kinvent import read_kinvent

        for rec in read_kinvent(args.kinvent):
            m = compute_metrics(rec.cop_ml_mm, rec.cop_ap_mm, t_s=rec.t_s, preset="clinical")
            print(row(f"KINVENT export, {rec.side} (1 trial, eyes closed)", [m], None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
