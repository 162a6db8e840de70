"""``export_session``: one entry point for the CSV, JSON and C3D exports of a stored session."""

from __future__ import annotations

import logging
from pathlib import Path

from station.errors import StationError
from station.privatefiles import make_private_dirs

log = logging.getLogger(__name__)

FORMATS = ("csv", "json", "c3d", "trial")


def export_session(store, session_id, out_dir, *, fmt: str, pseudonymise: bool = False,
                   force: bool = False, c3d_type: int = 2) -> list[Path]:
    """Export a stored session into ``out_dir`` (created if missing).

    Parameters
    ----------
    store : station.store.Store
    session_id : int or str
    out_dir : path
    fmt : {"csv", "json", "c3d", "trial"}, keyword-only
        See :mod:`station.report.csv_export`, :mod:`~station.report.json_export`,
        :mod:`~station.report.c3d_export`, :mod:`~station.report.trial_export` for what each writes.
    pseudonymise : bool, keyword-only
        Pseudonym instead of name and id, birth year only, no free-text notes, no operator name,
        dates to the day, body mass to 5 kg (:mod:`station.report.pseudonym`).
    force : bool, keyword-only
        Replace files that already exist (otherwise the export stops at the first one, with one line).
    c3d_type : {2, 3}, keyword-only
        FORCE_PLATFORM type of a C3D export (2: Fx..Mz, the default; 3: the four cells).

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
    make_private_dirs(out)  # folders it creates are 0700; files 0600
    if fmt == "csv":
        from station.report.csv_export import write_csv as writer
    elif fmt == "json":
        from station.report.json_export import write_json as writer
    elif fmt == "trial":
        from station.report.trial_export import write_trials as writer
    else:
        from station.report.c3d_export import write_c3d

        return write_c3d(data, out, force=force, platform_type=c3d_type)
    return writer(data, out, force=force)
