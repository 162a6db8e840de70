"""The virtual board: a seeded simulator that speaks the exact wire protocol.

It behaves like the firmware: it answers INFO with an info frame, acknowledges commands (TYPE_ACK,
``result`` 0 = ok, 1 = unsupported, 2 = bad payload), streams data frames only between START and STOP,
numbers frames with a u16 sequence and stamps them with its own u32 microsecond clock (which may run
``clock_ppm`` fast or slow against the host). Time only moves when the caller says so
(:meth:`VirtualBoard.advance`), so tests run as fast as the CPU allows and are exactly reproducible.

Simulation time ``t_s`` (seconds since the board was created) is the host's time; conversion ``k`` of
the current boot happens at ``t_boot + k / (rate_hz * (1 + clock_ppm 1e-6))`` and carries
``t_us = clock_start_us + round(k * 1e6 / rate_hz)`` (mod 2^32).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import struct
import threading

import numpy as np

from station.board import protocol as P
from station.board.virtual.board_model import BoardModel, CellChain
from station.board.virtual.faults import ByteFaults, FaultSpec
from station.board.virtual.motion import SubjectMotion
from station.board.virtual.subject import G_M_S2, Subject
from station.board.virtual.truth import GroundTruth, TruthRecorder
from station.errors import StationError

logger = logging.getLogger(__name__)

FIRMWARE_VERSION = "1.0.0"
#: time from a reset to the first conversion of the new boot
BOOT_S = 0.5
MAX_RATE_HZ = 1000.0


def virtual_board_id(seed: int) -> int:
    """The board id a virtual board of ``seed`` reports by default: ``5B000000 + (seed mod 0xFFFFFE) + 1``.

    Distinct seeds are distinct boards (hidden gains and offsets differ), so they get distinct ids;
    seed 0 keeps the historical 5B000001. Never 0 and never FFFFFFFF (the unset id).
    """
    return 0x5B000000 + (int(seed) % 0xFFFFFE) + 1  # 5B000001 .. 5BFFFFFE


class _CommandParser:
    """Splits host->board bytes into command frames (sync, length, type, payload, CRC); bad frames vanish."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        frames = []
        while True:
            i = self._buf.find(P.SYNC)
            if i < 0:
                del self._buf[: max(0, len(self._buf) - 1)]
                return frames
            del self._buf[:i]
            if len(self._buf) < P.HEADER_SIZE:
                return frames
            length, kind = self._buf[2], self._buf[3]
            end = P.HEADER_SIZE + length + P.CRC_SIZE
            if len(self._buf) < end:
                return frames
            body = bytes(self._buf[2 : P.HEADER_SIZE + length])
            (crc,) = struct.unpack_from("<H", self._buf, P.HEADER_SIZE + length)
            if crc == P.crc16(body):
                frames.append((kind, body[2:]))
                del self._buf[:end]
            else:
                logger.debug("virtual board: command frame with a bad CRC ignored")
                del self._buf[:1]

    def reset(self) -> None:
        self._buf.clear()


