"""Lab Streaming Layer outlet for live board data (optional: the ``lsl`` extra, pylsl).

A stream of type ``Force`` named ``BalanceStation-<board id>`` with one float32 channel per quantity
and the channel labels, units and types in the stream description (the XDF convention:
``desc/channels/channel/{label,unit,type}``), plus ``desc/acquisition`` (manufacturer, model,
board id) and ``desc/reference`` (the COP frame: x = ML + right, y = AP + forward, mm, origin at the
cells' centre). Samples carry LSL timestamps: the board's device time mapped to the LSL clock
(``pylsl.local_clock``) by a constant offset fixed at the first sample, so the stream keeps the
board's own timing (jitter-free) rather than the USB arrival times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from station.errors import StationError

log = logging.getLogger(__name__)

#: stream type (the LSL/XDF vocabulary has no force type; "Force" is what force-plate outlets use)
STREAM_TYPE = "Force"


@dataclass(frozen=True)
class Channel:
    """One LSL channel: ``label`` (``Fz_fl``), ``unit`` (``N``), ``type`` (``Force``, ``COP``)."""

    label: str
    unit: str
    type: str


#: the calibrated stream: four cells, total vertical force, COP
CALIBRATED_CHANNELS = (
    Channel("Fz_fl", "N", "Force"), Channel("Fz_fr", "N", "Force"), Channel("Fz_bl", "N", "Force"),
    Channel("Fz_br", "N", "Force"), Channel("Fz_total", "N", "Force"),
    Channel("COP_ML", "mm", "COP"), Channel("COP_AP", "mm", "COP"),
)
#: without a calibration: the raw counts only
RAW_CHANNELS = tuple(Channel(f"counts_{c}", "counts", "Raw") for c in ("fl", "fr", "bl", "br"))


#: liblsl's configuration when the user has none: warnings only (its INFO lines would clutter the
#: command's output); set only when ``LSLAPICFG`` names no configuration file of the user's
QUIET_CONFIG = "[log]\nlevel = -1\n"


def _pylsl():
    try:
        import pylsl
    except ImportError:
        raise StationError("Live streaming needs the Python package pylsl (pip install 'balance-station[lsl]').") from None
    except RuntimeError as exc:  # pylsl without a loadable liblsl
        raise StationError(f"pylsl is installed but cannot load liblsl: {exc}.") from None
    import os

    if "LSLAPICFG" not in os.environ and hasattr(pylsl, "set_config_content"):
        pylsl.set_config_content(QUIET_CONFIG)
    return pylsl


class LslOutlet:
    """An LSL outlet for board samples.

    Parameters
    ----------
    board_id : str
        Board id (8 hex digits): names the stream and is its ``source_id``.
    nominal_rate_hz : float
        The board's nominal frame rate.
    channels : sequence of Channel
    """

    def __init__(self, *, board_id: str, nominal_rate_hz: float, channels=CALIBRATED_CHANNELS, model: str = ""):
        pylsl = _pylsl()
        self._pylsl = pylsl
        self.channels = tuple(channels)
        self.name = f"BalanceStation-{board_id}"
        info = pylsl.StreamInfo(self.name, STREAM_TYPE, len(self.channels), float(nominal_rate_hz), pylsl.cf_float32,
                                f"balance-station-{board_id}")
        desc = info.desc()
        chans = desc.append_child("channels")
        for ch in self.channels:
            c = chans.append_child("channel")
            c.append_child_value("label", ch.label)
            c.append_child_value("unit", ch.unit)
            c.append_child_value("type", ch.type)
        acq = desc.append_child("acquisition")
        acq.append_child_value("manufacturer", "Balance Station")
        acq.append_child_value("model", model or "four-cell balance board")
        acq.append_child_value("board_id", board_id)
        ref = desc.append_child("reference")
        ref.append_child_value("frame", "x = ML (+ subject's right), y = AP (+ forward), origin at the centre of the cells")
        ref.append_child_value("cop_unit", "mm")
        self.outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)
        self._offset_s: float | None = None
        self.pushed = 0

    def push(self, t_device_s, values) -> int:
        """Push samples ``values`` (n, channels) with device times ``t_device_s`` (n,); return n."""
        v = np.ascontiguousarray(values, dtype=np.float32).reshape(-1, len(self.channels))
        t = np.asarray(t_device_s, dtype=np.float64)
        if v.shape[0] == 0:
            return 0
        if self._offset_s is None:
            self._offset_s = self._pylsl.local_clock() - float(t[-1])
        stamps = (t + self._offset_s).tolist()
        self.outlet.push_chunk(v.tolist(), stamps)
        self.pushed += v.shape[0]
        return v.shape[0]

    def close(self) -> None:
        self.outlet = None
