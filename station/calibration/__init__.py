"""Calibration of a four-cell board: tare, known-mass gain fitting, verification, drift and files.

Public API::

    from station.calibration import (Calibration, BoardGeometry, load_geometry, load_calibration,
                                     save_calibration, active_calibration)

Board geometries and calibration procedures are data in the repository's ``calibration/`` folder.
"""

from station.calibration.files import (
    Calibration,
    active_calibration,
    active_calibration_path,
    load_calibration,
    normalize_board_id,
    save_calibration,
)
from station.calibration.geometry import BoardGeometry, available_geometries, load_geometry

__all__ = [
    "BoardGeometry",
    "Calibration",
    "active_calibration",
    "active_calibration_path",
    "available_geometries",
    "load_calibration",
    "load_geometry",
    "normalize_board_id",
    "save_calibration",
]
