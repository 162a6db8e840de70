"""``station analyze``: sway metrics and recording quality of a trial file or a CSV table.

Inputs (DESIGN §14): the station's trial files (``.trial``), a COP table ``t_s,cop_ml_mm,cop_ap_mm``
or a corner-force table ``t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n`` (needs ``--board-size WxL``). CSV: comma
separated, one header row, ``#`` comment lines and blank lines allowed; an empty cell or ``nan`` is an
undefined sample.
"""

from __future__ import annotations

import json
import logging
import math
import zipfile
from pathlib import Path

from station.errors import InputFileError, StationError

log = logging.getLogger(__name__)

COP_COLUMNS = ("t_s", "cop_ml_mm", "cop_ap_mm")
FORCE_COLUMNS = ("t_s", "f_fl_n", "f_fr_n", "f_bl_n", "f_br_n")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="sway metrics and recording quality of a trial or CSV file",
        description="Compute the sway metrics (docs/METRICS.md) of a trial file, a COP table "
        "(t_s,cop_ml_mm,cop_ap_mm) or a corner-force table (t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n; needs --board-size). "
        "Presets: 'clinical' = uniform 100 Hz grid, 10 Hz zero-lag low-pass, first 5 s excluded; "
        "'raw' = the samples as they are (no resampling, filtering or trimming).",
    )
    p.add_argument("file", metavar="FILE", help="trial file (.trial) or CSV table")
    p.add_argument("--preset", choices=("clinical", "raw"), default="clinical", help="analysis preset (default: clinical)")
    p.add_argument("--board-size", metavar="WxL", help="sensor spacing in mm, ML x AP (e.g. 400x300), for a corner-force table")
    p.add_argument("--body-mass", type=float, metavar="KG", help="body mass (kg): sets the load threshold to 20 %% of body weight (default 100 N)")
    p.add_argument("--calibration", metavar="FILE", help="calibration file for a trial recorded without one (or to override it)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


# -- reading CSV tables -------------------------------------------------------------------------


def parse_board_size(text: str | None) -> tuple[float, float]:
    """``"400x300"`` -> (400.0, 300.0) mm (ML spacing, AP spacing)."""
    try:
        w, l_ = (float(v) for v in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise InputFileError(f"--board-size must look like WxL in millimetres (e.g. 400x300), got {text!r}.") from None
    if not (w > 0 and l_ > 0 and math.isfinite(w) and math.isfinite(l_)):
        raise InputFileError(f"--board-size needs two positive lengths in millimetres, got {text!r}.")
    return w, l_


def read_table(path: Path):
    """Read a COP or corner-force CSV table.

    Returns
    -------
    kind : str
        "cop" or "forces".
    columns : dict of str -> ndarray
        Each column as float64 (NaN for empty / ``nan`` cells).

    Raises
    ------
    InputFileError
        With the file name and the line number of the first problem.
    """
    import numpy as np

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{path} is neither a trial file nor a text (CSV) table.") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}.") from None
    header, header_line, rows, lines = None, 0, [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if header is None:
            header, header_line = cells, number
            continue
        if len(cells) != len(header):
            raise InputFileError(f"{path} line {number}: {len(cells)} values, but the header (line {header_line}) has {len(header)} columns.")
        values = []
        for name, cell in zip(header, cells):
            if cell == "" or cell.lower() == "nan":
                values.append(float("nan"))
                continue
            try:
                values.append(float(cell))
            except ValueError:
                raise InputFileError(f"{path} line {number}: {cell!r} in column {name} is not a number.") from None
        rows.append(values)
        lines.append(number)
    if header is None:
        raise InputFileError(f"{path} is empty: no header row and no samples.")
    names = set(header)
    if names >= set(FORCE_COLUMNS):
        kind, wanted = "forces", FORCE_COLUMNS
    elif names >= set(COP_COLUMNS):
        kind, wanted = "cop", COP_COLUMNS
    else:
        raise InputFileError(
            f"{path} line {header_line}: unknown columns {','.join(header)}; expected {','.join(COP_COLUMNS)} "
            f"(COP table) or {','.join(FORCE_COLUMNS)} (corner-force table)."
        )
    data = np.array(rows, dtype=np.float64).reshape(len(rows), len(header))
    cols = {name: data[:, header.index(name)] for name in wanted}
    t = cols["t_s"]
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputFileError(f"{path} line {lines[bad[0]]}: the time t_s is missing or not a number.")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputFileError(
            f"{path} line {lines[i]}: time goes backwards (or repeats): t_s = {t[i]:g} s after {t[i - 1]:g} s on line {lines[i - 1]}."
        )
    if kind == "forces":
        for name in FORCE_COLUMNS[1:]:
            bad = np.flatnonzero(~np.isfinite(cols[name]))
            if bad.size:
                raise InputFileError(f"{path} line {lines[bad[0]]}: the force {name} is missing or not a number.")
    return kind, cols


def timing_quality(t_s) -> dict:
    """Sample count, estimated rate and interval jitter of a time column."""
    import numpy as np

    t = np.asarray(t_s, dtype=np.float64)
    dt = np.diff(t)
    return {
        "n_samples": int(t.size),
        "duration_s": float(t[-1] - t[0]) if t.size > 1 else 0.0,
        "effective_rate_hz": float((t.size - 1) / (t[-1] - t[0])) if t.size > 1 else float("nan"),
        "interval_min_ms": float(dt.min() * 1e3) if dt.size else float("nan"),
        "interval_max_ms": float(dt.max() * 1e3) if dt.size else float("nan"),
        "jitter_ms": float(dt.std() * 1e3) if dt.size else float("nan"),
    }


# -- analysis ---------------------------------------------------------------------------------


def _is_trial(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def analyze_table(path: Path, *, preset: str, board_size: str | None, body_mass_kg: float | None) -> dict:
    """Report dict for a CSV table (see :func:`run` for its keys)."""
    import numpy as np

    from station.core.cop import cop_from_forces, default_threshold_n
    from station.core.metrics import compute_metrics

    kind, cols = read_table(path)
    t = cols["t_s"]
    quality = timing_quality(t)
    forces = None
    threshold = default_threshold_n(body_mass_kg)
    if kind == "forces":
        if board_size is None:
            raise InputFileError(f"{path} is a corner-force table: give the sensor spacing with --board-size WxL (mm, ML x AP, e.g. 400x300).")
        w, l_ = parse_board_size(board_size)
        positions = np.array([[-w / 2, l_ / 2], [w / 2, l_ / 2], [-w / 2, -l_ / 2], [w / 2, -l_ / 2]])
        forces = np.column_stack([cols[c] for c in FORCE_COLUMNS[1:]])
        ml, ap, total = cop_from_forces(forces, positions, threshold_n=threshold)
        quality["load_threshold_n"] = threshold
        quality["n_below_threshold"] = int(np.sum(total < threshold))
    else:
        ml, ap = cols["cop_ml_mm"], cols["cop_ap_mm"]
    quality["n_undefined_cop"] = int(np.sum(~(np.isfinite(ml) & np.isfinite(ap))))
    if preset == "raw" and t.size > 2 and quality["jitter_ms"] > 0.05 * 1e3 * quality["duration_s"] / (t.size - 1):
        quality["note"] = ("the time stamps are irregular; the raw preset treats the samples as uniformly spaced "
                           "(the clinical preset resamples them first)")
    try:
        metrics = compute_metrics(ml, ap, t_s=t, preset=preset, forces_n=forces)
    except StationError as exc:
        raise InputFileError(f"{path}: {exc}") from None
    return {
        "input": str(path),
        "kind": "corner-force table" if kind == "forces" else "COP table",
        "preset": preset,
        "fs_hz": metrics["fs_hz"],
        "n_samples": int(t.size),
        "duration_s": quality["duration_s"],
        "metrics": metrics,
        "quality": quality,
    }


def analyze_trial_file(path: Path, *, preset: str, calibration_path: str | None, body_mass_kg: float | None) -> dict:
    """Report dict for a trial file; without a calibration, metrics are empty and ``note`` says why."""
    from station.board.trialfile import read_trial

    trial = read_trial(path)
    calibration = None
    if calibration_path:
        from station.calibration import load_calibration

        calibration = load_calibration(calibration_path, board_id=trial.board.get("board_id"))
    report = {
        "input": str(path),
        "kind": "trial file",
        "preset": preset,
        "fs_hz": trial.quality.get("effective_rate_hz") or trial.nominal_rate_hz,
        "n_samples": int(trial.n_frames),
        "duration_s": trial.duration_s,
        "metrics": {},
        "quality": dict(trial.quality),
    }
    if calibration is None and trial.calibration is None:
        report["note"] = "This trial was recorded without a calibration: metrics need one (give --calibration FILE)."
        return report
    if trial.n_frames < 2:
        raise InputFileError(f"{path}: too few samples ({trial.n_frames}) to analyse.")
    from station.core.pipeline import analyze_trial

    result = analyze_trial(trial, calibration=calibration, preset=preset, body_mass_kg=body_mass_kg)
    if result.error:
        raise InputFileError(f"{path}: {result.error}")
    report["fs_hz"] = result.metrics.get("fs_hz", result.fs_hz)
    report["metrics"] = result.metrics
    report["events"] = result.events
    if result.reps:
        report["reps"] = result.reps
    return report


def _clean(obj):
    """JSON-safe copy: non-finite floats -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


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
    if report.get("note"):
        lines += ["", report["note"]]
    if report.get("quality"):
        q = report["quality"]
        width = max(len(k) for k in q)
        lines += ["", "recording quality"] + [f"  {k.ljust(width)}  {_fmt(v) if not isinstance(v, (list, dict)) else json.dumps(_clean(v))}" for k, v in q.items()]
    if report.get("events"):
        lines += ["", "events"] + [f"  {e['t_s']:8.3f} s  {e['kind']}" for e in report["events"]]
    return "\n".join(lines)


def run(args) -> int:
    path = Path(args.file)
    if not path.exists():
        raise InputFileError(f"{path} does not exist.")
    if path.is_dir():
        raise InputFileError(f"{path} is a directory, not a trial file or CSV table.")
    if args.body_mass is not None and not (args.body_mass > 0):
        raise InputFileError(f"--body-mass must be a positive number of kilograms, got {args.body_mass}.")
    if _is_trial(path):
        report = analyze_trial_file(path, preset=args.preset, calibration_path=args.calibration, body_mass_kg=args.body_mass)
    else:
        report = analyze_table(path, preset=args.preset, board_size=args.board_size, body_mass_kg=args.body_mass)
    if args.json:
        keys = ("input", "preset", "fs_hz", "n_samples", "duration_s", "metrics", "quality")
        out = {k: report[k] for k in keys}
        out.update({k: v for k, v in report.items() if k not in keys})
        print(json.dumps(_clean(out), indent=1))
    else:
        print(format_report(report))
    return 0
