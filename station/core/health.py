"""Cell health, calibration fit and recording quality: problems that make a trial's numbers untrustworthy.

Each function takes arrays (and plain dicts) and returns a list of problems
``{"code": str, "message": str, ...}``; ``cell`` is ``"fl"|"fr"|"bl"|"br"`` for a per-cell problem and
the message names it in words ("front-right cell"). The pipeline puts them in
``AnalysisResult.problems``; ``station analyze --json`` prints them under ``"problems"``; an
assessment fails (and repeats) a trial that has any.

Limits (hardware/PROTOCOL.md, "What the host refuses to trust", states the same figures):

=========================  ===================================================================
code                        raised when
=========================  ===================================================================
``cell_timeout``            the cell's timeout status bit is set in more than 0.5 % of frames
``cell_saturated``          saturation bit, or a count within 16 counts of a 24-bit rail, in more
                            than 0.5 % of frames
``cell_dead``               the reading does not change for ``max(1 s, 8 frames)`` in a row (a live
                            HX711 never repeats one 24-bit value that long: its noise is tens of
                            counts), or sits at a rail without the saturation bit
``calibration_negative_cell``  a cell carries less than ``-max(15 N, 3 % of the total)`` in more
                            than 5 % of the samples while someone stands
``calibration_total_implausible``  the median total is outside 147-2452 N (15-250 kg)
``calibration_body_mass_mismatch``  the median total differs from body weight by more than
                            ``max(10 %, 5 kg)``; for a body mass rounded to a step (a pseudonymised
                            export: 5 kg) ``max(10 % of mass + step/2, 5 kg) + step/2``, so rounding
                            never fails a trial that fitted the true mass
``quality_frames_lost``     more than 1 % of the frames of the analysed window are missing
                            (sequence steps and disconnects)
``quality_gap``             a disconnect or reboot inside the analysed window
``quality_missed_conversions``  more than 1 % of the window's conversions were missed by the firmware
``quality_implausible_frames``  a frame that passed its CRC but could not be true was rejected
                            (severity ``warning``: the frame is refused and counted as lost, the
                            rest of the trial is sound)
``rate_low``                the effective rate is below half the nominal rate (an HX711 left at 10 SPS
                            on an 80 Hz board)
``link_board_changed``      a re-plug brought a board with another id: the recording ended, failed
``link_protocol_changed``   the board announced another protocol major mid-stream: the recording
                            ended, failed
=========================  ===================================================================

Every problem is an error (the trial fails and is repeated) unless it says ``"severity": "warning"``.
The prefixes ``cell_``, ``calibration_``, ``quality_``, ``link_`` and ``rate_`` are what the assessment
blocks on (``station.assessment.analysis``).
"""

from __future__ import annotations

import math

import numpy as np

from station.core.cop import G_N_PER_KG as G_M_S2  # the one gravity constant

#: position names in words, by cell key
CELL_WORDS = {"fl": "front-left", "fr": "front-right", "bl": "back-left", "br": "back-right"}
CELLS = ("fl", "fr", "bl", "br")
#: status byte layout (hardware/PROTOCOL.md): bit i saturated, bit 4+i timed out
_SATURATED_BIT = 0x01
_TIMEOUT_BIT = 0x10
_RAIL_MAX = (1 << 23) - 1
_RAIL_MIN = -(1 << 23)

#: documented limits (module docstring; hardware/PROTOCOL.md)
LIMITS = {
    "status_fraction": 0.005,
    "rail_margin_counts": 16,
    "flat_s": 1.0,
    "flat_min_frames": 8,
    "negative_n": 15.0,
    "negative_fraction_of_total": 0.03,
    "negative_share": 0.05,
    "total_min_n": 15.0 * G_M_S2,
    "total_max_n": 250.0 * G_M_S2,
    "body_mass_fraction": 0.10,
    "body_mass_kg": 5.0,
    "lost_fraction": 0.01,
    "missed_fraction": 0.01,
    "rate_fraction": 0.5,
}


def cell_words(cell: str) -> str:
    """``"fr"`` -> ``"front-right cell"``."""
    return f"{CELL_WORDS[cell]} cell"


