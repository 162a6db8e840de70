"""CSV tables: COP, corner forces, two plates (per-plate force and COP) and two boards (per-cell forces).

Comma separated, one header row, ``#`` comment lines and blank lines allowed; an empty cell or ``nan``
is an undefined sample (allowed in COP columns only: forces and time must be numbers). Every problem is
reported with the file name and the line number.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from station.core.resample import effective_rate_hz
from station.errors import InputFileError
from station.readers import MAX_ABS_COP_MM, MAX_ABS_FORCE_N, MAX_INPUT_BYTES, MAX_SAMPLES, Plate, Recording

log = logging.getLogger(__name__)

COP_COLUMNS = ("t_s", "cop_ml_mm", "cop_ap_mm")
FORCE_COLUMNS = ("t_s", "f_fl_n", "f_fr_n", "f_bl_n", "f_br_n")
TWO_PLATE_COLUMNS = ("t_s", "fz_left_n", "cop_ml_left_mm", "cop_ap_left_mm", "fz_right_n", "cop_ml_right_mm", "cop_ap_right_mm")
TWO_BOARD_COLUMNS = ("t_s",) + tuple(f"f_{c}_{side}_n" for side in ("left", "right") for c in ("fl", "fr", "bl", "br"))
#: layouts, most specific first: (kind, columns)
LAYOUTS = (
    ("two-board corner table", TWO_BOARD_COLUMNS),
    ("two-plate table", TWO_PLATE_COLUMNS),
    ("corner-force table", FORCE_COLUMNS),
    ("COP table", COP_COLUMNS),
)
#: shortest and longest plausible sample interval / recording
MIN_INTERVAL_S = 1e-5
MAX_DURATION_S = 24 * 3600.0


def _limit_of(name: str) -> tuple[float, str] | None:
    if name.startswith("cop_"):
        return MAX_ABS_COP_MM, "mm (10 m)"
    if name.startswith(("f_", "fz_")):
        return MAX_ABS_FORCE_N, "N (1 MN)"
    return None


def check_size(path: Path) -> None:
    """Refuse a file over :data:`~station.readers.MAX_INPUT_BYTES` before reading it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}.") from None
    if size > MAX_INPUT_BYTES:
        raise InputFileError(
            f"{path} is {size / 2**20:.0f} MiB; the largest input analysed is {MAX_INPUT_BYTES / 2**20:.0f} MiB "
            f"(split the recording, or analyse a stretch of it)."
        )


def read_lines(path: Path, *, kind: str) -> list[str]:
    """The lines of a text input of another device (``kind`` names it in the error), size-checked first.

    Raises
    ------
    InputFileError
        Too large, unreadable, or not UTF-8 (one line naming the file).
    """
    path = Path(path)
    check_size(path)
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text ({exc.reason}); {kind} is a UTF-8 text file.") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}.") from None


