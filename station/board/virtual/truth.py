"""Ground truth of a virtual-board run: what was on the board and what went on the wire, per frame."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from station.board.protocol import DATA_FRAME_SIZE

logger = logging.getLogger(__name__)

#: below this true total force (N) the true COP is NaN
TRUTH_COP_MIN_N = 1.0

_ARRAYS = {
    "t_s": ("f8", ()),
    "seq": ("u2", ()),
    "t_us": ("u4", ()),
    "counts": ("i4", (4,)),
    "status": ("u1", ()),
    "missed": ("u1", ()),
    "forces_n": ("f8", (4,)),
    "total_n": ("f8", ()),
    "cop_ml_mm": ("f8", ()),
    "cop_ap_mm": ("f8", ()),
    "intact": ("?", ()),
}


@dataclass
class GroundTruth:
    """Per emitted data frame (one row each, in emission order) and the run's events.

    Attributes
    ----------
    t_s : (n,) float64
        Simulation (host) time of the frame's conversion, s since the board was created.
    seq, t_us : (n,) uint16, uint32
        Sequence number and board clock as put in the frame.
    counts : (n, 4) int32
        Counts as generated (before any byte damage), fl fr bl br.
    status, missed : (n,) uint8
        Status byte and missed-conversion count as generated.
    forces_n : (n, 4) float64
        True vertical forces on the cells (no creep, drift or noise).
    total_n, cop_ml_mm, cop_ap_mm : (n,) float64
        True total force and COP from the true forces (NaN COP below 1 N).
    intact : (n,) bool
        The frame's 30 bytes reached the wire unchanged (not dropped, corrupted, lost in a disconnect,
        or sent while no host had the pseudo-terminal open).
    events : list of dict
        ``{"t_s": ..., "kind": ...}`` in time order: step_on, step_off, scene, touchdown, rep_start,
        rep_bottom, rep_end, disconnect, reconnect, reboot, start, stop, masses.
    meta : dict
        Seed, rate, board geometry and the hidden gains/offsets (for tests only: the host must calibrate).
    """

    t_s: np.ndarray
    seq: np.ndarray
    t_us: np.ndarray
    counts: np.ndarray
    status: np.ndarray
    missed: np.ndarray
    forces_n: np.ndarray
    total_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray
    intact: np.ndarray
    events: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t_s)

    def events_of(self, kind: str) -> list[dict]:
        """Events of one kind, in time order."""
        return [e for e in self.events if e["kind"] == kind]

    def save_npz(self, path) -> Path:
        """Write every array, plus ``events`` and ``meta`` as JSON strings, to a compressed ``.npz``."""
        p = Path(path)
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        np.savez_compressed(p, **arrays, events=np.array(json.dumps(self.events)), meta=np.array(json.dumps(self.meta)))
        written = p if p.suffix == ".npz" else p.with_name(p.name + ".npz")
        logger.info("ground truth (%d frames, %d events) written to %s", len(self), len(self.events), written)
        return written

    @classmethod
    def load_npz(cls, path) -> "GroundTruth":
        with np.load(path) as z:
            arrays = {name: z[name] for name in _ARRAYS}
            return cls(**arrays, events=json.loads(str(z["events"])), meta=json.loads(str(z["meta"])))


class TruthRecorder:
    """Collects ground-truth chunks; :meth:`snapshot` concatenates them (cached until the next append)."""

    def __init__(self, positions_mm: np.ndarray, meta: dict, *, enabled: bool = True):
        self.enabled = enabled
        self.positions_mm = np.asarray(positions_mm, dtype=float)
        self.meta = meta
        self.events: list[dict] = []
        self._chunks: list[dict] = []
        self._cache: GroundTruth | None = None
        #: per frame, where it ends in the board's wire stream (bytes from the first one; -1: never sent)
        self._wire_end: list[np.ndarray] = []

    def add_events(self, events: list[dict]) -> None:
        if events:
            self.events.extend(events)
            self._cache = None

    def append(self, *, t_s, seq, t_us, counts, status, missed, forces_n, intact, wire_end=None) -> None:
        if not self.enabled or len(t_s) == 0:
            return
        self._wire_end.append(np.full(len(t_s), -1, np.int64) if wire_end is None else np.asarray(wire_end, np.int64))
        total = forces_n.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cop = (forces_n @ self.positions_mm) / total[:, None]
        cop[total < TRUTH_COP_MIN_N] = np.nan
        self._chunks.append(dict(t_s=t_s, seq=seq, t_us=t_us, counts=counts, status=status, missed=missed,
                                 forces_n=forces_n, total_n=total, cop_ml_mm=cop[:, 0], cop_ap_mm=cop[:, 1], intact=intact))
        self._cache = None

    def mark_lost(self, start: int, end: int) -> int:
        """Bytes ``start`` to ``end`` of the wire stream never reached the host (the board put them out, the
        host side lost them): every frame with a byte in that range is not intact. Returns how many were."""
        if not self.enabled or end <= start or not self._wire_end:
            return 0
        if len(self._wire_end) > 1:
            self._wire_end = [np.concatenate(self._wire_end)]
        ends = self._wire_end[0]
        hit = (ends > start) & (ends - DATA_FRAME_SIZE < end)
        if not hit.any():
            return 0
        self.snapshot()  # one chunk, so the flags can be cleared in place
        # a copy: a snapshot handed out earlier keeps what it said then
        intact = self._chunks[0]["intact"] = self._chunks[0]["intact"].copy()
        lost = int(np.count_nonzero(intact[hit]))
        intact[hit] = False
        self._cache = None
        return lost

    def snapshot(self) -> GroundTruth:
        if self._cache is None:
            if len(self._chunks) > 1:
                self._chunks = [{k: np.concatenate([c[k] for c in self._chunks]) for k in _ARRAYS}]
            arrays = {}
            for name, (dtype, shape) in _ARRAYS.items():
                arrays[name] = (np.asarray(self._chunks[0][name], dtype=dtype) if self._chunks else np.zeros((0, *shape), dtype=dtype))
            events = sorted(self.events, key=lambda e: e["t_s"])
            self._cache = GroundTruth(**arrays, events=events, meta=dict(self.meta))
        return self._cache