def _problem(code: str, message: str, **extra) -> dict:
    return {"code": code, "message": message, **extra}


def _longest_constant_run(x: np.ndarray) -> tuple[int, int]:
    """(length, start index) of the longest run of identical consecutive values in ``x`` (n >= 1)."""
    change = np.flatnonzero(np.diff(x) != 0) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(x)]))
    lengths = ends - starts
    k = int(np.argmax(lengths))
    return int(lengths[k]), int(starts[k])


def cell_problems(counts, status, *, fs_hz: float, limits: dict | None = None) -> list[dict]:
    """Dead (flat or at a rail), saturated and timed-out cells, from the status bits and the signal.

    One problem at most per cell, the most specific first: a timed-out cell also repeats its last
    value (it is reported as timed out, not dead), a saturated one sits at the rail.

    Parameters
    ----------
    counts : ndarray (n, 4) int
        Raw counts fl, fr, bl, br.
    status : ndarray (n,) uint8, or None
        Per-frame status byte (hardware/PROTOCOL.md); None when the input has no status (CSV).
    fs_hz : float
        Frame rate (sets how long a flat stretch must last to count).
    limits : dict, optional
        Overrides of :data:`LIMITS`.

    Returns
    -------
    list of dict
        ``{"code": "cell_dead"|"cell_saturated"|"cell_timeout", "cell": "fr", "message": ...,
        "fraction": share of frames affected, "since_s": first affected second}``.
    """
    lim = {**LIMITS, **(limits or {})}
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != 4 or len(counts) < 2:
        return []
    n = len(counts)
    status = None if status is None else np.asarray(status, dtype=np.uint8).reshape(-1)
    if status is not None and len(status) != n:
        status = None
    fs = float(fs_hz) if fs_hz and math.isfinite(fs_hz) and fs_hz > 0 else 80.0
    margin = int(lim["rail_margin_counts"])
    flat_frames = max(int(round(lim["flat_s"] * fs)), int(lim["flat_min_frames"]))
    problems = []
    for i, cell in enumerate(CELLS):
        words = cell_words(cell)
        c = counts[:, i].astype(np.int64)
        if status is not None:
            timed_out = (status & (_TIMEOUT_BIT << i)) != 0
            share = float(timed_out.mean())
            if share > lim["status_fraction"]:
                since = int(np.argmax(timed_out)) / fs
                problems.append(_problem(
                    "cell_timeout",
                    f"the {words} ({cell}) timed out in {100 * share:.1f} % of the frames (from {since:.1f} s): its ADC "
                    "stopped answering, so its reading is stale. Check the cell's amplifier board and wiring.",
                    cell=cell, fraction=round(share, 4), since_s=round(since, 3)))
                continue
        at_rail = (c >= _RAIL_MAX - margin) | (c <= _RAIL_MIN + margin)
        flagged = at_rail | ((status & (_SATURATED_BIT << i)) != 0 if status is not None else False)
        share = float(np.mean(flagged))
        if share > lim["status_fraction"]:
            since = int(np.argmax(flagged)) / fs
            bit = status is not None and bool(np.any(status & (_SATURATED_BIT << i)))
            if bit or not np.all(at_rail):
                problems.append(_problem(
                    "cell_saturated",
                    f"the {words} ({cell}) is saturated in {100 * share:.1f} % of the frames (from {since:.1f} s): its "
                    "reading is pinned at the end of the ADC range, so forces and COP are wrong. Check the cell's wiring "
                    "or whether it is overloaded.",
                    cell=cell, fraction=round(share, 4), since_s=round(since, 3)))
                continue
            problems.append(_problem(
                "cell_dead",
                f"the {words} ({cell}) is dead: it reads the end of the ADC range throughout with no saturation flag "
                "(a broken signal wire or a missing amplifier). Check its cable and connector.",
                cell=cell, fraction=round(share, 4), since_s=round(since, 3)))
            continue
        run, start = _longest_constant_run(c)
        if run >= flat_frames:
            problems.append(_problem(
                "cell_dead",
                f"the {words} ({cell}) is dead: its reading stayed at exactly {int(c[start])} counts for "
                f"{run / fs:.1f} s (from {start / fs:.1f} s) with no noise at all, so it measures nothing. "
                "Check its cable and connector.",
                cell=cell, fraction=round(run / n, 4), since_s=round(start / fs, 3)))
    return problems


