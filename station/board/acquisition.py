"""Acquisition: a reader thread that owns the transport, decodes, keeps time, counts, and records.

One thread reads the transport in small batches, decodes them (:class:`StreamDecoder`), unwraps the
board clock and maps it to host time, fills a ring buffer for live consumers (dashboard, calibration)
and, while a trial records, appends the raw frames to an on-disk journal in fsync'ed blocks of at
most 0.25 s. When the link is lost it marks a gap, waits for the board to come back and resumes.

Sequence (DESIGN §6)::

    acq = Acquisition(transport)
    acq.start()                          # opens the board (errors raise here), starts the thread
    acq.begin_recording(journal_path, meta)
    ...                                  # acq.snapshot(5.0), acq.quality
    trial = acq.end_recording()          # TrialFile; the journal stays until the caller removes it
    acq.stop()                           # always safe; stops the stream and closes the port
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from station.board.clock import HALF_WRAP_US, WRAP_US, DeviceClock, HostClockFit
from station.board.journal import FLAG_NEW_SEGMENT, FLAG_REBOOT, JournalWriter
from station.board.protocol import FRAME_DTYPE, PROTOCOL_MAJOR, BoardInfo
from station.board.quality import LinkStats
from station.board.transport import LinkLost, Transport
from station.board.trialfile import TrialFile
from station.board.decode import FrameSanity, StreamDecoder
from station.errors import ProtocolError, StationError

log = logging.getLogger(__name__)

#: longest time raw frames wait in memory before they are written and fsync'ed to the journal
JOURNAL_BLOCK_S = 0.2
#: event kinds that end a recording as failed (the trial's quality carries ``failed`` / ``failed_code``)
FAILURE_KINDS = ("board_changed", "protocol_changed")


@dataclass
class LiveWindow:
    """The most recent frames for live views.

    Attributes
    ----------
    t_s : float64 (n,)
        Device time mapped to the host clock, seconds since the acquisition started.
    counts : int32 (n, 4)
        Raw counts fl, fr, bl, br.
    status : uint8 (n,)
        Status bytes (saturation / timeout bits).
    """

    t_s: np.ndarray
    counts: np.ndarray
    status: np.ndarray


def _shift_times(event: dict, t0: float) -> dict:
    """Re-express an event's times (``t_s``, ``t_end_s``) relative to the trial's first frame."""
    return {k: (v - t0 if k in ("t_s", "t_end_s") else v) for k, v in event.items()}


class _Ring:
    """Fixed-capacity ring of (t_s, counts, status)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.t_s = np.zeros(capacity)
        self.counts = np.zeros((capacity, 4), dtype=np.int32)
        self.status = np.zeros(capacity, dtype=np.uint8)
        self.total = 0

    def push(self, t_s, counts, status) -> None:
        n = len(t_s)
        if n >= self.capacity:
            t_s, counts, status = t_s[-self.capacity :], counts[-self.capacity :], status[-self.capacity :]
            self.total += n - self.capacity
            n = self.capacity
        idx = (self.total + np.arange(n)) % self.capacity
        self.t_s[idx] = t_s
        self.counts[idx] = counts
        self.status[idx] = status
        self.total += n

    def last(self, n: int) -> LiveWindow:
        n = min(n, self.total, self.capacity)
        idx = (self.total - n + np.arange(n)) % self.capacity
        return LiveWindow(self.t_s[idx], self.counts[idx], self.status[idx])


class _Recording:
    def __init__(self, journal: JournalWriter, header: dict):
        self.journal = journal
        self.header = header
        self.stats = LinkStats()
        self.frames: list[np.ndarray] = []
        self.device_s: list[np.ndarray] = []
        self.host_s: list[np.ndarray] = []
        self.flags: list[np.ndarray] = []
        self.pending: list[tuple] = []
        self.pending_since: float | None = None
        self.gaps: list[dict] = []
        self.events: list[dict] = []
        self.counts = {"crc_errors": 0, "resyncs": 0, "skipped_bytes": 0, "implausible_frames": 0}
        self.failure: dict | None = None  # the event that ended the recording as failed
        self.first_frame = True
        self.io_lock = threading.Lock()