class VirtualBoard:
    """A simulated balance board.

    Parameters
    ----------
    seed : int
        Seeds every random part (hidden gains and offsets, noise, sway, events, faults).
    rate_hz : float
        Nominal conversion / frame rate (1-1000 Hz).
    subject : Subject or None
        Who stands on the board from time 0 (already settled); None = empty board.
    board : BoardModel or None
        Geometry and electronics (default: the reference 400 x 300 mm board).
    faults : FaultSpec, str or None
        Faults to inject (``FaultSpec.parse`` syntax).
    board_id : int or None
        The id in the info frame (u32); None (the default) = :func:`virtual_board_id` of ``seed``, so
        boards of different seeds (different hidden gains) never share a calibration.
    clock_ppm : float
        Board clock error against the host (+ = board clock fast).
    seq_start, clock_start_us : int
        First sequence number and clock reading (to exercise the u16 / u32 wraps quickly).
    record_truth : bool
        Keep per-frame ground truth (memory grows with the run; events are always kept).
    """

    def __init__(self, *, seed: int = 0, rate_hz: float = 80.0, subject: Subject | None = None, board: BoardModel | None = None,
                 faults: FaultSpec | str | None = None, board_id: int | None = None, clock_ppm: float = 0.0,
                 seq_start: int = 0, clock_start_us: int = 0, record_truth: bool = True):
        if not 1.0 <= float(rate_hz) <= MAX_RATE_HZ:
            raise StationError(f"rate {rate_hz} Hz is outside the virtual board's 1-{MAX_RATE_HZ:.0f} Hz.")
        if abs(clock_ppm) > 10_000:
            raise StationError(f"clock error {clock_ppm} ppm is implausible (limit ±10000 ppm).")
        if board_id is None:
            board_id = virtual_board_id(seed)
        if not 0 <= int(board_id) <= 0xFFFFFFFF:
            raise StationError("board id must fit in 32 bits.")
        self.seed = int(seed)
        self.rate_hz = float(rate_hz)
        self.clock_ppm = float(clock_ppm)
        self.board = board or BoardModel()
        self.faults = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self._board_id = int(board_id)
        self._protocol_major = P.PROTOCOL_MAJOR
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(10)]
        self._cells = CellChain(self.board, self.rate_hz, param_rng=rngs[0], noise_rng=rngs[1])
        self._motion = SubjectMotion(self.rate_hz, rngs[2:6] + rngs[9:10])
        self._byte_faults = ByteFaults(self.faults, rngs[6:9])
        self._lock = threading.RLock()
        self._parser = _CommandParser()
        self._t_s = 0.0
        self._boot_t_s = 0.0
        self._tick = 0
        self._seq = int(seq_start) & 0xFFFF
        self._clock0_us = int(clock_start_us) & 0xFFFFFFFF
        self._streaming = False
        self._replies = bytearray()
        self._masses: list[tuple[float, float, float]] = []
        self._mass_forces_n = np.zeros(4)
        self._last_subject: Subject | None = subject if subject is not None and subject.present else None
        self._frozen_counts: dict[int, int] = {}
        self._last_counts = self._cells.offsets_counts.astype(np.int32)
        self._done_breaks: set = set()
        self._planned_scenes: list = []  # (board time, subject) changes to make (see follow)
        #: False while no host has the port open (set by the pty server): what the board sends then
        #: goes nowhere, and its frames are flagged not intact in the ground truth
        self.host_attached = True
        self._wire_bytes = 0
        meta = {
            "seed": self.seed, "rate_hz": self.rate_hz, "clock_ppm": self.clock_ppm, "board_id": f"{self._board_id:08X}",
            "board": self.board.name, "positions_mm": self.board.positions.tolist(),
            "gains_counts_per_n": self._cells.gains_counts_per_n.tolist(), "offsets_counts": self._cells.offsets_counts.tolist(),
            "skew_fraction": self._cells.skew_fraction.tolist(), "faults": str(self.faults), "g_m_s2": G_M_S2,
        }
        self._truth = TruthRecorder(self.board.positions, meta, enabled=record_truth)
        if subject is not None and subject.present:
            self._motion.set_subject(subject, 0.0, settled=True)
            self._truth.add_events([{"t_s": 0.0, "kind": "scene", "stance": subject.stance, "task": subject.task,
                                     "subject": subject.name, "settled": True}])

    # --- what the host can see ---------------------------------------------------------------------
    @property
    def info(self) -> P.BoardInfo:
        return P.BoardInfo(self._protocol_major, P.PROTOCOL_MINOR, FIRMWARE_VERSION, self._board_id, "virtual",
                           int(round(self.rate_hz)), P.N_CHANNELS)

    @property
    def truth(self) -> GroundTruth:
        with self._lock:
            return self._truth.snapshot()

    @property
    def time_s(self) -> float:
        """Simulation time (s since creation)."""
        return self._t_s

    @property
    def streaming(self) -> bool:
        return self._streaming

    @property
    def subject(self) -> Subject | None:
        return self._motion.subject

    @property
    def hidden_gains_counts_per_n(self) -> np.ndarray:
        """The true per-cell gains (for tests; a host must calibrate instead)."""
        return self._cells.gains_counts_per_n.copy()

    @property
    def hidden_offsets_counts(self) -> np.ndarray:
        """The true per-cell zero offsets (for tests)."""
        return self._cells.offsets_counts.copy()

    @property
    def next_conversion_s(self) -> float:
        """Simulation time of the board's next conversion (a frame, if streaming)."""
        return max(self._boot_t_s + self._tick / (self.rate_hz * (1.0 + self.clock_ppm * 1e-6)), self._t_s)

    def link_up_at(self, t_s: float) -> bool:
        return not any(t0 <= t_s < t0 + d for t0, d in self.faults.disconnects)

    @property
    def link_up(self) -> bool:
        """False while a ``disconnect`` fault holds the link down."""
        return self.link_up_at(self._t_s)

    @property
    def link_restored_at_s(self) -> float | None:
        """When the current disconnect ends (None when the link is up)."""
        for t0, d in self.faults.disconnects:
            if t0 <= self._t_s < t0 + d:
                return t0 + d
        return None

    # --- host -> board -------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Bytes from the host (command frames). Lost while the link is down."""
        with self._lock:
            if not self.link_up:
                logger.debug("virtual board: %d bytes written while the link is down are lost", len(data))
                return
            for kind, payload in self._parser.feed(bytes(data)):
                self._command(kind, payload)

    def _ack(self, cmd: int, result: int) -> None:
        self._replies += P.encode_frame(P.TYPE_ACK, bytes((cmd & 0xFF, result)))

    def _command(self, kind: int, payload: bytes) -> None:
        if kind == P.CMD_INFO:
            self._replies += P.encode_info_frame(self.info)
        elif kind in (P.CMD_START, P.CMD_STOP):
            self._streaming = kind == P.CMD_START
            if self._streaming and self.faults.disconnects_after_start:  # the first start fixes their times
                self.faults = dataclasses.replace(
                    self.faults, disconnects_after_start=(),
                    disconnects=self.faults.disconnects + tuple((self._t_s + t, d)
                                                                for t, d in self.faults.disconnects_after_start))
            self._truth.add_events([{"t_s": self._t_s, "kind": "start" if self._streaming else "stop"}])
            self._ack(kind, P.ACK_OK)
        elif kind == P.CMD_SET_BOARD_ID:
            if len(payload) != 4:
                self._ack(kind, P.ACK_BAD_PAYLOAD)
                return
            (self._board_id,) = struct.unpack("<I", payload)
            self._ack(kind, P.ACK_OK)
        elif kind == P.CMD_SIM_SCENE:
            try:
                self.apply_scene(json.loads(payload.decode("utf-8")))
            except (ValueError, TypeError, AttributeError, StationError) as exc:
                logger.warning("virtual board: scene command refused: %s", exc)
                self._ack(kind, P.ACK_BAD_PAYLOAD)
                return
            self._ack(kind, P.ACK_OK)
        else:
            self._ack(kind, P.ACK_UNSUPPORTED)

    # --- scene -----------------------------------------------------------------------------------------
    def apply_scene(self, scene: dict) -> None:
        """Apply a CMD_SIM_SCENE object: ``{"subject": {...} | "preset" | null}`` and/or ``{"masses": [[kg, x, y], ...]}``.

        Subject fields update the current (or last) subject, so ``{"subject": {"stance": "left",
        "task": "single_leg"}}`` makes the same person stand on the left leg.
        """
        if not isinstance(scene, dict) or not set(scene) <= {"subject", "masses"} or not scene:
            raise StationError("a scene is an object with 'subject' and/or 'masses'.")
        with self._lock:
            if "subject" in scene:
                v = scene["subject"]
                if v is None:
                    self.set_subject(None)
                elif isinstance(v, str):
                    self.set_subject(Subject.resolve(v))
                elif isinstance(v, dict):
                    if "preset" in v:
                        self.set_subject(Subject.from_dict(v))
                    else:
                        base = self._motion.subject or self._last_subject or Subject()
                        self.set_subject(base.replace(**v))
                else:
                    raise StationError("scene 'subject' must be an object, a preset name or null.")
            if "masses" in scene:
                masses = [(float(kg), float(x), float(y)) for kg, x, y in scene["masses"]]
                self.clear_masses()
                for kg, x, y in masses:
                    self.place_mass(kg, x, y)

    def set_subject(self, subject: Subject | None) -> None:
        """Someone steps on, off, or changes stance/task now (ramps over ``subject.ramp_s``)."""
        with self._lock:
            if subject is not None and subject.present:
                self._last_subject = subject
            self._truth.add_events(self._motion.set_subject(subject, self._t_s))

    def follow(self, scenario) -> None:
        """Make each scene of ``scenario`` (a :class:`~station.board.virtual.scenes.Scenario`) at its board time.

        The subject changes exactly at each scene's ``start_s`` however the board is advanced; a scene
        already past happens at the next ``advance``.
        """
        with self._lock:
            self._planned_scenes.extend((float(s.start_s), s.subject) for s in scenario.scenes)

    def place_mass(self, kg: float, x_mm: float, y_mm: float) -> None:
        """Put a known static mass (kg) at (x_mm, y_mm); it weighs ``kg * 9.80665`` N."""
        if kg <= 0:
            raise StationError("a calibration mass must be positive.")
        with self._lock:
            self._masses.append((float(kg), float(x_mm), float(y_mm)))
            self._update_masses()

    def clear_masses(self) -> None:
        with self._lock:
            self._masses.clear()
            self._update_masses()

    def _update_masses(self) -> None:
        f = np.zeros(4)
        for kg, x, y in self._masses:
            f += self.board.cell_forces(kg * G_M_S2, x, y)[0]
        self._mass_forces_n = f
        self._truth.add_events([{"t_s": self._t_s, "kind": "masses", "masses": [list(m) for m in self._masses]}])

    @property
    def masses(self) -> list[tuple[float, float, float]]:
        return list(self._masses)

    # --- time ------------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> bytes:
        """Let ``seconds`` of board time pass; return every byte the board put on the wire meanwhile.

        Replies to commands written since the last call come first, then data frames (if streaming);
        byte faults are applied; nothing is returned while the link is down or ``host_attached`` is False.
        """
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(f"time only moves forward (got {seconds!r} s)")
        with self._lock:
            t_end = self._t_s + float(seconds)
            out = bytearray()
            chunks = []  # per-frame truth pieces
            offsets = []  # offset of each frame in `out`, -1 if it never reached the wire
            if self.link_up and self.host_attached:
                out += self._replies
            self._replies.clear()
            while True:
                brk = self._next_break(t_end)
                seg_end = t_end if brk is None else brk[0]
                self._run_until(seg_end, out, chunks, offsets)
                self._t_s = max(self._t_s, seg_end)
                if brk is None:
                    break
                self._handle_break(brk, out)
            self._t_s = t_end
            offsets_arr = np.asarray(offsets, dtype=np.int64)
            on_wire = offsets_arr >= 0
            wire, intact_on_wire, ends = self._byte_faults.apply(bytes(out), offsets_arr[on_wire])
            if chunks and self._truth.enabled:
                forged = np.concatenate([c.pop("forged") for c in chunks])
                truth = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
                intact = np.zeros(len(offsets_arr), dtype=bool)
                intact[on_wire] = intact_on_wire
                intact &= ~forged  # what reached the wire is not the true frame
                wire_end = np.full(len(offsets_arr), -1, np.int64)
                wire_end[on_wire] = self._wire_bytes + ends
                self._truth.append(intact=intact, wire_end=wire_end, **truth)
            self._wire_bytes += len(wire)
            return wire

    @property
    def wire_bytes(self) -> int:
        """Bytes the board has put on the wire since it was made (everything :meth:`advance` returned)."""
        return self._wire_bytes

    def host_lost(self, start: int, end: int) -> int:
        """Wire bytes ``start`` to ``end`` (counted as :attr:`wire_bytes`) never reached the host: a pty closed
        before the host read them, or a full pty buffer. Their frames become not intact in the ground truth, so
        the truth stays exact however slow the host is. Returns how many intact frames that touched."""
        with self._lock:
            return self._truth.mark_lost(start, end)

    def _breaks(self):
        for t0, d in self.faults.disconnects:
            yield (t0, "disconnect", d)
            yield (t0 + d, "reconnect", d)
        for t in self.faults.reboots:
            yield (t, "reboot", 0.0)
        for t, major in self.faults.reflashes:
            yield (t, "reboot", float(major))  # a restart into firmware speaking protocol ``major``
        for k, (t, _) in enumerate(self._planned_scenes):
            yield (t, "scene", float(k))

    def _next_break(self, t_end: float):
        pending = [b for b in self._breaks() if b not in self._done_breaks and b[0] <= t_end]
        return min(pending) if pending else None

    def _handle_break(self, brk, out: bytearray) -> None:
        t, kind, d = brk
        self._done_breaks.add(brk)
        if kind == "scene":  # a planned change of subject (its scene event goes to the truth)
            self.set_subject(self._planned_scenes[int(d)][1])
            return
        event = {"t_s": t, "kind": kind}
        if kind == "disconnect":
            event["duration_s"] = d
            self._parser.reset()
        elif kind == "reconnect" and self.faults.swap_board_id is not None:
            self._board_id = self.faults.swap_board_id  # another board on the same path
            event["board_id"] = f"{self._board_id:08X}"
        if kind == "reboot" and d:
            self._protocol_major = int(d)
            event["protocol_major"] = int(d)
        if kind == "reboot":
            self._boot_t_s = t + BOOT_S
            self._tick = 0
            self._seq = 0
            self._clock0_us = 0
            self._parser.reset()
            self._replies.clear()
            if self.link_up_at(t):
                out += P.encode_info_frame(self.info)  # the firmware announces itself after a reset
        logger.info("virtual board: %s at %.3f s", kind, t)
        self._truth.add_events([event])

    def _run_until(self, t_end: float, out: bytearray, chunks: list, offsets: list) -> None:
        rate_eff = self.rate_hz * (1.0 + self.clock_ppm * 1e-6)
        if t_end < self._boot_t_s:
            return
        k_last = int(np.floor((t_end - self._boot_t_s) * rate_eff + 1e-9))
        if k_last < self._tick:
            return
        k = np.arange(self._tick, k_last + 1)
        self._tick = k_last + 1
        t = self._boot_t_s + k / rate_eff
        total, x, y, events = self._motion.sample(t)
        self._truth.add_events(events)
        forces = self.board.cell_forces(total, x, y) + self._mass_forces_n
        counts, saturated = self._cells.convert(forces, t)
        status = np.zeros(len(k), dtype=np.uint8)
        missed = np.zeros(len(k), dtype=np.uint8)
        counts, status, missed = self._cell_faults(t, counts, saturated, status, missed)
        self._last_counts = counts[-1].copy()
        if not self._streaming:
            return
        n = len(k)
        frames = np.zeros(n, dtype=P.FRAME_DTYPE)
        frames["seq"] = (self._seq + np.arange(n)) & 0xFFFF
        self._seq = (self._seq + n) & 0xFFFF
        frames["t_us"] = (self._clock0_us + np.rint(k * (1e6 / self.rate_hz)).astype(np.int64)) & 0xFFFFFFFF
        frames["counts"] = counts  # (a copy: the truth keeps the real counts if a forged frame replaces them)
        frames["status"] = status
        frames["missed"] = missed
        link = np.full(n, self.host_attached, dtype=bool)
        for t0, d in self.faults.disconnects:
            link &= ~((t >= t0) & (t < t0 + d))
        true_seq, true_t_us = frames["seq"].copy(), frames["t_us"].copy()
        forged = self._forge(frames, t)
        wire_frames = frames[link]
        frame_offsets = np.full(n, -1, dtype=np.int64)
        frame_offsets[link] = len(out) + P.DATA_FRAME_SIZE * np.arange(len(wire_frames))
        offsets.extend(frame_offsets.tolist())
        if len(wire_frames):
            out += P.encode_data_frames(wire_frames)
        chunks.append(dict(t_s=t, seq=true_seq, t_us=true_t_us, counts=counts, status=status, missed=missed,
                           forces_n=forces, forged=forged))

    def _forge(self, frames: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Replace the frames due at ``forge`` times by CRC-valid impossible ones (in place); return the mask.

        The truth keeps the real values (``frames`` fields are copied first), so it can say which wire
        frames were not the truth.
        """
        forged = np.zeros(len(frames), dtype=bool)
        for t0, kind in self.faults.forge:
            key = ("forge", t0, kind)
            if key in self._done_breaks or not len(t) or t[-1] < t0:
                continue
            i = int(np.searchsorted(t, t0))
            if i >= len(t):
                continue
            self._done_breaks.add(key)
            forged[i] = True
            if kind == "counts":
                frames["counts"][i, 1] = 0x3F000000  # far outside ±2^23: no 24-bit ADC can say this
            else:
                frames["t_us"][i] = (int(frames["t_us"][i]) + 9_700_000) & 0xFFFFFFFF
        return forged

    def _cell_faults(self, t, counts, saturated, status, missed):
        f = self.faults
        for i in range(4):
            status[saturated[:, i]] |= 1 << i
        for fault in f.dead:
            m = t >= fault.start_s
            counts[m, fault.cell] = self._cells.offsets_counts[fault.cell]
        for fault in f.saturate:
            m = t >= fault.start_s
            counts[m, fault.cell] = P.COUNT_MAX
            status[m] |= 1 << fault.cell
        for fault in f.timeout:
            m = t >= fault.start_s
            if not m.any():
                continue
            if fault.cell not in self._frozen_counts:
                first = int(np.argmax(m))
                self._frozen_counts[fault.cell] = int(counts[first - 1, fault.cell] if first > 0 else self._last_counts[fault.cell])
            counts[m, fault.cell] = self._frozen_counts[fault.cell]
            status[m] |= 1 << (4 + fault.cell)
            missed[m] = 1
        return counts, status, missed
