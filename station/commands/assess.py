"""``station assess``: run a whole assessment protocol headless, prompting on the terminal.

Everything is stored in the station database (``--data-dir`` / ``$STATION_DATA_DIR``): the patient,
the session, every trial's raw counts, events and metrics, and the session's scores. Recordings
interrupted by a crash are recovered into the database at the start. Qt is never imported.

Examples::

  station assess --port /dev/ttyACM0 --patient "Runner 7" --protocol single-leg
  station assess --sim --subject weak-right --patient demo --body-mass 70 --protocol primer --report out.pdf
  station assess --sim --patient demo --body-mass 70 --protocol single-leg --json > verdicts.json

With ``--json`` the session's headline verdicts are printed as one JSON object on stdout when the
session ends (``{"session_id", "protocol", "status", "minutes", "verdicts": [...]}``, docs/ASSESSMENT.md
§8) and everything for people goes to stderr.
"""

from __future__ import annotations

import json
import logging
import sys

from station.commands.board import add_virtual_board_id_option, virtual_board_id_option
from station.errors import CalibrationError, StationError

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "assess",
        help="run a whole assessment protocol headless",
        description="Guide a patient through a protocol (single-leg stance L/R, single-leg RDL L/R, or the "
        "primer session: baseline, guided primer, post-primer), record and analyse every trial, store it all "
        "in the station database and print the left/right and before/after verdicts.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--port", metavar="DEV", help="serial device of the board (or a `station simulate` link)")
    src.add_argument("--sim", action="store_true", help="use an in-process virtual board (it calibrates itself first)")
    p.add_argument("--patient", required=True, metavar="ID",
                   help="patient: #ID for a stored patient's id, or a name/pseudonym (a new name, digits such as 007 "
                        "included, is added as a patient; a plain number such as 12 is an existing id or name)")
    p.add_argument("--protocol", required=True, choices=("single-leg", "rdl", "primer"))
    p.add_argument("--report", metavar="PATH", help="write the session's PDF report here")
    p.add_argument("--force", action="store_true", help="overwrite the --report file if it exists")
    p.add_argument("--calibration", metavar="FILE",
                   help="calibration file, refused if it belongs to another board (default: the board's active "
                   "calibration; with --sim the virtual board is calibrated with known masses first)")
    p.add_argument("--operator", default="", help="who runs the session (stored)")
    p.add_argument("--json", action="store_true",
                   help="print the headline verdicts as one JSON object on stdout (human output on stderr)")
    new = p.add_argument_group("new patient (when --patient names nobody yet)")
    new.add_argument("--body-mass", type=float, metavar="KG", help="body mass in kg")
    new.add_argument("--birth-year", type=int, metavar="YEAR")
    new.add_argument("--sex", choices=("female", "male", "other", "unknown"))
    new.add_argument("--dominant-leg", choices=("left", "right", "unknown"))
    proto = p.add_argument_group("protocol settings (defaults: the clinic's routine)")
    proto.add_argument("--trials", type=int, metavar="N",
                       help="scored single-leg trials per side (single-leg default: adaptive, 3-6 until decided; "
                            "primer default 6 per block)")
    proto.add_argument("--practice", type=int, metavar="N",
                       help="practice (familiarisation) trials per side before the scored ones, never scored (default 1)")
    proto.add_argument("--seconds", type=float, metavar="S", help="single-leg trial length (default 30)")
    proto.add_argument("--exclude", type=float, metavar="S", help="seconds excluded at each trial's start (default 5)")
    proto.add_argument("--eyes-closed", action="store_true", help="add an eyes-closed block (single-leg)")
    proto.add_argument("--reps", type=int, metavar="N",
                       help="RDL repetitions per set (default 10); primer: rear-foot-elevated RDL repetitions")
    proto.add_argument("--sets", type=int, metavar="N", help="RDL sets per side (default 2)")
    proto.add_argument("--rounds", type=int, metavar="N", help="primer rounds (default 3)")
    sim = p.add_argument_group("virtual board (--sim)")
    sim.add_argument("--seed", type=int, default=0, help="virtual board seed (default 0)")
    add_virtual_board_id_option(sim)
    sim.add_argument("--subject", default="healthy", metavar="NAME|FILE",
                     help="the virtual patient: healthy, weak-right, weak-left, or a subject file (default healthy)")
    sim.add_argument("--realtime", action="store_true", help="pace the virtual board by the wall clock (default: fast)")
    sim.add_argument("--primer-effect", type=float, default=0.0, metavar="PCT",
                     help="the virtual patient's weaker side sways PCT %% less after the primer (default 0)")
    p.set_defaults(func=run)


_HUMAN = {"stream": None}


