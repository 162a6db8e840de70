"""C3D files with force platforms (FORCE_PLATFORM TYPE 1-4) through ezc3d.

ezc3d turns each platform's analog channels (2 = Fx..Mz, 3 = the eight Kistler channels, 4 = type 2
through a 6 x 6 calibration matrix) into the force ``F`` and the moment ``M`` about the centre of the
platform's surface, in the lab frame. The plate's own COP on its surface, relative to that centre
``c``, then is (with ``M = r × F + T_z k``, ``r = (r_x, r_y, 0)``)::

    r_x = -M_y / F_z        r_y = M_x / F_z        COP = c + r

Type 1 (Fx Fy Fz Px Py Tz) records the COP itself; ezc3d puts it in the lab frame and it is taken as is.

and it is undefined (NaN) where ``|F_z|`` is below the load gate. Vertical force is taken positive
whatever the sign convention of the file (``|F_z|``). The lab's X and Y become ML and AP as
``lab_axes`` says ("xy": X = ML, Y = AP, the station's own convention; "yx": Y = ML, X = AP).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from station.errors import InputFileError
from station.readers import MAX_ABS_FORCE_N, MAX_SAMPLES, Plate, Recording
from station.readers.tables import PLATE_THRESHOLD_N, check_size, timing_quality

log = logging.getLogger(__name__)

_LENGTH_TO_MM = {"mm": 1.0, "m": 1000.0, "cm": 10.0}
_MOMENT_TO_NMM = {"Nmm": 1.0, "Nm": 1000.0, "N.mm": 1.0, "N.m": 1000.0}


def plate_cops(path: Path, *, threshold_n: float = PLATE_THRESHOLD_N, lab_axes: str = "xy"):
    """Per-platform vertical force and COP of a C3D file.

    Returns
    -------
    fs_hz : float
        Analog (platform) rate.
    plates : list of dict
        ``{"fz_n", "cop_ml_mm", "cop_ap_mm", "cop_ezc3d_mm" (3, n), "type"}`` per platform.

    Raises
    ------
    InputFileError
        Not a readable C3D file, no force platform, unknown units, absurd values.
    """
    check_size(path)
    if lab_axes not in ("xy", "yx"):
        raise InputFileError(f"--lab-axes must be 'xy' or 'yx', got {lab_axes!r}.")
    try:
        import ezc3d
    except ImportError:  # pragma: no cover - ezc3d is a dependency
        raise InputFileError("reading C3D files needs the Python package ezc3d.") from None
    try:
        c = ezc3d.c3d(str(path), extract_forceplat_data=True)
    except Exception as exc:  # ezc3d raises OSError/RuntimeError/ValueError variants for damaged files
        raise InputFileError(f"{path} is not a readable C3D file ({str(exc).strip() or type(exc).__name__}).") from None
    platforms = c["data"].get("platform") or []
    if not platforms:
        raise InputFileError(f"{path} is a C3D file without force platforms (FORCE_PLATFORM:USED is 0).")
    fs = float(c["header"]["analogs"]["frame_rate"])
    if not (0 < fs <= 1e5):
        raise InputFileError(f"{path}: the analog rate {fs:g} Hz is not plausible.")
    types = list(np.ravel(c["parameters"]["FORCE_PLATFORM"]["TYPE"]["value"]))
    out = []
    for k, pl in enumerate(platforms):
        to_mm = _LENGTH_TO_MM.get(str(pl.get("unit_position", "mm")))
        m_to = _MOMENT_TO_NMM.get(str(pl.get("unit_moment", "Nmm")))
        if to_mm is None or m_to is None:
            raise InputFileError(f"{path} platform {k + 1}: unknown units {pl.get('unit_position')!r} / {pl.get('unit_moment')!r}.")
        f = np.asarray(pl["force"], dtype=np.float64)
        m = np.asarray(pl["moment"], dtype=np.float64) * m_to / to_mm  # N * (file length unit)
        if f.shape[1] > MAX_SAMPLES:
            raise InputFileError(f"{path} has more than {MAX_SAMPLES} samples per platform; split the recording.")
        bad = np.flatnonzero(~np.isfinite(f).all(axis=0) | (np.abs(f) > MAX_ABS_FORCE_N).any(axis=0))
        if bad.size:
            raise InputFileError(f"{path} platform {k + 1} sample {bad[0] + 1}: a force is not finite or beyond ±1 MN.")
        fz = f[2]
        ok = np.abs(fz) >= threshold_n
        ptype = int(types[k]) if k < len(types) else None
        if ptype == 1:  # type 1 records the COP itself (Px, Py): take it as ezc3d puts it in the lab frame
            cop = np.asarray(pl["center_of_pressure"], dtype=np.float64)
            x, y = np.where(ok, cop[0], np.nan) * to_mm, np.where(ok, cop[1], np.nan) * to_mm
        else:
            centre = np.asarray(pl["corners"], dtype=np.float64).mean(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                rx = np.where(ok, -m[1] / fz, np.nan)
                ry = np.where(ok, m[0] / fz, np.nan)
            x = (centre[0] + rx) * to_mm
            y = (centre[1] + ry) * to_mm
        ml, ap = (x, y) if lab_axes == "xy" else (y, x)
        out.append({"fz_n": np.abs(fz), "cop_ml_mm": ml, "cop_ap_mm": ap,
                    "cop_ezc3d_mm": np.asarray(pl["center_of_pressure"], dtype=np.float64) * to_mm,
                    "type": ptype})
    return fs, out


def read_c3d(path: Path, *, plates: tuple[int, int] | None = None, threshold_n: float = 100.0,
             lab_axes: str = "xy") -> list[Recording]:
    """Recordings of a C3D file: one per platform, or one two-plate recording (``plates = (left, right)``, 1-based).

    A single platform's COP is gated at ``threshold_n`` (the body-weight gate); each plate of a pair at
    the plate gate (20 N) and the net COP at ``threshold_n`` later.
    """
    fs, pls = plate_cops(path, threshold_n=PLATE_THRESHOLD_N, lab_axes=lab_axes)
    n = pls[0]["fz_n"].size
    t = np.arange(n) / fs
    base = timing_quality(t)
    if plates is not None:
        for p in plates:
            if not 1 <= p <= len(pls):
                raise InputFileError(f"{path} has {len(pls)} force platform(s); --plates {plates[0]},{plates[1]} names platform {p}.")
        left, right = (pls[p - 1] for p in plates)
        rec = Recording(input=str(path), kind="C3D two plates", t_s=t, quality=dict(base, platform_types=[left["type"], right["type"]]))
        rec.feet = {side: Plate(p["fz_n"], p["cop_ml_mm"], p["cop_ap_mm"]) for side, p in (("left", left), ("right", right))}
        return [rec]
    recs = []
    for k, p in enumerate(pls, start=1):
        loaded = p["fz_n"] >= threshold_n
        ml = np.where(loaded, p["cop_ml_mm"], np.nan)
        ap = np.where(loaded, p["cop_ap_mm"], np.nan)
        rec = Recording(input=f"{path}#plate{k}", kind=f"C3D plate (type {p['type']})", t_s=t, cop_ml_mm=ml, cop_ap_mm=ap,
                        quality=dict(base, platform_type=p["type"], n_loaded=int(loaded.sum()), load_threshold_n=threshold_n))
        rec.quality["mean_fz_loaded_n"] = float(p["fz_n"][loaded].mean()) if loaded.any() else float("nan")
        recs.append(rec)
    return recs