class Acquisition:
    """Reader thread + ring buffer + journal for one board.

    Parameters
    ----------
    transport : Transport
        Not yet opened; :meth:`start` opens it.
    ring_seconds : float
        How much history :meth:`snapshot` can return.
    reconnect_timeout_s : float or None
        Give up (state ``"stopped"``) when the board has not come back after this long;
        None waits until :meth:`stop`.
    """

    def __init__(self, transport: Transport, *, ring_seconds: float = 60.0, reconnect_timeout_s: float | None = None):
        self.transport = transport
        self.ring_seconds = float(ring_seconds)
        self.reconnect_timeout_s = reconnect_timeout_s
        self.info: BoardInfo | None = None
        self.state = "stopped"
        self.error: StationError | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decoder = StreamDecoder()
        self._stats = LinkStats()
        self._rec: _Recording | None = None
        self._ring: _Ring | None = None
        self._clock: DeviceClock | None = None
        self._fit = HostClockFit()
        self._mono0 = time.monotonic()
        self._unix0 = time.time()
        self._restart_pending = False  # next frame follows a reconnect
        self._reboot_pending = False  # an info frame announced a reboot before its first frame
        self.last_journal_path = None
        self._lost_at: tuple[float, float, int | None] | None = None  # (device_s, host_s, last seq) at link loss
        self._frames_since_connect = 0
        self._last_arrival: float | None = None
        self._last_seq: int | None = None
        self.acks: list[tuple[int, int]] = []
        self.transport_name = getattr(transport, "name", "?")
        self._sanity: FrameSanity | None = None
        #: why the link was ended as failed (another board, another protocol major); None otherwise
        self.failure: dict | None = None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> BoardInfo:
        """Open the board (raises PortError/ProtocolError here), start streaming and the reader thread."""
        info = self.transport.open()
        try:
            self._set_info(info)
            self.transport.start()
        except BaseException:
            self.transport.close()
            raise
        rate = max(float(info.nominal_rate_hz or 80), 1.0)
        self._clock = DeviceClock(nominal_period_s=1.0 / rate)
        self._sanity = FrameSanity(nominal_period_s=1.0 / rate)
        self._ring = _Ring(int(self.ring_seconds * rate * 1.5) + 64)
        self._mono0 = time.monotonic()
        self._unix0 = time.time()
        self.state = "connected"
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="station-acquisition", daemon=True)
        self._thread.start()
        return info

    def stop(self) -> None:
        """Stop the thread, the stream and the port. Safe to call at any time, and twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None
        try:
            self.transport.stop()
        except Exception as exc:  # the link may already be gone
            log.debug("stop: %s", exc)
        finally:
            try:
                self.transport.close()
            finally:
                rec = self._rec
                if rec is not None:
                    self._flush_journal(rec, force=True)
                    self._close_journal(rec)
                self.state = "stopped"

    def _set_info(self, info: BoardInfo) -> None:
        if info.protocol_major != PROTOCOL_MAJOR:
            from station.errors import ProtocolError

            raise ProtocolError(
                f"the board on {self.transport_name} speaks protocol {info.protocol_major}.x; "
                f"this station understands {PROTOCOL_MAJOR}.x."
            )
        self.info = info

    def send_command(self, data: bytes) -> None:
        """Send an encoded command frame to the board (e.g. CMD_SIM_SCENE)."""
        with self._lock:
            self.transport.write(data)

    # ------------------------------------------------------------------ live views
    def _now(self) -> float:
        return time.monotonic() - self._mono0

    def snapshot(self, seconds: float) -> LiveWindow:
        """The last ``seconds`` of frames (by count at the nominal rate, then trimmed by time)."""
        with self._lock:
            if self._ring is None:
                return LiveWindow(np.zeros(0), np.zeros((0, 4), np.int32), np.zeros(0, np.uint8))
            rate = float(self.info.nominal_rate_hz or 80)
            win = self._ring.last(int(seconds * rate * 1.2) + 2)
        if len(win.t_s):
            keep = win.t_s > win.t_s[-1] - seconds
            win = LiveWindow(win.t_s[keep], win.counts[keep], win.status[keep])
        return win

    @property
    def quality(self) -> dict:
        """Link quality since :meth:`start`."""
        with self._lock:
            return self._stats.as_dict()

    @property
    def frames_total(self) -> int:
        with self._lock:
            return self._stats.frames

    # ------------------------------------------------------------------ recording
    def begin_recording(self, journal_path, meta: dict | None = None, *, calibration: dict | None = None) -> None:
        """Start journaling every frame that arrives from now on to ``journal_path``."""
        header = {
            "board": self.info.to_dict() if self.info else {},
            "meta": dict(meta or {}, started_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                         port=self.transport_name),
            "calibration": calibration,
        }
        journal = JournalWriter(journal_path, header)
        with self._lock:
            if self._rec is not None:
                journal.close()
                raise RuntimeError("a recording is already running")
            self._rec = _Recording(journal, header)

    @property
    def recording_frames(self) -> int:
        with self._lock:
            return self._rec.stats.frames if self._rec else 0

    @property
    def recording_start_s(self) -> float | None:
        """Device time (s, the acquisition's unwrapped board clock) of the first recorded frame."""
        with self._lock:
            rec = self._rec
            return None if rec is None else rec.stats.first_s

    @property
    def recording_duration_s(self) -> float:
        """Device time from the first recorded frame to the last."""
        with self._lock:
            rec = self._rec
            if rec is None or rec.stats.first_s is None:
                return 0.0
            return rec.stats.last_s - rec.stats.first_s

    def end_recording(self, *, duration_s: float | None = None) -> TrialFile:
        """Stop journaling and return the trial (frames beyond ``duration_s`` of device time dropped).

        The journal file is closed but left on disk: remove it once the trial is safely written.
        """
        with self._lock:
            rec = self._rec
            self._rec = None
        if rec is None:
            raise RuntimeError("no recording is running")
        self._flush_journal(rec, force=True)
        self._close_journal(rec)
        self.last_journal_path = rec.journal.path
        if rec.frames:
            frames = np.concatenate(rec.frames)
            dev = np.concatenate(rec.device_s)
            host = np.concatenate(rec.host_s)
            flags = np.concatenate(rec.flags)
            t0 = float(dev[0])
        else:
            frames, dev, host, flags, t0 = np.zeros(0, FRAME_DTYPE), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8), 0.0
        stats = rec.stats
        events = rec.events
        if duration_s is not None and len(frames):
            # Half a period of slack: a frame stamped at exactly duration_s (rounded µs) belongs after.
            rate = float(self.info.nominal_rate_hz or 80)
            end = t0 + duration_s - 0.25 / rate
            keep = dev < end
            if not keep.all():
                frames, dev, host, flags = frames[keep], dev[keep], host[keep], flags[keep]
                stats = LinkStats()
                stats.add_frames(frames, dev, (flags & FLAG_NEW_SEGMENT) != 0)
                stats.reboots = int(np.count_nonzero(flags & FLAG_REBOOT))
                stats.add_link_counts(**rec.counts)
                # A gap that straddles the end is cut at the end (with the frames it hid before it).
                cut = t0 + duration_s
                for g in rec.gaps:
                    if g["t_start_s"] < end:
                        t_end = min(g["t_end_s"], cut)
                        lost = g.get("lost_frames", 0)
                        if t_end < g["t_end_s"]:
                            lost = min(lost, max(0, int(round((t_end - g["t_start_s"]) * rate)) - 1))
                        stats.add_gap(g["t_start_s"], t_end, lost_frames=lost)
                events = [dict(e, t_end_s=min(e["t_end_s"], cut)) if "t_end_s" in e else e
                          for e in rec.events if e["t_s"] < end]
        quality = stats.as_dict()
        if rec.failure is not None:
            quality["failed"] = rec.failure["message"]
            quality["failed_code"] = rec.failure["kind"]
        if len(frames):
            # One linear device->host map for the whole trial (the live per-batch map may step as
            # the fit settles); the journal keeps the live map.
            with self._lock:
                host = self._unix0 + self._fit.to_host(dev)
        return TrialFile(
            frames=frames,
            device_time_s=dev - t0,
            host_time_s=host,
            board=rec.header["board"],
            quality=quality,
            gaps=[[a - t0, b - t0] for a, b in stats.gap_list],
            calibration=rec.header["calibration"],
            meta=rec.header["meta"],
            events=[_shift_times(e, t0) for e in events],
        )

    def _flush_journal(self, rec: _Recording, *, force: bool = False) -> None:
        """Write pending frames as one block and fsync (called without ``self._lock`` held)."""
        with self._lock:
            if not rec.pending:
                return
            if not force and rec.pending_since is not None and self._now() - rec.pending_since < JOURNAL_BLOCK_S:
                return
            pending, rec.pending, rec.pending_since = rec.pending, [], None
            counts = dict(rec.counts)
        with rec.io_lock:
            if rec.journal.closed:
                return
            try:
                for item in pending:
                    if item[0] == "frames":
                        rec.journal.append_frames(*item[1:])
                    else:
                        rec.journal.append_json(item[1], item[2])
                rec.journal.append_json(b"C", counts)
                rec.journal.sync()
            except (OSError, ValueError) as exc:
                log.error("could not write the journal %s: %s", rec.journal.path, exc)

    @staticmethod
    def _close_journal(rec: _Recording) -> None:
        with rec.io_lock:
            rec.journal.close()

    # ------------------------------------------------------------------ reader thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.transport.read(0.05)
            except LinkLost as exc:
                if not self._handle_lost(exc):
                    break
                continue
            except Exception as exc:  # never die silently: the UI shows state/error
                log.exception("reader thread failed")
                self.error = exc if isinstance(exc, StationError) else StationError(f"the link failed: {exc}")
                self.state = "stopped"
                break
            now = self._now()
            if data:
                self._process(self._decoder.feed(data), now)
            rec = self._rec
            if rec is not None:
                self._flush_journal(rec)

    def _handle_lost(self, exc: LinkLost) -> bool:
        """Wait for the board to return; True to keep reading, False to end the thread."""
        log.warning("%s", exc)
        # Frames may sit behind a false sync whose LEN points past what arrived: decode them now.
        self._process(self._decoder.flush(), self._now())
        self._release_held()
        if self.state == "stopped":  # the flushed bytes ended the link (another protocol major, another board)
            return False
        with self._lock:
            self.state = "reconnecting"
            last_s = self._clock.last_s if self._clock else None
            self._lost_at = (last_s, self._last_arrival, self._last_seq) if last_s is not None else None
        if type(self.transport).reconnect is Transport.reconnect:
            self.error = exc
            self.state = "stopped"
            return False
        t_lost = time.monotonic()
        while not self._stop.is_set():
            if self.reconnect_timeout_s is not None and time.monotonic() - t_lost > self.reconnect_timeout_s:
                self.error = exc
                self.state = "stopped"
                return False
            try:
                info = self.transport.reconnect(timeout_s=1.0)
            except LinkLost:
                continue
            except StationError as err:
                log.error("%s", err)
                if isinstance(err, ProtocolError):
                    self._fail("protocol_changed", str(err))
                self.error = err
                self.state = "stopped"
                return False
            if self.info is not None and info.board_id != self.info.board_id:
                self._fail("board_changed", self._board_changed_message(info))
                return False
            try:
                self._set_info(info)
                self.transport.start()
            except LinkLost:
                continue
            except StationError as err:
                self.error = err
                self.state = "stopped"
                return False
            with self._lock:
                self._decoder.reset()
                self._restart_pending = True
                self._frames_since_connect = 0
                self.state = "connected"
            log.warning("%s: link restored after %.1f s", self.transport_name, time.monotonic() - t_lost)
            return True
        return False

    def _process(self, batch, arrival: float) -> None:
        with self._lock:
            self.acks.extend(batch.acks)
            del self.acks[:-100]
            self._stats.add_link_counts(crc_errors=batch.crc_errors, resyncs=batch.resyncs, skipped_bytes=batch.skipped_bytes)
            rec = self._rec
            if rec is not None:
                for k, v in (("crc_errors", batch.crc_errors), ("resyncs", batch.resyncs), ("skipped_bytes", batch.skipped_bytes)):
                    rec.counts[k] += v
                rec.stats.add_link_counts(crc_errors=batch.crc_errors, resyncs=batch.resyncs, skipped_bytes=batch.skipped_bytes)
            # Split the batch at info frames: a mid-stream info after data frames is a reboot.
            reboot_at = []
            frames = batch.frames
            for info, pos in zip(batch.infos, batch.info_positions):
                failure = None
                if info.protocol_major != PROTOCOL_MAJOR:
                    failure = ("protocol_changed",
                               f"the board on {self.transport_name} announced protocol {info.protocol_major}."
                               f"{info.protocol_minor} in the middle of the stream; this station understands "
                               f"{PROTOCOL_MAJOR}.x, so the recording stopped (what was recorded before is kept).")
                elif self.info is not None and info.board_id != self.info.board_id:
                    failure = ("board_changed", self._board_changed_message(info))
                if failure is not None:
                    # keep the frames that came before the announcement, refuse everything after it
                    frames = frames[:pos]
                    for a, b in zip([0, *reboot_at], [*reboot_at, len(frames)]):
                        if b > a:
                            self._process_frames(frames[a:b], arrival, reboot=a in reboot_at)
                    self._fail(*failure, locked=True)
                    return
                self._set_info(info)
                if self._frames_since_connect + pos > 0:
                    reboot_at.append(pos)
            n = len(frames)
            pieces = sorted(set([0, *[p for p in reboot_at if p < n], n]))
            for a, b in zip(pieces[:-1], pieces[1:]):
                reboot = a in reboot_at or (a == 0 and self._reboot_pending)
                used = self._process_frames(frames[a:b], arrival, reboot=reboot)
                self._reboot_pending = reboot and not used
            if reboot_at and reboot_at[-1] >= n:
                self._reboot_pending = True  # the info came last: the next frame starts anew
            if reboot_at:
                try:
                    self.transport.start()  # a rebooted board waits for a start command
                except Exception as exc:
                    log.debug("restart after reboot: %s", exc)

    def _continues_stream(self, frame) -> bool:
        """True when ``frame`` follows the last frame in both sequence number and board clock.

        A board that rebooted restarts both; an info frame followed by such a frame was a late
        answer to one of our info requests (the handshake repeats them when the board is slow to
        answer), not a reboot.
        """
        if self._last_seq is None or self._clock.last_us is None:
            return False
        step = (int(frame["seq"]) - self._last_seq) % 65536
        if not 0 < step < 4096:
            return False
        dt_us = (int(frame["t_us"]) - self._clock.last_us) % WRAP_US
        expected_us = step * self._clock.nominal_period_s * 1e6
        return dt_us < HALF_WRAP_US and abs(dt_us - expected_us) <= 0.05 * expected_us + 2e6 * self._clock.nominal_period_s

    def _count_implausible(self, rejected: int) -> None:
        if not rejected:
            return
        self._stats.add_link_counts(implausible_frames=rejected)
        rec = self._rec
        if rec is not None:
            rec.counts["implausible_frames"] += rejected
            rec.stats.add_link_counts(implausible_frames=rejected)

    def _release_held(self) -> None:
        """The stream ended (link lost): a frame the sanity check still holds is decided now."""
        if self._sanity is None or not self._sanity.holding:
            return
        with self._lock:
            held = self._sanity.feed(np.zeros(0, FRAME_DTYPE), final=True)
            if len(held):
                self._process_frames(held, self._last_arrival or self._now(), reboot=False, checked=True)

    def _board_changed_message(self, info: BoardInfo) -> str:
        return (f"a different board (id {info.board_id_hex}) answered on {self.transport_name} where board "
                f"{self.info.board_id_hex} was recording; the trial ends as failed instead of merging two boards' "
                "data under one calibration (what was recorded before is kept).")

    def _fail(self, kind: str, message: str, *, locked: bool = False) -> None:
        """End the link as failed: error, state ``stopped``, and a failure event in the recording."""
        log.error("%s", message)
        self.error = ProtocolError(message) if kind == "protocol_changed" else StationError(message)
        self.state = "stopped"
        self._stop.set()
        event = {"t_s": self._clock.last_s if self._clock and self._clock.last_s is not None else 0.0,
                 "kind": kind, "message": message}
        self.failure = event
        rec = self._rec
        if rec is not None and rec.failure is None:
            if not locked:
                with self._lock:
                    self._record_failure(rec, event)
            else:
                self._record_failure(rec, event)

    @staticmethod
    def _record_failure(rec: _Recording, event: dict) -> None:
        rec.failure = event
        rec.events.append(event)
        rec.pending.append(("json", b"E", event))

    def _process_frames(self, frames: np.ndarray, arrival: float, *, reboot: bool, checked: bool = False) -> bool:
        """Account, time-stamp, ring-buffer and journal consecutive frames; False when none was plausible."""
        if reboot and self._continues_stream(frames[0]):
            log.info("%s: an info frame mid-stream answered an info request; the board did not reboot",
                     self.transport_name)
            reboot = False
        if not checked:
            if reboot or self._restart_pending:
                self._sanity.reset()
            before = self._sanity.rejected
            frames = self._sanity.feed(frames)
            self._count_implausible(self._sanity.rejected - before)
        n = len(frames)
        if n == 0:
            return False
        reconnect = self._restart_pending
        restart = reboot or reconnect
        host_elapsed = arrival - self._last_arrival if self._last_arrival is not None else None
        prev_s = self._clock.last_s
        prev_seq = self._last_seq
        dev, jumps = self._clock.unwrap(frames["t_us"], restart=restart and prev_s is not None,
                                        host_elapsed_s=host_elapsed, keep_forward=reconnect and not reboot)
        new_seg = jumps.copy()
        flags = np.zeros(n, dtype=np.uint8)
        if restart and prev_s is not None:
            new_seg[0] = True
            if reboot:
                flags[0] |= FLAG_REBOOT
                self._stats.reboots += 1
        flags[new_seg] |= FLAG_NEW_SEGMENT
        self._restart_pending = False
        self._fit.update(dev[-1], arrival)
        t_host = self._fit.to_host(dev)
        self._ring.push(t_host, frames["counts"], frames["status"])
        gap = None
        if restart and prev_s is not None:
            lost_frames = 0
            if reconnect and not reboot and prev_seq is not None:
                lost_frames = (int(frames["seq"][0]) - prev_seq) % 65536 - 1
                if lost_frames < 0 or lost_frames > 0.5 * 65536:
                    lost_frames = 0
            gap = {"t_start_s": prev_s, "t_end_s": float(dev[0]), "kind": "reboot" if reboot else "link_lost",
                   "lost_frames": lost_frames}
            self._stats.add_gap(prev_s, float(dev[0]), lost_frames=lost_frames)
        self._stats.add_frames(frames, dev, new_seg)
        rec = self._rec
        if rec is not None:
            host_unix = self._unix0 + t_host
            if rec.first_frame:
                new_seg[0] = True
                flags[0] |= FLAG_NEW_SEGMENT
                rec.first_frame = False
                gap = None  # a gap before the first recorded frame is not part of the trial
            if gap is not None:
                rec.gaps.append(gap)
                rec.stats.add_gap(gap["t_start_s"], gap["t_end_s"], lost_frames=gap["lost_frames"])
                rec.events.append({"t_s": gap["t_start_s"], "kind": gap["kind"], "t_end_s": gap["t_end_s"]})
                rec.pending.append(("json", b"G", gap))
                if reboot:
                    rec.stats.reboots += 1
            rec.stats.add_frames(frames, dev, new_seg)
            rec.frames.append(frames)
            rec.device_s.append(dev)
            rec.host_s.append(host_unix)
            rec.flags.append(flags)
            rec.pending.append(("frames", frames, dev, host_unix, flags))
            if rec.pending_since is None:
                rec.pending_since = self._now()
        self._frames_since_connect += n
        self._last_arrival = arrival
        self._last_seq = int(frames["seq"][-1])
        return True
