"""The state of one board's frame stream, without a thread: fed decoded batches, it says what they mean.

:class:`StreamState` is the one place that knows the stream's history: it checks each batch's info
frames (a reboot, a late answer to an info request, another board, another protocol major), rejects
frames that cannot be true (:class:`~station.board.decode.FrameSanity`), unwraps the board clock and
maps it to the host clock, marks gaps (link lost, reboot) with the frames lost in them, and tallies
link quality (:class:`~station.board.quality.LinkStats`: lost frames by sequence, CRC errors, resyncs,
implausible frames, reboots). Each :meth:`StreamState.feed` returns a :class:`StreamUpdate`: the
time-stamped :class:`Chunk` s of frames, the link counts of the batch, the acks, and a
:class:`LinkFailure` when the stream must end. A thread (the acquisition) or a test feeds it in the same
way; it never reads a clock of its own (arrival times are given).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from station.board.clock import HALF_WRAP_US, WRAP_US, DeviceClock, HostClockFit
from station.board.decode import DecodedBatch, FrameSanity
from station.board.journal import FLAG_NEW_SEGMENT, FLAG_REBOOT
from station.board.protocol import FRAME_DTYPE, PROTOCOL_MAJOR, BoardInfo
from station.board.quality import LinkStats

log = logging.getLogger(__name__)

#: gap kinds: the link dropped and came back / the board restarted
GAP_LINK_LOST = "link_lost"
GAP_REBOOT = "reboot"
#: failure kinds that end a recording as failed (the trial's quality carries ``failed`` / ``failed_code``)
BOARD_CHANGED = "board_changed"
PROTOCOL_CHANGED = "protocol_changed"
FAILURE_KINDS = (BOARD_CHANGED, PROTOCOL_CHANGED)


@dataclass(frozen=True)
class Gap:
    """A stretch without frames: the link was lost, or the board rebooted (device seconds, session axis)."""

    t_start_s: float
    t_end_s: float
    kind: str
    lost_frames: int = 0

    def to_dict(self) -> dict:
        """The journal's gap record."""
        return {"t_start_s": self.t_start_s, "t_end_s": self.t_end_s, "kind": self.kind,
                "lost_frames": self.lost_frames}

    def to_event(self) -> dict:
        """The trial's event for this gap."""
        return {"t_s": self.t_start_s, "kind": self.kind, "t_end_s": self.t_end_s}


