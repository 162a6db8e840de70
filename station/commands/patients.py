"""``station patients [--json] [--trash]`` and ``station patients add|edit|delete|restore``: the patient list."""

from __future__ import annotations

import json
import logging

from station.errors import StationError

log = logging.getLogger(__name__)

#: kept here (not imported from station.store) so `station patients --help` stays fast; a test checks
#: they equal station.store.tables.SEXES / LEGS
SEXES = ("female", "male", "other", "unknown")
LEGS = ("left", "right", "unknown")


def _fields(p) -> None:
    p.add_argument("--body-mass", type=float, metavar="KG", help="body mass in kg (10-350)")
    p.add_argument("--birth-year", type=int, metavar="YEAR", help="year of birth")
    p.add_argument("--sex", choices=SEXES)
    p.add_argument("--dominant-leg", choices=LEGS)
    p.add_argument("--notes", help="free-text notes (not exported when pseudonymised)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "patients", help="list, add, edit, delete or restore patients",
        description="List the station's patients (id, name, birth year, sex, body mass, dominant leg, sessions). "
        "Patients are named by '#ID' or by their exact name (a name may look like a number, e.g. 007). Deleting moves "
        "a patient and their sessions, raw data included, to the trash; 'restore' brings them back.",
    )
    p.add_argument("--json", action="store_true", help="one JSON list instead of a table")
    p.add_argument("--trash", action="store_true", help="list the patients in the trash instead")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    add = sub.add_parser("add", help="add a patient", description="Add a patient (a name or a pseudonym).")
    add.add_argument("name", metavar="NAME")
    _fields(add)
    edit = sub.add_parser("edit", help="change a patient's fields", description="Change some fields of a patient.")
    edit.add_argument("patient", metavar="PATIENT", help="#ID or exact name")
    edit.add_argument("--name", help="new name or pseudonym")
    _fields(edit)
    delete = sub.add_parser("delete", help="move a patient and their sessions to the trash",
                            description="Move a patient and all their sessions (raw data included) to the trash.")
    delete.add_argument("patient", metavar="PATIENT", help="#ID or exact name")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore = sub.add_parser("restore", help="bring a patient back from the trash",
                             description="Bring a patient (and the sessions deleted with them) back from the trash.")
    restore.add_argument("patient", metavar="PATIENT", help="#ID")
    p.set_defaults(func=run, action=None)


def _row(store, patient) -> dict:
    return {
        "id": patient.id, "name": patient.name, "birth_year": patient.birth_year, "sex": patient.sex,
        "body_mass_kg": patient.body_mass_kg, "dominant_leg": patient.dominant_leg, "notes": patient.notes,
        "created": patient.created, "uuid": patient.uuid, "deleted_at": patient.deleted_at,
        "sessions": len(store.list_sessions(patient.id, deleted=patient.deleted_at is not None)),
    }


def _table(rows: list[dict]) -> str:
    if not rows:
        return "No patients."
    head = f"{'id':>5}  {'name':<24} {'born':>4}  {'sex':<7} {'mass kg':>7}  {'dominant':<8} {'sessions':>8}"
    lines = [head]
    for r in rows:
        mass = "" if r["body_mass_kg"] is None else f"{r['body_mass_kg']:.1f}"
        lines.append(f"{'#' + str(r['id']):>5}  {r['name'][:24]:<24} {r['birth_year'] or '':>4}  {r['sex'] or '':<7} "
                     f"{mass:>7}  {r['dominant_leg'] or '':<8} {r['sessions']:>8}")
    return "\n".join(lines)


def _confirm(question: str, yes: bool) -> None:
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        raise StationError("Give --yes to confirm (there is no terminal to ask).")
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise StationError("Nothing deleted.")


def run(args) -> int:
    from station.store import Store

    with Store.open(recover=False) as store:  # listing too: a first `station patients` creates the database
        if args.action == "add":
            pid = store.add_patient(name=args.name, body_mass_kg=args.body_mass, birth_year=args.birth_year,
                                    sex=args.sex, dominant_leg=args.dominant_leg, notes=args.notes or "")
            print(f"Patient #{pid}: {args.name.strip()}.")
            return 0
        if args.action == "edit":
            patient = store.find_patient(args.patient)
            fields = {k: v for k, v in (("name", args.name), ("body_mass_kg", args.body_mass),
                                        ("birth_year", args.birth_year), ("sex", args.sex),
                                        ("dominant_leg", args.dominant_leg), ("notes", args.notes)) if v is not None}
            if not fields:
                raise StationError("Nothing to change: give at least one of --name, --body-mass, --birth-year, "
                                   "--sex, --dominant-leg, --notes.")
            store.update_patient(patient.id, **fields)
            print(f"Patient #{patient.id} updated: {', '.join(sorted(fields))}.")
            return 0
        if args.action == "delete":
            patient = store.find_patient(args.patient)
            n = len(store.list_sessions(patient.id))
            _confirm(f"Move patient #{patient.id} ({patient.name}) and {n} session(s) to the trash?", args.yes)
            moved = store.delete_patient(patient.id)
            print(f"Patient #{patient.id} and {moved} session(s) moved to the trash "
                  f"(`station patients restore #{patient.id}` brings them back).")
            return 0
        if args.action == "restore":
            ref = args.patient.lstrip("#")
            if not ref.isdigit():
                raise StationError("Restore a patient by id: station patients restore #ID (see `station patients --trash`).")
            restored = store.restore_patient(int(ref))
            print(f"Patient #{ref} and {restored} session(s) restored.")
            return 0
        rows = [_row(store, p) for p in store.list_patients(deleted=args.trash)]
    print(json.dumps(rows, indent=1) if args.json else _table(rows))
    return 0
