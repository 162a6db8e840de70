"""Acquisition: a reader thread that owns a source, keeps a ring buffer for live views, and reconnects.

One thread reads the :class:`~station.board.source.Source` in small batches and hands each to the
stream state (:class:`~station.board.stream.StreamState`: clock, sanity, lost frames, reboots, link
counts), which says what the batch means. The thread pushes the time-stamped frames into a ring buffer
for live consumers (dashboard, calibration) and, while a trial records, into the
:class:`~station.board.recording.Recording` that journals them in fsync'ed blocks. When the link is lost
it waits for the board to come back and resumes; the stream state marks the gap.

Usage::

    acq = Acquisition(source)            # a Source, or a byte Transport (wrapped in SerialBoardSource)
    acq.start()                          # opens the board (errors raise here), starts the thread
    acq.begin_recording(journal_path, meta)
    ...                                  # acq.snapshot(5.0), acq.quality, acq.state
    trial = acq.end_recording()          # TrialFile; the journal stays until the caller removes it
    acq.stop()                           # always safe; stops the stream and closes the port

Locks: ``_lock`` guards the stream state, ring and recording (live views wait on it, only for
memory work); ``_command_lock`` serialises what is sent to the board (start, commands), never under
``_lock``.
"""

from __future__ import annotations

import copy
import datetime as _dt
import enum
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from station.board.journal import JournalWriter
from station.board.protocol import BoardInfo
from station.board.recording import Recording
from station.board.source import Source, SourceInfo, as_source
from station.board.stream import PROTOCOL_CHANGED, LinkFailure, StreamState, StreamUpdate
from station.board.transport import LinkLost, Transport
from station.board.trialfile import TrialFile
from station.errors import ProtocolError, StationError

log = logging.getLogger(__name__)

#: how long one read waits for data
READ_TIMEOUT_S = 0.05
#: how long one reconnect attempt waits before the thread checks for stop / timeout again
RECONNECT_ATTEMPT_S = 1.0
#: how many of the board's latest acks are kept
KEEP_ACKS = 100
#: frames per nominal period a live window allows for: a fixed-rate ADC (HX711s run up to ~16 % fast),
#: and a source that reports on change (bursts well above its nominal rate)
RATE_MARGIN_REGULAR = 1.2
RATE_MARGIN_ON_CHANGE = 3.0


class LinkState(enum.StrEnum):
    """Where the link to the board stands (compares equal to its value, e.g. ``"connected"``)."""

    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    #: stopped by the caller (or never started)
    STOPPED = "stopped"
    #: ended by an error (:attr:`Acquisition.error` says why)
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        """No more frames will come."""
        return self in (LinkState.STOPPED, LinkState.FAILED)


@dataclass
class LiveWindow:
    """The most recent frames for live views.

    Attributes
    ----------
    t_s : float64 (n,)
        Device time mapped to the host clock, seconds since the acquisition started.
    counts : int32 (n, 4)
        Raw per-corner values fl, fr, bl, br (in the source's value unit).
    status : uint8 (n,)
        Status bytes (saturation / timeout bits).
    device_s : float64 (n,)
        The board's own clock (unwrapped, s): the time base of a recording (``recording_start_s``), exact
        for a source whose samples come irregularly (the Wii Balance Board reports on change).
    """

    t_s: np.ndarray
    counts: np.ndarray
    status: np.ndarray
    device_s: np.ndarray | None = None


