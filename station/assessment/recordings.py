"""Recordings from other devices (or a whole test in one file) -> a stored assessment session.

``station assess --recording FILE [FILE ...]`` makes the same session a live protocol makes:

1. each file is read (:func:`station.readers.read_recordings`: one recording per trial block);
2. its single-leg stances (or RDL sets) are found with their leg (:mod:`station.core.segments`): the
   leg the file names (a KINVENT trial block), the plate that carries the load (two plates), or the side
   the COP moves to from bipedal stance (one plate). A stance whose leg cannot be told apart is not
   scored: :attr:`RecordingSession.skipped` says which and why, in one line each;
3. each stance becomes a trial: its samples (with up to :data:`LEAD_S` of the bipedal stance before the
   foot lift, so the stance start is found as in a live trial) are kept as raw data, forces stored in
   millinewtons with a calibration that says so (:func:`recording_calibration`), so every later
   re-analysis of the stored trial gives the stored metrics; its place in the source file
   (``meta["recording"]``: file, trial, start and end of the stance and the first stored sample, in the
   file's time) is kept. A whole test the station recorded itself (a trial file) keeps its own frames,
   raw counts and calibration (:class:`StationRecording`);
4. each trial is analysed through the one analysis path (:func:`station.core.pipeline.analyze_trial`)
   and scored with the live session's rules (:func:`station.assessment.scoring.score_session`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from station.assessment import scoring
from station.assessment.analysis import BLOCKING_PREFIXES
from station.core.pipeline import TrialProtocol, analyze_trial, rep_metrics
from station.core.recording import Recording, corner_forces, rectangle_positions_mm
from station.core.segments import Segment, find_stances, find_stances_two_plates
from station.errors import InputFileError, StationError

log = logging.getLogger(__name__)

#: forces are stored as integer millinewtons ("counts" of 1 mN)
COUNTS_PER_N = 1000.0
#: the source a stored recording's trial names (its ``name`` is the kind of file, e.g. "KINVENT export")
RECORDING_SOURCE_KIND = "recording"
RECORDING_VALUE_UNIT = "millinewtons"
#: bipedal stance kept before each foot lift (s)
LEAD_S = 2.0
#: a stance's trial ends this long before the touchdown found, so the touchdown stays out of the window
END_MARGIN_S = 0.3
#: the analysed window may end this much before the stance's end without failing the trial (s)
DURATION_SLACK_S = 1.0
#: the sensor rectangle COP-only and two-plate recordings are stored on (mm, ML x AP): wide enough for a
#: COP anywhere under either foot
STORED_PLATE_MM = (800.0, 800.0)
PROTOCOLS = ("single-leg", "rdl", "primer")


@dataclass
class RecordingSession:
    """What :func:`assess_recordings` stored.

    Attributes
    ----------
    session_id : int
    trials : list of dict
        Per stored trial: ``trial_id``, ``side``, ``task``, ``phase``, ``status``, ``reason``, ``recording``.
    skipped : list of str
        One line per stance found but not scored (legs not told apart, too short).
    scores : dict
    """

    session_id: int
    trials: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    scores: dict = field(default_factory=dict)


def recording_calibration(rec: Recording, positions_mm: np.ndarray, *, board_id: str):
    """The calibration of a recording's stored "counts": 1 count = 1 mN on each cell, no offset.

    The device calibrated its own forces; this only records how they were stored, so that the station's
    counts -> forces -> COP path gives them back.
    """
    from station.calibration.files import Calibration
    from station.calibration.geometry import BoardGeometry

    return Calibration(board_id=board_id, geometry=BoardGeometry(name=f"recording:{rec.kind}", positions_mm=positions_mm),
                       offsets_counts=np.zeros(4), gains_n_per_count=np.full(4, 1.0 / COUNTS_PER_N),
                       operator="station assess --recording",
                       protocol=f"forces as recorded by the device ({rec.kind}), stored in mN")


#: first hex digits of the board id given to a kind of recording (the station never talks to that device)
RECORDING_ID_PREFIX = "EE"


def board_id_of(rec: Recording) -> str:
    """A board id (8 hex digits) for a kind of recording: :data:`RECORDING_ID_PREFIX` + CRC-32 of its kind."""
    import zlib

    return f"{RECORDING_ID_PREFIX}{zlib.crc32(rec.kind.encode()) & 0xFFFFFF:06X}"


def corner_series(rec: Recording) -> tuple[np.ndarray, np.ndarray]:
    """``(forces_n (n, 4), positions_mm (4, 2))`` of a recording: its own corners, or a COP split onto
    a :data:`STORED_PLATE_MM` rectangle (:func:`station.core.recording.corner_forces`)."""
    if rec.forces_n is not None:
        return np.asarray(rec.forces_n, dtype=np.float64), np.asarray(rec.quality["positions_mm"], dtype=np.float64)
    if rec.feet is not None:
        from station.core.twoplate import net_cop

        left, right = rec.feet["left"], rec.feet["right"]
        ml, ap, total = net_cop(left.fz_n, left.cop_ml_mm, left.cop_ap_mm, right.fz_n, right.cop_ml_mm, right.cop_ap_mm,
                                threshold_n=1.0)
    elif rec.fz_n is not None:
        total, ml, ap = np.asarray(rec.fz_n, float), np.asarray(rec.cop_ml_mm, float), np.asarray(rec.cop_ap_mm, float)
    else:
        raise InputFileError(f"{rec.input}: a COP without forces cannot be assessed (the load decides where a stance "
                             "starts and ends): it needs corner forces, plate forces or the load.")
    w, l_ = STORED_PLATE_MM
    try:
        forces = corner_forces(total, ml, ap, width_mm=w, length_mm=l_)
    except ValueError as exc:
        raise InputFileError(f"{rec.input}: {exc}.") from None
    return forces, rectangle_positions_mm(w, l_)


def stances_of(rec: Recording, *, body_mass_kg: float | None) -> list[Segment]:
    """The single-leg stances of one recording with their legs."""
    t = np.asarray(rec.t_s, dtype=np.float64)
    if rec.side is not None:  # the file names the leg of the whole trial (a KINVENT block)
        return [Segment(float(t[0]), float(t[-1]), rec.side, f"the file says the {rec.side} leg", source="file")]
    if rec.feet is not None:
        return find_stances_two_plates(t, rec.feet["left"].fz_n, rec.feet["right"].fz_n, body_mass_kg=body_mass_kg)
    from station.core.cop import cop_from_forces

    forces, positions = corner_series(rec)
    ml, ap, total = cop_from_forces(forces, positions, threshold_n=1.0)
    return find_stances(t, total, ml, ap, body_mass_kg=body_mass_kg)


def segment_trialfile(rec: Recording, seg: Segment, *, forces_n, positions_mm, board_id: str, meta: dict):
    """The samples of one stance as a :class:`~station.board.trialfile.TrialFile` (forces in mN).

    Up to :data:`LEAD_S` of bipedal stance before the stance are kept (not for a trial the file itself
    names: it starts on one leg); the trial ends :data:`END_MARGIN_S` before the touchdown.
    """
    from station.board.protocol import FRAME_DTYPE
    from station.board.trialfile import TrialFile
    from station.readers.tables import timing_quality

    t = np.asarray(rec.t_s, dtype=np.float64)
    lead = 0.0 if seg.source == "file" else LEAD_S
    end = seg.end_s if seg.source == "file" else seg.end_s - END_MARGIN_S
    sel = (t >= seg.start_s - lead) & (t <= end)
    ts = t[sel]
    frames = np.zeros(ts.size, dtype=FRAME_DTYPE)
    frames["seq"] = np.arange(ts.size) & 0xFFFF
    frames["t_us"] = (np.round((ts - ts[0]) * 1e6).astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    frames["counts"] = np.round(np.asarray(forces_n)[sel] * COUNTS_PER_N).astype(np.int32)
    quality = timing_quality(ts)
    rate = quality["effective_rate_hz"]
    board = {"board_id": board_id, "adc_kind": "recording", "nominal_rate_hz": rate, "source": rec.kind,
             "geometry": {"sensors_mm": dict(zip(("fl", "fr", "bl", "br"), np.asarray(positions_mm).tolist()))}}
    quality.update(frames=int(ts.size), lost=0, crc_errors=0, resyncs=0, gaps=0, missed_conversions=0)
    source = {"kind": RECORDING_SOURCE_KIND, "name": rec.kind, "geometry": f"recording:{rec.kind}",
              "value_unit": RECORDING_VALUE_UNIT, "nominal_rate_hz": rate}
    return TrialFile(frames=frames, device_time_s=ts - ts[0], host_time_s=np.full(ts.size, np.nan), board=board,
                     quality=quality, meta=dict(meta, recording_t0_s=float(ts[0])), source=source)


class DeviceRecording:
    """A recording from another device: its stances are stored as forces in mN (:func:`segment_trialfile`)."""

    def __init__(self, rec: Recording):
        self.rec = rec
        self.forces_n, self.positions_mm = corner_series(rec)
        self.board_id = board_id_of(rec)

    def calibration(self):
        return recording_calibration(self.rec, self.positions_mm, board_id=self.board_id)

    def trial_of(self, seg: Segment, meta: dict):
        return segment_trialfile(self.rec, seg, forces_n=self.forces_n, positions_mm=self.positions_mm,
                                 board_id=self.board_id, meta=meta)


class StationRecording:
    """A whole test recorded by the station itself (a trial file from ``station record``, any source): its
    stances are stored as slices of the original frames, raw counts and calibration unchanged."""

    def __init__(self, path: Path, trial):
        from station.core.forces import CountsModel

        if trial.calibration is None:
            raise InputFileError(f"{path} was recorded without a calibration: its stances need forces (record it with "
                                 "--calibration, or calibrate the board and record again).")
        try:
            model = CountsModel.of(trial.calibration)
        except ValueError as exc:
            raise InputFileError(f"{path}: {exc}") from None
        t = np.asarray(trial.device_time_s, dtype=np.float64)
        self.trial = trial
        self.rec = Recording(input=str(path), kind="trial file", t_s=t, forces_n=model.forces_n(trial.counts),
                             quality={"positions_mm": model.positions_mm.tolist()})

    def calibration(self):
        return self.trial.calibration

    def trial_of(self, seg: Segment, meta: dict):
        from station.board.trialfile import TrialFile

        src = self.trial
        t = np.asarray(src.device_time_s, dtype=np.float64)
        sel = (t >= seg.start_s - LEAD_S) & (t <= seg.end_s - END_MARGIN_S)
        t0 = float(t[sel][0])
        gaps = [[g0 - t0, g1 - t0] for g0, g1 in (src.gaps or []) if t0 <= g0 <= float(t[sel][-1])]
        return TrialFile(frames=src.frames[sel], device_time_s=t[sel] - t0, host_time_s=np.asarray(src.host_time_s)[sel],
                         board=dict(src.board), quality=dict(src.quality), gaps=gaps, calibration=src.calibration,
                         meta={**{k: v for k, v in src.meta.items() if k != "analysis"}, **meta, "recording_t0_s": t0},
                         source=dict(src.source))


def origins_of(path: Path, *, board_size: str | None, threshold_n: float) -> list:
    """The recordings of one file, each as a :class:`DeviceRecording` or :class:`StationRecording`."""
    from station.readers import is_trial_file, read_recordings

    if is_trial_file(path):
        from station.board.trialfile import read_trial

        return [StationRecording(path, read_trial(path))]
    return [DeviceRecording(rec) for rec in read_recordings(path, board_size=board_size, threshold_n=threshold_n)]


def _status(res) -> tuple[str, str]:
    """"finished"/"failed" and the reason, by the live assessment's rules (blocking problems fail a trial)."""
    blocking = [p for p in res.problems if str(p.get("code", "")).startswith(BLOCKING_PREFIXES)
                and p.get("severity", "error") == "error"]
    if blocking:
        return "failed", str(blocking[0].get("message", "")).rstrip(".")
    if res.failure is not None:
        return "failed", (res.error or res.failure.value).rstrip(".")
    return "finished", ""


