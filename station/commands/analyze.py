"""``station analyze``: sway metrics and recording quality of trial files, CSV tables, C3D files and other devices' exports.

Argument handling and output only: trial files go through :func:`station.core.pipeline.analyze_trial`,
everything else is read by :func:`station.readers.read_recordings` into one
:class:`~station.core.recording.Recording` per trial and analysed by
:func:`station.core.recording.analyze_recording`.

One input prints a report per trial (``--json``: one JSON object, a list when the file holds several
trials). Many inputs (files, folders, globs) are
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
TABLE_HEAD = ("input", "status", "kind", "fs_hz", "n_samples", "duration_s", "problems", "trial", "side")
#: columns a spreadsheet would run as a formula when a cell starts with them
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="sway metrics and recording quality of trial, CSV or C3D files (one or many)",
        description="Compute the sway metrics (docs/METRICS.md) of trial files, CSV tables (COP t_s,cop_ml_mm,cop_ap_mm; "
        "corner forces t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n with --board-size; two plates "
        "t_s,fz_left_n,cop_ml_left_mm,cop_ap_left_mm,fz_right_n,cop_ml_right_mm,cop_ap_right_mm), C3D files with "
        "force platforms, KINVENT Physio exports and Wii Balance Board recorder files (recognised by content; a file "
        "with several trials gives one result per trial). Presets: 'clinical' = uniform 100 Hz grid, 10 Hz zero-lag low-pass, first 5 s excluded; "
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
    from station.readers import is_trial_file, looks_like_damaged_archive

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
        raise InputFileError(f"{path}: --calibration applies to trial files (raw counts) only; a CSV table, a C3D "
                             "file or another device's export already holds forces or COP: leave the option out.")
    from station.core.cop import default_threshold_n
    from station.core.recording import analyze_recording
    from station.readers import read_recordings

    recs = read_recordings(path, board_size=opts["board_size"], plates=opts["plates"], lab_axes=opts["lab_axes"],
                           threshold_n=default_threshold_n(opts["body_mass_kg"]))
    return [analyze_recording(r, preset=opts["preset"], body_mass_kg=opts["body_mass_kg"], resample=opts["resample"])
            for r in recs]


def analyze_trial_file(path: Path, opts: dict) -> dict:
    """Report of a trial file through the one analysis path (:func:`station.core.pipeline.analyze_trial`)."""
    from station.board.trialfile import read_trial

    trial = read_trial(path)
    calibration = None
    if opts["calibration"]:
        from station.calibration import load_calibration

        calibration = load_calibration(opts["calibration"], board_id=trial.board.get("board_id"))
    side = (trial.meta or {}).get("side")
    report = {"input": str(path), "kind": "trial file", "trial": 1, "side": side if side in ("left", "right") else None,
              "preset": opts["preset"],
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
    row = {"input": report["input"], "trial": report.get("trial"), "side": report.get("side"),
           "status": report.get("status", "ok"), "kind": report.get("kind"),
           "fs_hz": report.get("fs_hz"), "n_samples": report.get("n_samples"), "duration_s": report.get("duration_s"),
           "problems": ";".join(str(p.get("code", "")) for p in report.get("problems") or [] if isinstance(p, dict))}
    for k, v in (report.get("metrics") or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            row[k] = v
    for k, v in (report.get("vendor") or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            row[f"vendor_{k}"] = v
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
    keys = ("input", "trial", "side", "status", "preset", "fs_hz", "n_samples", "duration_s", "metrics", "vendor", "quality",
            "problems")
    out = {k: report[k] for k in keys if k in report}
    out.update({k: v for k, v in report.items() if k not in keys})
    return out


def _trial_label(report: dict) -> str:
    """", trial 2, right leg, eyes closed" for a file that names them; "" for a one-trial file."""
    parts = [f"trial {report['trial']}"] if report.get("trial", 1) != 1 or report.get("side") else []
    if report.get("side"):
        parts.append(f"{report['side']} leg")
    if report.get("condition"):
        parts.append(str(report["condition"]).replace("_", " "))
    return (", " + ", ".join(parts)) if parts else ""


def format_report(report: dict) -> str:
    """The human-readable table."""
    from station.core.metrics import FORCE_KEYS, REQUIRED_KEYS, get_preset
    from station.report.wording import significant as _fmt

    p = get_preset(report["preset"])
    if p.name == "raw":
        how = "samples as recorded: no resampling, filtering or trimming"
    else:
        how = f"uniform {p.grid_hz:g} Hz, {p.lowpass_hz:g} Hz zero-lag low-pass (order {p.lowpass_order} effective), first {p.exclude_s:g} s excluded"
    lines = [
        f"input     {report['input']} ({report['kind']})" + _trial_label(report),
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
    if report.get("vendor"):
        lines += ["", "the recording device's own values (its definitions, its whole trial: docs/METRICS.md §11.10)"]
        lines += [f"  {k.ljust(28)}  {_fmt(v)}" for k, v in report["vendor"].items()]
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
    if args.json:  # several trials (a KINVENT export, a C3D file with several plates): one list
        doc = [_ordered(r) for r in reports] if len(reports) > 1 else _ordered(reports[0])
        print(json.dumps(json_safe(doc), indent=1))
        return 0
    print("\n\n".join(format_report(r) for r in reports))
    return 0
