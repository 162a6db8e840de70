"""Recordings from the virtual board with their ground truth: the builders the core, reader and assessment tests share.

``record``: one scene (a subject for some seconds, then optionally another, then off the board).
``whole_test``: a whole test in one recording.

A virtual patient stands on both feet, then on one leg for ``stance_s``, both feet again for
``bipedal_s``, the other leg, ... The board's raw counts go through an oracle calibration (its hidden
gains and offsets: noise, creep and drift included), so only what reads the recording is under test.
Files are written in the layouts a clinic would bring: a corner-force CSV table, or a Wii Balance Board
recorder file (corner forces on the Wii geometry, about 40 Hz with jitter, time in milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import station.board.virtual as virtual
from station.board.virtual import scenes
from station.board.protocol import CMD_START, encode_command
from station.core.cop import cop_from_forces, default_threshold_n
from station.core.recording import corner_forces

RATE_HZ = 80.0
#: the half-way point of the virtual patient's 0.6 s change of stance follows the scene command by this
RAMP_HALF_S = 0.3


def oracle_series(truth, *, threshold_n: float):
    """Forces (n, 4), total, ML and AP COP of a ground truth's raw counts through the board's hidden calibration."""
    gains = np.asarray(truth.meta["gains_counts_per_n"])
    offsets = np.asarray(truth.meta["offsets_counts"])
    forces = (truth.counts - offsets) / gains
    ml, ap, total = cop_from_forces(forces, np.asarray(truth.meta["positions_mm"]), threshold_n=threshold_n)
    return forces, total, ml, ap


def record(subject, *, seed, on_s=1.5, seconds=30.0, off_s=None, then=None, then_s=0.0, threshold_n=None):
    """Record ``subject`` for ``seconds`` (then ``then`` for ``then_s``, then off the board for ``off_s``).

    Returns ``(truth, total_n, cop_ml_mm, cop_ap_mm)``, gated at 20 % of the subject's weight unless
    ``threshold_n`` is given.
    """
    vb = virtual.VirtualBoard(seed=seed, rate_hz=RATE_HZ)
    vb.write(encode_command(CMD_START))
    vb.advance(on_s)
    vb.set_subject(subject)
    vb.advance(seconds)
    if then is not None:
        vb.set_subject(then)
        vb.advance(then_s)
    if off_s is not None:
        vb.set_subject(None)
        vb.advance(off_s)
    truth = vb.truth
    gate = default_threshold_n(subject.body_mass_kg) if threshold_n is None else threshold_n
    _, total, ml, ap = oracle_series(truth, threshold_n=gate)
    assert np.allclose(np.diff(truth.t_s), 1 / RATE_HZ)
    return truth, total, ml, ap


def truth_trial(tr, *, meta: dict, calibrated: bool = True):
    """The trial file of a ground truth's frames (as the board sent them) and the board's oracle calibration.

    Returns ``(TrialFile, Calibration)``; the trial carries the calibration when ``calibrated``.
    """
    from station.board.protocol import FRAME_DTYPE
    from station.board.trialfile import TrialFile
    from station.calibration import Calibration, load_geometry

    frames = np.zeros(len(tr), dtype=FRAME_DTYPE)
    for name in ("seq", "t_us", "counts", "status", "missed"):
        frames[name] = getattr(tr, name)
    cal = Calibration(board_id=tr.meta["board_id"], geometry=load_geometry("reference-400x300"),
                      offsets_counts=tr.meta["offsets_counts"], gains_n_per_count=1.0 / np.asarray(tr.meta["gains_counts_per_n"]))
    trial = TrialFile(frames=frames, device_time_s=tr.t_s - tr.t_s[0], host_time_s=tr.t_s + 1.7e9,
                      board={"board_id": tr.meta["board_id"], "nominal_rate_hz": RATE_HZ}, quality={"frames": len(tr), "lost": 0},
                      calibration=cal.to_dict() if calibrated else None, meta=meta)
    return trial, cal


def virtual_trial(subject_name: str, *, seconds: float, meta: dict, seed: int = 0, calibrated: bool = True,
                  replace: dict | None = None):
    """A trial file of one virtual-board recording (1 s empty board, then the subject) and its oracle calibration.

    Returns ``(TrialFile, truth, Calibration)``; the trial carries the calibration when ``calibrated``.
    """
    vb = virtual.VirtualBoard(seed=seed, rate_hz=RATE_HZ)
    vb.write(encode_command(CMD_START))
    vb.advance(1.0)
    vb.set_subject(virtual.Subject.named(subject_name).replace(**(replace or {})))
    vb.advance(seconds)
    trial, cal = truth_trial(vb.truth, meta=meta, calibrated=calibrated)
    return trial, vb.truth, cal


def event_times(truth, kind) -> np.ndarray:
    """Times (s) of the ground truth's events of one kind."""
    return np.array([e["t_s"] for e in truth.events if e["kind"] == kind])


