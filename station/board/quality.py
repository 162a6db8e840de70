"""Link-quality accounting: one incremental tally used live, for a recording, and by journal recovery.

Definitions (reported in every trial's ``quality`` block):

- ``frames``: data frames received with a valid CRC;
- ``lost``: frames missing by sequence number (u16, wrap-aware) *within* a connected stretch;
- ``lost_in_gaps``: frames the board sent while the link was down (known only when the board
  kept counting, i.e. it was not rebooted);
- ``crc_errors``, ``resyncs``, ``skipped_bytes``: from the decoder (see :mod:`station.board.decode`);
- ``implausible_frames``: frames that passed their CRC but could not be true (a count outside the
  24-bit range, or a device-clock step that disagrees with the sequence step), rejected
  (:class:`station.board.decode.FrameSanity`); they count as lost too when the sequence skips them;
- ``gaps``: disconnects and reboots (each also listed as ``[t_start_s, t_end_s]``); ``gap_s`` their
  total length; ``reboots``: board restarts seen mid-stream;
- ``missed_conversions``: sum of the frames' missed-conversion counts (ADC conversions the
  firmware could not read in time); ``saturated_frames``, ``timeout_frames``: frames with any
  saturation / timeout status bit;
- ``effective_rate_hz``: frames per second of connected time (each connected stretch contributes
  its frames - 1 intervals over its span); ``jitter_ms``: standard deviation of the device-clock
  interval between consecutive sequence numbers; ``duration_s``: first to last frame.
"""

from __future__ import annotations

import math

import numpy as np

from station.board.protocol import STATUS_SATURATED_MASK, STATUS_TIMEOUT_MASK


class LinkStats:
    """Incremental link-quality tally (not thread-safe: one owner feeds it)."""

    def __init__(self):
        self.frames = 0
        self.lost = 0
        self.lost_in_gaps = 0
        self.crc_errors = 0
        self.resyncs = 0
        self.skipped_bytes = 0
        self.implausible_frames = 0
        self.missed_conversions = 0
        self.saturated_frames = 0
        self.timeout_frames = 0
        self.reboots = 0
        self.gap_list: list[list[float]] = []
        self.first_s: float | None = None
        self.last_s: float | None = None
        self._last_seq: int | None = None
        self._seg_start_s: float | None = None
        self._closed_span_s = 0.0
        self._segments = 0
        self._n_int = 0
        self._sum_int = 0.0
        self._sumsq_int = 0.0

    def add_link_counts(self, *, crc_errors: int = 0, resyncs: int = 0, skipped_bytes: int = 0,
                        implausible_frames: int = 0) -> None:
        self.crc_errors += int(crc_errors)
        self.resyncs += int(resyncs)
        self.skipped_bytes += int(skipped_bytes)
        self.implausible_frames += int(implausible_frames)

    def link_counts(self) -> dict:
        """The decoder and sanity counts (what :meth:`add_link_counts` takes)."""
        return {"crc_errors": self.crc_errors, "resyncs": self.resyncs, "skipped_bytes": self.skipped_bytes,
                "implausible_frames": self.implausible_frames}

    def add_gap(self, t_start_s: float, t_end_s: float, *, lost_frames: int = 0) -> None:
        self.gap_list.append([float(t_start_s), float(t_end_s)])
        self.lost_in_gaps += int(lost_frames)

    def add_frames(self, frames: np.ndarray, device_s: np.ndarray, new_segment: np.ndarray) -> None:
        """Tally consecutive frames. ``new_segment[i]``: frame i starts a new connected stretch."""
        n = len(frames)
        if n == 0:
            return
        seq = frames["seq"].astype(np.int64)
        new_segment = np.asarray(new_segment, dtype=bool).copy()
        if self._last_seq is None:
            new_segment[0] = True
        prev_seq = np.empty(n, dtype=np.int64)
        prev_seq[0] = self._last_seq if self._last_seq is not None else seq[0]
        prev_seq[1:] = seq[:-1]
        step = (seq - prev_seq) % 65536
        cont = ~new_segment
        # step 0 is a repeated frame, not 65535 lost ones
        self.lost += int(np.sum(np.where(cont & (step > 0), step - 1, 0)))
        prev_s = np.empty(n, dtype=np.float64)
        prev_s[0] = self.last_s if self.last_s is not None else device_s[0]
        prev_s[1:] = device_s[:-1]
        consecutive = cont & (step == 1)
        intervals = (device_s - prev_s)[consecutive]
        self._n_int += len(intervals)
        self._sum_int += float(intervals.sum())
        self._sumsq_int += float(np.dot(intervals, intervals))
        # connected-time spans, per segment
        for i in np.flatnonzero(new_segment):
            if self._seg_start_s is not None:
                self._closed_span_s += prev_s[i] - self._seg_start_s  # previous stretch ended at frame i-1
            self._seg_start_s = float(device_s[i])
            self._segments += 1
        self.frames += n
        self.missed_conversions += int(frames["missed"].astype(np.int64).sum())
        status = frames["status"]
        self.saturated_frames += int(np.count_nonzero(status & STATUS_SATURATED_MASK))
        self.timeout_frames += int(np.count_nonzero(status & STATUS_TIMEOUT_MASK))
        if self.first_s is None:
            self.first_s = float(device_s[0])
        self.last_s = float(device_s[-1])
        self._last_seq = int(seq[-1])

    @property
    def connected_s(self) -> float:
        if self._seg_start_s is None:
            return 0.0
        return self._closed_span_s + (self.last_s - self._seg_start_s)

    def as_dict(self) -> dict:
        """The quality block (plain JSON-able values)."""
        connected = self.connected_s
        rate = (self.frames - self._segments) / connected if connected > 0 else 0.0
        if self._n_int > 1:
            mean = self._sum_int / self._n_int
            var = max(self._sumsq_int / self._n_int - mean * mean, 0.0)
            jitter_ms = math.sqrt(var) * 1e3
        else:
            jitter_ms = 0.0
        duration = (self.last_s - self.first_s) if self.first_s is not None else 0.0
        return {
            "frames": self.frames,
            "lost": self.lost,
            "lost_in_gaps": self.lost_in_gaps,
            "crc_errors": self.crc_errors,
            "resyncs": self.resyncs,
            "skipped_bytes": self.skipped_bytes,
            "implausible_frames": self.implausible_frames,
            "gaps": len(self.gap_list),
            "gap_s": round(float(sum(b - a for a, b in self.gap_list)), 6),
            "reboots": self.reboots,
            "missed_conversions": self.missed_conversions,
            "saturated_frames": self.saturated_frames,
            "timeout_frames": self.timeout_frames,
            "effective_rate_hz": round(float(rate), 4),
            "jitter_ms": round(jitter_ms, 4),
            "duration_s": round(float(duration), 6),
        }
