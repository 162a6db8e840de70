"""Faults on demand for the virtual board: a small spec language and the byte-level damage.

Spec: comma-separated ``key=value`` items (keys may repeat where a list makes sense)::

    corrupt=P        each byte on the wire is altered (XOR with a random non-zero value) with probability P
    drop=P           each byte is lost with probability P
    burst=P:N        at each data frame, with probability P, N consecutive bytes are lost from its first byte on
    disconnect=T:D   the link goes away at simulation time T s for D s (repeatable); ``+T`` counts from the
                     first start command instead (a host that takes long to start still sees the disconnect
                     T s into its stream)
    reboot=T         the board resets at T s: sequence and clock restart, info frame, streaming resumes (repeatable)
    dead=CELL[@T]    the cell gives no signal from T s on (stuck at its zero-load reading, no noise)
    saturate=CELL[@T]  the cell reads the positive 24-bit rail with its saturation status bit
    timeout=CELL[@T]   the cell's ADC stops answering: last value repeated, timeout status bit, missed conversions
    forge=T[:KIND]   the frame due at T s is replaced by one that passes its CRC but cannot be true (repeatable):
                     KIND ``counts`` (default; a count outside the 24-bit range) or ``clock`` (stamped 9.7 s ahead)
    reflash=T:MAJOR  the board restarts at T s running firmware that speaks protocol MAJOR.0 (its info frame says so)
    swap=HEX         the board that comes back after a disconnect is another one, with board id HEX

Times are simulation seconds since the board was created (the ground truth's ``t_s``). CELL is one of
fl, fr, bl, br. Byte faults are per byte (``corrupt``, ``drop``) or per frame (``burst``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from station.board.protocol import CHANNELS, DATA_FRAME_SIZE
from station.errors import StationError

logger = logging.getLogger(__name__)

KNOWN_FAULTS = ("corrupt", "drop", "burst", "disconnect", "reboot", "dead", "saturate", "timeout", "forge", "reflash",
                "swap")
FORGE_KINDS = ("counts", "clock")


@dataclass(frozen=True)
class CellFault:
    """A cell fault from ``start_s`` on (cell index 0..3 = fl, fr, bl, br)."""

    cell: int
    start_s: float = 0.0


@dataclass(frozen=True)
class FaultSpec:
    """Which faults the virtual board injects (see the module docstring for the spec language)."""

    corrupt: float = 0.0
    drop: float = 0.0
    burst_p: float = 0.0
    burst_bytes: int = 0
    disconnects: tuple = ()  # ((t_s, duration_s), ...)
    disconnects_after_start: tuple = ()  # ((s after the first start command, duration_s), ...)
    reboots: tuple = ()  # (t_s, ...)
    dead: tuple = ()  # (CellFault, ...)
    saturate: tuple = ()
    timeout: tuple = ()
    forge: tuple = ()  # ((t_s, kind), ...)
    reflashes: tuple = ()  # ((t_s, protocol_major), ...)
    swap_board_id: int | None = None
    text: str = field(default="", compare=False)

    @property
    def any_byte_faults(self) -> bool:
        return bool(self.corrupt or self.drop or self.burst_p)

    def __str__(self) -> str:
        return self.text or "none"

    @classmethod
    def parse(cls, spec: str | None) -> "FaultSpec":
        """Parse a fault spec such as ``"corrupt=0.01,drop=0.001,disconnect=12.0:2.0,reboot=20,dead=fr"``.

        Raises
        ------
        StationError
            With a clear sentence on any unknown key or malformed value.
        """
        if spec is None or not str(spec).strip() or str(spec).strip() == "none":
            return cls()
        values: dict = {"disconnects": [], "disconnects_after_start": [], "reboots": [], "dead": [], "saturate": [], "timeout": [], "forge": [], "reflashes": []}
        for item in str(spec).split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            key = key.strip()
            value = value.strip()
            if key not in KNOWN_FAULTS:
                raise StationError(f"unknown fault '{key}'; known: {', '.join(KNOWN_FAULTS)}.")
            if not sep or not value:
                raise StationError(f"fault '{key}' needs a value (e.g. {_EXAMPLES[key]}).")
            try:
                if key in ("corrupt", "drop"):
                    values[key] = _probability(value)
                elif key == "burst":
                    p, _, n = value.partition(":")
                    values["burst_p"] = _probability(p)
                    values["burst_bytes"] = int(n)
                    if values["burst_bytes"] <= 0:
                        raise ValueError
                elif key == "disconnect":
                    t, _, d = value.partition(":")
                    t_s, d_s = float(t), float(d)
                    if t_s < 0 or d_s <= 0:
                        raise ValueError
                    relative = t.strip().startswith("+")
                    values["disconnects_after_start" if relative else "disconnects"].append((t_s, d_s))
                elif key == "forge":
                    t, _, kind = value.partition(":")
                    kind = kind or "counts"
                    if kind not in FORGE_KINDS:
                        raise StationError(f"fault 'forge' kind '{kind}' is unknown; kinds: {', '.join(FORGE_KINDS)}.")
                    t_s = float(t)
                    if t_s < 0:
                        raise ValueError
                    values["forge"].append((t_s, kind))
                elif key == "reflash":
                    t, _, major = value.partition(":")
                    t_s, major_i = float(t), int(major)
                    if t_s < 0 or not 1 <= major_i <= 255:
                        raise ValueError
                    values["reflashes"].append((t_s, major_i))
                elif key == "swap":
                    board_id = int(value, 16)
                    if not 0 <= board_id <= 0xFFFFFFFF:
                        raise ValueError
                    values["swap_board_id"] = board_id
                elif key == "reboot":
                    t_s = float(value)
                    if t_s < 0:
                        raise ValueError
                    values["reboots"].append(t_s)
                else:
                    name, _, at = value.partition("@")
                    if name not in CHANNELS:
                        raise StationError(f"fault '{key}' names unknown cell '{name}'; cells: {', '.join(CHANNELS)}.")
                    values[key].append(CellFault(CHANNELS.index(name), float(at) if at else 0.0))
            except (ValueError, TypeError):
                raise StationError(f"malformed fault '{item}'; expected e.g. {_EXAMPLES[key]}.") from None
        for key in ("disconnects", "disconnects_after_start", "reboots", "dead", "saturate", "timeout", "forge",
                    "reflashes"):
            values[key] = tuple(sorted(values[key], key=lambda v: v if not isinstance(v, CellFault) else v.start_s))
        return cls(text=str(spec).strip(), **values)


_EXAMPLES = {
    "corrupt": "corrupt=0.01", "drop": "drop=0.001", "burst": "burst=0.01:64", "disconnect": "disconnect=12.0:2.0",
    "reboot": "reboot=20", "dead": "dead=fr", "saturate": "saturate=bl@5", "timeout": "timeout=br", "forge": "forge=5:clock", "reflash": "reflash=10:2", "swap": "swap=5B0000FF",
}


def _probability(text: str) -> float:
    p = float(text)
    if not 0.0 <= p <= 1.0:
        raise ValueError
    return p


class ByteFaults:
    """Applies the byte-level faults of a spec to what the board sends (state kept between calls).

    Each fault kind has its own generator and draws a fixed amount per byte / per frame, so the damage
    does not depend on how the stream is chunked.
    """

    def __init__(self, spec: FaultSpec, rngs):
        self.spec = spec
        self._rng_corrupt, self._rng_drop, self._rng_burst = rngs
        self._burst_left = 0
        self.bytes_corrupted = 0
        self.bytes_dropped = 0

    def apply(self, buf: bytes, frame_offsets: np.ndarray) -> tuple[bytes, np.ndarray, np.ndarray]:
        """Damage ``buf``; return the bytes that reach the wire, per data frame whether it is intact, and per
        data frame the offset in the returned bytes just after its last byte (where it ends on the wire).

        Parameters
        ----------
        buf : bytes
            Everything the board emitted in one step (replies and data frames, in order).
        frame_offsets : ndarray of int
            Offset in ``buf`` of each data frame (``DATA_FRAME_SIZE`` bytes each).
        """
        n = len(buf)
        offsets = np.asarray(frame_offsets, dtype=np.int64)
        if not self.spec.any_byte_faults or n == 0:
            return bytes(buf), np.ones(len(offsets), dtype=bool), offsets + DATA_FRAME_SIZE
        data = np.frombuffer(bytes(buf), dtype=np.uint8).copy()
        damaged = np.zeros(n, dtype=bool)
        keep = np.ones(n, dtype=bool)
        s = self.spec
        if s.burst_p:
            starts = offsets[self._rng_burst.random(len(offsets)) < s.burst_p]
            if self._burst_left:  # a burst that began in the previous step
                carried = min(self._burst_left, n)
                keep[:carried] = False
                self._burst_left -= carried
            for start in starts:
                keep[start : start + s.burst_bytes] = False
                self._burst_left = max(self._burst_left, int(start) + s.burst_bytes - n)
        if s.drop:
            keep &= self._rng_drop.random(n) >= s.drop
        if s.corrupt:
            r = self._rng_corrupt.random((n, 2))
            hit = r[:, 0] < s.corrupt
            data[hit] ^= (1 + np.floor(r[hit, 1] * 255)).astype(np.uint8)
            damaged |= hit
        damaged |= ~keep
        self.bytes_corrupted += int(np.count_nonzero(damaged & keep))
        self.bytes_dropped += int(np.count_nonzero(~keep))
        if len(offsets):
            idx = offsets[:, None] + np.arange(DATA_FRAME_SIZE)[None, :]
            intact = ~damaged[idx].any(axis=1)
        else:
            intact = np.ones(0, dtype=bool)
        ends = np.cumsum(keep)[offsets + DATA_FRAME_SIZE - 1] if len(offsets) else offsets
        return data[keep].tobytes(), intact, ends
