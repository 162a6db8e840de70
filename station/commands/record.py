"""``station record``: capture a trial (raw frames + quality) from a board to a trial file.

Every start first recovers unfinished journals (a recording killed mid-way) into trial files and
says where; ``--recover`` alone does only that.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path

from station.commands.board import add_sim_board_option
from station.errors import InputFileError, StationError

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "record",
        help="capture a trial (raw frames + quality) to a trial file",
        description="Record SECONDS of raw frames from the board on DEV into a trial file, with link quality "
        "(frames, lost, CRC errors, resyncs, gaps, missed conversions, rate, jitter). Frames are journaled to "
        "disk while recording; unfinished journals are recovered into trial files at every start.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--port", metavar="DEV", help="serial device of the board (e.g. /dev/ttyACM0 or a `station simulate` "
                     "link), or a Wii Balance Board: wii, its Bluetooth address or /dev/input/eventN")
    src.add_argument("--sim", action="store_true",
                     help="record from an in-process virtual board (with --board wii: a virtual Wii Balance Board), "
                          "as fast as the CPU allows")
    p.add_argument("--seconds", type=float, metavar="S", help="duration to record, in seconds of board time")
    p.add_argument("--out", metavar="FILE", help="trial file to write (.trial)")
    p.add_argument("--calibration", metavar="FILE",
                   help="calibration file to store with the trial (default: the board's active calibration)")
    p.add_argument("--baud", type=int, default=500_000, help="baud rate (default 500000; native-USB boards ignore it)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--recover", action="store_true",
                   help="recover unfinished recordings into trial files (alone: recover and exit)")
    sim = p.add_argument_group("virtual board (--sim)")
    sim.add_argument("--seed", type=int, default=0, help="virtual board seed (default 0)")
    add_sim_board_option(sim)
    sim.add_argument("--subject", default="healthy", metavar="NAME|FILE",
                     help="who stands on the virtual board: healthy, weak-right, weak-left or a subject file")
    sim.add_argument("--scenario", metavar="NAME",
                     help="what the virtual patient does once the recording has begun (default: stand as the "
                          "subject says): alternating = the single-leg whole test, 5 s on both feet, then six 20 s "
                          "stances alternating right and left (right first) with 8 s on both feet after each (173 s)")
    p.set_defaults(func=run)


def _say(msg: str) -> None:
    print(f"station: {msg}", file=sys.stderr, flush=True)


def recover_unfinished(journals: Path) -> list[tuple[Path, Path, int]]:
    """Recover every unlocked journal in ``journals``; return (journal, trial path, frames) triples."""
    from station.board.journal import header_of, recover_unfinished as recover_all
    from station.board.trialfile import TRIAL_SUFFIX, write_trial

    def deliver(jpath: Path, trial):
        header = header_of(jpath)
        wanted = (header.get("meta") or {}).get("out_path")
        target = Path(wanted) if wanted else journals / (jpath.stem + TRIAL_SUFFIX)
        if target.exists() or not target.parent.is_dir():
            base = target if target.parent.is_dir() else journals / target.name
            stem = base.name[: -len(TRIAL_SUFFIX)] if base.name.endswith(TRIAL_SUFFIX) else base.name
            target = base.with_name(f"{stem}.recovered{TRIAL_SUFFIX}")
            k = 2
            while target.exists():
                target = base.with_name(f"{stem}.recovered-{k}{TRIAL_SUFFIX}")
                k += 1
        write_trial(target, trial, force=False)
        damaged = trial.quality.get("journal_damaged_bytes")
        _say(f"recovered an unfinished recording ({trial.n_frames} frames, {trial.duration_s:.2f} s) into {target}"
             + (f"; {damaged} damaged journal bytes were skipped ({trial.quality['lost']} frames lost)" if damaged else ""))
        return jpath, target, trial.n_frames

    return recover_all(journals, deliver)


def _load_calibration(path: str, board_id: str | None) -> dict:
    try:
        from station.calibration import load_calibration
    except ImportError:  # pragma: no cover - the calibration package ships with the station
        load_calibration = None
    if load_calibration is not None:
        return load_calibration(path, board_id=board_id).to_dict()
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read the calibration {path}: {exc}.") from None


def _active_calibration(board_id: str, *, wii: bool = False) -> dict | None:
    """The board's active calibration (``station calibrate`` saved it), applied automatically; for a Wii
    Balance Board without one, the driver's 10 g units (untared)."""
    from station.calibration import active_calibration

    cal = active_calibration(board_id)
    if cal is None and wii:
        from station.calibration.wii import default_wii_calibration

        _say(f"Wii Balance Board {board_id} has no stored calibration: the trial carries the driver's 10 g units "
             "as forces (not tared: the empty board reads a few hundred grams per corner).")
        return default_wii_calibration(board_id).to_dict()
    if cal is None:
        _say(f"board {board_id} has no active calibration: the trial keeps raw counts only "
             "(analyse it later with a calibration, or run `station calibrate`).")
        return None
    _say(f"applying board {board_id}'s active calibration of {cal.created[:10]}.")
    return cal.to_dict()


