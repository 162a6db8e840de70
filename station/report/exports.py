"""``export_session``: one entry point for the CSV, JSON and C3D exports of a stored session."""

from __future__ import annotations

import logging
from pathlib import Path

from station.errors import StationError

log = logging.getLogger(__name__)

FORMATS = ("csv", "json", "c3d")


def export_session(store, session_id, out_dir, *, fmt: str, pseudonymise: bool = False) -> list[Path]:
    """Export a stored session into ``out_dir`` (created if missing).

    Parameters
    ----------
    store : station.store.Store
    session_id : int or str
    out_dir : path
    fmt : {"csv", "json", "c3d"}, keyword-only
        See :mod:`station.report.csv_export`, :mod:`~station.report.json_export`,
        :mod:`~station.report.c3d_export` for what each writes.
    pseudonymise : bool, keyword-only
        Pseudonym instead of name and id, birth year only, no free-text notes.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    StationError
        Unknown session or format, or the directory cannot be written.
    """
    from station.report.session import load_session

    if fmt not in FORMATS:
        raise StationError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    data = load_session(store, session_id, pseudonymise=pseudonymise)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StationError(f"Cannot create the output directory {out}: {exc.strerror}.") from exc
    if fmt == "csv":
        from station.report.csv_export import write_csv as writer
    elif fmt == "json":
        from station.report.json_export import write_json as writer
    else:
        from station.report.c3d_export import write_c3d as writer
    return writer(data, out)
