"""C3D export (ezc3d): per trial, a force platform a biomechanics tool reads, the cell forces, the
station's COP as a point, and the trial's events.

Force platform: **type 2** by default (Fx Fy Fz Mx My Mz about the platform origin, the convention
Vicon Nexus writes and every reader handles); **type 3** (four vertical sensors at ``(±a, ±b)`` plus
four horizontal channels, the cell forces themselves) as an option. The board measures no horizontal
force: Fx = Fy = Mz = 0 (type 2) and Fx12 = Fx34 = Fy14 = Fy23 = 0 (type 3).

Frames (the C3D convention, corners numbered by the quadrants of the platform's own frame):

- lab (the file's POINT frame) = the station's axes: X = ML (+ subject's right), Y = AP (+ forward),
  Z up, millimetres, origin at the centre of the four cells;
- platform frame: x = -X, y = +Y, z = down (right-handed; z points into the plate, as for most
  platforms, so a standing subject gives positive vertical channels - the force on the plate).
  Corner 1 is the (+x, +y) quadrant = front-left, then front-right, back-right, back-left;
- type 2: with the COP ``(ml, ap)`` and ``Fz`` the total vertical force, the moments about the plate
  origin (the centre of the cells' plane, ``ORIGIN = (0, 0, 0)``) are ``Mx = Σ F_c y_c`` and
  ``My = Σ F_c X_c`` (N·mm; so a reader's ``-My / Fz`` is the platform-frame x = -ML and ``Mx / Fz``
  the AP), always defined - the reader applies its own load threshold;
- type 3: Kistler sensor k sits at (+a,+b), (-a,+b), (-a,-b), (+a,-b) for k = 1..4: fl, fr, br, bl;
  ``ORIGIN = (a, b, 0)``: a, b = half the ML / AP cell spacing;
- ``ZERO = (0, 0)``: the forces are already tared; a tool must not re-zero them on the first frames.

Timing: one C3D frame per board frame slot on a **uniform grid at the board's true frame rate**,
``k = round((t - t_0) · fs)`` from the device clock; a lost frame keeps its slot, its values are
interpolated linearly between the neighbours and marked: the ``REC`` analog channel is 0 there (1 for
a recorded frame) and the COP point's residual is -1 (as where the COP is undefined). So time in the
file is true time, not the average rate over uneven samples.

COP point ``COP``: the station's own COP (pipeline, load-gated). Trial events are C3D events.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from station import __version__
from station.errors import StationError

log = logging.getLogger(__name__)

#: type 2 analog channels: the platform's six, then the four cells (station order), then REC
TYPE2_LABELS = ("Fx", "Fy", "Fz", "Mx", "My", "Mz", "F_fl", "F_fr", "F_bl", "F_br", "REC")
TYPE2_UNITS = ("N", "N", "N", "Nmm", "Nmm", "Nmm", "N", "N", "N", "N", "")
#: FORCE_PLATFORM:CHANNEL of a type-2 platform (Fx Fy Fz Mx My Mz)
TYPE2_CHANNELS = (1, 2, 3, 4, 5, 6)
#: type 3 analog channels: the four cells (station order) then the type-3 horizontal channels (always 0), then REC
ANALOG_LABELS = ("F_fl", "F_fr", "F_bl", "F_br", "Fx12", "Fx34", "Fy14", "Fy23", "REC")
#: FORCE_PLATFORM:CHANNEL (1-based analog channel per type-3 input fx12, fx34, fy14, fy23, fz1..fz4)
TYPE3_CHANNELS = (5, 6, 7, 8, 1, 2, 4, 3)
#: platform types this export writes
PLATFORM_TYPES = (2, 3)
#: geometry tolerance for the rectangle a type-3 platform assumes (mm)
RECTANGLE_TOL_MM = 0.5
#: trial event kinds written as C3D events; the C3D label is the kind in words ("stance_start" -> "Stance start")
EVENT_KINDS = ("stance_start", "touchdown", "step_off", "rep_start", "rep_bottom", "rep_end")


def platform_geometry(positions_mm) -> tuple[float, float]:
    """Half spacings ``(a_mm, b_mm)`` (ML, AP) of a board whose cells form a rectangle centred on the origin.

    Raises
    ------
    StationError
        The cells do not form such a rectangle (a type-3 platform cannot describe the board).
    """
    p = np.asarray(positions_mm, dtype=float)
    a, b = float(np.mean(np.abs(p[:, 0]))), float(np.mean(np.abs(p[:, 1])))
    expected = np.array([[-a, b], [a, b], [-a, -b], [a, -b]])
    if not np.allclose(p, expected, atol=RECTANGLE_TOL_MM) or a <= 0 or b <= 0:
        raise StationError("C3D export needs the four cells on a rectangle centred on the board's origin "
                           f"(fl, fr, bl, br); this board's cells are at {p.tolist()} mm.")
    return a, b


def corners_mm(a_mm: float, b_mm: float) -> np.ndarray:
    """FORCE_PLATFORM:CORNERS (3, 4) in the lab frame: front-left, front-right, back-right, back-left."""
    return np.array([[-a_mm, b_mm, 0.0], [a_mm, b_mm, 0.0], [a_mm, -b_mm, 0.0], [-a_mm, -b_mm, 0.0]]).T


def _set_int(c3d, group: str, name: str, values, shape, description: str = "") -> None:
    # ezc3d's add_parameter stores Python ints as FLOAT; TYPE/USED/CHANNEL/ZERO must be INT for readers.
    import ezc3d

    c3d["parameters"].create_group_if_needed(group)
    c3d["parameters"][group][name] = {"type": ezc3d.ezc3d.INT, "description": description, "is_locked": False,
                                      "value": np.asarray(values, dtype=int).reshape(shape, order="F")}


def frame_grid(t_s) -> tuple[np.ndarray, np.ndarray, float]:
    """Slots of recorded frames on a uniform grid at the true frame rate.

    Parameters
    ----------
    t_s : ndarray (n,)
        Device times of the recorded frames (s), increasing.

    Returns
    -------
    slot : ndarray (n,) of int
        Grid index of each recorded frame (``round((t - t_0) fs)``; a later frame that falls on a taken
        slot is dropped by the caller through ``np.unique``).
    recorded : ndarray (m,) of bool
        True where a frame was recorded, False for a lost one.
    fs_hz : float
        The frame rate: the median frame interval, refined so the last frame lands on its slot.
    """
    t = np.asarray(t_s, dtype=float)
    dt = np.diff(t)
    fs0 = 1.0 / float(np.median(dt[dt > 0])) if (dt > 0).any() else 1.0
    k = np.rint((t - t[0]) * fs0).astype(np.int64)
    fs = float(k[-1] / (t[-1] - t[0])) if k[-1] > 0 else fs0
    k = np.rint((t - t[0]) * fs).astype(np.int64)
    recorded = np.zeros(int(k[-1]) + 1, dtype=bool)
    recorded[k] = True
    return k, recorded, fs


def _on_grid(values, slot, recorded):
    """``values`` (n, ...) placed on the grid; lost slots interpolated linearly (NaN stays NaN)."""
    v = np.asarray(values, dtype=float).reshape(len(slot), -1)
    keep = np.concatenate([[True], np.diff(slot) > 0])
    slot, v = slot[keep], v[keep]
    idx = np.arange(recorded.size)
    return np.column_stack([np.interp(idx, slot, v[:, c]) for c in range(v.shape[1])])


def build_c3d(samples, *, events=(), subject: str = "", description: str = "", platform_type: int = 2):
    """An ``ezc3d.c3d`` of one trial (:func:`station.report.samples.trial_samples`: every recorded frame).

    ``platform_type`` 2 (default: Fx..Mz) or 3 (the four cells as a Kistler-style platform).
    """
    import ezc3d

    if platform_type not in PLATFORM_TYPES:
        raise StationError(f"C3D export writes FORCE_PLATFORM type 2 or 3, not {platform_type}.")
    a, b = platform_geometry(samples.positions_mm)
    slot, recorded, fs = frame_grid(samples.t_s)
    m = recorded.size
    forces = _on_grid(samples.forces_n, slot, recorded)  # (m, 4) fl fr bl br
    cop = _on_grid(np.column_stack([samples.cop_ml_mm, samples.cop_ap_mm]), slot, recorded)
    defined = np.isfinite(cop).all(axis=1) & recorded
    cop[~np.isfinite(cop)] = 0.0
    pos = np.asarray(samples.positions_mm, dtype=float)
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = np.array([fs])
    c["parameters"]["POINT"]["LABELS"]["value"] = ["COP"]
    c.add_parameter("POINT", "DESCRIPTIONS", ["centre of pressure (Balance Station, load-gated; residual -1 = undefined or lost frame)"])
    c.add_parameter("POINT", "UNITS", "mm")
    c["parameters"]["ANALOG"]["RATE"]["value"] = np.array([fs])
    cells = ["vertical force, front-left cell", "vertical force, front-right cell", "vertical force, back-left cell",
             "vertical force, back-right cell"]
    rec_text = "1 = frame recorded, 0 = frame lost (values interpolated)"
    if platform_type == 2:
        labels, units = list(TYPE2_LABELS), list(TYPE2_UNITS)
        descriptions = ["not measured (0)", "not measured (0)", "vertical force on the plate (platform z down)",
                        "moment about the platform x axis", "moment about the platform y axis", "not measured (0)",
                        *cells, rec_text]
        total = forces.sum(axis=1)
        analogs = np.zeros((len(labels), m))
        analogs[2] = total
        analogs[3] = forces @ pos[:, 1]  # Mx = sum F y (platform y = lab Y)
        analogs[4] = forces @ pos[:, 0]  # My = -x_p Fz with x_p = -X
        analogs[6:10] = forces.T
        analogs[10] = recorded
    else:
        labels, units = list(ANALOG_LABELS), ["N"] * 8 + [""]
        descriptions = [*cells, "not measured (0)", "not measured (0)", "not measured (0)", "not measured (0)", rec_text]
        analogs = np.zeros((len(labels), m))
        analogs[:4] = forces.T
        analogs[8] = recorded
    c["parameters"]["ANALOG"]["LABELS"]["value"] = labels
    c.add_parameter("ANALOG", "DESCRIPTIONS", descriptions)
    c.add_parameter("ANALOG", "UNITS", units)
    c.add_parameter("ANALOG", "SCALE", np.ones(len(labels)))
    c.add_parameter("ANALOG", "OFFSET", np.zeros(len(labels)))
    c.add_parameter("ANALOG", "GEN_SCALE", np.array([1.0]))

    _set_int(c, "FORCE_PLATFORM", "USED", [1], (1,))
    _set_int(c, "FORCE_PLATFORM", "ZERO", [0, 0], (2,), "no re-zeroing: forces are tared")
    c.add_parameter("FORCE_PLATFORM", "CORNERS", corners_mm(a, b).reshape(3, 4, 1))
    if platform_type == 2:
        _set_int(c, "FORCE_PLATFORM", "TYPE", [2], (1,), "2 = Fx Fy Fz Mx My Mz about ORIGIN")
        c.add_parameter("FORCE_PLATFORM", "ORIGIN", np.array([[0.0], [0.0], [0.0]]))
        _set_int(c, "FORCE_PLATFORM", "CHANNEL", TYPE2_CHANNELS, (6, 1))
    else:
        _set_int(c, "FORCE_PLATFORM", "TYPE", [3], (1,), "3 = four vertical sensors at (+-a, +-b)")
        c.add_parameter("FORCE_PLATFORM", "ORIGIN", np.array([[a], [b], [0.0]]))
        _set_int(c, "FORCE_PLATFORM", "CHANNEL", TYPE3_CHANNELS, (8, 1))
    c.add_parameter("FORCE_PLATFORM", "UNITS", "N")

    c.add_parameter("MANUFACTURER", "COMPANY", "Balance Station")
    c.add_parameter("MANUFACTURER", "SOFTWARE", "station")
    c.add_parameter("MANUFACTURER", "VERSION_LABEL", __version__)
    if subject:
        c.add_parameter("SUBJECTS", "NAMES", [subject])
    if description:
        c.add_parameter("TRIAL", "DESCRIPTION", description)

    points = np.zeros((4, 1, m))
    points[0, 0], points[1, 0], points[3, 0] = cop[:, 0], cop[:, 1], 1.0
    points[:3, 0, ~defined] = 0.0
    c["data"]["points"] = points
    c["data"]["meta_points"] = {"residuals": np.where(defined, 0.0, -1.0).reshape(1, 1, m),
                                "camera_masks": np.zeros((7, 1, m), dtype=bool)}
    c["data"]["analogs"] = analogs.reshape(1, len(labels), m)

    t0, t1 = float(samples.t_s[0]), float(samples.t_s[-1])
    for e in events:
        kind = str(e.get("kind"))
        t = float(e.get("t_s", np.nan))
        if kind not in EVENT_KINDS or not (t0 <= t <= t1):
            continue
        since = t - t0  # seconds from the first frame (frame 1 at time 0)
        side = e.get("side")
        c.add_event([int(since // 60), since % 60], context=side.capitalize() if side in ("left", "right") else "General",
                    label=kind.replace("_", " ").capitalize())
    return c


def write_c3d(data, out_dir: str | Path, *, force: bool = False, platform_type: int = 2) -> list[Path]:
    """One ``session<id>_trial<seq>.c3d`` per trial with recorded data; return their paths.

    Each file is private (0600) and written atomically; an existing file is replaced only with ``force``.
    ``platform_type``: FORCE_PLATFORM type 2 (default) or 3.
    """
    from station.privatefiles import private_temp_path
    from station.report.samples import trial_samples

    out = Path(out_dir)
    paths = []
    for t in data.trials:
        try:
            samples = trial_samples(data, t)
        except StationError as exc:
            log.warning("trial %d not exported to C3D: %s", t.seq, exc)
            continue
        if len(samples.t_s) < 2:
            log.warning("trial %d not exported to C3D: fewer than two samples", t.seq)
            continue
        c = build_c3d(samples, events=[dict(e, side=e.get("side") or t.side) for e in t.events],
                      subject=data.patient.label, description=f"{t.step} ({t.status})", platform_type=platform_type)
        path = out / f"session{data.session.id}_trial{t.seq}.c3d"
        try:
            with private_temp_path(path, force=force) as tmp:
                c.write(str(tmp))
        except (OSError, RuntimeError, ValueError) as exc:
            raise StationError(f"Cannot write {path}: {exc}.") from exc
        paths.append(path)
    log.info("wrote %d C3D files to %s", len(paths), out)
    return paths