def file_plan(protocol: str, paths) -> list[tuple[str, str]]:
    """(task, phase) of each file's stances; refuses a missing file or too few files for the protocol.

    Raises
    ------
    StationError
        One line: which file, or what the protocol needs.
    """
    if protocol not in PROTOCOLS:
        raise StationError(f"Unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}.")
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"{p} does not exist." if not p.exists() else f"{p} is not a regular file.")
    n_files = len(paths)
    if protocol == "single-leg":
        return [("single_leg", "baseline")] * n_files
    if protocol == "rdl":
        return [("rdl", "baseline")] * n_files
    if n_files < 2:
        raise StationError("--protocol primer needs at least two recordings: the baseline stances first and the "
                           "post-primer stances last (primer RDL sets in between).")
    return [("single_leg", "baseline")] + [("rfe_rdl", "primer")] * (n_files - 2) + [("single_leg", "post_primer")]


def assess_recordings(store, paths, *, patient_id: int, protocol: str, body_mass_kg: float | None = None,
                      exclude_s: float = 5.0, reps: int = 10, operator: str = "", board_size: str | None = None,
                      say=None) -> RecordingSession:
    """Turn recordings into a stored, scored session (module docstring).

    Parameters
    ----------
    store : station.store.Store
    paths : list of str or Path
        The recordings, in order (primer: baseline first, post-primer last).
    patient_id : int, keyword-only
    protocol : {"single-leg", "rdl", "primer"}, keyword-only
    body_mass_kg : float, optional, keyword-only
        Sets the load gate and the standing load.
    exclude_s : float, keyword-only
        Settling time excluded at the start of each stance (s).
    reps : int, keyword-only
        RDL repetitions asked for per set.
    board_size : str, optional, keyword-only
        ``WxL`` (mm) for corner-force tables.
    say : callable(str), optional, keyword-only
        Receives one line per stance found (and per stance not scored).

    Raises
    ------
    StationError
        A file cannot be read, or no stance with a known leg was found in any of them.
    """
    from station.core.cop import default_threshold_n

    say = say or (lambda text: None)
    plan = file_plan(protocol, paths)
    found = []
    for path, (task, phase) in zip(paths, plan):
        p = Path(path)
        for origin in origins_of(p, board_size=board_size, threshold_n=default_threshold_n(body_mass_kg)):
            rec = origin.rec
            segs = stances_of(rec, body_mass_kg=body_mass_kg)
            if not segs:
                say(f"{p}: no single-leg stance found{f' in trial {rec.trial}' if rec.trial > 1 else ''}.")
            found += [(p, origin, seg, task, phase) for seg in segs]
    out_skipped = [f"{p}: {seg.start_s:.1f}-{seg.end_s:.1f} s: {seg.reason}." for p, _, seg, *_ in found if seg.side is None]
    usable = [f for f in found if f[2].side is not None]
    if not usable:
        raise StationError("No single-leg stance with a known leg was found in the recording(s)"
                           + (f": {out_skipped[0]}" if out_skipped else "."))
    first = usable[0][1]
    board = dict(first.trial.board) if isinstance(first, StationRecording) else \
        {"board_id": first.board_id, "adc_kind": "recording", "source": first.rec.kind}
    session_id = store.create_session(patient_id=patient_id, protocol=protocol,
                                      settings={"source": "recordings", "files": [str(p) for p in paths], "exclude_s": exclude_s,
                                                "reps": reps},
                                      board=board, operator=operator, notes="\n".join(out_skipped))
    session = RecordingSession(session_id, skipped=out_skipped)
    for line in out_skipped:
        say(f"not scored: {line}")
    calibration_ids: dict = {}
    final = "failed"
    try:
        for p, origin, seg, task, phase in usable:
            rec = origin.rec
            if id(origin) not in calibration_ids:  # the store keeps an identical calibration once
                calibration_ids[id(origin)] = store.add_calibration(origin.calibration())
            place = {"file": str(p), "kind": rec.kind, "trial": rec.trial, "start_s": seg.start_s, "end_s": seg.end_s,
                     "side_from": seg.source, "side_reason": seg.reason}
            condition = rec.condition or "eyes_open"
            session.trials.append(_store_trial(store, session_id, origin, seg, calibration_id=calibration_ids[id(origin)],
                                               task=task, phase=phase, condition=condition, place=place,
                                               body_mass_kg=body_mass_kg, exclude_s=exclude_s, reps=reps))
            t = session.trials[-1]
            say(f"{p}: {seg.start_s:.1f}-{seg.end_s:.1f} s, {seg.side} leg ({seg.reason}): {t['status']}"
                + (f" ({t['reason']})" if t["reason"] else ""))
        final = "finished"
    finally:
        scores = scoring.score_session(store.metrics_table(session_id))
        scores["minutes"] = sum(f[2].duration_s for f in usable) / 60.0
        session.scores = scores
        store.update_session(session_id, calibration_id=next(iter(calibration_ids.values()), None))
        store.finish_session(session_id, status=final, scores=scores)
    return session


