"""Canary for PySide6 6.12.0, which aborts the interpreter after many ``Signal.emit`` calls.

The dashboard emits a signal per runner event and per calibration progress step; a regression here
would kill the clinic session, so the pin (< 6.12) is guarded by emitting 50 000 times.
"""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, Signal

EMITS = 50_000


class _Emitter(QObject):
    value = Signal(int)


def test_fifty_thousand_emits_arrive_in_order(qapp):
    emitter = _Emitter()
    received = []
    emitter.value.connect(received.append)
    for k in range(EMITS):
        emitter.value.emit(k)
    assert len(received) == EMITS
    assert received[0] == 0 and received[-1] == EMITS - 1
    assert sum(received) == EMITS * (EMITS - 1) // 2
