"""CSV export: one metrics table per session, one repetitions table, one sample table per trial.

Files written to the output directory (``<stem>`` = ``session<id>``)::

    <stem>_metrics.csv            one row per trial: identity, status, and every whole-trial metric
    <stem>_reps.csv               one row per RDL repetition (trial, rep, per-rep metrics)
    <stem>_trial<seq>_samples.csv t_s, f_fl_n, f_fr_n, f_bl_n, f_br_n, total_n, cop_ml_mm, cop_ap_mm

Text cells a spreadsheet would execute as a formula (first character ``=``, ``+``, ``-``, ``@``, tab
or carriage return) are prefixed with a single quote (OWASP "CSV injection"); numbers are written as
numbers. Undefined values (NaN) are empty cells. ``#`` comment lines head each file with the session,
protocol, start time and units (no free text: a spreadsheet splits them at commas like any line); the
patient's name, or pseudonym, is the ``patient`` column of the metrics table.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import numpy as np

from station.errors import StationError
from station.privatefiles import private_open

log = logging.getLogger(__name__)

#: first characters that make a spreadsheet treat a cell as a formula (OWASP)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

TRIAL_COLUMNS = ("session_id", "patient", "trial_id", "seq", "step", "task", "side", "condition", "phase", "status",
                 "reason", "repeat_of", "started", "recorded_s", "recorded_fs_hz", "window_start_s", "window_end_s")
SAMPLE_COLUMNS = ("t_s", "f_fl_n", "f_fr_n", "f_bl_n", "f_br_n", "total_n", "cop_ml_mm", "cop_ap_mm")


def escape_cell(value):
    """A CSV cell value that no spreadsheet runs: text starting with a formula trigger gets a ``'``.

    Numbers stay numbers (a negative number is data, not a formula); None and NaN become empty cells.
    """
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else repr(float(value))
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _write(path: Path, header_comment: str, columns, rows, *, force: bool = False) -> Path:
    try:
        with private_open(path, "w", force=force, newline="") as f:
            for line in header_comment.splitlines():
                f.write(f"# {line}\n")
            w = csv.writer(f)
            w.writerow(columns)
            for row in rows:
                w.writerow([escape_cell(v) for v in row])
    except OSError as exc:
        raise StationError(f"Cannot write {path}: {exc.strerror}.") from exc
    return path


def _comment(data) -> str:
    # A spreadsheet splits comment lines at commas too: they hold no free text (names, labels) and no commas.
    protocol = "".join(c for c in str(data.session.protocol) if c.isalnum() or c in "-_")
    return (f"Balance Station session {data.session.id}; protocol {protocol}; started {data.session.started}\n"
            "units: N; mm; s. Axes: x = ML (+ right); y = AP (+ forward)")


def write_csv(data, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """Write the session's CSV files (see module docstring) into ``out_dir``; return their paths.

    Each file is private (0600) and written atomically; an existing file is replaced only with ``force``
    (:mod:`station.privatefiles`).
    """
    out = Path(out_dir)
    stem = f"session{data.session.id}"
    comment = _comment(data)
    names = sorted({k for t in data.trials for k in t.metrics})
    rows = []
    for t in data.trials:
        rows.append([data.session.id, data.patient.label, t.id, t.seq, t.step, t.task, t.side, t.condition, t.phase,
                     t.status, t.reason, t.repeat_of, t.started, t.duration_s, t.fs_hz, t.window_start_s,
                     t.window_end_s] + [t.metrics.get(k) for k in names])
    paths = [_write(out / f"{stem}_metrics.csv", comment, list(TRIAL_COLUMNS) + names, rows, force=force)]

    rep_names = sorted({k for t in data.trials for r in t.rep_metrics for k in r})
    rep_rows = [[t.id, t.seq, t.task, t.side, t.phase, i] + [r.get(k) for k in rep_names]
                for t in data.trials for i, r in enumerate(t.rep_metrics, start=1)]
    if rep_rows:
        paths.append(_write(out / f"{stem}_reps.csv", comment,
                            ["trial_id", "seq", "task", "side", "phase", "rep"] + rep_names, rep_rows, force=force))

    from station.report.samples import trial_samples

    for t in data.trials:
        try:
            s = trial_samples(data, t)
        except StationError as exc:
            log.warning("no samples exported for trial %d: %s", t.seq, exc)
            continue
        table = np.column_stack([s.t_s, s.forces_n, s.total_n, s.cop_ml_mm, s.cop_ap_mm])
        trial_comment = comment + (f"\ntrial {t.seq} (id {t.id}); t_s = board time from the first frame;"
                                   f" COP undefined (empty) below {s.threshold_n:.0f} N")
        paths.append(_write(out / f"{stem}_trial{t.seq}_samples.csv", trial_comment, SAMPLE_COLUMNS,
                            (_fmt_row(r) for r in table), force=force))
    log.info("wrote %d CSV files to %s", len(paths), out)
    return paths


def _fmt_row(row: np.ndarray) -> list:
    # Samples: fixed precision keeps files small and readable (1 µs, 0.001 N, 0.001 mm).
    return [round(float(row[0]), 6)] + [round(float(v), 3) for v in row[1:]]