def _store_trial(store, session_id: int, origin, seg: Segment, *, calibration_id: int, task: str, phase: str,
                 condition: str, place: dict, body_mass_kg, exclude_s: float, reps: int) -> dict:
    meta = {"recording": place, "side": seg.side, "task": task}
    if body_mass_kg:
        meta["body_mass_kg"] = float(body_mass_kg)
    trial = origin.trial_of(seg, meta)
    # where the stored samples begin in the file's time (the foot lift minus the bipedal lead-in)
    place = dict(place, first_sample_s=float(trial.meta["recording_t0_s"]))
    trial.meta["recording"] = place
    tid = store.add_trial(session_id, task=task, side=seg.side, phase=phase, condition=condition, status="running",
                          meta={"recording": place})
    cal = store.get_calibration(calibration_id)
    if task in ("rdl", "rfe_rdl"):
        protocol = TrialProtocol(task=task, side=seg.side, reps=int(reps))
    else:
        # a trial that starts on one leg has no bipedal stance to find the foot lift in: it is analysed
        # from its start (the stance start is the recording's), like any standing trial
        side = seg.side if seg.source != "file" else None
        protocol = TrialProtocol(task="single_leg", side=side, exclude_s=float(exclude_s))
    res = analyze_trial(trial, calibration=cal, body_mass_kg=body_mass_kg, protocol=protocol)
    status, reason = _status(res)
    metrics = dict(res.metrics)
    if protocol.is_rdl:
        reps_found = rep_metrics(res.reps)
        if status == "finished" and len(reps_found) < reps:
            status, reason = "failed", f"{len(reps_found)} of {reps} repetitions were recognised"
    else:
        reps_found = []
        if metrics:
            metrics["sway_index"] = scoring.sway_index(metrics)
            metrics["stability_score"] = scoring.stability_score(metrics["sway_index"])
    store.save_trial_data(tid, trial, calibration_id=calibration_id)
    w0, w1 = res.window_s
    store.update_trial(tid, status=status, reason=reason, events=res.events.as_dicts(),
                       window_start_s=float(w0) if math.isfinite(w0) else None,
                       window_end_s=float(w1) if math.isfinite(w1) else None)
    if metrics:
        store.set_metrics(tid, metrics)
    for k, rep in enumerate(reps_found, start=1):
        store.set_metrics(tid, rep, rep=k)
    return {"trial_id": tid, "side": seg.side, "task": task, "phase": phase, "status": status, "reason": reason,
            "recording": place}
