"""``station report SESSION --out PATH.pdf [--pseudonymise]``: a stored session's clinic PDF."""

from __future__ import annotations

import logging

from station.errors import StationError

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a session's PDF report",
        description="Write the clinic PDF report of a stored session: patient and session, the left/right verdict "
        "with its asymmetry and uncertainty, before/after verdicts, stabilograms, RDL repetitions, trials, recording "
        "quality, calibration status and the definitions of the measures.",
    )
    p.add_argument("session", metavar="SESSION", help="session id (as shown by the dashboard or `station assess`)")
    p.add_argument("--out", required=True, metavar="PATH.pdf", help="PDF file to write")
    p.add_argument("--pseudonymise", action="store_true",
                   help="show the installation's pseudonym instead of the patient's name and id")
    p.add_argument("--force", action="store_true", help="overwrite PATH.pdf if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from station.report.pdf import write_session_report
    from station.store import Store

    if not str(args.out).lower().endswith(".pdf"):
        raise StationError(f"The report is a PDF: give --out a name ending in .pdf, not {args.out!r}.")
    with Store.open(read_only=True) as store:
        path = write_session_report(store, args.session, args.out, pseudonymise=args.pseudonymise,
                                     force=args.force)
    print(path)
    return 0