class _Ring:
    """Fixed-capacity ring of (t_s, counts, status, device_s)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.t_s = np.zeros(capacity)
        self.device_s = np.zeros(capacity)
        self.counts = np.zeros((capacity, 4), dtype=np.int32)
        self.status = np.zeros(capacity, dtype=np.uint8)
        self.total = 0

    def push(self, t_s, counts, status, device_s) -> None:
        n = len(t_s)
        if n >= self.capacity:
            t_s, counts, status = t_s[-self.capacity :], counts[-self.capacity :], status[-self.capacity :]
            device_s = device_s[-self.capacity :]
            self.total += n - self.capacity
            n = self.capacity
        idx = (self.total + np.arange(n)) % self.capacity
        self.t_s[idx] = t_s
        self.counts[idx] = counts
        self.status[idx] = status
        self.device_s[idx] = device_s
        self.total += n

    def last(self, n: int) -> LiveWindow:
        n = min(n, self.total, self.capacity)
        return self.take((self.total - n + np.arange(n)) % self.capacity)

    def last_since(self, n: int, device_s: float) -> LiveWindow:
        """Of the last ``n`` frames, those whose device time is at least ``device_s``: only the device times
        of the ``n`` are read to choose them, so a look at the newest seconds of a long recording copies
        those seconds, not the recording."""
        n = min(n, self.total, self.capacity)
        idx = (self.total - n + np.arange(n)) % self.capacity
        return self.take(idx[self.device_s[idx] >= device_s])

    def take(self, idx: np.ndarray) -> LiveWindow:
        return LiveWindow(self.t_s[idx], self.counts[idx], self.status[idx], self.device_s[idx])


class Acquisition:
    """Reader thread + ring buffer + reconnects for one board.

    Parameters
    ----------
    source : Source or Transport
        Not yet opened; :meth:`start` opens it. A byte transport is wrapped in a
        :class:`~station.board.source.SerialBoardSource`.
    ring_seconds : float
        How much history :meth:`snapshot` can return.
    reconnect_timeout_s : float or None
        Give up (state ``FAILED``) when the board has not come back after this long;
        None waits until :meth:`stop`.
    """

    def __init__(self, source: Source | Transport, *, ring_seconds: float = 60.0,
                 reconnect_timeout_s: float | None = None):
        self.source = as_source(source)
        self.ring_seconds = float(ring_seconds)
        self.reconnect_timeout_s = reconnect_timeout_s
        self.source_info: SourceInfo | None = None
        self.state = LinkState.STOPPED
        self.error: StationError | None = None
        #: why the link was ended as failed (another board, another protocol major); None otherwise
        self.failure: LinkFailure | None = None
        self.acks: list[tuple[int, int]] = []
        self.last_journal_path = None
        self._lock = threading.Lock()
        self._command_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: StreamState | None = None
        self._ring: _Ring | None = None
        self._rec: Recording | None = None
        self._mono0 = time.monotonic()
        self._unix0 = time.time()
        self._rate_margin = RATE_MARGIN_REGULAR

    # ------------------------------------------------------------------ what is plugged in
    @property
    def info(self) -> BoardInfo | None:
        """The board's info (synthesised for sources without an info frame)."""
        return self.source_info.board if self.source_info is not None else None

    @property
    def transport(self):
        """The byte transport under a serial board's source (None for other sources)."""
        return getattr(self.source, "transport", None)

    @property
    def transport_name(self) -> str:
        """The endpoint ("/dev/ttyACM0", "virtual:seed=3", ...)."""
        return self.source.name

    # ------------------------------------------------------------------ life cycle
    def start(self) -> BoardInfo:
        """Open the board (raises PortError/ProtocolError here), start streaming and the reader thread."""
        source_info = self.source.open()
        try:
            with self._command_lock:
                self.source.start()
        except BaseException:
            self.source.close()
            raise
        rate = max(float(source_info.nominal_rate_hz or 80), 1.0)
        self._rate_margin = RATE_MARGIN_REGULAR if self.source.regular_timing else RATE_MARGIN_ON_CHANGE
        with self._lock:
            self.source_info = source_info
            self._stream = StreamState(source_info.board, name=self.source.name, nominal_rate_hz=rate,
                                       regular_timing=self.source.regular_timing)
            self._ring = _Ring(int(self.ring_seconds * rate * max(1.5, self._rate_margin)) + 64)
            self._mono0 = time.monotonic()
            self._unix0 = time.time()
            self.state = LinkState.CONNECTED
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="station-acquisition", daemon=True)
        self._thread.start()
        return source_info.board

    def stop(self) -> None:
        """Stop the thread, the stream and the port. Safe to call at any time, and twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None
        try:
            self.source.stop()
        except Exception as exc:  # the link may already be gone
            log.debug("stop: %s", exc)
        finally:
            try:
                self.source.close()
            finally:
                rec = self._rec
                if rec is not None:
                    self._flush_journal(rec, force=True)
                    rec.close()
                if self.state != LinkState.FAILED:
                    self.state = LinkState.STOPPED

    def send_command(self, data: bytes) -> None:
        """Send an encoded command frame to the board (e.g. CMD_SIM_SCENE)."""
        with self._command_lock:
            self.source.send_command(data)

    # ------------------------------------------------------------------ live views
    def _now(self) -> float:
        return time.monotonic() - self._mono0

    def snapshot(self, seconds: float) -> LiveWindow:
        """The last ``seconds`` of frames (by count at the nominal rate, then trimmed by time)."""
        with self._lock:
            if self._ring is None:
                return LiveWindow(np.zeros(0), np.zeros((0, 4), np.int32), np.zeros(0, np.uint8))
            win = self._ring.last(int(seconds * self.source_info.nominal_rate_hz * self._rate_margin) + 2)
        if len(win.t_s):
            keep = win.t_s > win.t_s[-1] - seconds
            win = LiveWindow(win.t_s[keep], win.counts[keep], win.status[keep], win.device_s[keep])
        return win

    def board_window(self, seconds: float) -> LiveWindow:
        """The last ``seconds`` of the board's own clock, ``t_s`` being that clock (``device_s``) since its
        last restart: what a live view draws, so a virtual board run faster than real time shows its own
        seconds (the host clock would squeeze them) and an irregular source its own sample times."""
        with self._lock:
            if self._ring is None:
                return LiveWindow(np.zeros(0), np.zeros((0, 4), np.int32), np.zeros(0, np.uint8), np.zeros(0))
            win = self._ring.last(int(seconds * self.source_info.nominal_rate_hz * self._rate_margin) + 2)
        device = win.device_s
        if len(device):
            restarts = np.flatnonzero(np.diff(device) < 0)  # a rebooted board's clock starts again
            first = int(restarts[-1]) + 1 if len(restarts) else 0
            keep = np.arange(len(device)) >= first
            keep &= device > device[-1] - seconds
            win = LiveWindow(device[keep], win.counts[keep], win.status[keep], device[keep])
        return win

    def recording_window(self, since_s: float = 0.0) -> LiveWindow:
        """The recorded frames from ``since_s`` (s of the board's own clock into the recording) on, as far
        as the ring holds them; ``device_s`` is relative to the recording's first frame. Dated by the board,
        not by the host: exact for a board that runs ahead of the reader and for irregular sources."""
        with self._lock:
            rec, ring = self._rec, self._ring
            if ring is None or rec is None or rec.first_s is None:
                return LiveWindow(np.zeros(0), np.zeros((0, 4), np.int32), np.zeros(0, np.uint8), np.zeros(0))
            first_s = rec.first_s
            win = ring.last_since(rec.frames, first_s + since_s - 1e-9)
        return LiveWindow(win.t_s, win.counts, win.status, win.device_s - first_s)

    @property
    def quality(self) -> dict:
        """Link quality since :meth:`start`."""
        with self._lock:
            return self._stream.stats.as_dict() if self._stream is not None else {}

    @property
    def frames_total(self) -> int:
        with self._lock:
            return self._stream.stats.frames if self._stream is not None else 0

    # ------------------------------------------------------------------ recording
    def begin_recording(self, journal_path, meta: dict | None = None, *, calibration: dict | None = None) -> None:
        """Start journaling every frame that arrives from now on to ``journal_path``."""
        source_info = self.source_info
        header = {
            "board": source_info.board.to_dict() if source_info else {},
            "source": source_info.to_dict() if source_info else {},
            "meta": dict(meta or {}, started_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                         port=self.transport_name),
            "calibration": calibration,
        }
        journal = JournalWriter(journal_path, header)
        rate = source_info.nominal_rate_hz if source_info else 80.0
        with self._lock:
            if self._rec is not None:
                journal.close()
                raise RuntimeError("a recording is already running")
            self._rec = Recording(journal, header, nominal_rate_hz=rate)

    @property
    def recording_frames(self) -> int:
        with self._lock:
            return self._rec.frames if self._rec else 0

    @property
    def recording_start_s(self) -> float | None:
        """Device time (s, the acquisition's unwrapped board clock) of the first recorded frame."""
        with self._lock:
            return None if self._rec is None else self._rec.first_s

    @property
    def recording_duration_s(self) -> float:
        """Device time from the first recorded frame to the last."""
        with self._lock:
            return 0.0 if self._rec is None else self._rec.duration_s

    def end_recording(self, *, duration_s: float | None = None) -> TrialFile:
        """Stop journaling and return the trial (frames beyond ``duration_s`` of device time dropped).

        The journal file is closed but left on disk: remove it once the trial is safely written.
        """
        with self._lock:
            rec, self._rec = self._rec, None
        if rec is None:
            raise RuntimeError("no recording is running")
        self._flush_journal(rec, force=True)
        rec.close()
        self.last_journal_path = rec.journal.path
        with self._lock:
            fit = copy.copy(self._stream.fit)  # (its slope and offset as of now)
        return rec.trial(duration_s=duration_s, host_unix_s=lambda dev: self._unix0 + fit.to_host(dev))

    def _flush_journal(self, rec: Recording, *, force: bool = False) -> None:
        """Write due journal items as one block and fsync (the file I/O happens outside ``self._lock``)."""
        with self._lock:
            items = rec.take_pending(self._now(), force=force)
        rec.write(items)

    # ------------------------------------------------------------------ reader thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self.source.read(READ_TIMEOUT_S)
            except LinkLost as exc:
                if not self._handle_lost(exc):
                    break
                continue
            except Exception as exc:  # never die silently: the UI shows state/error
                log.exception("reader thread failed")
                self._end(exc if isinstance(exc, StationError) else StationError(f"the link failed: {exc}"))
                break
            with self._lock:
                update = self._stream.feed(batch, self._now())
                self._apply(update)
            if update.failure is not None:
                break
            if update.rebooted:
                self._restart_board()
            rec = self._rec
            if rec is not None:
                self._flush_journal(rec)

    def _apply(self, update: StreamUpdate) -> None:
        """Ring, recording and acks from one stream update (``self._lock`` held)."""
        self.acks.extend(update.acks)
        del self.acks[:-KEEP_ACKS]
        rec = self._rec
        now = self._now()
        if rec is not None:
            rec.add_link_counts(update.link_counts)
        for chunk in update.chunks:
            self._ring.push(chunk.host_s, chunk.frames["counts"], chunk.frames["status"], chunk.device_s)
            if rec is not None:
                rec.add(chunk, unix0_s=self._unix0, now_s=now)
        if update.failure is not None:
            self._fail(update.failure)

    def _restart_board(self) -> None:
        """A rebooted board waits for a start command."""
        try:
            with self._command_lock:
                self.source.start()
        except Exception as exc:
            log.debug("restart after reboot: %s", exc)

    def _end(self, error: StationError) -> None:
        """The link ended with ``error``."""
        self.error = error
        self.state = LinkState.FAILED

    def _fail(self, failure: LinkFailure) -> None:
        """End the link as failed (another board, another protocol): error, state, failure in the recording."""
        self.failure = failure
        self._end(ProtocolError(failure.message) if failure.kind == PROTOCOL_CHANGED else StationError(failure.message))
        self._stop.set()
        if self._rec is not None:
            self._rec.fail(failure, now_s=self._now())

    def _handle_lost(self, exc: LinkLost) -> bool:
        """Wait for the board to return; True to keep reading, False to end the thread."""
        log.warning("%s", exc)
        # Frames may sit behind a false sync whose LEN points past what arrived: decode them now.
        last = self.source.flush()
        with self._lock:
            update = self._stream.link_lost(last, self._now())
            self._apply(update)
            if update.failure is not None:  # the flushed bytes ended the link (another protocol, another board)
                return False
            self.state = LinkState.RECONNECTING
        if not self.source.can_reconnect:
            self._end(exc)
            return False
        t_lost = time.monotonic()
        while not self._stop.is_set():
            if self.reconnect_timeout_s is not None and time.monotonic() - t_lost > self.reconnect_timeout_s:
                self._end(exc)
                return False
            try:
                source_info = self.source.reconnect(timeout_s=RECONNECT_ATTEMPT_S)
            except LinkLost:
                continue
            except StationError as err:
                log.error("%s", err)
                if isinstance(err, ProtocolError):
                    with self._lock:
                        self._fail(self._stream.fail(PROTOCOL_CHANGED, str(err)))
                else:
                    self._end(err)
                return False
            with self._lock:
                failure = self._stream.reconnected(source_info.board)
                if failure is not None:
                    self._fail(failure)
                    return False
                self.source_info = source_info
            try:
                with self._command_lock:
                    self.source.start()
            except LinkLost:
                continue
            except StationError as err:
                self._end(err)
                return False
            self.state = LinkState.CONNECTED
            log.warning("%s: link restored after %.1f s", self.transport_name, time.monotonic() - t_lost)
            return True
        return False
