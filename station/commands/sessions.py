"""``station sessions [--patient PATIENT] [--json] [--trash]`` and ``station sessions delete|restore ID``."""

from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sessions", help="list, delete or restore sessions",
        description="List stored sessions (id, patient, protocol, status, start, station, operator, trials). "
        "Deleting moves a session, raw data included, to the trash; 'restore' brings it back.",
    )
    p.add_argument("--patient", metavar="PATIENT", help="only this patient's sessions (#ID or exact name)")
    p.add_argument("--json", action="store_true", help="one JSON list instead of a table")
    p.add_argument("--trash", action="store_true", help="list the sessions in the trash instead")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    delete = sub.add_parser("delete", help="move a session to the trash",
                            description="Move a session (raw data included) to the trash.")
    delete.add_argument("session", type=_session_id, metavar="ID")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore = sub.add_parser("restore", help="bring a session back from the trash")
    restore.add_argument("session", type=_session_id, metavar="ID")
    p.set_defaults(func=run, action=None)


def _session_id(text: str) -> int:
    import argparse

    digits = text.lstrip("#")
    if not digits.lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(f"a session id is a number, not {text!r}")
    return int(digits)


def _row(store, session, names: dict) -> dict:
    return {
        "id": session.id, "patient_id": session.patient_id, "patient": names.get(session.patient_id, ""),
        "protocol": session.protocol, "status": session.status, "started": session.started,
        "finished": session.finished, "station": session.station, "operator": session.operator,
        "trials": len(store.trials(session.id)), "uuid": session.uuid, "deleted_at": session.deleted_at,
    }


def _table(rows: list[dict]) -> str:
    if not rows:
        return "No sessions."
    lines = [f"{'id':>5}  {'patient':<18} {'protocol':<10} {'status':<11} {'started':<20} {'station':<12} "
             f"{'operator':<12} {'trials':>6}"]
    for r in rows:
        lines.append(f"{'#' + str(r['id']):>5}  {r['patient'][:18]:<18} {r['protocol'][:10]:<10} {r['status']:<11} "
                     f"{r['started'][:19]:<20} {r['station'][:12]:<12} {r['operator'][:12]:<12} {r['trials']:>6}")
    return "\n".join(lines)


def run(args) -> int:
    from station.commands.patients import _confirm
    from station.store import Store

    with Store.open(recover=False) as store:
        if args.action == "delete":
            session = store.get_session(args.session)
            _confirm(f"Move session #{session.id} ({session.protocol}, {session.started}) to the trash?", args.yes)
            store.delete_session(session.id)
            print(f"Session #{session.id} moved to the trash (`station sessions restore {session.id}` brings it back).")
            return 0
        if args.action == "restore":
            store.restore_session(args.session)
            print(f"Session #{args.session} restored.")
            return 0
        # a patient in the trash has sessions there too: `--trash --patient #12` finds them
        patient_id = store.find_patient(args.patient, include_deleted=args.trash).id if args.patient else None
        names = {p.id: p.name for p in store.list_patients() + store.list_patients(deleted=True)}
        rows = [_row(store, s, names) for s in store.list_sessions(patient_id, deleted=args.trash)]
    print(json.dumps(rows, indent=1) if args.json else _table(rows))
    return 0