def _say(text: str) -> None:
    print(text, file=_HUMAN["stream"] or sys.stdout, flush=True)


def _protocol(args):
    from station.assessment import protocols

    overrides = {}
    if args.protocol in ("single-leg", "primer"):
        for key, value in (("trials_per_side", args.trials), ("duration_s", args.seconds), ("exclude_s", args.exclude),
                           ("familiarisation", args.practice)):
            if value is not None:
                overrides[key] = value
    if args.protocol == "single-leg" and args.eyes_closed:
        overrides["eyes_closed"] = True
    if args.reps is not None:
        overrides["reps" if args.protocol == "rdl" else "rfe_rdl_reps"] = args.reps
    if args.sets is not None and args.protocol == "rdl":
        overrides["sets_per_side"] = args.sets
    if args.rounds is not None and args.protocol == "primer":
        overrides["rounds"] = args.rounds
    try:
        return protocols.get(args.protocol, **overrides)
    except ValueError as exc:
        raise StationError(f"Invalid protocol settings: {exc}.") from None


def _patient(store, args):
    """The patient ``--patient`` names (``#12`` an id, else a name or pseudonym), added when it is a new name.

    A name may be digits (``007``); a plain number such as ``42`` is also read as an id (as ``station
    patients`` shows them), so when it is neither a stored id nor a name it is refused rather than
    guessed: ``#42`` for an id, or ``station patients add 42`` for a patient of that name.
    """
    ref = args.patient.strip()
    try:
        return store.find_patient(ref)
    except StationError:
        # an id that is not there, or a name several patients share: the store's message says which
        if ref.startswith("#") or any(p.name.strip().lower() == ref.lower() for p in store.list_patients()):
            raise
    if ref.isdigit() and ref == str(int(ref)):
        raise StationError(f"There is no patient with id {ref} and none named {ref!r}: give a stored patient's id as "
                           f"#{ref} (see `station patients`), or add the patient first (`station patients add {ref}`).")
    pid = store.add_patient(name=ref, body_mass_kg=args.body_mass, birth_year=args.birth_year, sex=args.sex,
                            dominant_leg=args.dominant_leg)
    _say(f"New patient #{pid}: {ref}.")
    return store.get_patient(pid)


def _sim_transport(args, board_id: int | None):
    """The in-process virtual board (its id: ``board_id``, or its seed's own when None)."""
    from station.assessment.virtual_session import sim_transport

    return sim_transport(args.seed, board_id=board_id)


def _sim_subject(args, patient):
    from station.board.virtual import Subject

    subject = Subject.resolve(args.subject)
    if patient.body_mass_kg:
        subject = subject.replace(body_mass_kg=float(patient.body_mass_kg))
    return subject


def _sim_calibration(args, board_id: int | None):
    """Calibrate the virtual board with the quick known-mass procedure (it places the masses itself)."""
    from station.assessment.virtual_session import sim_calibration

    _say("Calibrating the virtual board with known masses (quick procedure)...")
    return sim_calibration(args.seed, board_id=board_id)


def _board_calibration(args, info):
    from station.calibration import active_calibration, load_calibration

    if args.calibration:
        return load_calibration(args.calibration, board_id=info.board_id_hex)
    cal = active_calibration(info.board_id_hex)
    if cal is None:
        raise CalibrationError(
            f"Board {info.board_id_hex} has no calibration; run `station calibrate --port {args.port}` first "
            "or give --calibration FILE."
        )
    return cal


def _printer():
    last = {"countdown": None}

    def show(event) -> None:
        if event.kind == "countdown":
            s = int(round(event.data.get("remaining_s", 0)))
            if s % 10 == 0 or s <= 3:
                if last["countdown"] != s:
                    last["countdown"] = s
                    _say(f"    {s} s")
            return
        if event.kind == "rep":
            _say(f"    rep {event.data['count']}/{event.data.get('target', '?')}")
            return
        if event.kind == "step":
            _say(f"\n[{event.data['index'] + 1}/{event.data['total']}] {event.text}")
            return
        if event.kind == "session_end":
            return
        _say(f"  {event.text}")

    return show


def _summary(scores: dict) -> list[str]:
    """The headline verdicts (one line each), then the balance scores per side and what they mean."""
    from station.assessment.verdicts import headline_verdicts

    lines = [v["text"] for v in headline_verdicts(scores)]
    meaning = scores.get("score_meaning") or {}
    for key, stance in (scores.get("stance") or {}).items():
        for side in ("left", "right"):
            s = stance["sides"][side]["stability_score"]
            if s["n"]:
                sd = f" ± {s['sd']:.0f}" if s["sd"] is not None and s["n"] > 1 and s["sd"] == s["sd"] else ""
                lines.append(f"  {key} {side:5s} {meaning.get('name', 'balance score').lower()} {s['mean']:.0f}{sd} (n={s['n']})")
    if meaning.get("text"):
        lines.append(f"  ({meaning['text']})")
    return lines


