"""The Source interface: the HX711 board (virtual here) as a SerialBoardSource."""

import numpy as np
import pytest

from station.board import protocol as P
from station.board.source import NotSupported, SerialBoardSource, Source, SourceInfo, as_source
from station.board.transport import LinkLost
from station.board.virtual import Subject, VirtualBoard, VirtualTransport
from station.errors import StationError


def test_serial_source_yields_exactly_the_boards_frames():
    vb = VirtualBoard(seed=5, subject=Subject.named("healthy"), faults="corrupt=0.002")
    src = SerialBoardSource(VirtualTransport(vb, realtime=False, chunk_s=0.037))
    assert isinstance(src, Source) and src.name == "virtual:seed=5"
    info = src.open()
    assert isinstance(info, SourceInfo) and src.info is info
    assert (info.kind, info.name, info.value_unit, info.geometry) == (
        "virtual-arduino", "virtual:seed=5", "adc_counts", "reference-400x300")
    assert info.board == vb.info and info.board_id == vb.info.board_id
    assert info.nominal_rate_hz == vb.info.nominal_rate_hz
    src.start()
    batches = [src.read() for _ in range(200)]
    batches.append(src.flush())
    src.stop()
    src.close()
    frames = np.concatenate([b.frames for b in batches])
    t = vb.truth
    np.testing.assert_array_equal(frames["seq"], t.seq[t.intact])
    np.testing.assert_array_equal(frames["counts"], t.counts[t.intact])
    # a corrupted sync or LEN byte hides the candidate (no CRC to fail): at most one error per damaged frame
    assert 0 < sum(b.crc_errors for b in batches) <= int(np.count_nonzero(~t.intact))


def test_serial_source_sends_commands_and_names_the_kind_of_a_real_port():
    vb = VirtualBoard(seed=1)
    tr = VirtualTransport(vb, realtime=False)
    src = as_source(tr)
    assert isinstance(src, SerialBoardSource) and src.transport is tr and as_source(src) is src
    src.open()
    src.send_command(P.encode_command(P.CMD_START))
    assert vb.streaming
    assert src.can_reconnect  # the virtual transport can wait for its board to come back
    tr.source_kind = "arduino-hx711"  # what a serial port reports
    assert SerialBoardSource(tr).open().kind == "arduino-hx711"


class _Silent(Source):
    """The smallest source: no reconnect, no commands."""

    name = "silent"

    def open(self):
        raise NotImplementedError

    start = stop = close = lambda self: None

    def read(self, timeout_s=0.05):
        raise LinkLost("silent: gone")

    def flush(self):
        raise NotImplementedError


def test_default_source_cannot_reconnect_or_take_commands():
    src = _Silent()
    assert not src.can_reconnect
    with pytest.raises(LinkLost, match="cannot reconnect"):
        src.reconnect(1.0)
    with pytest.raises(NotSupported, match="does not take commands") as err:
        src.send_command(b"\x00")
    assert isinstance(err.value, StationError)
    with pytest.raises(TypeError):
        as_source(object())


class _QueuedSource(Source):
    """A board that reports on change (Wii-like): hands over the batches given to :meth:`put`, one per read.

    ``done`` is set when a read finds the queue empty after the last batch: every batch was processed.
    """

    name = "queued:1"

    def __init__(self):
        import queue
        import threading

        self.batches = queue.Queue()
        self.delivered = 0
        self.expected = None
        self.done = threading.Event()
        self.started = 0

    def put(self, batches):
        for b in batches:
            self.batches.put(b)
        self.expected = len(batches)

    def open(self):
        board = P.BoardInfo(P.PROTOCOL_MAJOR, 0, "0.0.0", 0x0123ABCD, "test-on-change", 60, 4)
        self.info = SourceInfo(kind="virtual-wii", name=self.name, board_id=board.board_id, geometry="wii-balance-board",
                               nominal_rate_hz=60.0, value_unit="wii_10g", board=board)
        return self.info

    def start(self):
        self.started += 1

    def stop(self):
        pass

    def close(self):
        pass

    def read(self, timeout_s=0.05):
        import queue

        from station.board.source import empty_batch

        try:
            batch = self.batches.get(timeout=timeout_s)
        except queue.Empty:
            if self.expected is not None and self.delivered == self.expected:
                self.done.set()
            return empty_batch()
        self.delivered += 1
        return batch

    def flush(self):
        from station.board.source import empty_batch

        return empty_batch()


def test_acquisition_records_any_source_and_the_trial_names_it(tmp_path, make_frames):
    from station.board.acquisition import Acquisition, LinkState
    from station.board.decode import DecodedBatch
    from station.board.journal import read_journal

    rng = np.random.default_rng(7)
    frames = make_frames(240, counts=rng.integers(0, 4000, size=(240, 4)))
    frames["t_us"] = np.cumsum(rng.choice([4_000, 11_000, 17_000, 90_000], size=240))  # on change: irregular
    source = _QueuedSource()
    acq = Acquisition(source)
    assert acq.transport is None and acq.transport_name == "queued:1"
    info = acq.start()
    try:
        assert acq.state == LinkState.CONNECTED and info.board_id == 0x0123ABCD and source.started == 1
        acq.begin_recording(tmp_path / "q.journal", {"test": True})
        source.put([DecodedBatch(frames=frames[a : a + 8]) for a in range(0, 240, 8)])
        assert source.done.wait(60)
        trial = acq.end_recording()
    finally:
        acq.stop()
    assert acq.state == LinkState.STOPPED and acq.error is None
    assert trial.frames.tobytes() == frames.tobytes()  # every frame, whatever its timing
    np.testing.assert_allclose(trial.device_time_s, (frames["t_us"] - frames["t_us"][0]) * 1e-6, atol=1e-9)
    assert trial.quality["implausible_frames"] == 0 and trial.quality["lost"] == 0
    assert (trial.source_kind, trial.geometry, trial.value_unit) == ("virtual-wii", "wii-balance-board", "wii_10g")
    assert trial.board["board_id"] == "0123ABCD" and trial.meta["port"] == "queued:1"
    assert read_journal(acq.last_journal_path).source == trial.source
    with pytest.raises(NotSupported):
        acq.send_command(b"\x00")