@dataclass(frozen=True)
class LinkFailure:
    """Why the stream ended as failed: another board answered, or the board changed protocol major."""

    t_s: float
    kind: str
    message: str

    def to_event(self) -> dict:
        """The trial's (and journal's) event for this failure."""
        return {"t_s": self.t_s, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class Chunk:
    """Consecutive plausible frames with their times.

    Attributes
    ----------
    frames : FRAME_DTYPE (n,)
    device_s : float64 (n,)
        Unwrapped board time (s, the stream's axis).
    host_s : float64 (n,)
        Device time mapped to the host clock (s, the arrival-time axis the stream was fed).
    flags : uint8 (n,)
        :data:`~station.board.journal.FLAG_NEW_SEGMENT`, :data:`~station.board.journal.FLAG_REBOOT`.
    gap : Gap or None
        The gap that ends right before the first frame.
    """

    frames: np.ndarray
    device_s: np.ndarray
    host_s: np.ndarray
    flags: np.ndarray
    gap: Gap | None = None


@dataclass
class StreamUpdate:
    """What one batch meant."""

    chunks: list[Chunk] = field(default_factory=list)
    #: this batch's crc_errors, resyncs, skipped_bytes and implausible_frames
    link_counts: dict = field(default_factory=dict)
    acks: list[tuple[int, int]] = field(default_factory=list)
    failure: LinkFailure | None = None
    #: the board announced a restart: it waits for a start command
    rebooted: bool = False

    @property
    def n_frames(self) -> int:
        return sum(len(c.frames) for c in self.chunks)


class StreamState:
    """Clock, sanity, lost frames, reboots, gaps and link counts of one board's stream.

    Parameters
    ----------
    info : BoardInfo
        The board the stream comes from (mid-stream info frames are compared with it).
    name : str
        The endpoint, for messages.
    nominal_rate_hz : float
    regular_timing : bool
        Frames come every nominal period, so a clock step that disagrees with the sequence step marks
        an impossible frame (see :attr:`station.board.source.Source.regular_timing`).
    """

    def __init__(self, info: BoardInfo, *, name: str, nominal_rate_hz: float, regular_timing: bool = True):
        period_s = 1.0 / max(float(nominal_rate_hz or 80), 1.0)
        self.info = info
        self.name = name
        self.clock = DeviceClock(nominal_period_s=period_s)
        self.fit = HostClockFit()
        self.sanity = FrameSanity(nominal_period_s=period_s, check_timing=regular_timing)
        #: link quality since the stream began
        self.stats = LinkStats()
        self.failure: LinkFailure | None = None
        self._after_reconnect = False  # the next frame follows a reconnect
        self._reboot_pending = False  # an info frame announced a reboot before its first frame
        self._frames_since_connect = 0
        self._last_arrival_s: float | None = None
        self._last_seq: int | None = None

    # ------------------------------------------------------------------ events from the link
    def feed(self, batch: DecodedBatch, arrival_s: float) -> StreamUpdate:
        """Interpret one decoded batch that arrived at host time ``arrival_s``."""
        update = StreamUpdate(acks=list(batch.acks))
        self._count(update, crc_errors=batch.crc_errors, resyncs=batch.resyncs, skipped_bytes=batch.skipped_bytes)
        # Split the batch at info frames: a mid-stream info after data frames is a reboot.
        reboot_at: list[int] = []
        frames = batch.frames
        for info, pos in zip(batch.infos, batch.info_positions):
            failure = self._identity_failure(info)
            if failure is not None:
                # keep the frames that came before the announcement, refuse everything after it
                frames = frames[:pos]
                for a, b in zip([0, *reboot_at], [*reboot_at, len(frames)]):
                    if b > a:
                        self._add(update, frames[a:b], arrival_s, reboot=a in reboot_at)
                update.failure = self.fail(*failure)
                return update
            self.info = info
            if self._frames_since_connect + pos > 0:
                reboot_at.append(pos)
        n = len(frames)
        pieces = sorted({0, *[p for p in reboot_at if p < n], n})
        for a, b in zip(pieces[:-1], pieces[1:]):
            reboot = a in reboot_at or (a == 0 and self._reboot_pending)
            used = self._add(update, frames[a:b], arrival_s, reboot=reboot)
            self._reboot_pending = reboot and not used
        if reboot_at and reboot_at[-1] >= n:
            self._reboot_pending = True  # the info came last: the next frame starts anew
        update.rebooted = bool(reboot_at)
        return update

    def link_lost(self, last_batch: DecodedBatch, arrival_s: float) -> StreamUpdate:
        """The link dropped: interpret what the source still held, and decide a frame the sanity check holds."""
        update = self.feed(last_batch, arrival_s)
        if update.failure is None and self.sanity.holding:
            held = self.sanity.feed(np.zeros(0, FRAME_DTYPE), final=True)
            if len(held):
                self._add(update, held, self._last_arrival_s if self._last_arrival_s is not None else arrival_s,
                          reboot=False, checked=True)
        return update

    def reconnected(self, info: BoardInfo) -> LinkFailure | None:
        """The link came back with ``info``: the failure when it is another board, else None (streaming resumes)."""
        if info.board_id != self.info.board_id:
            return self.fail(BOARD_CHANGED, self._board_changed_message(info))
        self.info = info
        self._after_reconnect = True
        self._frames_since_connect = 0
        return None

    def fail(self, kind: str, message: str) -> LinkFailure:
        """End the stream as failed (``kind`` one of :data:`FAILURE_KINDS`)."""
        log.error("%s", message)
        self.failure = LinkFailure(self.clock.last_s if self.clock.last_s is not None else 0.0, kind, message)
        return self.failure

    # ------------------------------------------------------------------ helpers
    def _count(self, update: StreamUpdate, **counts: int) -> None:
        """Tally link counts once, live, and hand them to the update (for a recording)."""
        self.stats.add_link_counts(**counts)
        for key, value in counts.items():
            update.link_counts[key] = update.link_counts.get(key, 0) + int(value)

    def _identity_failure(self, info: BoardInfo) -> tuple[str, str] | None:
        if info.protocol_major != PROTOCOL_MAJOR:
            return (PROTOCOL_CHANGED,
                    f"the board on {self.name} announced protocol {info.protocol_major}.{info.protocol_minor} in the "
                    f"middle of the stream; this station understands {PROTOCOL_MAJOR}.x, so the recording stopped "
                    "(what was recorded before is kept).")
        if info.board_id != self.info.board_id:
            return BOARD_CHANGED, self._board_changed_message(info)
        return None

    def _board_changed_message(self, info: BoardInfo) -> str:
        return (f"a different board (id {info.board_id_hex}) answered on {self.name} where board "
                f"{self.info.board_id_hex} was recording; the trial ends as failed instead of merging two boards' "
                "data under one calibration (what was recorded before is kept).")

    def _continues_stream(self, frame) -> bool:
        """True when ``frame`` follows the last frame in both sequence number and board clock.

        A board that rebooted restarts both; an info frame followed by such a frame was a late
        answer to one of our info requests (a handshake repeats them when the board is slow to
        answer), not a reboot.
        """
        if self._last_seq is None or self.clock.last_us is None:
            return False
        step = (int(frame["seq"]) - self._last_seq) % 65536
        if not 0 < step < 4096:
            return False
        dt_us = (int(frame["t_us"]) - self.clock.last_us) % WRAP_US
        expected_us = step * self.clock.nominal_period_s * 1e6
        return dt_us < HALF_WRAP_US and abs(dt_us - expected_us) <= 0.05 * expected_us + 2e6 * self.clock.nominal_period_s

    def _add(self, update: StreamUpdate, frames: np.ndarray, arrival_s: float, *, reboot: bool,
             checked: bool = False) -> bool:
        """Check, time-stamp and tally consecutive frames into ``update``; False when none was plausible."""
        if reboot and self._continues_stream(frames[0]):
            log.info("%s: an info frame mid-stream answered an info request; the board did not reboot", self.name)
            reboot = False
        if not checked:
            if reboot or self._after_reconnect:
                self.sanity.reset()
            before = self.sanity.rejected
            frames = self.sanity.feed(frames)
            if self.sanity.rejected > before:
                self._count(update, implausible_frames=self.sanity.rejected - before)
        n = len(frames)
        if n == 0:
            return False
        reconnect = self._after_reconnect
        prev_s = self.clock.last_s
        restart = (reboot or reconnect) and prev_s is not None
        host_elapsed = arrival_s - self._last_arrival_s if self._last_arrival_s is not None else None
        dev, jumps = self.clock.unwrap(frames["t_us"], restart=restart, host_elapsed_s=host_elapsed,
                                       keep_forward=reconnect and not reboot)
        new_segment = jumps.copy()
        flags = np.zeros(n, dtype=np.uint8)
        gap = None
        if restart:
            new_segment[0] = True
            lost_frames = 0
            if reboot:
                flags[0] |= FLAG_REBOOT
                self.stats.reboots += 1
            elif self._last_seq is not None:
                lost_frames = (int(frames["seq"][0]) - self._last_seq) % 65536 - 1
                if lost_frames < 0 or lost_frames > 0.5 * 65536:
                    lost_frames = 0
            gap = Gap(prev_s, float(dev[0]), GAP_REBOOT if reboot else GAP_LINK_LOST, lost_frames)
            self.stats.add_gap(gap.t_start_s, gap.t_end_s, lost_frames=lost_frames)
        flags[new_segment] |= FLAG_NEW_SEGMENT
        self._after_reconnect = False
        self.fit.update(dev[-1], arrival_s)
        self.stats.add_frames(frames, dev, new_segment)
        update.chunks.append(Chunk(frames, dev, self.fit.to_host(dev), flags, gap))
        self._frames_since_connect += n
        self._last_arrival_s = arrival_s
        self._last_seq = int(frames["seq"][-1])
        return True