#: how the summary line names each cell problem after the cell
_CELL_STATE = {"cell_dead": "dead", "cell_saturated": "saturated", "cell_timeout": "timed out"}


def summary_line(out: Path, q: dict, problems: list[dict] | None = None) -> str:
    """One line: frames, duration, rate, every loss counted, and the cells that are not healthy, by name."""
    from station.core.health import cell_words

    cells = [f"{cell_words(p['cell'])} ({p['cell']}) {_CELL_STATE[p['code']]}"
             for p in problems or [] if p.get("code") in _CELL_STATE]
    return (f"{out}: {q['frames']} frames, {q['duration_s']:.2f} s at {q['effective_rate_hz']:.2f} Hz; "
            f"lost {q['lost']}, CRC errors {q['crc_errors']}, resyncs {q['resyncs']}, gaps {q['gaps']}"
            + (f" ({q['gap_s']:.2f} s, {q['lost_in_gaps']} frames)" if q["gaps"] else "")
            + f", missed conversions {q['missed_conversions']}, jitter {q['jitter_ms']:.3f} ms"
            + (f", rejected {q['implausible_frames']} implausible frame(s)" if q.get("implausible_frames") else "")
            + (f"; CELL PROBLEM: {', '.join(cells)}" if cells else "")
            + (f"; FAILED: {q['failed_code']}" if q.get("failed") else ""))


def _sim_source(args):
    """The in-process virtual board of ``--sim`` (not real-time: the recording takes what the CPU needs).

    With ``--scenario`` the board is paced: it stands still until the recording has begun, so the scenario
    starts with the recording's first frame and a seed always gives the same recording.
    """
    from station.board.virtual import Subject

    subject = Subject.resolve(args.subject)
    paced = args.scenario is not None
    if paced:  # on both feet from the start; the scenario itself follows when recording begins
        from station.assessment.virtual_session import PacedTransport, PacedWiiDevice
        from station.board.virtual.scenes import scenario_named

        subject = scenario_named(args.scenario, subject).scenes[0].subject
    if args.board == "wii":
        from station.board.virtual.wii import VirtualWiiBoard, VirtualWiiSource, virtual_wii_source

        if paced:
            board = VirtualWiiBoard(seed=args.seed, subject=subject, record_truth=False)
            return VirtualWiiSource(PacedWiiDevice(board, chunk_s=0.05))
        return virtual_wii_source(seed=args.seed, subject=subject, chunk_s=0.05)
    from station.board.virtual import VirtualBoard, VirtualTransport

    board = VirtualBoard(seed=args.seed, subject=subject, record_truth=False)
    return PacedTransport(board, chunk_s=0.05) if paced else VirtualTransport(board, realtime=False)


def _follow_scenario(source, args) -> None:
    """The virtual board follows ``--scenario`` from its present board time (the recording has begun)."""
    from station.board.virtual import Subject
    from station.board.virtual.scenes import scenario_named

    pacer = getattr(source, "device", source)  # the paced transport or Wii device of _sim_source
    board = source.board
    with pacer.cond:
        plan = scenario_named(args.scenario, Subject.resolve(args.subject), start_s=board.time_s)
        board.follow(plan)
        pacer.lockstep_s = math.inf  # from the recording's first frame on, the board runs as fast as the CPU allows
    _say(f"virtual patient: scenario {args.scenario}, {len(plan.stances)} single-leg stances "
         f"({', '.join(plan.sides)}) over {plan.end_s - plan.scenes[0].start_s:g} s"
         + (f"; --seconds {args.seconds:g} ends the recording before the scenario does"
            if args.seconds < plan.end_s - plan.scenes[0].start_s else ""))