def _verdicts_json(session_id: int, session, scores: dict) -> str:
    from station.assessment.verdicts import headline_verdicts
    from station.store.database import json_safe

    keys = ("block", "kind", "side", "less_stable", "verdict", "estimate", "ci_low", "ci_high", "unit", "text",
            "resolution")
    doc = {"session_id": int(session_id), "protocol": session.protocol, "status": session.status,
           "minutes": scores.get("minutes"), "verdicts": [{k: v.get(k) for k in keys} for v in headline_verdicts(scores)]}
    return json.dumps(json_safe(doc), ensure_ascii=False, allow_nan=False)


def run(args) -> int:
    from station.assessment.runner import RealClock, Runner
    from station.board.acquisition import Acquisition
    from station.assessment.virtual_session import subject_fields
    from station.store import Store

    if not args.sim and not args.port:
        raise StationError("Give the board's serial port with --port DEV, or use --sim for the virtual board.")
    board_id = virtual_board_id_option(args)  # a bad --board-id is refused before anything is stored
    _HUMAN["stream"] = sys.stderr if args.json else None
    protocol = _protocol(args)  # invalid settings are refused here, before any session exists
    if args.report:  # an existing report is refused now, not after the whole session
        from station.privatefiles import refuse_existing

        refuse_existing(args.report, force=args.force)
    store = Store.open()
    try:
        sim_subject, sim_adjust, calibration = None, None, None
        if args.sim:
            transport = _sim_transport(args, board_id)
            if args.calibration:  # another board's calibration is refused before the patient is stored
                calibration = _board_calibration(args, transport.board.info)
        patient = _patient(store, args) if args.sim else None  # with a port: once the board answered
        if args.sim:
            subject = _sim_subject(args, patient)
            if calibration is None:
                calibration = _sim_calibration(args, board_id)
            sim_subject = subject_fields(subject)
            if args.primer_effect:
                weak = "right" if subject.sway_scale_right >= subject.sway_scale_left else "left"
                reduced = getattr(subject, f"sway_scale_{weak}") * (1.0 - args.primer_effect / 100.0)

                def sim_adjust(step, _field=f"sway_scale_{weak}", _value=reduced):
                    return {_field: _value} if step.phase == "post_primer" else {}
        if args.sim:  # the one simulated path (the bench's too): the board in lockstep with the runner
            from station.assessment.virtual_session import run_sim_session

            runner = run_sim_session(protocol, transport=transport, calibration=calibration, store=store,
                                     patient_id=patient.id, sim_subject=sim_subject, sim_adjust=sim_adjust,
                                     on_event=_printer(), operator=args.operator, realtime=args.realtime)
            session_id = runner.session_id  # Ctrl-C aborts the session; what was recorded is stored
        else:
            from station.board.serial_transport import SerialTransport

            acq = Acquisition(SerialTransport(args.port))
            info = acq.start()
            try:
                calibration = _board_calibration(args, info)
                patient = _patient(store, args)
                if sys.stdin.isatty():
                    input(f"{protocol.title} for {patient.name}. Press Enter to start...")
                runner = Runner(protocol, acquisition=acq, store=store, patient_id=patient.id, calibration=calibration,
                                on_event=_printer(), clock=RealClock(), operator=args.operator)
                session_id = runner.run()  # Ctrl-C aborts the session; what was recorded is stored
            finally:
                acq.stop()
        session = store.get_session(session_id)
        scores = session.scores or {}
        minutes = scores.get("minutes", runner.patient_minutes)
        _say(f"\nSession #{session_id} ({session.protocol}) {session.status}; stored in {store.path}.")
        _say(f"Protocol time: {minutes:.1f} min of patient time.")
        blocks = scores.get("minutes_by_block") or {}
        if blocks:
            _say("  by block: " + ", ".join(f"{name} {value:.1f} min" for name, value in blocks.items()) + ".")
        for line in _summary(scores):
            _say(line)
        if args.report:
            try:
                from station.report.pdf import write_session_report
            except ImportError:
                raise StationError(
                    f"The session was stored (#{session_id}) but PDF reports are not available in this build yet."
                ) from None
            path = write_session_report(store, session_id, args.report, force=args.force)
            _say(f"Report: {path or args.report}")
        if args.json:
            print(_verdicts_json(session_id, session, scores), flush=True)
        return 0 if session.status == "finished" else 1
    finally:
        store.close()