def calibration_problems(forces_n, *, body_mass_kg: float | None, body_mass_step_kg: float = 0.0,
                         limits: dict | None = None) -> list[dict]:
    """A calibration that does not fit the board: negative cells, implausible totals, body-mass mismatch.

    Parameters
    ----------
    forces_n : ndarray (n, 4)
        Calibrated per-cell forces (N) while someone stands (the analysed window).
    body_mass_kg : float or None
        The patient's body mass; None skips the body-mass comparison.
    body_mass_step_kg : float, keyword-only
        The step ``body_mass_kg`` was rounded to (5 kg in a pseudonymised export, 0 when exact): the
        body-mass tolerance is that of the heaviest true mass it can stand for plus half a step, so
        rounding never makes a trial that fitted its true mass fail.
    limits : dict, optional
        Overrides of :data:`LIMITS`.

    Returns
    -------
    list of dict
        ``calibration_negative_cell`` (with ``cell``, ``force_n``), ``calibration_total_implausible``
        and ``calibration_body_mass_mismatch`` (with ``total_n``, ``expected_n``).
    """
    lim = {**LIMITS, **(limits or {})}
    f = np.asarray(forces_n, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] != 4:
        return []
    f = f[np.all(np.isfinite(f), axis=1)]
    if len(f) == 0:
        return []
    total = f.sum(axis=1)
    # the standing level: the median, since touchdowns of the free foot unload the board for a second or two
    # (a mean over a single-leg trial with two touchdowns reads ~10 % light) and an RDL modulates it by ~15 %
    mean_total = float(np.median(total))
    problems = []
    tol = np.maximum(lim["negative_n"], lim["negative_fraction_of_total"] * np.abs(total))
    for i, cell in enumerate(CELLS):
        neg = f[:, i] < -tol
        if neg.mean() > lim["negative_share"]:
            typical = float(np.median(f[neg, i]))
            problems.append(_problem(
                "calibration_negative_cell",
                f"the {cell_words(cell)} ({cell}) reads {typical:.0f} N while someone stands on the board; a cell cannot "
                "pull, so the calibration does not fit this board (another board's calibration, or a tare taken with "
                "someone on it). Tare and calibrate this board again.",
                cell=cell, force_n=round(typical, 1), fraction=round(float(neg.mean()), 4)))
    lo, hi = lim["total_min_n"], lim["total_max_n"]
    if not lo <= mean_total <= hi:
        problems.append(_problem(
            "calibration_total_implausible",
            f"the total force is {mean_total:.0f} N ({mean_total / G_M_S2:.0f} kg), outside a plausible person "
            f"({lo / G_M_S2:.0f}-{hi / G_M_S2:.0f} kg): the calibration does not fit this board, or nobody stood on it. "
            "Check that the calibration belongs to this board and calibrate again.",
            total_n=round(mean_total, 1)))
    if body_mass_kg is not None and math.isfinite(float(body_mass_kg)) and float(body_mass_kg) > 0:
        expected = float(body_mass_kg) * G_M_S2
        # a rounded body mass is within half a step of the true one: take the tolerance of the heaviest
        # true mass it can stand for, plus that half step, so every trial that fitted its true mass fits
        half_step_n = 0.5 * max(float(body_mass_step_kg or 0.0), 0.0) * G_M_S2
        tol_n = max(lim["body_mass_fraction"] * (expected + half_step_n), lim["body_mass_kg"] * G_M_S2) + half_step_n
        if abs(mean_total - expected) > tol_n:
            problems.append(_problem(
                "calibration_body_mass_mismatch",
                f"the board measured {mean_total / G_M_S2:.1f} kg for a patient of {float(body_mass_kg):.1f} kg "
                f"(tolerance ±{tol_n / G_M_S2:.1f} kg): the calibration does not fit this board, or the body mass is "
                "wrong. Check both before trusting the results.",
                total_n=round(mean_total, 1), expected_n=round(expected, 1)))
    return problems


