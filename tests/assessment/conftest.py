"""Shared builders of metrics tables (the rows ``Store.metrics_table`` returns) for the scoring tests."""

from __future__ import annotations

import numpy as np


def trial_row(side: str, phase: str = "baseline", status: str = "finished", *, task: str = "single_leg",
              condition: str = "eyes_open", reps=(), **metrics) -> dict:
    """One trial's row of a metrics table."""
    return {"task": task, "side": side, "phase": phase, "condition": condition, "status": status,
            "metrics": metrics, "reps": list(reps)}


def sway_metrics(scale: float) -> dict:
    """Stance metrics of a trial that sways ``scale`` times the sway index's reference (sway index = scale)."""
    return {"mean_velocity_ml_mm_s": 35.0 * scale, "range_ml_mm": 35.0 * scale, "ellipse95_area_mm2": 800.0 * scale**2,
            "mean_velocity_mm_s": 50.0 * scale, "touchdowns": 0.0}


def stance_rows(scales: dict, *, condition: str = "eyes_open") -> list[dict]:
    """Rows from ``{(phase, side): [sway scale per trial, ...]}``."""
    return [trial_row(side, phase, condition=condition, **sway_metrics(s))
            for (phase, side), values in scales.items() for s in values]


def lognormal_scales(rng, *, n: int, log_sd: float, right_log_shift: float = 0.0,
                     phases=("baseline",)) -> dict:
    """Per-trial sway scales of ``n`` trials per side and phase, log-normal with ``log_sd``; the right side's
    median ``exp(right_log_shift)`` times the left's."""
    return {(phase, side): list(np.exp(rng.normal(right_log_shift if side == "right" else 0.0, log_sd, n)))
            for phase in phases for side in ("left", "right")}


def rdl_row(side: str, shifts_mm, *, task: str = "rdl", phase: str = "baseline") -> dict:
    """One RDL set: its repetitions' lateral shifts (mm)."""
    return trial_row(side, phase, task=task, reps=[{"lateral_shift_mm": v} for v in shifts_mm])
