"""Board clock handling: unwrap the u32 microsecond counter, and map device time to host time.

The board stamps every frame with a free-running ``u32`` microsecond counter (wraps every
4294.967296 s ≈ 71.6 min) and restarts it at zero when it reboots. :class:`DeviceClock` turns the
counter into a monotonic float64 seconds axis that survives wraps, reboots and reconnects.
:class:`HostClockFit` maps that axis onto the host's clock with a running linear fit: the slope
absorbs the crystal's ppm error, and the offset follows the *lower envelope* of the arrival times,
because USB and scheduling latency only ever delay a frame, never advance it.
"""

from __future__ import annotations

import logging
import numpy as np

log = logging.getLogger(__name__)

WRAP_US = 1 << 32
HALF_WRAP_US = 1 << 31


class DeviceClock:
    """Unwrap ``t_us`` counters into continuous device seconds.

    Parameters
    ----------
    nominal_period_s : float
        Expected frame period, used to bridge an unannounced backwards jump (a reboot whose info
        frame was lost).
    """

    def __init__(self, *, nominal_period_s: float):
        self.nominal_period_s = float(nominal_period_s)
        self.last_us: int | None = None
        self.last_s: float | None = None

    def unwrap(self, t_us: np.ndarray, *, restart: bool = False, host_elapsed_s: float | None = None,
               keep_forward: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Return (device_time_s float64 (n,), discontinuity bool (n,)) for consecutive counters.

        Parameters
        ----------
        t_us : uint32 array (n,)
        restart : bool
            The first frame follows a reboot or a reconnect: its time is bridged from the previous
            frame by ``host_elapsed_s`` (at least one nominal period) — unless ``keep_forward`` and
            the counter moved forward by a plausible amount (same board, still running).
        host_elapsed_s : float, optional
            Host time between the previous frame's and this first frame's arrival.
        keep_forward : bool
            Trust a forward counter step across the restart when it agrees with the host time.
        """
        t = np.asarray(t_us, dtype=np.int64)
        n = len(t)
        out = np.empty(n, dtype=np.float64)
        jumps = np.zeros(n, dtype=bool)
        if n == 0:
            return out, jumps
        if self.last_us is None:
            prev_us, prev_s = int(t[0]), float(t[0]) * 1e-6
            first_delta_s = 0.0
        else:
            prev_us, prev_s = self.last_us, self.last_s
            step = (int(t[0]) - prev_us) % WRAP_US
            bridge = max(host_elapsed_s or 0.0, self.nominal_period_s)
            if restart:
                jumps[0] = True
                plausible = step < HALF_WRAP_US and abs(step * 1e-6 - bridge) < max(1.0, 0.5 * bridge)
                first_delta_s = step * 1e-6 if keep_forward and plausible else bridge
            elif step >= HALF_WRAP_US:
                jumps[0] = True
                first_delta_s = bridge
            else:
                first_delta_s = step * 1e-6
        steps = np.empty(n, dtype=np.int64)
        steps[0] = 0
        steps[1:] = np.diff(t) % WRAP_US
        backward = steps >= HALF_WRAP_US
        if backward.any():
            jumps |= backward
            log.warning("device clock jumped backwards %d time(s): treating as a board restart", int(backward.sum()))
        delta_s = steps * 1e-6
        delta_s[backward] = self.nominal_period_s
        delta_s[0] = first_delta_s
        out[:] = prev_s + np.cumsum(delta_s)
        self.last_us = int(t[-1])
        self.last_s = float(out[-1])
        return out, jumps


class HostClockFit:
    """Running linear map ``host_s = offset + slope * device_s`` from (device, arrival) pairs.

    Parameters
    ----------
    window : int
        How many recent pairs the fit uses (one pair per read batch).
    min_span_s : float
        The slope stays 1 until the pairs span this much device time (shorter spans are too noisy).
    """

    def __init__(self, *, window: int = 400, min_span_s: float = 10.0, refit_every: int = 10):
        self._d = np.zeros(window)
        self._h = np.zeros(window)
        self._n = 0  # pairs seen (the window holds the last min(n, window))
        self.min_span_s = float(min_span_s)
        self.refit_every = int(refit_every)
        self.slope = 1.0
        self.offset: float | None = None

    def update(self, device_s: float, host_s: float) -> None:
        """Add the arrival host time of the most recent frame of a batch."""
        cap = len(self._d)
        i = self._n % cap
        self._d[i] = device_s
        self._h[i] = host_s
        self._n += 1
        m = min(self._n, cap)
        d, h = self._d[:m], self._h[:m]
        if m >= 50 and self._n % self.refit_every == 0 and d.max() - d.min() > self.min_span_s:
            dc = d - d.mean()
            slope = float(np.dot(dc, h - h.mean()) / np.dot(dc, dc))
            # Crystals are within ~100 ppm, an Uno's ceramic resonator within ~0.5 %; a larger
            # slope means a discontinuity in the window, not a clock.
            self.slope = slope if abs(slope - 1.0) < 1e-2 else 1.0
        self.offset = float(np.min(h - self.slope * d))

    def reset(self) -> None:
        """Forget the history."""
        self._n = 0

    def to_host(self, device_s: np.ndarray) -> np.ndarray:
        """Map device seconds to host seconds (identity offset until the first update)."""
        offset = 0.0 if self.offset is None else self.offset
        return offset + self.slope * np.asarray(device_s, dtype=np.float64)
