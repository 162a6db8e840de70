"""``station assess``: run a whole assessment protocol headless, prompting on the terminal.

Everything is stored in the station database (``--data-dir`` / ``$STATION_DATA_DIR``): the patient,
the session, every trial's raw counts, events and metrics, and the session's scores. Recordings
interrupted by a crash are recovered into the database at the start. Qt is never imported.

Examples::

  station assess --port /dev/ttyACM0 --patient "Runner 7" --protocol single-leg
  station assess --sim --subject weak-right --patient demo --body-mass 70 --protocol primer --report out.pdf
  station assess --sim --patient demo --body-mass 70 --protocol single-leg --json > verdicts.json
  station assess --sim --board wii --subject weak-right --patient demo --protocol single-leg --json
  station assess --sim --wrong-leg 1 --patient demo --protocol single-leg   (trial 1 on the wrong leg first)
  station assess --port wii --patient "Runner 7" --protocol rdl        (a paired Wii Balance Board)
  station assess --recording whole_test.txt --patient "Runner 7" --protocol single-leg

With ``--json`` the session's headline verdicts are printed as one JSON object on stdout when the
session ends (``{"session_id", "protocol", "status", "minutes", "verdicts": [...], "descriptions": [...]}``,
docs/ASSESSMENT.md §8; "descriptions": the blocks described, not tested) and everything for people goes to
stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from station.commands.board import add_sim_board_option, add_virtual_board_id_option, sim_wii, virtual_board_id_option
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
    src.add_argument("--port", metavar="DEV", help="serial device of the board (or a `station simulate` link), or a Wii "
                     "Balance Board: wii, its Bluetooth address or /dev/input/eventN")
    src.add_argument("--sim", action="store_true", help="use an in-process virtual board (it calibrates itself first)")
    src.add_argument("--recording", nargs="+", metavar="FILE",
                     help="make the session from recordings (a whole test in one file: a station trial file, KINVENT exports, Wii Balance "
                          "Board recorder files, CSV/C3D): each single-leg stance or RDL set found becomes a trial with "
                          "its leg; primer: the baseline recording first, the post-primer one last")
    p.add_argument("--board-size", metavar="WxL",
                   help="--recording: sensor spacing in mm (ML x AP) of a corner-force CSV table")
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
                       help="scored single-leg trials per side (single-leg default: adaptive, 3-12 until decided; "
                            "primer default 6 before the primer and 3-8 after it; a number fixes both blocks)")
    proto.add_argument("--practice", type=int, metavar="N",
                       help="practice (familiarisation) trials per side before the scored ones, never scored (default 1)")
    proto.add_argument("--seconds", type=float, metavar="S", help="single-leg trial length (default 20)")
    proto.add_argument("--exclude", type=float, metavar="S", help="seconds excluded at each trial's start (default 3)")
    proto.add_argument("--eyes-closed", action="store_true", help="add an eyes-closed block (single-leg)")
    proto.add_argument("--reps", type=int, metavar="N",
                       help="RDL repetitions per set (default 10); primer: rear-foot-elevated RDL repetitions")
    proto.add_argument("--sets", type=int, metavar="N", help="RDL sets per side (default 2)")
    proto.add_argument("--rounds", type=int, metavar="N", help="primer rounds (default 3)")
    sim = p.add_argument_group("virtual board (--sim)")
    sim.add_argument("--seed", type=int, default=0, help="virtual board seed (default 0)")
    add_virtual_board_id_option(sim)
    add_sim_board_option(sim)
    sim.add_argument("--subject", default="healthy", metavar="NAME|FILE",
                     help="the virtual patient: healthy, weak-right, weak-left, or a subject file (default healthy)")
    sim.add_argument("--realtime", action="store_true", help="pace the virtual board by the wall clock (default: fast)")
    sim.add_argument("--primer-effect", type=float, default=0.0, metavar="PCT",
                     help="the virtual patient's weaker side sways PCT %% less after the primer (default 0)")
    sim.add_argument("--wrong-leg", type=_trial_numbers, default=(), metavar="N[,N...]",
                     help="the virtual patient first stands on the wrong leg in these recorded trials (1 = the "
                     "first, repeats not counted); the runner tells it and repeats the trial")
    p.set_defaults(func=run)


_HUMAN = {"stream": None}


def _trial_numbers(text: str) -> tuple[int, ...]:
    """``"1,3"`` -> ``(1, 3)``: recorded trials, counted from 1."""
    try:
        numbers = tuple(int(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of trial numbers from 1, e.g. 1 or 1,3")
    return numbers


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
        if args.protocol == "primer" and args.trials is not None:  # a number fixes both blocks
            overrides["post_trials"] = args.trials
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
        # an id that is not there or in the trash, or a name several patients share: the store's message says which
        in_trash = {str(p.id) for p in store.list_patients(deleted=True)}
        if ref.startswith("#") or ref in in_trash or any(p.name.strip().lower() == ref.lower()
                                                         for p in store.list_patients()):
            raise
    if ref.isdigit() and ref == str(int(ref)):
        raise StationError(f"There is no patient with id {ref} and none named {ref!r}: give a stored patient's id as "
                           f"#{ref} (see `station patients`), or add the patient first (`station patients add {ref}`).")
    pid = store.add_patient(name=ref, body_mass_kg=args.body_mass, birth_year=args.birth_year, sex=args.sex,
                            dominant_leg=args.dominant_leg)
    _say(f"New patient #{pid}: {ref}.")
    return store.get_patient(pid)


def _sim_transport(args, board_id: int | None):
    """The in-process virtual board in lockstep (its id: ``board_id``, or its seed's own when None), or with
    ``--board wii`` the virtual Wii Balance Board's source."""
    from station.assessment.virtual_session import sim_transport

    if sim_wii(args):
        return sim_transport(args.seed, board_kind="wii")

    return sim_transport(args.seed, board_id=board_id)


def _sim_subject(args, patient):
    from station.board.virtual import Subject

    subject = Subject.resolve(args.subject)
    if patient.body_mass_kg:
        subject = subject.replace(body_mass_kg=float(patient.body_mass_kg))
    return subject


def _sim_calibration(args, transport, board_id: int | None):
    """Calibrate the virtual board with the quick known-mass procedure (it places the masses itself); the
    virtual Wii Balance Board takes its stored calibration (``station calibrate --sim --board wii``) or the
    driver's 10 g units (the runner tares either at the session start)."""
    from station.assessment.virtual_session import sim_calibration

    if sim_wii(args):
        from station.calibration import active_calibration

        info = transport.board.info
        return active_calibration(info.board_id_hex) or _wii_default_calibration(info)

    _say("Calibrating the virtual board with known masses (quick procedure)...")
    return sim_calibration(args.seed, board_id=board_id)


def _wii_default_calibration(info):
    from station.calibration.wii import default_wii_calibration

    _say(f"Wii Balance Board {info.board_id_hex}: forces from the driver's 10 g units, zeroed by a tare at the start "
         "(no stored known-mass calibration).")
    return default_wii_calibration(info.board_id)


def _board_calibration(args, info, *, wii: bool = False):
    from station.calibration import active_calibration, load_calibration

    if args.calibration:
        return load_calibration(args.calibration, board_id=info.board_id_hex)
    cal = active_calibration(info.board_id_hex)
    if cal is None and wii:
        return _wii_default_calibration(info)
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
    """The headline verdicts (one sentence each), then the balance scores per side and what they mean."""
    from station.assessment.results import SessionScores
    from station.report import wording

    typed = SessionScores.from_dict(scores)
    lines = [wording.verdict_sentence(v) for v in typed.verdicts]
    lines += [wording.description_sentence(d) for d in typed.descriptions]
    key = typed.score_meaning.key
    name = wording.metric_label(key, unit=False).lower()
    for block in typed.stance_blocks():
        for side in ("left", "right"):
            s = block.sides[side][key]
            if s.n:
                lines.append(f"  {block.key} {side:5s} {name} {wording.mean_sd(s, wording.decimals_of(key), n=True)}")
    if typed.stance:
        lines.append(f"  ({wording.score_meaning_text(typed.score_meaning)})")
    return lines


def _verdicts_json(session_id: int, session, scores: dict) -> str:
    from station.assessment.results import SessionScores
    from station.jsonsafe import json_safe
    from station.report.wording import description_record, verdict_record

    keys = ("block", "kind", "side", "less_stable", "verdict", "estimate", "ci_low", "ci_high", "level", "unit",
            "text", "resolution")
    typed = SessionScores.from_dict(scores)
    verdicts = [verdict_record(v) for v in typed.verdicts]
    doc = {"session_id": int(session_id), "protocol": session.protocol, "status": session.status,
           "minutes": scores.get("minutes"), "verdicts": [{k: v.get(k) for k in keys} for v in verdicts],
           # blocks described, not tested (the primer's RDL): each leg's figure with its 95 % interval, no verdict
           "descriptions": [description_record(d) for d in typed.descriptions]}
    return json.dumps(json_safe(doc), ensure_ascii=False, allow_nan=False)


def run_recordings(args) -> int:
    """``--recording``: a stored, scored session from recordings (:mod:`station.assessment.recordings`)."""
    from station.assessment.recordings import assess_recordings, file_plan
    from station.store import Store

    _HUMAN["stream"] = sys.stderr if args.json else None
    file_plan(args.protocol, args.recording)  # a missing file or too few for the protocol: refused before a patient is added
    if args.report:
        from station.privatefiles import refuse_existing

        refuse_existing(args.report, force=args.force)
    if args.board_size is not None:
        from station.readers.tables import parse_board_size

        parse_board_size(args.board_size)
    store = Store.open()
    try:
        patient = _patient(store, args)
        mass = patient.body_mass_kg or args.body_mass
        done = assess_recordings(store, args.recording, patient_id=patient.id, protocol=args.protocol, body_mass_kg=mass,
                                 exclude_s=args.exclude if args.exclude is not None else 5.0,
                                 reps=args.reps if args.reps is not None else 10, operator=args.operator,
                                 board_size=args.board_size, say=_say)
        session = store.get_session(done.session_id)
        scores = session.scores or {}
        n_ok = sum(t["status"] == "finished" for t in done.trials)
        _say(f"\nSession #{done.session_id} ({session.protocol}, from {len(args.recording)} recording(s)) {session.status}: "
             f"{len(done.trials)} trial(s), {n_ok} analysed; stored in {store.path}.")
        for line in _summary(scores):
            _say(line)
        if args.report:
            from station.report.pdf import write_session_report

            path = write_session_report(store, done.session_id, args.report, force=args.force)
            _say(f"Report: {path or args.report}")
        if args.json:
            print(_verdicts_json(done.session_id, session, scores), flush=True)
        return 0 if session.status == "finished" else 1
    finally:
        store.close()


def run(args) -> int:
    from station.assessment.runner import RealClock, Runner
    from station.board.acquisition import Acquisition
    from station.assessment.virtual_session import subject_fields
    from station.store import Store

    if args.recording:
        return run_recordings(args)
    if not args.sim and not args.port:
        raise StationError("Give the board's serial port with --port DEV, use --sim for the virtual board, or "
                           "--recording FILE for recordings.")
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
                calibration = _sim_calibration(args, transport, board_id)
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
                                     on_event=_printer(), operator=args.operator, realtime=args.realtime,
                                     wrong_leg_trials=args.wrong_leg)
            session_id = runner.session_id  # Ctrl-C aborts the session; what was recorded is stored
        else:
            from station.board.wii import source_for_port

            acq = Acquisition(source_for_port(args.port))
            info = acq.start()
            try:
                from station.board.wii import WiiBalanceBoardSource

                calibration = _board_calibration(args, info, wii=isinstance(acq.source, WiiBalanceBoardSource))
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
        from station.report.wording import patient_time_text

        _say(patient_time_text(minutes, scores.get("minutes_by_block")))
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
