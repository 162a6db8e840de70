"""``station export SESSION --format csv|json|c3d --out DIR [--pseudonymise]``: a stored session's data."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: kept here (not imported from station.report) so `station export --help` stays fast
FORMATS = ("csv", "json", "c3d", "trial")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a session as CSV, JSON, C3D or trial files",
        description="Export a stored session. csv: a metrics table (one row per trial), an RDL repetitions table and "
        "one sample table per trial (time, four cell forces, total force, COP); json: the whole session with raw "
        "counts; c3d: one file per trial with the cell forces as analog channels, a type-3 force platform and the "
        "COP as a point; trial: each stored trial as trial-<seq>.trial with its raw counts and the inputs it was "
        "analysed with (`station analyze` on it gives the stored metrics). Units: N, mm, s.",
    )
    p.add_argument("session", metavar="SESSION", help="session id (as shown by the dashboard or `station assess`)")
    p.add_argument("--format", required=True, choices=FORMATS, help="export format")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write into (created if missing)")
    p.add_argument("--pseudonymise", action="store_true",
                   help="pseudonym instead of name and id, birth year only, no free-text notes")
    p.add_argument("--force", action="store_true", help="overwrite files that already exist in DIR")
    p.add_argument("--c3d-type", type=int, choices=(2, 3), default=2,
                   help="C3D FORCE_PLATFORM type: 2 = Fx Fy Fz Mx My Mz (default), 3 = the four cells")
    p.set_defaults(func=run)


def run(args) -> int:
    from station.report.exports import export_session
    from station.store import Store

    with Store.open(read_only=True) as store:
        paths = export_session(store, args.session, args.out, fmt=args.format, pseudonymise=args.pseudonymise,
                               force=args.force, c3d_type=args.c3d_type)
    for path in paths:
        print(path)
    return 0
