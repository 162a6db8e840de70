"""Fresh raw counts for the calibration wizard: "give me the next N seconds", from the one Acquisition.

The wizard works in device time (the board's own microsecond clock, unwrapped by the acquisition), so
it runs the same against hardware (where a second of data takes a second) and against a non-realtime
virtual board (where it takes as long as the simulation). Each window is a short recording of the
station's :class:`~station.board.acquisition.Acquisition` (its decoder, clock unwrap, plausibility
checks and quality accounting; a journal in a private temporary folder), so calibration sees exactly
the frames an assessment would.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from station.board.protocol import CHANNELS, STATUS_SATURATED_MASK, STATUS_TIMEOUT_MASK
from station.errors import CalibrationError, PortError

logger = logging.getLogger(__name__)


class CountsReader:
    """Hand out windows of device time from a started :class:`~station.board.acquisition.Acquisition`.

    Parameters
    ----------
    acquisition : Acquisition
        Started (its reader thread owns the port).
    idle_timeout_s : float
        Wall-clock time without a single new frame after which the board is declared silent.
    poll_s : float
        How often to look at the acquisition while waiting.
    """

    def __init__(self, acquisition, *, idle_timeout_s: float = 5.0, poll_s: float = 0.005):
        self.acq = acquisition
        self.idle_timeout_s = idle_timeout_s
        self.poll_s = poll_s
        self._dir = Path(tempfile.mkdtemp(prefix="station-calibration-"))  # 0700 by mkdtemp
        self._n = 0

    @property
    def acks(self) -> list[tuple[int, int]]:
        """``(command, result)`` of every ACK the board sent (the virtual board's scene commands)."""
        return list(self.acq.acks)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
        transport = self.acq.transport
        if getattr(transport, "allowed_s", None) is not None:
            transport.allowed_s = None  # demand pacing ends with the calibration: the board runs free again
        if getattr(transport, "paced_from_open", False):
            transport.paced_from_open = False

    def drain(self) -> None:
        """Nothing to discard: every window starts with the frames that arrive after the call.

        (What the port buffered while the operator was busy — the old load, the bump of a mass being
        put down — never counts as the new reading.)
        """

    def read(self, seconds: float, *, progress=None) -> tuple[np.ndarray, np.ndarray]:
        """The next ``seconds`` of device time: ``(t_s (n,), counts (n, 4) int64)``.

        ``progress(fraction)`` is called as data arrives.

        Raises
        ------
        CalibrationError
            A cell saturated or stopped answering, or the board restarted, during the window.
        PortError
            No frame for ``idle_timeout_s``, or the link failed.
        """
        self._n += 1
        path = self._dir / f"window-{self._n}.journal"
        acq = self.acq
        acq.begin_recording(path, {"purpose": "calibration"})
        # a non-realtime simulated board runs only as far as it is asked (demand pacing)
        pace = None if getattr(acq.transport, "realtime", True) else getattr(acq.transport, "allow", None)
        if pace is not None:
            pace(seconds + 0.25)
        try:
            last_frames, last_change = 0, time.monotonic()
            while acq.recording_duration_s < seconds:
                error = getattr(acq, "error", None)
                if error is not None or acq.state.ended:
                    raise PortError(f"{acq.transport_name}: the board's link failed during calibration ({error or 'stopped'}).")
                n = acq.recording_frames
                if n != last_frames:
                    last_frames, last_change = n, time.monotonic()
                elif pace is not None and time.monotonic() - last_change > 0.05:
                    pace(0.25)  # the simulation is waiting for us (e.g. a reboot took board time): go on
                    last_change = time.monotonic()
                elif time.monotonic() - last_change > self.idle_timeout_s:
                    raise PortError(f"{acq.transport_name} sent no data for {self.idle_timeout_s:g} s: is it streaming?")
                if progress is not None and seconds > 0:
                    progress(min(1.0, acq.recording_duration_s / seconds))
                time.sleep(self.poll_s)
            start_s = acq.recording_start_s
        finally:
            trial = acq.end_recording()
            path.unlink(missing_ok=True)
        if progress is not None:
            progress(1.0)
        frames = trial.frames
        bad = frames["status"] & (STATUS_SATURATED_MASK | STATUS_TIMEOUT_MASK)
        if bad.any():
            bits = int(np.bitwise_or.reduce(bad))
            cells = [c for i, c in enumerate(CHANNELS) if bits & (0x11 << i)]
            raise CalibrationError(
                f"Load cell(s) {', '.join(cells)} saturated or stopped answering during calibration: "
                "check the wiring and that the masses are within the cells' range."
            )
        if trial.gaps or (trial.quality or {}).get("reboots"):
            raise CalibrationError("The board restarted or its link dropped during calibration: run the calibration again.")
        t = np.asarray(trial.device_time_s, dtype=np.float64) + (start_s or 0.0)  # one device time axis
        keep = t <= t[0] + seconds + 1e-9 if len(t) else np.zeros(0, bool)
        return t[keep], np.asarray(frames["counts"], dtype=np.int64)[keep]
