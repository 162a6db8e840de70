"""JSON export of a whole session: patient (or pseudonym), session, scores, calibrations, and every
trial with its metrics, events, quality and raw recording (counts and board time).

One file ``session<id>.json``. Undefined values (NaN) are ``null``. Raw counts are kept, not only
forces, so the session can be re-analysed with another calibration or metric definition;
the calibrations used are included to turn them into forces (``Calibration.from_dict``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from station import __version__
from station.errors import StationError
from station.privatefiles import private_open, refuse_existing
from station.report.wording import scores_record
# The store's JSON-safe copy (NaN/inf -> None, numpy -> Python), the same rule its JSON columns follow.
from station.jsonsafe import json_safe as clean

log = logging.getLogger(__name__)

FORMAT = "balance-station-session"
FORMAT_VERSION = 1
#: raw arrays exported per trial (names of ``Store.trial_arrays``); host time is left out: it is the
#: wall-clock time of the recording PC, not needed for analysis and a needless timestamp in research data
RAW_ARRAYS = ("seq", "t_us", "device_time_s", "counts", "status", "missed")


def session_document(data) -> dict:
    """The whole session as one JSON-able dict (see module docstring)."""
    s = data.session
    trials = []
    for t in data.trials:
        raw = data.store.trial_arrays(t.id)
        trials.append({
            "id": t.id, "seq": t.seq, "step": t.step, "task": t.task, "side": t.side, "condition": t.condition,
            "phase": t.phase, "status": t.status, "reason": t.reason, "repeat_of": t.repeat_of, "started": t.started,
            "duration_s": t.duration_s, "fs_hz": t.fs_hz, "window_s": [t.window_start_s, t.window_end_s],
            "calibration_id": t.calibration_id, "board": t.board, "quality": t.quality, "gaps": t.gaps,
            "events": t.events, "meta": data.trial_meta(t), "metrics": t.metrics, "rep_metrics": t.rep_metrics,
            "raw": {name: raw[name] for name in RAW_ARRAYS if name in raw},
        })
    return clean({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported": (datetime.now(timezone.utc).date().isoformat() if data.patient.pseudonymised
                     else datetime.now(timezone.utc).isoformat(timespec="seconds")),
        "station_version": __version__,
        "units": {"force": "N", "length": "mm", "time": "s", "mass": "kg",
                  "axes": "x = ML (+ subject's right), y = AP (+ forward), origin at the centre of the four cells",
                  "cells": ["fl", "fr", "bl", "br"], "counts": "raw signed ADC counts, columns fl fr bl br"},
        "patient": data.patient.to_dict(),
        "session": {"id": s.id, "protocol": s.protocol, "protocol_title": data.protocol_title, "status": s.status,
                    "started": s.started, "finished": s.finished, "operator": s.operator, "notes": s.notes,
                    "board": s.board, "calibration_id": s.calibration_id, "settings": s.settings},
        "scores": scores_record(data.scores),
        "calibrations": {str(k): v for k, v in data.calibrations.items()},
        "trials": trials,
    })


def write_json(data, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``session<id>.json`` into ``out_dir`` (0600, atomic; replaced only with ``force``); return ``[path]``."""
    path = Path(out_dir) / f"session{data.session.id}.json"
    refuse_existing(path, force=force)
    doc = session_document(data)
    try:
        with private_open(path, "w", force=force) as f:
            json.dump(doc, f, allow_nan=False, separators=(",", ":"))
    except OSError as exc:
        raise StationError(f"Cannot write {path}: {exc.strerror}.") from exc
    log.info("wrote %s", path)
    return [path]