@dataclass
class WholeTest:
    """A whole-test recording and its truth: ``stances`` as ``(start_s, end_s, side)`` of the scene commands."""

    t_s: np.ndarray
    forces_n: np.ndarray
    positions_mm: np.ndarray
    total_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray
    stances: list
    truth: object

    @property
    def board_size(self) -> str:
        p = self.positions_mm
        return f"{p[1, 0] - p[0, 0]:g}x{p[0, 1] - p[2, 1]:g}"


def whole_test(subject: virtual.Subject, *, sides=("right", "left") * 3, stance_s: float = 20.0, bipedal_s: float = 8.0,
               lead_s: float = 5.0, seed: int = 0, task: str = "single_leg", rdl_reps: int = 6) -> WholeTest:
    """Record a whole test (:func:`station.board.virtual.scenes.whole_test`) on the virtual board, after 1 s empty."""
    plan = scenes.whole_test(subject, sides=sides, stance_s=stance_s, bipedal_s=bipedal_s, lead_s=lead_s, start_s=1.0,
                             task=task, rdl_reps=rdl_reps)
    vb = virtual.VirtualBoard(seed=seed, rate_hz=RATE_HZ)
    vb.write(encode_command(CMD_START))
    vb.follow(plan)
    vb.advance(plan.end_s)
    truth = vb.truth
    forces, total, ml, ap = oracle_series(truth, threshold_n=100.0)
    return WholeTest(np.asarray(truth.t_s), forces, np.asarray(truth.meta["positions_mm"]), total, ml, ap, plan.stances, truth)


def write_corner_table(rec: WholeTest, path) -> str:
    """The recording as a corner-force CSV table; returns the ``--board-size`` it needs."""
    rows = np.column_stack([rec.t_s - rec.t_s[0], rec.forces_n])
    np.savetxt(path, rows, delimiter=",", fmt="%.6f", header="t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n", comments="")
    return rec.board_size


#: Wii Balance Board sensor spacing (mm), ML x AP
WII_SPACING_MM = (433.0, 238.0)


def write_wii_recorder(rec: WholeTest, path, *, seed: int = 0, rate_hz: float = 40.0, jitter_ms: float = 5.0) -> np.ndarray:
    """The recording as a Wii Balance Board recorder file (tab separated, ~40 Hz with jitter, time in ms).

    Returns the sample times (s, from the recording's start) written to the file.
    """
    rng = np.random.default_rng(seed)
    span = rec.t_s[-1] - rec.t_s[0]
    steps = 1.0 / rate_hz + rng.uniform(-jitter_ms, jitter_ms, int(span * rate_hz) + 10) * 1e-3
    t = np.cumsum(steps)
    t = t[t < span - 0.05]
    t0 = rec.t_s - rec.t_s[0]
    total = np.interp(t, t0, rec.total_n)
    ml = np.interp(t, t0, np.nan_to_num(rec.cop_ml_mm))
    ap = np.interp(t, t0, np.nan_to_num(rec.cop_ap_mm))
    corners = corner_forces(total, ml, ap, width_mm=WII_SPACING_MM[0], length_mm=WII_SPACING_MM[1])
    fl, fr, bl, br = corners.T
    header = "Time\tCpX\tCpY\tBottomLeft\tBottomRight\tTopLeft\tTopRight\tWeight\tRAWBottomLeft\tRAWBottomRight\tRAWTopLeft\tRAWTopRight"
    lines = [header]
    for k in range(t.size):
        raw = [int(v * 10) for v in (bl[k], br[k], fl[k], fr[k])]
        lines.append("\t".join([f"{t[k] * 1e3:.0f}", f"{ml[k] / 10:.3f}", f"{ap[k] / 10:.3f}", f"{bl[k]:.3f}", f"{br[k]:.3f}",
                                f"{fl[k]:.3f}", f"{fr[k]:.3f}", f"{total[k]:.3f}"] + [str(r) for r in raw]))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return np.round(t * 1e3) / 1e3
