"""The Wii Balance Board's force model: the driver's 10 g units at standard gravity, zeroed by a tare.

hid-wiimote already turns each corner's reading into 10 g units with the factory calibration stored in
the board, so the default calibration needs no masses: gain = 0.0980665 N per unit on every corner,
offset = the empty board's reading (the runner's tare at the start of a session). A known-mass
calibration (``station calibrate`` with the ``wii-balance-board`` geometry, or
:func:`station.calibration.fit.fit_gains` on placements) refines the four gains: a board's factory
points are off by a few per cent per corner (COP errors of 2-6 mm), which a per-corner linear fit
removes (0.5-2 mm after; Leach et al. 2014, Sensors 14:18244; Bartlett et al. 2014, Gait Posture 39:224).
"""

from __future__ import annotations

import numpy as np

from station.board.wii import GEOMETRY, N_PER_UNIT
from station.calibration.files import Calibration
from station.calibration.geometry import load_geometry

#: how long the default model stays valid (it has no masses to go stale; a year, then re-check)
DEFAULT_WII_VALIDITY_DAYS = 365.0


def default_wii_calibration(board_id, *, offsets_units=None) -> Calibration:
    """The mass-free calibration of a Wii Balance Board (board id from its Bluetooth address).

    Parameters
    ----------
    board_id : int or str
        The board's id (:func:`station.board.wii.board_id_from_address`).
    offsets_units : sequence of four float, optional
        Empty-board readings (10 g units), fl fr bl br; zeros when omitted (tare before use).
    """
    offsets = np.zeros(4) if offsets_units is None else np.asarray(offsets_units, dtype=float)
    return Calibration(board_id=board_id, geometry=load_geometry(GEOMETRY), offsets_counts=offsets,
                       gains_n_per_count=np.full(4, N_PER_UNIT), operator="hid-wiimote 10 g units",
                       protocol="wii-driver-units", validity_days=DEFAULT_WII_VALIDITY_DAYS)


def cop_errors_on_virtual_board(source, calibrations: dict, points, *, mass_kg: float, settle_s: float = 0.3,
                                hold_s: float = 1.0) -> dict:
    """COP errors (mm) of calibrations at known mass placements on a virtual Wii Balance Board.

    Each point gets the mass alone on the board (the board's own ``place_mass``); the mean of ``hold_s`` of
    frames (after ``settle_s``) goes through every calibration's counts -> COP path.

    Parameters
    ----------
    source : station.board.virtual.wii.VirtualWiiSource
        Opened and started; read here on board time.
    calibrations : dict
        ``name -> Calibration``.
    points : sequence of (x_mm, y_mm)
    mass_kg : float

    Returns
    -------
    dict
        ``name -> ndarray (len(points),)`` of COP distances from the true placement (mm).
    """
    board = source.board
    means = []
    for x_mm, y_mm in points:
        board.clear_masses()
        board.place_mass(mass_kg, x_mm, y_mm)
        frames = _frames_for(source, settle_s)
        frames = _frames_for(source, hold_s)
        means.append(frames["counts"].astype(float).mean(axis=0))
    board.clear_masses()
    means = np.asarray(means)
    xy = np.asarray(points, dtype=float)
    out = {}
    for name, cal in calibrations.items():
        ml, ap, _ = cal.cop_mm(means, threshold_n=1.0)
        out[name] = np.hypot(ml - xy[:, 0], ap - xy[:, 1])
    return out


def _frames_for(source, seconds: float) -> np.ndarray:
    end = source.board.time_s + float(seconds)
    chunks = []
    while source.board.time_s < end - 1e-9:
        chunks.append(source.read(0.05).frames)
    return np.concatenate(chunks)
