"""``station analyze``: sway metrics and recording quality of trial files, CSV tables and C3D files.

One input prints a report (``--json``: one JSON object). Many inputs (files, folders, globs) are
analysed in parallel worker processes and written one row per input (``--table OUT.csv``) or one JSON
object per line (``--jsonl OUT``); a bad input gives a row whose ``status`` is the one-line error and
never stops the batch. Input formats: :mod:`station.readers`. Limits for hostile input (size, absurd
values): :mod:`station.readers` and docs/METRICS.md §11.7.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import sys
from pathlib import Path

from station.errors import InputFileError, StationError

log = logging.getLogger(__name__)

#: input suffixes a folder is searched for
SUFFIXES = (".csv", ".trial", ".c3d")
#: the first columns of a batch table, then the metric keys
TABLE_HEAD = ("input", "status", "kind", "fs_hz", "n_samples", "duration_s", "problems")
#: columns a spreadsheet would run as a formula when a cell starts with them
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="sway metrics and recording quality of trial, CSV or C3D files (one or many)",
        description="Compute the sway metrics (docs/METRICS.md) of trial files, CSV tables (COP t_s,cop_ml_mm,cop_ap_mm; "
        "corner forces t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n with --board-size; two plates "
        "t_s,fz_left_n,cop_ml_left_mm,cop_ap_left_mm,fz_right_n,cop_ml_right_mm,cop_ap_right_mm) and C3D files with "
        "force platforms. Presets: 'clinical' = uniform 100 Hz grid, 10 Hz zero-lag low-pass, first 5 s excluded; "
        "'raw' = the samples as they are. Many inputs (files, folders, globs) -> --table OUT.csv or --jsonl OUT.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="trial file, CSV table, C3D file, folder or glob")
    p.add_argument("--preset", choices=("clinical", "raw"), default="clinical", help="analysis preset (default: clinical)")
    p.add_argument("--board-size", metavar="WxL", help="sensor spacing in mm, ML x AP (e.g. 400x300), for corner-force tables")
    p.add_argument("--body-mass", type=float, metavar="KG", help="body mass (kg): sets the load threshold to 20 %% of body weight (default 100 N)")
    p.add_argument("--calibration", metavar="FILE", help="calibration file for a trial recorded without one (or to override it)")
    p.add_argument("--plates", metavar="L,R", help="C3D: analyse platforms L and R (1-based) as left and right foot (net COP)")
    p.add_argument("--lab-axes", choices=("xy", "yx"), default="xy", help="C3D: which lab axes are ML,AP (default xy)")
    p.add_argument("--resample", choices=("linear", "swarii"), default="linear",
                   help="how irregular time stamps are put on a uniform grid (swarii: Audiffren & Contal 2016)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--table", metavar="OUT.csv", help="write one CSV row per input ('-' = standard output)")
    out.add_argument("--jsonl", metavar="OUT", help="write one JSON object per input and line ('-' = standard output)")
    p.add_argument("--jobs", type=int, metavar="N", help="worker processes for many inputs (default: the number of cores)")
    p.set_defaults(func=run)


# -- options shared with the workers ----------------------------------------------------------


def options_of(args) -> dict:
    """The picklable analysis options of a parsed command line (validated)."""
    if args.body_mass is not None and not (0 < args.body_mass < 1000):
        raise InputFileError(f"--body-mass must be a number of kilograms between 0 and 1000, got {args.body_mass}.")
    plates = None
    if args.plates:
        try:
            plates = tuple(int(v) for v in args.plates.split(","))
        except ValueError:
            plates = ()
        if len(plates) != 2 or plates[0] == plates[1]:
            raise InputFileError(f"--plates must name two different platforms as L,R (e.g. 1,2), got {args.plates!r}.")
    if args.board_size is not None:
        from station.readers.tables import parse_board_size

        parse_board_size(args.board_size)
    if args.calibration is not None:
        cal = Path(args.calibration)
        if not cal.is_file():
            raise InputFileError(f"--calibration {cal}: {'is a directory, not a calibration file' if cal.is_dir() else 'does not exist'}.")
        from station.calibration import load_calibration

        # a malformed file is refused once, up front, whatever the inputs (each trial file then checks its board)
        load_calibration(cal, check_stale=False)
    return {"preset": args.preset, "board_size": args.board_size, "body_mass_kg": args.body_mass,
            "calibration": args.calibration, "plates": plates, "lab_axes": args.lab_axes, "resample": args.resample}


# -- one input --------------------------------------------------------------------------------


def analyze_path(path_text: str, opts: dict) -> list[dict]:
    """Reports of one input (a C3D file gives one per platform).

    Raises
    ------
    StationError
        The input cannot be analysed (the message is one line for the user).
    """
    from station.readers import is_c3d_file, is_trial_file, looks_like_damaged_archive

    path = Path(path_text)
    if not path.exists():
        raise InputFileError(f"{path} does not exist.")
    if path.is_dir():
        raise InputFileError(f"{path} is a directory, not a trial file, CSV table or C3D file.")
    if not path.is_file():
        raise InputFileError(f"{path} is not a regular file.")
    if is_trial_file(path):
        return [analyze_trial_file(path, opts)]
    if looks_like_damaged_archive(path):  # a truncated download or copy of a trial file, not a CSV table
        raise InputFileError(f"{path} is a damaged trial file: its archive is truncated or corrupt.")
    if opts["calibration"]:
        # a calibration turns a board's raw counts into forces; a table or a C3D file already holds forces
        # or COP, so the option could only be ignored: refuse it instead of printing uncalibrated-looking numbers
        raise InputFileError(f"{path}: --calibration applies to trial files (raw counts) only; a CSV table or a C3D "
                             "file already holds forces or COP: leave the option out.")
    if is_c3d_file(path):
        from station.core.cop import default_threshold_n
        from station.readers.c3d import read_c3d

        recs = read_c3d(path, plates=opts["plates"], threshold_n=default_threshold_n(opts["body_mass_kg"]), lab_axes=opts["lab_axes"])
    else:
        from station.readers.tables import read_table

        recs = [read_table(path, board_size=opts["board_size"])]
    return [analyze_recording(r, opts) for r in recs]


def analyze_trial_file(path: Path, opts: dict) -> dict:
    """Report of a trial file through the one analysis path (:func:`station.core.pipeline.analyze_trial`)."""
    from station.board.trialfile import read_trial

    trial = read_trial(path)
    calibration = None
    if opts["calibration"]:
        from station.calibration import load_calibration

        calibration = load_calibration(opts["calibration"], board_id=trial.board.get("board_id"))
    report = {"input": str(path), "kind": "trial file", "preset": opts["preset"],
              "fs_hz": trial.quality.get("effective_rate_hz") or trial.nominal_rate_hz, "n_samples": int(trial.n_frames),
              "duration_s": trial.duration_s, "metrics": {}, "quality": dict(trial.quality), "problems": []}
    if calibration is None and trial.calibration is None:
        report["note"] = "This trial was recorded without a calibration: metrics need one (give --calibration FILE)."
        return report
    if trial.n_frames < 2:
        raise InputFileError(f"{path}: too few samples ({trial.n_frames}) to analyse.")
    from station.core.pipeline import analyze_trial

    result = analyze_trial(trial, calibration=calibration, preset=opts["preset"], body_mass_kg=opts["body_mass_kg"])
    report["problems"] = list(getattr(result, "problems", None) or [])
    if result.error:
        raise InputFileError(f"{path}: {result.error}")
    report["fs_hz"] = result.metrics.get("fs_hz", result.fs_hz)
    report["metrics"] = result.metrics
    report["preset"] = result.preset
    report["window"] = result.window_dict()  # where the analysed window is and why (docs/METRICS.md §1.1)
    report["notes"] = list(result.notes)
    events = result.events
    report["events"] = events.as_dicts() if hasattr(events, "as_dicts") else list(events)
    if result.reps:
        report["reps"] = result.reps
    return report


def _metrics(t, ml, ap, *, opts: dict, forces_n=None, where: str, notes: list | None = None) -> dict:
    """Metrics of one COP series; ``--resample swarii`` first puts its longest defined stretch on the
    preset's grid with SWARII (the preset's own linear resampling then has nothing left to do).

    ``notes`` receives the ``{"code", "message"}`` notes of measures left undefined on purpose (sample
    entropy beyond its cap, diffusion fits), as the trial-file path reports them."""
    import numpy as np

    from station.core.metrics import compute_metrics

    if opts["resample"] == "swarii" and opts["preset"] != "raw":
        from station.core.metrics import get_preset
        from station.core.resample import effective_rate_hz
        from station.core.runs import longest_run
        from station.core.swarii import swarii_resample

        lo, hi = longest_run(np.isfinite(ml) & np.isfinite(ap))
        if hi - lo < 2:
            raise InputFileError(f"{where}: no centre of pressure to analyse.")
        cols = [ml[lo:hi], ap[lo:hi]] + ([] if forces_n is None else list(np.asarray(forces_n)[lo:hi].T))
        rate = get_preset(opts["preset"]).grid_hz or effective_rate_hz(t[lo:hi])
        t, y = swarii_resample(t[lo:hi], np.column_stack(cols), fs_hz=rate)
        ml, ap = y[:, 0], y[:, 1]
        forces_n = None if forces_n is None else y[:, 2:]
    try:
        m = compute_metrics(ml, ap, t_s=t, preset=opts["preset"], forces_n=forces_n, notes=notes)
    except StationError as exc:
        raise InputFileError(f"{where}: {exc}") from None
    return m


def analyze_recording(rec, opts: dict) -> dict:
    """Report of a :class:`~station.readers.Recording` (COP, corner forces, two plates)."""
    import numpy as np

    from station.core.cop import cop_from_forces, default_threshold_n

    t = rec.t_s
    quality = dict(rec.quality)
    threshold = default_threshold_n(opts["body_mass_kg"])
    forces = feet_report = None
    notes: list = []  # measures left undefined on purpose, with the reason (the per-foot ones name the foot)
    if rec.feet is not None:
        from station.core.twoplate import load_share_measures, net_cop

        left, right = rec.feet["left"], rec.feet["right"]
        ml, ap, total = net_cop(left.fz_n, left.cop_ml_mm, left.cop_ap_mm, right.fz_n, right.cop_ml_mm, right.cop_ap_mm, threshold_n=threshold)
        # the two plates enter force_measures as a board whose left / right cells are the plates
        forces = np.column_stack([left.fz_n, right.fz_n, np.zeros_like(t), np.zeros_like(t)])
        quality["load_threshold_n"] = threshold
        quality["n_below_threshold"] = int(np.sum(total < threshold))
        feet_report = {}
        for side, plate in rec.feet.items():
            try:
                foot_notes: list = []
                feet_report[side] = _metrics(t, plate.cop_ml_mm, plate.cop_ap_mm, opts=opts, where=f"{rec.input} ({side} foot)",
                                             notes=foot_notes)
                notes += [dict(n, foot=side) for n in foot_notes]
            except StationError as exc:
                feet_report[side] = {"error": str(exc)}
    elif rec.forces_n is not None:
        positions = np.asarray(quality.pop("positions_mm"))
        forces = rec.forces_n
        ml, ap, total = cop_from_forces(forces, positions, threshold_n=threshold)
        quality["load_threshold_n"] = threshold
        quality["n_below_threshold"] = int(np.sum(total < threshold))
    else:
        ml, ap = rec.cop_ml_mm, rec.cop_ap_mm
    quality["n_undefined_cop"] = int(np.sum(~(np.isfinite(ml) & np.isfinite(ap))))
    if opts["preset"] == "raw" and t.size > 2 and quality["jitter_ms"] > 0.05 * 1e3 * quality["duration_s"] / (t.size - 1):
        quality["note"] = ("the time stamps are irregular; the raw preset treats the samples as uniformly spaced "
                           "(the clinical preset resamples them first)")
    metrics = _metrics(t, ml, ap, opts=opts, forces_n=forces, where=rec.input, notes=notes)
    report = {"input": rec.input, "kind": rec.kind, "preset": opts["preset"], "fs_hz": metrics["fs_hz"], "n_samples": int(t.size),
              "duration_s": quality["duration_s"], "metrics": metrics, "quality": quality, "problems": [], "notes": notes}
    if rec.feet is not None:
        from station.core.metrics import prepare

        sig = prepare(ml, ap, t_s=t, preset=opts["preset"], forces_n=forces[:, :2])
        share = load_share_measures(sig.forces_n[:, 0], sig.forces_n[:, 1], fs_hz=sig.fs_hz)
        report["right_share_per_s_pct"] = share.pop("right_share_per_s_pct")
        metrics.update(share)
        report["right_share_pct"] = metrics["right_share_pct"]
        report["feet"] = feet_report
    return report


def analyze_one(path_text: str, opts: dict) -> list[dict]:
    """Batch worker: reports, or one ``{"input", "status": error}`` row; never raises for an input."""
    try:
        reports = analyze_path(path_text, opts)
    except StationError as exc:
        return [{"input": path_text, "status": str(exc)}]
    except (MemoryError, RecursionError) as exc:
        return [{"input": path_text, "status": f"{path_text}: too large or too deeply nested to analyse ({type(exc).__name__})."}]
    except Exception as exc:  # a reader bug must not stop a batch of 200 files
        log.exception("internal error on %s", path_text)
        return [{"input": path_text, "status": f"internal error ({type(exc).__name__}: {exc})"}]
    for r in reports:
        r["status"] = "ok"
    return reports


# -- many inputs ------------------------------------------------------------------------------


def expand_inputs(paths: list[str]) -> list[str]:
    """Files of ``paths``: a folder gives its ``.csv``/``.trial``/``.c3d`` files (recursively, sorted),
    a glob its matches, anything else itself (a missing file becomes an error row)."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(str(f) for f in Path(p).rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file())
            if not found:
                raise InputFileError(f"{p} is a folder without .csv, .trial or .c3d files.")
            out += found
        elif not os.path.exists(p) and glob.has_magic(p):
            found = sorted(glob.glob(p, recursive=True))
            if not found:
                raise InputFileError(f"no file matches {p}.")
            out += [f for f in found if not os.path.isdir(f)]
        else:
            out.append(p)
    return out


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        text = "'" + text  # a spreadsheet must not run it as a formula
    return text