def run(args) -> int:
    from station.board.acquisition import Acquisition, LinkState
    from station.board.journal import journal_dir
    from station.board.trialfile import write_trial
    from station.board.wii import WiiBalanceBoardSource, source_for_port

    journals = journal_dir()
    recovered = recover_unfinished(journals)
    if args.port is None and not args.sim and args.seconds is None and args.out is None:
        if not args.recover:
            raise StationError("record needs --port DEV --seconds S --out FILE (or --recover alone).")
        if not recovered:
            _say("no unfinished recordings to recover.")
        return 0
    missing = [name for name in ("port", "seconds", "out") if getattr(args, name) is None
               and not (name == "port" and args.sim)]
    if missing:
        raise StationError(f"record needs {', '.join('--' + m for m in missing)} as well.")
    if not args.seconds > 0:
        raise StationError(f"--seconds must be positive (got {args.seconds:g}).")
    if args.scenario is not None and not args.sim:
        raise StationError("--scenario tells the virtual patient what to do; it needs --sim.")
    out = Path(args.out)
    if out.is_dir():
        raise InputFileError(f"--out {out} is a directory; give a file name such as {out / 'trial.trial'}.")
    if not out.parent.exists():
        raise InputFileError(f"cannot write {out}: the folder {out.parent} does not exist.")
    from station.privatefiles import refuse_existing

    refuse_existing(out, force=args.force)  # before the board is opened, not after the recording
    calibration = _load_calibration(args.calibration, None) if args.calibration else None

    source = _sim_source(args) if args.sim else source_for_port(args.port, baudrate=args.baud)
    acq = Acquisition(source, reconnect_timeout_s=30.0)
    info = acq.start()
    where = args.port or source.name
    if info.board_id == 0xFFFFFFFF:
        _say(f"warning: the board on {where} has no id (FFFFFFFF): no calibration can be stored for it; "
             "give it one with `station board set-id HEX --port DEV`.")
    interrupted = False
    journal = journals / f"record-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.journal"
    try:
        if args.calibration:
            calibration = _load_calibration(args.calibration, info.board_id_hex)
        else:
            calibration = _active_calibration(info.board_id_hex, wii=isinstance(source, WiiBalanceBoardSource))
        acq.begin_recording(journal, {"out_path": str(out.resolve()), "seconds": args.seconds},
                            calibration=calibration)
        _say(f"recording {args.seconds:g} s from board {info.board_id_hex} ({info.adc_kind}, "
             f"{info.nominal_rate_hz} Hz) on {where}")
        if args.scenario is not None:
            _follow_scenario(source, args)
        wall_limit = time.monotonic() + args.seconds * 1.5 + 35.0
        tty = sys.stderr.isatty()
        next_report = time.monotonic() + (1.0 if tty else 5.0)
        try:
            while acq.recording_duration_s < args.seconds:
                if acq.state.ended or time.monotonic() > wall_limit:
                    break
                time.sleep(0.05)
                if time.monotonic() >= next_report:
                    q = acq.quality
                    line = (f"recording {min(acq.recording_duration_s, args.seconds):5.1f}/{args.seconds:g} s, "
                            f"{acq.recording_frames} frames, lost {q['lost']}, CRC errors {q['crc_errors']}"
                            + (" [board disconnected, waiting]" if acq.state == LinkState.RECONNECTING else ""))
                    print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
                    next_report = time.monotonic() + (1.0 if tty else 5.0)
        except KeyboardInterrupt:
            interrupted = True
        if tty:
            print(file=sys.stderr)
        # Board time covered, gaps included (a disconnect may straddle the end).
        complete = acq.recording_duration_s >= args.seconds
        trial = acq.end_recording(duration_s=args.seconds)
    finally:
        acq.stop()
    write_trial(out, trial, force=args.force)
    try:
        journal.unlink()
    except FileNotFoundError:
        pass
    from station.core.health import trial_problems

    problems = trial_problems(trial)
    print(summary_line(out, trial.quality, problems))
    for problem in problems:
        if not problem["code"].startswith("link_"):  # (said below, with the failure)
            _say(f"warning: {problem['message']}")
    if trial.quality.get("failed"):
        _say(f"the recording failed after {trial.duration_s:.2f} s: {trial.quality['failed']} "
             f"The trial is in {out}, marked failed.")
        return 1
    if interrupted:
        _say("interrupted: the trial holds what was recorded so far.")
        return 130
    if not complete:
        reason = f" ({acq.error})" if acq.error else ""
        _say(f"the recording ended early after {trial.duration_s:.2f} s of {args.seconds:g} s{reason}; "
             f"what was recorded is in {out}.")
        return 1
    return 0
