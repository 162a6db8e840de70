"""C3D export (ezc3d): per trial, the four cell forces as analog channels, a force-platform description
and the station's COP as a point.

Force platform: **type 3** (C3D/Kistler-style: four vertical sensors at ``(±a, ±b)`` plus horizontal
channels). A four-cell board *is* four vertical sensors on a rectangle, so type 3 describes it with the
measured cell forces themselves as the platform's channels: a biomechanics tool recomputes Fz, Mx, My
and the COP from them and ``ORIGIN = (a, b, az0)``. Type 2 would need derived Fx..Mz channels (the
moments computed by us from an assumed geometry) - the raw cell forces are the more faithful record.
The board measures no horizontal force: the four horizontal channels (Fx12, Fx34, Fy14, Fy23) are 0.

Frames (the C3D convention, corners numbered by the quadrants of the platform's own frame):

- lab (the file's POINT frame) = the station's axes: X = ML (+ subject's right), Y = AP (+ forward),
  Z up, millimetres, origin at the centre of the four cells;
- platform frame: x = -X, y = +Y, z = down (right-handed; z points into the plate, as for most
  platforms, so a standing subject gives positive vertical channels - the force on the plate).
  Corner 1 is the (+x, +y) quadrant = front-left, then front-right, back-right, back-left;
- Kistler sensor k sits at (+a,+b), (-a,+b), (-a,-b), (+a,-b) for k = 1..4: fl, fr, br, bl;
- ``ORIGIN = (a, b, 0)``: a, b = half the ML / AP cell spacing; az0 = 0 because the COP is reported on
  the cells' plane (with no horizontal force the plate's thickness does not move the COP);
- ``ZERO = (0, 0)``: the forces are already tared; a tool must not re-zero them on the first frames
  (the patient may already stand on the board there).

COP point ``COP``: the station's own COP (pipeline, load-gated: residual -1 where undefined). Without a
COP correction in the calibration it equals the platform COP a tool computes; with one, the point
carries the corrected COP. Trial events (stance start, touchdowns, RDL repetitions) are C3D events.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from station import __version__
from station.errors import StationError

log = logging.getLogger(__name__)

#: analog channels: the four cells (station order) then the type-3 horizontal channels (always 0)
ANALOG_LABELS = ("F_fl", "F_fr", "F_bl", "F_br", "Fx12", "Fx34", "Fy14", "Fy23")
#: FORCE_PLATFORM:CHANNEL (1-based analog channel per type-3 input fx12, fx34, fy14, fy23, fz1..fz4)
TYPE3_CHANNELS = (5, 6, 7, 8, 1, 2, 4, 3)
#: geometry tolerance for the rectangle a type-3 platform assumes (mm)
RECTANGLE_TOL_MM = 0.5
EVENT_KINDS = {"stance_start": "Stance start", "touchdown": "Touchdown", "step_off": "Step off",
               "rep_start": "Rep start", "rep_bottom": "Rep bottom", "rep_end": "Rep end"}


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


def build_c3d(samples, *, events=(), subject: str = "", description: str = ""):
    """An ``ezc3d.c3d`` of one trial's uniform samples (:func:`station.report.samples.uniform_samples`)."""
    import ezc3d

    a, b = platform_geometry(samples.positions_mm)
    n = len(samples.t_s)
    fs = float(samples.fs_hz)
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = np.array([fs])
    c["parameters"]["POINT"]["LABELS"]["value"] = ["COP"]
    c.add_parameter("POINT", "DESCRIPTIONS", ["centre of pressure (Balance Station, load-gated)"])
    c.add_parameter("POINT", "UNITS", "mm")
    c["parameters"]["ANALOG"]["RATE"]["value"] = np.array([fs])
    c["parameters"]["ANALOG"]["LABELS"]["value"] = list(ANALOG_LABELS)
    c.add_parameter("ANALOG", "DESCRIPTIONS", ["vertical force, front-left cell", "vertical force, front-right cell",
                                               "vertical force, back-left cell", "vertical force, back-right cell",
                                               "not measured (0)", "not measured (0)", "not measured (0)",
                                               "not measured (0)"])
    c.add_parameter("ANALOG", "UNITS", ["N"] * len(ANALOG_LABELS))
    c.add_parameter("ANALOG", "SCALE", np.ones(len(ANALOG_LABELS)))
    c.add_parameter("ANALOG", "OFFSET", np.zeros(len(ANALOG_LABELS)))
    c.add_parameter("ANALOG", "GEN_SCALE", np.array([1.0]))

    _set_int(c, "FORCE_PLATFORM", "USED", [1], (1,))
    _set_int(c, "FORCE_PLATFORM", "TYPE", [3], (1,), "3 = four vertical sensors at (+-a, +-b)")
    _set_int(c, "FORCE_PLATFORM", "ZERO", [0, 0], (2,), "no re-zeroing: forces are tared")
    c.add_parameter("FORCE_PLATFORM", "CORNERS", corners_mm(a, b).reshape(3, 4, 1))
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

    points = np.zeros((4, 1, n))
    points[0, 0], points[1, 0], points[3, 0] = samples.cop_ml_mm, samples.cop_ap_mm, 1.0
    defined = np.isfinite(samples.cop_ml_mm) & np.isfinite(samples.cop_ap_mm)
    points[:3, 0, ~defined] = 0.0
    c["data"]["points"] = points
    c["data"]["meta_points"] = {"residuals": np.where(defined, 0.0, -1.0).reshape(1, 1, n),
                                "camera_masks": np.zeros((7, 1, n), dtype=bool)}
    analogs = np.zeros((1, len(ANALOG_LABELS), n))
    analogs[0, :4] = np.asarray(samples.forces_n, dtype=float).T
    c["data"]["analogs"] = analogs

    t0, t1 = float(samples.t_s[0]), float(samples.t_s[-1])
    for e in events:
        kind = EVENT_KINDS.get(e.get("kind"))
        t = float(e.get("t_s", np.nan))
        if kind is None or not (t0 <= t <= t1):
            continue
        since = t - t0  # seconds from the first frame (frame 1 at time 0)
        side = e.get("side")
        c.add_event([int(since // 60), since % 60], context=side.capitalize() if side in ("left", "right") else "General",
                    label=kind)
    return c


def write_c3d(data, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """One ``session<id>_trial<seq>.c3d`` per trial with recorded data; return their paths.

    Each file is private (0600) and written atomically; an existing file is replaced only with ``force``.
    """
    from station.privatefiles import private_temp_path
    from station.report.samples import uniform_samples

    out = Path(out_dir)
    paths = []
    for t in data.trials:
        try:
            samples = uniform_samples(data, t)
        except StationError as exc:
            log.warning("trial %d not exported to C3D: %s", t.seq, exc)
            continue
        if len(samples.t_s) < 2:
            log.warning("trial %d not exported to C3D: fewer than two samples", t.seq)
            continue
        c = build_c3d(samples, events=[dict(e, side=e.get("side") or t.side) for e in t.events],
                      subject=data.patient.label, description=f"{t.step} ({t.status})")
        path = out / f"session{data.session.id}_trial{t.seq}.c3d"
        try:
            with private_temp_path(path, force=force) as tmp:
                c.write(str(tmp))
        except (OSError, RuntimeError, ValueError) as exc:
            raise StationError(f"Cannot write {path}: {exc}.") from exc
        paths.append(path)
    log.info("wrote %d C3D files to %s", len(paths), out)
    return paths
