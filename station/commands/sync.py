"""``station sync [--json]``: upload what this station recorded while its database server was away."""

from __future__ import annotations

import json
import logging

from station.errors import StationError

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sync", help="upload the local outbox to the database server and report what is pending",
        description="A station that uses a database server (--database / STATION_DATABASE_URL) keeps recording into "
        "a local outbox when the server is unreachable, and uploads it when the server is back. This uploads it now, "
        "idempotently (each patient, session and trial by its uuid: nothing twice), and reports what is still pending.",
    )
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from station.store import Store

    with Store.open(recover=False) as store:
        if store.backend == "sqlite":
            raise StationError("This station keeps its own SQLite database; there is no server to sync with "
                               "(give --database postgresql://… or set STATION_DATABASE_URL).")
        before = store.pending()
        if store.offline:
            if args.json:
                print(json.dumps({"uploaded": None, "pending": before, "error": store.offline_reason}))
            else:
                print(f"Pending: {_counts(before)}.")
            raise StationError(f"{store.offline_reason}; nothing uploaded.")
        result = store.sync()  # opening the store has already uploaded what it could: report the total
        result["uploaded"] = store.uploaded
    if args.json:
        print(json.dumps(result))
    else:
        up = result["uploaded"]
        print(f"Uploaded {up['sessions']} session(s), {up['trials']} trial(s), {up['arrays']} raw array(s), "
              f"{up['patients']} new patient(s).")
        print(f"Pending: {_counts(result['pending'])}.")
    return 0


def _counts(pending: dict) -> str:
    if not any(pending.values()):
        return "nothing"
    return f"{pending['sessions']} session(s) with {pending['trials']} trial(s), {pending['patients']} new patient(s)"
