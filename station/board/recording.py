"""One recording: the frames of a trial as they arrive, its journal, and the trial file at the end.

A :class:`Recording` is fed the :class:`~station.board.stream.Chunk` s, link counts and failure of the
stream (:mod:`station.board.stream`) while a trial records. It keeps the trial's frames and quality
(:class:`~station.board.quality.LinkStats`, the one tally of the recording) and queues typed journal
items (:class:`FrameBlock`, :class:`~station.board.stream.Gap`, :class:`~station.board.stream.LinkFailure`)
that :meth:`Recording.write` appends to the crash-safe journal in fsync'ed blocks.

Thread use: the acquisition calls every method except :meth:`Recording.write` and
:meth:`Recording.close` under its own data lock; those two do file I/O under the recording's
``io_lock`` only, so a slow disk never blocks a live view.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from station.board.journal import FLAG_NEW_SEGMENT, FLAG_REBOOT, JournalWriter
from station.board.protocol import FRAME_DTYPE
from station.board.quality import LinkStats
from station.board.stream import GAP_REBOOT, Chunk, Gap, LinkFailure
from station.board.trialfile import TrialFile

log = logging.getLogger(__name__)

#: longest time raw frames wait in memory before they are written and fsync'ed to the journal
JOURNAL_BLOCK_S = 0.2


@dataclass(frozen=True)
class FrameBlock:
    """Frames for the journal: device seconds (session axis), host Unix seconds and flags per frame."""

    frames: np.ndarray
    device_s: np.ndarray
    host_unix_s: np.ndarray
    flags: np.ndarray


@dataclass(frozen=True)
class LinkCounts:
    """Decoder counts since the recording began (the journal's ``C`` record)."""

    counts: dict


#: what the journal of a recording holds
JournalItem = Union[FrameBlock, Gap, LinkFailure, LinkCounts]


def write_item(journal: JournalWriter, item: JournalItem) -> None:
    """Append one typed item to ``journal``."""
    match item:
        case FrameBlock():
            journal.append_frames(item.frames, item.device_s, item.host_unix_s, item.flags)
        case Gap():
            journal.append_json(b"G", item.to_dict())
        case LinkFailure():
            journal.append_json(b"E", item.to_event())
        case LinkCounts():
            journal.append_json(b"C", item.counts)
        case _:
            raise TypeError(f"not a journal item: {type(item).__name__}")


class Recording:
    """The trial being recorded.

    Parameters
    ----------
    journal : JournalWriter
        Opened with ``header``; the recording owns it from now on.
    header : dict
        ``board``, ``source``, ``meta``, ``calibration`` (stored with the trial).
    nominal_rate_hz : float
        For cutting a trial at a requested duration.
    """

    def __init__(self, journal: JournalWriter, header: dict, *, nominal_rate_hz: float):
        self.journal = journal
        self.header = header
        self.nominal_rate_hz = float(nominal_rate_hz or 80)
        self.stats = LinkStats()
        self.blocks: list[FrameBlock] = []
        self.gaps: list[Gap] = []
        #: gaps and the failure, in the order they happened
        self.events: list[Gap | LinkFailure] = []
        self.failure: LinkFailure | None = None
        self.io_lock = threading.Lock()
        self._pending: list[JournalItem] = []
        self._pending_since_s: float | None = None

    # ------------------------------------------------------------------ fed by the stream
    def add(self, chunk: Chunk, *, unix0_s: float, now_s: float) -> None:
        """Record a chunk of frames (its host times are ``unix0_s`` + the chunk's host seconds)."""
        flags = chunk.flags.copy()
        gap = chunk.gap
        if not self.blocks:
            flags[0] |= FLAG_NEW_SEGMENT
            gap = None  # a gap before the first recorded frame is not part of the trial
        if gap is not None:
            self.gaps.append(gap)
            self.events.append(gap)
            self.stats.add_gap(gap.t_start_s, gap.t_end_s, lost_frames=gap.lost_frames)
            if gap.kind == GAP_REBOOT:
                self.stats.reboots += 1
            self._queue(gap, now_s)
        self.stats.add_frames(chunk.frames, chunk.device_s, (flags & FLAG_NEW_SEGMENT) != 0)
        block = FrameBlock(chunk.frames, chunk.device_s, unix0_s + chunk.host_s, flags)
        self.blocks.append(block)
        self._queue(block, now_s)

    def add_link_counts(self, counts: dict) -> None:
        self.stats.add_link_counts(**counts)

    def fail(self, failure: LinkFailure, *, now_s: float) -> None:
        """The stream ended as failed: the trial keeps what came before and says why."""
        if self.failure is None:
            self.failure = failure
            self.events.append(failure)
            self._queue(failure, now_s)

    def _queue(self, item: JournalItem, now_s: float) -> None:
        self._pending.append(item)
        if self._pending_since_s is None:
            self._pending_since_s = now_s

    # ------------------------------------------------------------------ journal
    def take_pending(self, now_s: float, *, force: bool = False) -> list[JournalItem]:
        """The items due for the journal (none until the oldest waited :data:`JOURNAL_BLOCK_S`, unless ``force``)."""
        if not self._pending:
            return []
        if not force and self._pending_since_s is not None and now_s - self._pending_since_s < JOURNAL_BLOCK_S:
            return []
        items, self._pending, self._pending_since_s = self._pending, [], None
        return [*items, LinkCounts(self.stats.link_counts())]

    def write(self, items: list[JournalItem]) -> None:
        """Append ``items`` to the journal as one fsync'ed block (a write error is logged, not raised)."""
        if not items:
            return
        with self.io_lock:
            if self.journal.closed:
                return
            try:
                for item in items:
                    write_item(self.journal, item)
                self.journal.sync()
            except (OSError, ValueError) as exc:
                log.error("could not write the journal %s: %s", self.journal.path, exc)

    def close(self) -> None:
        with self.io_lock:
            self.journal.close()

    # ------------------------------------------------------------------ views
    @property
    def frames(self) -> int:
        return self.stats.frames

    @property
    def first_s(self) -> float | None:
        return self.stats.first_s

    @property
    def duration_s(self) -> float:
        return 0.0 if self.stats.first_s is None else self.stats.last_s - self.stats.first_s

    def trial(self, *, duration_s: float | None = None,
              host_unix_s: Callable[[np.ndarray], np.ndarray] | None = None) -> TrialFile:
        """The trial file (frames beyond ``duration_s`` of device time dropped).

        ``host_unix_s(device_s)`` maps device time to host Unix time with one linear map for the whole
        trial (the journal keeps the live per-batch map, which may step as the fit settles).
        """
        if self.blocks:
            frames = np.concatenate([b.frames for b in self.blocks])
            dev = np.concatenate([b.device_s for b in self.blocks])
            host = np.concatenate([b.host_unix_s for b in self.blocks])
            t0 = float(dev[0])
        else:
            frames, dev, host, t0 = np.zeros(0, FRAME_DTYPE), np.zeros(0), np.zeros(0), 0.0
        stats = self.stats
        events = [e.to_event() for e in self.events]
        if duration_s is not None and len(frames):
            # Half a period of slack: a frame stamped at exactly duration_s (rounded µs) belongs after.
            end = t0 + duration_s - 0.25 / self.nominal_rate_hz
            keep = dev < end
            if not keep.all():
                frames, dev, host = frames[keep], dev[keep], host[keep]
                stats = self._cut_stats(keep, end, t0 + duration_s)
                cut = t0 + duration_s
                events = [dict(e, t_end_s=min(e["t_end_s"], cut)) if "t_end_s" in e else e
                          for e in events if e["t_s"] < end]
        quality = stats.as_dict()
        if self.failure is not None:
            quality["failed"] = self.failure.message
            quality["failed_code"] = self.failure.kind
        if len(frames) and host_unix_s is not None:
            host = host_unix_s(dev)
        return TrialFile(
            frames=frames,
            device_time_s=dev - t0,
            host_time_s=host,
            board=self.header["board"],
            source=self.header["source"],
            quality=quality,
            gaps=[[a - t0, b - t0] for a, b in stats.gap_list],
            calibration=self.header["calibration"],
            meta=self.header["meta"],
            events=[{k: (v - t0 if k in ("t_s", "t_end_s") else v) for k, v in e.items()} for e in events],
        )

    def _cut_stats(self, keep: np.ndarray, end: float, cut: float) -> LinkStats:
        """The quality of the frames kept (``keep``) before ``end``; a gap straddling the end is cut at ``cut``."""
        frames = np.concatenate([b.frames for b in self.blocks])[keep]
        dev = np.concatenate([b.device_s for b in self.blocks])[keep]
        flags = np.concatenate([b.flags for b in self.blocks])[keep]
        stats = LinkStats()
        stats.add_frames(frames, dev, (flags & FLAG_NEW_SEGMENT) != 0)
        stats.reboots = int(np.count_nonzero(flags & FLAG_REBOOT))
        stats.add_link_counts(**self.stats.link_counts())
        for g in self.gaps:
            if g.t_start_s < end:
                t_end = min(g.t_end_s, cut)
                lost = g.lost_frames
                if t_end < g.t_end_s:  # (with the frames it hid before the end)
                    lost = min(lost, max(0, int(round((t_end - g.t_start_s) * self.nominal_rate_hz)) - 1))
                stats.add_gap(g.t_start_s, t_end, lost_frames=lost)
        return stats