def flat_row(report: dict) -> dict:
    """One table row: the head columns, the metrics, per-foot metrics as ``foot_<side>_<key>``."""
    row = {"input": report["input"], "status": report.get("status", "ok"), "kind": report.get("kind"),
           "fs_hz": report.get("fs_hz"), "n_samples": report.get("n_samples"), "duration_s": report.get("duration_s"),
           "problems": ";".join(str(p.get("code", "")) for p in report.get("problems") or [] if isinstance(p, dict))}
    for k, v in (report.get("metrics") or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            row[k] = v
    for side, m in (report.get("feet") or {}).items():
        for k, v in m.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                row[f"foot_{side}_{k}"] = v
    return row


def write_table(rows: list[dict], fh) -> None:
    """CSV with the union of the rows' columns (head columns first, then first-seen order)."""
    import csv

    columns = list(TABLE_HEAD)
    for r in rows:
        columns += [k for k in r if k not in columns]
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])


def _worker_init() -> None:  # pragma: no cover - runs in the worker processes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_batch(inputs: list[str], opts: dict, *, jobs: int | None, table: str | None, jsonl: str | None) -> int:
    """Analyse many inputs in worker processes; exit 0 when every input gave a row (even error rows)."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(inputs)))
    progress = None
    if sys.stderr.isatty() and len(inputs) > 1:
        from tqdm import tqdm

        progress = tqdm(total=len(inputs), unit="file", file=sys.stderr, desc="analyze")
    out_fh = None
    target = jsonl or table or "-"
    if target == "-":
        out_fh = sys.stdout
    else:
        out_fh = open(target, "w", encoding="utf-8", newline="")
    rows: list[dict] = []
    n_ok = n_bad = 0
    try:
        if jobs == 1:
            results = (analyze_one(p, opts) for p in inputs)
            pool = None
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # warm the kernels once here: forked workers inherit them (no numba cache load per worker)
            from station.core import features, metrics  # noqa: F401

            ctx = mp.get_context("fork") if sys.platform.startswith("linux") else None
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init)
            chunk = max(1, min(8, len(inputs) // (4 * jobs)))
            results = pool.map(analyze_one, inputs, [opts] * len(inputs), chunksize=chunk)
        try:
            for reports in results:
                for r in reports:
                    if r.get("status") == "ok":
                        n_ok += 1
                    else:
                        n_bad += 1
                    if table is not None:
                        rows.append(flat_row(r))
                    else:
                        out_fh.write(json.dumps(json_safe(_ordered(r))) + "\n")
                if progress is not None:
                    progress.update(1)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        if table is not None:
            write_table(rows, out_fh)
        out_fh.flush()
    finally:
        if progress is not None:
            progress.close()
        if out_fh is not sys.stdout:
            out_fh.close()
    log.info("%d inputs: %d rows ok, %d with errors", len(inputs), n_ok, n_bad)
    if target != "-":
        print(f"{len(inputs)} input(s): {n_ok} row(s) analysed, {n_bad} with an error -> {target}", file=sys.stderr)
    return 0


# -- output -----------------------------------------------------------------------------------


def json_safe(obj):
    """:func:`station.jsonsafe.json_safe`, imported when used (it loads numpy; ``station --help`` must not)."""
    from station.jsonsafe import json_safe as safe

    return safe(obj)


def _ordered(report: dict) -> dict:
    keys = ("input", "status", "preset", "fs_hz", "n_samples", "duration_s", "metrics", "quality", "problems")
    out = {k: report[k] for k in keys if k in report}
    out.update({k: v for k, v in report.items() if k not in keys})
    return out


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def format_report(report: dict) -> str:
    """The human-readable table."""
    from station.core.metrics import FORCE_KEYS, REQUIRED_KEYS, get_preset

    p = get_preset(report["preset"])
    if p.name == "raw":
        how = "samples as recorded: no resampling, filtering or trimming"
    else:
        how = f"uniform {p.grid_hz:g} Hz, {p.lowpass_hz:g} Hz zero-lag low-pass (order {p.lowpass_order} effective), first {p.exclude_s:g} s excluded"
    lines = [
        f"input     {report['input']} ({report['kind']})",
        f"preset    {p.name}: {how}",
        f"samples   {report['n_samples']} over {_fmt(report['duration_s'])} s",
    ]
    m = report["metrics"]
    if m:
        lines.append(f"analysed  {m['n_used']} samples at {_fmt(m['fs_hz'])} Hz ({_fmt(m['duration_s'])} s)")
        lines.append("")
        shown = [k for k in REQUIRED_KEYS] + [k for k in FORCE_KEYS if k in m]
        rest = [k for k in m if k not in shown and k not in ("n_used", "n_input", "fs_hz", "duration_s", "preset")]
        width = max(len(k) for k in shown + rest)
        lines.append(f"{'metric'.ljust(width)}  value")
        lines += [f"{k.ljust(width)}  {_fmt(m[k])}" for k in shown]
        lines.append("")
        lines.append("more measures (docs/METRICS.md)")
        lines += [f"{k.ljust(width)}  {_fmt(m[k])}" for k in rest]
    for side, fm in (report.get("feet") or {}).items():
        lines += ["", f"{side} foot"]
        if "error" in fm:
            lines.append(f"  {fm['error']}")
        else:
            lines += [f"  {k.ljust(28)}  {_fmt(fm[k])}" for k in REQUIRED_KEYS if k in fm]
    if report.get("problems"):
        lines += ["", "problems"] + [f"  {pr.get('code')}: {pr.get('message')}" for pr in report["problems"]]
    if report.get("notes"):
        lines += ["", "notes"] + [f"  {n.get('code')}: {n.get('message')}" for n in report["notes"] if isinstance(n, dict)]
    if report.get("note"):
        lines += ["", report["note"]]
    if report.get("quality"):
        q = report["quality"]
        width = max(len(k) for k in q)
        lines += ["", "recording quality"] + [f"  {k.ljust(width)}  {_fmt(v) if not isinstance(v, (list, dict)) else json.dumps(json_safe(v))}" for k, v in q.items()]
    if report.get("events"):
        lines += ["", "events"] + [f"  {e['t_s']:8.3f} s  {e['kind']}" for e in report["events"]]
    return "\n".join(lines)


def kernels_cached() -> bool:
    """True when numba's on-disk cache holds the core's kernels (a first run after install has none)."""
    from station.core import precompile

    root = Path(os.environ.get("NUMBA_CACHE_DIR") or Path(precompile.__file__).parent / "__pycache__")
    try:
        return any(root.rglob("features._sway_density_kernel*.nbi")) and any(root.rglob("*.nbi"))
    except OSError:
        return False


def warm_kernels() -> None:
    """Compile the kernels once, with progress, when the cache is cold (the first run after install)."""
    if os.environ.get("STATION_DISABLE_JIT") or kernels_cached():
        return
    from station.core.precompile import warmup

    bar = None
    if sys.stderr.isatty():  # a person waits: say why, with progress (a script's stderr keeps its one-line errors)
        from tqdm import tqdm

        print("station: compiling the analysis kernels once (first run after install; later runs load them from the cache).",
              file=sys.stderr, flush=True)
        bar = tqdm(total=1, unit="kernel", file=sys.stderr, desc="compile")
    else:
        log.info("compiling the analysis kernels once (first run after install)")

    def progress(done, total, name):
        if bar is not None:
            bar.total = total
            bar.set_postfix_str(name)
            bar.update(done - bar.n)

    try:
        warmup(progress)
    finally:
        if bar is not None:
            bar.close()


def run(args) -> int:
    opts = options_of(args)
    inputs = expand_inputs(args.paths)
    if args.jobs is not None and not (1 <= args.jobs <= 256):
        raise InputFileError(f"--jobs must be between 1 and 256, got {args.jobs}.")
    many = len(inputs) > 1 or args.table is not None or args.jsonl is not None
    if any(os.path.isfile(p) for p in inputs[:64]):  # a missing file is reported at once, not after compiling
        warm_kernels()
    if many:
        return run_batch(inputs, opts, jobs=args.jobs, table=args.table, jsonl=args.jsonl)
    reports = analyze_path(inputs[0], opts)
    for report in reports:
        if args.json and len(reports) > 1:  # a C3D file with several plates: one JSON object per line
            print(json.dumps(json_safe(_ordered(report))))
        elif args.json:
            print(json.dumps(json_safe(_ordered(report)), indent=1))
        else:
            print(format_report(report))
    return 0