def finite_number(text: str) -> float | None:
    """``float(text)`` when it is a finite number, else None."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_columns(path: Path):
    """Parse a table into ``(kind, {column: float64 array}, line_numbers)``.

    Raises
    ------
    InputFileError
        With the file name and the line of the first problem.
    """
    check_size(path)
    raw = _read_limited(path)
    if b"\x00" in raw[:65536]:
        raise InputFileError(f"{path} is neither a trial file, a C3D file nor a text (CSV) table.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputFileError(f"{path} line {line}: not UTF-8 text (a CSV table must be plain text).") from None
    del raw
    all_lines = text.splitlines()
    del text
    header, header_line, rows, lines = None, 0, [], []
    width = 0
    data = None
    for number, rawline in enumerate(all_lines, start=1):
        line = rawline.strip()
        if not line or line.startswith("#"):
            continue
        header, header_line = [c.strip() for c in line.split(",")], number
        width = len(header)
        if "" in header:
            raise InputFileError(f"{path} line {number}: column {header.index('') + 1} of the header has no name "
                                 "(a stray comma?).")
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            raise InputFileError(f"{path} line {number}: column {dup[0][:60]} appears twice in the header.")
        kind, wanted = _layout(path, header, number)
        break
    if header is not None:
        fast = _fast_rows(all_lines[header_line:], header, wanted, first_line=header_line + 1)
        if fast is not None:
            data, lines_a = fast
            if len(lines_a) > MAX_SAMPLES:
                raise _too_many(path, "samples")
    if header is not None and data is None:
        # line by line: comments or blank lines among the data, or a line numpy could not read
        for number in range(header_line + 1, len(all_lines) + 1):
            line = all_lines[number - 1].strip()
            if not line or line.startswith("#"):
                continue
            n_cells = line.count(",") + 1
            if n_cells != width:
                raise InputFileError(f"{path} line {number}: {n_cells} values, but the header (line {header_line}) has {width} columns.")
            if len(rows) >= MAX_SAMPLES:
                raise _too_many(path, "samples")
            rows.append(line)
            lines.append(number)
    if header is None:
        raise InputFileError(f"{path} is empty: no header row and no samples.")
    if data is None:
        if not rows:
            raise InputFileError(f"{path} has a header but no samples.")
        full = _parse_rows(path, rows, lines, header)
        data = full[:, [header.index(name) for name in wanted]]
        lines_a = np.asarray(lines)
    elif len(data) == 0:
        raise InputFileError(f"{path} has a header but no samples.")
    cols = {name: np.ascontiguousarray(data[:, k]) for k, name in enumerate(wanted)}
    _check_values(path, cols, lines_a)
    return kind, cols, lines_a


def _too_many(path: Path, what: str) -> InputFileError:
    """The one refusal of a table over the row limit (``what``: "lines" while reading, "samples" after)."""
    return InputFileError(f"{path} has more than {MAX_SAMPLES} {what}; split the recording (the limit keeps an "
                          "analysis to seconds).")


def _read_limited(path: Path) -> bytes:
    """The file's bytes, refused as soon as it has more lines than the row limit allows.

    Read in 4 MiB blocks, counting lines as it goes, so a file of ten million rows is refused after
    reading the first ~25 MB of it, not all of it.
    """
    limit = MAX_SAMPLES + 10_000  # comments and blank lines allowed for
    blocks, newlines = [], 0
    try:
        with open(path, "rb") as fh:
            while block := fh.read(4 << 20):
                newlines += block.count(b"\n")
                if newlines > limit:
                    raise _too_many(path, "lines")
                blocks.append(block)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}.") from None
    return b"".join(blocks)


def _fast_rows(body_lines: list[str], header: list[str], wanted, *, first_line: int):
    """The data lines of a plain table as ``(float64 (n, len(wanted)) array, line numbers)``, or None.

    numpy's C reader parses only the wanted columns, several times faster than splitting the lines in
    Python. It is used only when every line after the header is a data line with the header's number of
    cells (no comment, blank or indented line, so line numbers stay exact); anything else, or a cell it
    cannot read (empty, a typo), returns None and the line-by-line path finds the line and says what is
    wrong with it.
    """
    import io

    if not body_lines:
        return None
    body = "\n".join(body_lines)
    if not body or "#" in body or "\n\n" in body or body[0] in " \t" or "\n " in body or "\n\t" in body or body.endswith((" ", "\t")):
        return None
    raw = np.frombuffer(body.encode("utf-8"), dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    commas = np.flatnonzero(raw == 44)
    per_line = np.diff(np.searchsorted(commas, np.r_[0, ends, raw.size]))
    if per_line.size != len(body_lines) or np.any(per_line != len(header) - 1):
        return None
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2, comments=None,
                          usecols=[header.index(name) for name in wanted])
    except (ValueError, IndexError):
        return None
    if data.shape != (len(body_lines), len(wanted)):
        return None
    return data, np.arange(first_line, first_line + len(body_lines))


def _parse_rows(path: Path, rows: list[str], lines: list[int], header: list[str]) -> np.ndarray:
    """The data lines as a float64 (n, width) array; an empty cell is NaN.

    numpy converts the joined cells in one call (milliseconds for a minute at 100 Hz); when that
    fails (an empty cell, a typo) each line is converted on its own, to name the line and the cell.
    """
    width = len(header)
    try:
        return np.array(",".join(rows).split(","), dtype=np.float64).reshape(len(rows), width)
    except ValueError:
        pass
    out = np.empty((len(rows), width))
    for k, (number, line) in enumerate(zip(lines, rows)):
        cells = line.split(",")
        try:
            out[k] = [float(c) if c.strip() else math.nan for c in cells]
        except ValueError:
            for name, cell in zip(header, cells):
                try:
                    float(cell) if cell.strip() else None
                except ValueError:
                    raise InputFileError(f"{path} line {number}: {cell.strip()[:40]!r} in column {name} is not a number.") from None
            raise  # pragma: no cover - one of the cells failed above
    return out


def _check_values(path: Path, cols: dict, lines) -> None:
    t = cols["t_s"]
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputFileError(f"{path} line {lines[bad[0]]}: the time t_s is missing or not a number.")
    if t.size > 1:
        dt = np.diff(t)
        back = np.flatnonzero(dt <= 0)
        if back.size:
            i = int(back[0]) + 1
            raise InputFileError(
                f"{path} line {lines[i]}: time goes backwards (or repeats): t_s = {t[i]:g} s after {t[i - 1]:g} s on line {lines[i - 1]}."
            )
        short = np.flatnonzero(dt < MIN_INTERVAL_S)
        if short.size:
            i = int(short[0]) + 1
            raise InputFileError(f"{path} line {lines[i]}: a sample interval of {dt[i - 1]:.3g} s is shorter than "
                                 f"{MIN_INTERVAL_S * 1e6:g} µs (time must be in seconds).")
        if t[-1] - t[0] > MAX_DURATION_S:
            raise InputFileError(f"{path}: the recording spans {t[-1] - t[0]:.3g} s, more than 24 h (time must be in seconds).")
    for name, values in cols.items():
        limit = _limit_of(name)
        if limit is None:
            continue
        bound, text = limit
        if name.startswith("cop_"):
            bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > bound))
        else:
            bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > bound))
        if bad.size:
            i = int(bad[0])
            what = "missing or not a number" if not np.isfinite(values[i]) and not np.isinf(values[i]) else f"{values[i]:g}, beyond ±{bound:g} {text}"
            raise InputFileError(f"{path} line {lines[i]}: {name} is {what}.")


def _layout(path: Path, header: list[str], line: int) -> tuple[str, tuple[str, ...]]:
    names = set(header)
    for kind, wanted in LAYOUTS:
        if names >= set(wanted):
            return kind, wanted
    raise InputFileError(
        f"{path} line {line}: unknown columns {','.join(header)[:200]}; expected {','.join(COP_COLUMNS)} "
        f"(COP table), {','.join(FORCE_COLUMNS)} (corner-force table) or {','.join(TWO_PLATE_COLUMNS)} (two plates)."
    )


def timing_quality(t_s) -> dict:
    """Sample count, estimated rate and interval jitter of a time column."""
    t = np.asarray(t_s, dtype=np.float64)
    dt = np.diff(t)
    return {
        "n_samples": int(t.size),
        "duration_s": float(t[-1] - t[0]) if t.size > 1 else 0.0,
        "effective_rate_hz": effective_rate_hz(t),
        "interval_min_ms": float(dt.min() * 1e3) if dt.size else float("nan"),
        "interval_max_ms": float(dt.max() * 1e3) if dt.size else float("nan"),
        "jitter_ms": float(dt.std() * 1e3) if dt.size else float("nan"),
    }


def parse_board_size(text: str | None) -> tuple[float, float]:
    """``"400x300"`` -> (400.0, 300.0) mm (ML spacing, AP spacing)."""
    try:
        w, l_ = (float(v) for v in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise InputFileError(f"--board-size must look like WxL in millimetres (e.g. 400x300), got {text!r}.") from None
    if not (0 < w < 1e4 and 0 < l_ < 1e4):
        raise InputFileError(f"--board-size needs two positive lengths in millimetres below 10 m, got {text!r}.")
    return w, l_


def rectangle_positions(board_size: str | None, path: Path) -> np.ndarray:
    """Cell positions fl, fr, bl, br (mm) of a rectangular board of ``--board-size``."""
    if board_size is None:
        raise InputFileError(f"{path} has corner forces: give the sensor spacing with --board-size WxL (mm, ML x AP, e.g. 400x300).")
    from station.core.recording import rectangle_positions_mm

    return rectangle_positions_mm(*parse_board_size(board_size))


def read_table(path: Path, *, board_size: str | None = None, gap_mm: float = 0.0) -> Recording:
    """Read a CSV table into a :class:`~station.readers.Recording`.

    Two boards (per-cell forces of a left and a right board): ``--board-size`` describes each board;
    the boards sit side by side, centres ``±(W/2 + gap_mm/2)`` mm from the common origin; each gives a
    plate force and COP (COP undefined below 20 N on that board) in the common frame.
    """
    kind, cols, _lines = read_columns(path)
    t = cols["t_s"]
    rec = Recording(input=str(path), kind=kind, t_s=t, quality=timing_quality(t))
    if kind == "COP table":
        rec.cop_ml_mm, rec.cop_ap_mm = cols["cop_ml_mm"], cols["cop_ap_mm"]
    elif kind == "corner-force table":
        rec.forces_n = np.column_stack([cols[c] for c in FORCE_COLUMNS[1:]])
        rec.quality["positions_mm"] = rectangle_positions(board_size, path).tolist()
    elif kind == "two-plate table":
        rec.feet = {side: Plate(cols[f"fz_{side}_n"], cols[f"cop_ml_{side}_mm"], cols[f"cop_ap_{side}_mm"]) for side in ("left", "right")}
    else:
        from station.core.cop import cop_from_forces

        pos = rectangle_positions(board_size, path)
        half = pos[:, 0].max() + gap_mm / 2
        rec.feet = {}
        for side, shift in (("left", -half), ("right", +half)):
            f = np.column_stack([cols[f"f_{c}_{side}_n"] for c in ("fl", "fr", "bl", "br")])
            ml, ap, total = cop_from_forces(f, pos + np.array([shift, 0.0]), threshold_n=PLATE_THRESHOLD_N)
            rec.feet[side] = Plate(total, ml, ap)
    return rec


#: a plate's own COP is undefined below this load (N): a foot barely touching gives no COP
PLATE_THRESHOLD_N = 20.0
