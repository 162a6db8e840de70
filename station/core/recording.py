"""A recording read from another device's file -> its metrics: the analysis of COP, corner-force and two-plate input.

The station's own trial files (raw counts) go through :func:`station.core.pipeline.analyze_trial`.
Files from other devices (CSV tables, C3D force platforms, KINVENT exports, Wii Balance Board recorder
files: the readers in :mod:`station.readers`) hold forces or a COP already; each trial of such a file is a
:class:`Recording` and :func:`analyze_recording` turns it into a report through the same load gate
(:func:`station.core.cop.cop_from_forces`, :func:`station.core.twoplate.net_cop`) and the same metric
suite (:func:`station.core.metrics.compute_metrics`) as a trial file.

A :class:`Recording` is arrays and labels, no file format: the readers fill it, this module analyses it,
``station analyze`` and ``station assess --recording`` print or store what comes out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from station.core.cop import cop_from_forces, default_threshold_n
from station.core.errors import SignalError
from station.core.metrics import compute_metrics, get_preset, prepare
from station.errors import InputFileError, StationError

log = logging.getLogger(__name__)

#: how irregular time stamps may be put on a uniform grid (``--resample``)
RESAMPLERS = ("linear", "swarii")


@dataclass
class Plate:
    """One plate (or one board) under one foot: vertical force and COP in the common frame.

    Attributes
    ----------
    fz_n : ndarray (n,)
        Vertical force on the plate (N).
    cop_ml_mm, cop_ap_mm : ndarray (n,)
        The plate's COP (mm), NaN where undefined (below its load gate).
    """

    fz_n: object
    cop_ml_mm: object
    cop_ap_mm: object


@dataclass
class Recording:
    """One trial read from a file, ready for :func:`analyze_recording`.

    Attributes
    ----------
    input : str
        The input as the user gave it (plus ``#plate<k>`` for one plate of a C3D file).
    kind : str
        "COP table", "corner-force table", "two-plate table", "C3D plate", "KINVENT export", ...
    t_s : ndarray (n,)
        Sample times (s), strictly increasing (irregular steps allowed).
    cop_ml_mm, cop_ap_mm : ndarray (n,) or None
        COP (mm); None for corner forces (computed with the cell positions) and two plates.
    forces_n : ndarray (n, 4) or None
        Corner forces fl, fr, bl, br (N), when the input has them (cell positions in
        ``quality["positions_mm"]``).
    feet : dict or None
        ``{"left": Plate, "right": Plate}`` for two plates, one under each foot.
    fz_n : ndarray (n,) or None
        Vertical force under a COP recording (N): samples below the load gate get no COP.
    quality : dict
        Timing figures and reader notes.
    trial : int
        1-based position of this trial in its file.
    side : {"left", "right"} or None
        Stance leg, when the file says it.
    condition : str or None
        ``"eyes_open"`` / ``"eyes_closed"`` when the file says it.
    vendor : dict or None
        The recording device's own metrics, as the file gives them (key: the vendor's label in
        snake case with its unit).
    """

    input: str
    kind: str
    t_s: object
    cop_ml_mm: object = None
    cop_ap_mm: object = None
    forces_n: object = None
    feet: dict | None = None
    fz_n: object = None
    quality: dict = field(default_factory=dict)
    trial: int = 1
    side: str | None = None
    condition: str | None = None
    vendor: dict | None = None

    @property
    def total_n(self):
        """Total vertical force (N) per sample, or None when the file has no force."""
        if self.feet is not None:
            return np.asarray(self.feet["left"].fz_n, float) + np.asarray(self.feet["right"].fz_n, float)
        if self.forces_n is not None:
            return np.asarray(self.forces_n, float).sum(axis=1)
        if self.fz_n is not None:
            return np.asarray(self.fz_n, float)
        return None


def recording_metrics(t, ml, ap, *, preset="clinical", resample: str = "linear", forces_n=None, where: str,
                      notes: list | None = None) -> dict:
    """Metrics of one COP series (:func:`station.core.metrics.compute_metrics`).

    ``resample="swarii"`` first puts the longest defined stretch on the preset's grid with SWARII
    (Audiffren & Contal 2016); the preset's own linear resampling then has nothing left to do.

    Parameters
    ----------
    t, ml, ap : ndarray (n,)
        Sample times (s) and COP (mm, NaN where undefined).
    preset : str, keyword-only
    resample : {"linear", "swarii"}, keyword-only
    forces_n : ndarray (n, k), optional, keyword-only
        Corner (or plate) forces carried to the force measures.
    where : str, keyword-only
        Names the input in an error message.
    notes : list, optional, keyword-only
        Receives the ``{"code", "message"}`` notes of measures left undefined on purpose.

    Raises
    ------
    InputFileError
        The series cannot be analysed (the message names ``where``).
    """
    if resample == "swarii" and get_preset(preset).name != "raw":
        from station.core.resample import effective_rate_hz
        from station.core.runs import longest_run
        from station.core.swarii import swarii_resample

        lo, hi = longest_run(np.isfinite(ml) & np.isfinite(ap))
        if hi - lo < 2:
            raise InputFileError(f"{where}: no centre of pressure to analyse.")
        cols = [ml[lo:hi], ap[lo:hi]] + ([] if forces_n is None else list(np.asarray(forces_n)[lo:hi].T))
        rate = get_preset(preset).grid_hz or effective_rate_hz(t[lo:hi])
        t, y = swarii_resample(t[lo:hi], np.column_stack(cols), fs_hz=rate)
        ml, ap = y[:, 0], y[:, 1]
        forces_n = None if forces_n is None else y[:, 2:]
    try:
        return compute_metrics(ml, ap, t_s=t, preset=preset, forces_n=forces_n, notes=notes)
    except StationError as exc:
        raise InputFileError(f"{where}: {exc}") from None


def analyze_recording(rec: Recording, *, preset="clinical", body_mass_kg: float | None = None,
                      resample: str = "linear") -> dict:
    """Report of one :class:`Recording`: metrics, quality, per-foot metrics of two plates.

    Parameters
    ----------
    rec : Recording
    preset : str, keyword-only
        "clinical" or "raw".
    body_mass_kg : float, optional, keyword-only
        Sets the load gate (20 % of body weight; 100 N when unknown).
    resample : {"linear", "swarii"}, keyword-only

    Returns
    -------
    dict
        ``{"input", "kind", "trial", "side", "preset", "fs_hz", "n_samples", "duration_s", "metrics",
        "quality", "problems", "notes"}`` plus ``condition`` and ``vendor`` when the file has them and
        ``feet`` / ``right_share_pct`` for two plates.

    Raises
    ------
    InputFileError
        The recording cannot be analysed (one line naming the input).
    """
    if resample not in RESAMPLERS:
        raise ValueError(f"resample must be one of {RESAMPLERS}, got {resample!r}.")
    t = np.asarray(rec.t_s, dtype=np.float64)
    quality = dict(rec.quality)
    threshold = default_threshold_n(body_mass_kg)
    forces = feet_report = None
    notes: list = []  # measures left undefined on purpose, with the reason (the per-foot ones name the foot)
    opts = {"preset": preset, "resample": resample}
    if rec.feet is not None:
        from station.core.twoplate import net_cop

        left, right = rec.feet["left"], rec.feet["right"]
        ml, ap, total = net_cop(left.fz_n, left.cop_ml_mm, left.cop_ap_mm, right.fz_n, right.cop_ml_mm, right.cop_ap_mm,
                                threshold_n=threshold)
        # the two plates enter force_measures as a board whose left / right cells are the plates
        forces = np.column_stack([left.fz_n, right.fz_n, np.zeros_like(t), np.zeros_like(t)])
        _gate_figures(quality, total, threshold)
        feet_report = {}
        for side, plate in rec.feet.items():
            try:
                foot_notes: list = []
                feet_report[side] = recording_metrics(t, plate.cop_ml_mm, plate.cop_ap_mm, **opts,
                                                      where=f"{rec.input} ({side} foot)", notes=foot_notes)
                notes += [dict(n, foot=side) for n in foot_notes]
            except StationError as exc:
                feet_report[side] = {"error": str(exc)}
    elif rec.forces_n is not None:
        positions = np.asarray(quality.pop("positions_mm"))
        forces = rec.forces_n
        ml, ap, total = cop_from_forces(forces, positions, threshold_n=threshold)
        _gate_figures(quality, total, threshold)
    else:
        ml, ap = np.asarray(rec.cop_ml_mm, float), np.asarray(rec.cop_ap_mm, float)
        if rec.fz_n is not None:
            total = np.asarray(rec.fz_n, float)
            below = ~(total >= threshold)
            ml, ap = np.where(below, np.nan, ml), np.where(below, np.nan, ap)
            _gate_figures(quality, total, threshold)
            quality["mean_total_force_n"] = float(np.mean(total))
    quality["n_undefined_cop"] = int(np.sum(~(np.isfinite(ml) & np.isfinite(ap))))
    jitter = quality.get("jitter_ms", 0.0)
    if get_preset(preset).name == "raw" and t.size > 2 and jitter > 0.05 * 1e3 * quality["duration_s"] / (t.size - 1):
        quality["note"] = ("the time stamps are irregular; the raw preset treats the samples as uniformly spaced "
                           "(the clinical preset resamples them first)")
    metrics = recording_metrics(t, ml, ap, **opts, forces_n=forces, where=rec.input, notes=notes)
    report = {"input": rec.input, "kind": rec.kind, "trial": rec.trial, "side": rec.side, "preset": get_preset(preset).name,
              "fs_hz": metrics["fs_hz"], "n_samples": int(t.size), "duration_s": quality["duration_s"], "metrics": metrics,
              "quality": quality, "problems": [], "notes": notes}
    if rec.condition is not None:
        report["condition"] = rec.condition
    if rec.vendor:
        report["vendor"] = dict(rec.vendor)
    if rec.feet is not None:
        from station.core.twoplate import load_share_measures

        try:
            sig = prepare(ml, ap, t_s=t, preset=preset, forces_n=forces[:, :2])
        except SignalError as exc:
            raise InputFileError(f"{rec.input}: {exc}") from None
        share = load_share_measures(sig.forces_n[:, 0], sig.forces_n[:, 1], fs_hz=sig.fs_hz)
        report["right_share_per_s_pct"] = share.pop("right_share_per_s_pct")
        metrics.update(share)
        report["right_share_pct"] = metrics["right_share_pct"]
        report["feet"] = feet_report
    return report


def _gate_figures(quality: dict, total_n, threshold_n: float) -> None:
    quality["load_threshold_n"] = threshold_n
    quality["n_below_threshold"] = int(np.sum(np.asarray(total_n) < threshold_n))


def rectangle_positions_mm(width_mm: float, length_mm: float) -> np.ndarray:
    """Cell positions fl, fr, bl, br (mm) of a rectangular four-cell board, origin at its centre."""
    w, l_ = float(width_mm) / 2.0, float(length_mm) / 2.0
    return np.array([[-w, l_], [w, l_], [-w, -l_], [w, -l_]])


def corner_forces(total_n, cop_ml_mm, cop_ap_mm, *, width_mm: float, length_mm: float) -> np.ndarray:
    """Corner forces fl, fr, bl, br (N) of a rectangular board that carry ``total_n`` at the given COP.

    The split is bilinear (the right cells carry ``0.5 + x / width`` of the load, the front cells
    ``0.5 + y / length``), so :func:`station.core.cop.cop_from_forces` on the result gives back the COP
    exactly for every COP inside the rectangle. An undefined COP (NaN) puts the load at the centre.

    Parameters
    ----------
    total_n, cop_ml_mm, cop_ap_mm : array_like (n,)
    width_mm, length_mm : float, keyword-only
        Sensor spacing, ML and AP (mm).

    Returns
    -------
    ndarray (n, 4)

    Raises
    ------
    ValueError
        A defined COP lies outside the rectangle (its split would need a negative force).
    """
    total = np.asarray(total_n, dtype=np.float64)
    right = 0.5 + np.nan_to_num(np.asarray(cop_ml_mm, dtype=np.float64)) / float(width_mm)
    front = 0.5 + np.nan_to_num(np.asarray(cop_ap_mm, dtype=np.float64)) / float(length_mm)
    if np.any((right < 0) | (right > 1) | (front < 0) | (front > 1)):
        raise ValueError(f"a COP lies outside the {width_mm:g} x {length_mm:g} mm rectangle of the cells")
    return np.column_stack([total * (1 - right) * front, total * right * front,
                            total * (1 - right) * (1 - front), total * right * (1 - front)])