def _overlap_s(gaps, a: float, b: float) -> tuple[float, int]:
    """Total seconds of ``gaps`` inside [a, b] and how many gaps touch it."""
    total, k = 0.0, 0
    for g in gaps or []:
        g0, g1 = float(g[0]), float(g[1])
        lo, hi = max(g0, a), min(g1, b)
        if hi > lo or (a <= g0 <= b):
            total += max(0.0, hi - lo)
            k += 1
    return total, k


def quality_problems(quality: dict | None, gaps, *, window_s=None, nominal_rate_hz: float | None,
                     device_time_s=None, seq=None, missed=None, limits: dict | None = None) -> list[dict]:
    """Lost frames, gaps and missed conversions inside the analysed window, and a rate far below nominal.

    Parameters
    ----------
    quality : dict or None
        The trial's quality block (:mod:`station.board.quality`); used when per-frame arrays are absent.
    gaps : list of [t_start_s, t_end_s]
        Disconnects and reboots in the ``device_time_s`` time base.
    window_s : (start_s, end_s) or None
        The analysed window (device time); None = the whole trial.
    nominal_rate_hz : float or None
        The board's nominal rate; None skips ``rate_low``.
    device_time_s, seq, missed : ndarray (n,), optional
        Per-frame device time, u16 sequence number and missed-conversion count: with them the loss,
        missed conversions and effective rate are counted inside the window exactly.
    limits : dict, optional
        Overrides of :data:`LIMITS`.

    Returns
    -------
    list of dict
        ``link_board_changed`` / ``link_protocol_changed`` (the recording ended as failed: its quality
        block carries ``failed``), ``quality_frames_lost``, ``quality_gap``, ``quality_missed_conversions``,
        ``quality_implausible_frames`` (a warning), ``rate_low``.
    """
    lim = {**LIMITS, **(limits or {})}
    q = quality if isinstance(quality, dict) else {}
    problems = []
    if q.get("failed"):
        code = str(q.get("failed_code") or "failed")
        problems.append(_problem(code if code.startswith("link_") else f"link_{code}", str(q["failed"])))
    t = None if device_time_s is None else np.asarray(device_time_s, dtype=np.float64).reshape(-1)
    if t is not None and len(t):
        a, b = (float(t[0]), float(t[-1])) if window_s is None else (float(window_s[0]), float(window_s[1]))
        inside = (t >= a) & (t <= b)
        received = int(inside.sum())
        lost = 0
        if seq is not None and received > 1:
            s = np.asarray(seq, dtype=np.int64).reshape(-1)[inside]
            step = np.diff(s) % 65536
            gap_step = np.zeros(len(step), dtype=bool)
            for g in gaps or []:
                gap_step |= (t[inside][:-1] <= float(g[0]) + 1e-9) & (t[inside][1:] >= float(g[1]) - 1e-9)
            ok = (step > 0) & (step < 4096) & ~gap_step
            lost = int(np.sum(step[ok] - 1))
        gap_s, n_gaps = _overlap_s(gaps, a, b)
        rate = float(nominal_rate_hz) if nominal_rate_hz else (float(q.get("effective_rate_hz") or 0.0))
        lost_in_gaps = int(round(gap_s * rate)) if rate > 0 else 0
        expected = received + lost + lost_in_gaps
        span = max(b - a - gap_s, 0.0)
        eff_rate = (received - 1) / span if span > 0 and received > 1 else 0.0
        n_missed = int(np.asarray(missed, dtype=np.int64).reshape(-1)[inside].sum()) if missed is not None else None
    else:
        window_len = (float(window_s[1]) - float(window_s[0])) if window_s is not None else float(q.get("duration_s") or 0.0)
        a, b = (float(window_s[0]), float(window_s[1])) if window_s is not None else (0.0, window_len)
        gap_s, n_gaps = _overlap_s(gaps, a, b)
        received = int(q.get("frames") or 0)
        lost = int(q.get("lost") or 0)
        lost_in_gaps = int(q.get("lost_in_gaps") or 0)
        expected = received + lost + lost_in_gaps
        eff_rate = float(q.get("effective_rate_hz") or 0.0)
        n_missed = int(q["missed_conversions"]) if q.get("missed_conversions") is not None else None
    where = "inside the analysed window" if window_s is not None else "in the trial"
    if expected > 0:
        share = (lost + lost_in_gaps) / expected
        if share > lim["lost_fraction"]:
            problems.append(_problem(
                "quality_frames_lost",
                f"{lost + lost_in_gaps} of {expected} frames ({100 * share:.1f} %) were lost {where} (limit "
                f"{100 * lim['lost_fraction']:g} %): the link dropped data, so the metrics would rest on an incomplete "
                "recording. Repeat the trial (check the USB cable and port).",
                lost=int(lost + lost_in_gaps), expected=int(expected), fraction=round(share, 4)))
    if n_gaps:
        problems.append(_problem(
            "quality_gap",
            f"the board was disconnected or restarted {n_gaps} time(s) {where} ({gap_s:.2f} s missing): repeat the trial.",
            gaps=int(n_gaps), gap_s=round(gap_s, 3)))
    if n_missed is not None and received > 0:
        share = n_missed / (received + n_missed)
        if share > lim["missed_fraction"]:
            problems.append(_problem(
                "quality_missed_conversions",
                f"the firmware missed {n_missed} ADC conversions {where} ({100 * share:.1f} %, limit "
                f"{100 * lim['missed_fraction']:g} %): samples are unevenly spaced. Repeat the trial; if it recurs, "
                "check the ADC wiring.",
                missed=int(n_missed), fraction=round(share, 4)))
    implausible = int(q.get("implausible_frames") or 0)
    if implausible:
        problems.append(_problem(
            "quality_implausible_frames",
            f"{implausible} frame(s) passed their checksum but could not be true (counts outside the 24-bit range, or "
            "a clock step that disagrees with the sequence number) and were rejected: the link is damaging data.",
            frames=implausible, severity="warning"))
    if nominal_rate_hz and eff_rate > 0 and eff_rate < lim["rate_fraction"] * float(nominal_rate_hz):
        problems.append(_problem(
            "rate_low",
            f"the board delivered {eff_rate:.1f} frames/s against its nominal {float(nominal_rate_hz):g} Hz (limit "
            f"{100 * lim['rate_fraction']:g} % of nominal): an ADC is running at its slow rate (an HX711 with RATE "
            "tied low gives 10 SPS). Fix the board before assessing.",
            effective_rate_hz=round(eff_rate, 3), nominal_rate_hz=float(nominal_rate_hz)))
    return problems


