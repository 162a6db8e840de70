"""Cell health and calibration fit: problems that make a trial's numbers untrustworthy.

Each function takes arrays and returns a list of problems ``{"code": str, "message": str, ...}``
(``cell`` is ``"fl"|"fr"|"bl"|"br"`` for a per-cell problem). The pipeline puts them in
``AnalysisResult.problems``; ``station analyze --json`` prints them under ``"problems"``.
"""

from __future__ import annotations


def cell_problems(counts, status, *, fs_hz: float) -> list[dict]:
    """Dead (flat or at a rail), saturated and timed-out cells, from the status bits and the signal.

    Parameters
    ----------
    counts : ndarray (n, 4) int
        Raw counts fl, fr, bl, br.
    status : ndarray (n,) uint8
        Per-frame status byte (hardware/PROTOCOL.md).
    fs_hz : float
        Frame rate.
    """
    return []


def calibration_problems(forces_n, *, body_mass_kg: float | None) -> list[dict]:
    """A calibration that does not fit the board: negative cells, implausible totals, body-mass mismatch.

    Parameters
    ----------
    forces_n : ndarray (n, 4)
        Calibrated per-cell forces while someone stands (the analysed window).
    body_mass_kg : float or None
    """
    return []
