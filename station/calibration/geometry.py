"""Board geometries: where the four load cells sit, read from ``calibration/boards/*.toml``.

A geometry file names the board layout and gives each cell's contact point in millimetres::

    name = "reference-400x300"
    [sensors_mm]
    fl = [-200.0, 150.0]      # x = ML (+ subject's right), y = AP (+ forward)
    fr = [200.0, 150.0]
    bl = [-200.0, -150.0]
    br = [200.0, -150.0]

The origin is the geometric centre of the four sensors; a file whose sensors are not
centred is refused rather than silently shifted.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from station.board.protocol import CHANNELS
from station.calibration.datafiles import available, read_toml
from station.errors import CalibrationError

logger = logging.getLogger(__name__)

#: the geometry used when nothing else is known
DEFAULT_GEOMETRY = "reference-400x300"


@dataclass(frozen=True)
class BoardGeometry:
    """Positions of the four cells (fl, fr, bl, br) of a board, in mm.

    Attributes
    ----------
    name : str
        Layout name, e.g. ``"reference-400x300"``.
    positions_mm : numpy.ndarray, shape (4, 2)
        ``(x_mm, y_mm)`` of fl, fr, bl, br; x = ML (+ right), y = AP (+ forward).
    """

    name: str
    positions_mm: np.ndarray

    def __post_init__(self):
        pos = np.asarray(self.positions_mm, dtype=np.float64)
        if pos.shape != (4, 2) or not np.all(np.isfinite(pos)):
            raise CalibrationError(f"Board geometry '{self.name}' needs four finite (x, y) sensor positions in mm.")
        object.__setattr__(self, "positions_mm", pos)

    @property
    def width_mm(self) -> float:
        """Sensor spacing along ML (x): mean of the front and back rows."""
        p = self.positions_mm
        return float(((p[1, 0] - p[0, 0]) + (p[3, 0] - p[2, 0])) / 2.0)

    @property
    def length_mm(self) -> float:
        """Sensor spacing along AP (y): mean of the left and right columns."""
        p = self.positions_mm
        return float(((p[0, 1] - p[2, 1]) + (p[1, 1] - p[3, 1])) / 2.0)

    @classmethod
    def rectangle(cls, width_mm: float, length_mm: float, *, name: str | None = None) -> "BoardGeometry":
        """A rectangular four-cell board with the given sensor spacing (ML x AP, mm)."""
        if not (width_mm > 0 and length_mm > 0):
            raise CalibrationError(f"Board size {width_mm} x {length_mm} mm: both spacings must be positive.")
        hx, hy = width_mm / 2.0, length_mm / 2.0
        pos = np.array([[-hx, hy], [hx, hy], [-hx, -hy], [hx, -hy]])
        return cls(name or f"rect-{width_mm:g}x{length_mm:g}", pos)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "sensors_mm": {c: [float(v) for v in self.positions_mm[i]] for i, c in enumerate(CHANNELS)},
        }

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "geometry") -> "BoardGeometry":
        try:
            sensors = d["sensors_mm"]
            pos = [[float(v) for v in sensors[c]] for c in CHANNELS]
            name = str(d.get("name") or source)
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(
                f"{source}: a board geometry needs [sensors_mm] with fl, fr, bl, br = [x_mm, y_mm] ({exc!s})."
            ) from None
        geometry = cls(name, np.array(pos))
        centre = geometry.positions_mm.mean(axis=0)
        if np.any(np.abs(centre) > 1e-6 * max(geometry.width_mm, geometry.length_mm, 1.0)):
            raise CalibrationError(
                f"{source}: sensors are centred on ({centre[0]:.1f}, {centre[1]:.1f}) mm; "
                "the origin must be the geometric centre of the four sensors."
            )
        if not (geometry.width_mm > 0 and geometry.length_mm > 0):
            raise CalibrationError(f"{source}: fl/fr/bl/br are not laid out left-to-right and back-to-front.")
        return geometry


def available_geometries() -> list[str]:
    """Names of the geometry files shipped in ``calibration/boards``."""
    return available("boards")


#: geometries that were renamed: files and calibrations written before still name the old one
RENAMED_GEOMETRIES = {"wii-433x238": "wii-balance-board"}


def load_geometry(name_or_path: str | os.PathLike = DEFAULT_GEOMETRY) -> BoardGeometry:
    """Load a board geometry by name (``"reference-400x300"``) or from a TOML file path.

    Raises
    ------
    InputFileError
        Unknown name, missing file, or not valid TOML.
    CalibrationError
        The file is not a valid geometry.
    """
    if isinstance(name_or_path, BoardGeometry):
        return name_or_path
    name_or_path = RENAMED_GEOMETRIES.get(str(name_or_path), name_or_path)
    path, data = read_toml(name_or_path, folder="boards", what="board geometry")
    return BoardGeometry.from_dict(data, source=str(path))