def trial_problems(trial, *, forces_n=None, body_mass_kg: float | None = None, window_s=None) -> list[dict]:
    """Every problem of a recorded trial (a :class:`~station.board.trialfile.TrialFile`-like object).

    Cells (status bits and signal, whole trial), recording quality inside ``window_s``, and, when
    ``forces_n`` (the analysed window's calibrated forces) is given, the calibration fit; plus the
    link-identity failure a recording stored in its quality block (``quality["failed"]``).

    Parameters
    ----------
    trial : object with ``frames`` (FRAME_DTYPE), ``device_time_s``, ``quality``, ``gaps``, ``board``
    forces_n : ndarray (n, 4), optional
    body_mass_kg : float, optional
    window_s : (start_s, end_s), optional
    """
    frames = trial.frames
    t = np.asarray(trial.device_time_s, dtype=np.float64)
    board = trial.board if isinstance(trial.board, dict) else {}
    nominal = board.get("nominal_rate_hz")
    fs = float(nominal) if nominal else (float((trial.quality or {}).get("effective_rate_hz") or 0) or 80.0)
    counts, status = frames["counts"], frames["status"]
    if window_s is not None and len(t):
        keep = (t >= float(window_s[0])) & (t <= float(window_s[1]))
        counts, status = counts[keep], status[keep]
    recording = quality_problems(trial.quality, trial.gaps, window_s=window_s, nominal_rate_hz=nominal,
                                 device_time_s=t, seq=frames["seq"], missed=frames["missed"])
    link = [p for p in recording if p["code"].startswith("link_")]
    problems = link + cell_problems(counts, status, fs_hz=fs) + [p for p in recording if p not in link]
    if forces_n is not None:
        problems += calibration_problems(forces_n, body_mass_kg=body_mass_kg)
    return problems
