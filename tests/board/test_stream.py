"""The stream state fed decoded batches directly (no thread, no clock): exact lost / reboot / gap counts."""

from __future__ import annotations

import numpy as np
import pytest

from station.board.decode import DecodedBatch
from station.board.journal import FLAG_NEW_SEGMENT, FLAG_REBOOT, JournalWriter, read_journal
from station.board.recording import FrameBlock, LinkCounts, Recording, write_item
from station.board.stream import BOARD_CHANGED, GAP_LINK_LOST, GAP_REBOOT, PROTOCOL_CHANGED, Gap, StreamState

from .builders import board_info as make_info

PERIOD_S = 0.0125


def _batch(frames, *, infos=(), crc_errors=0, resyncs=0, skipped_bytes=0, acks=()):
    infos = list(infos)
    return DecodedBatch(frames=frames, infos=[i for i, _ in infos], info_positions=[p for _, p in infos],
                        crc_errors=crc_errors, resyncs=resyncs, skipped_bytes=skipped_bytes, acks=list(acks))


def _feed(stream, frames, *, every=16, latency_s=0.004, **kw):
    """Feed ``frames`` in batches of ``every``; each arrives ``latency_s`` after its last frame's board time."""
    updates = []
    for a in range(0, len(frames), every):
        part = frames[a : a + every]
        arrival = int(part["t_us"][-1]) * 1e-6 + latency_s if len(part) else 0.0
        updates.append(stream.feed(_batch(part, **(kw if a == 0 else {})), arrival))
    return updates


def _chunks(updates):
    return [c for u in updates for c in u.chunks]


def _joined(updates, name):
    chunks = _chunks(updates)
    return np.concatenate([getattr(c, name) for c in chunks]) if chunks else np.zeros(0)


@pytest.fixture
def stream(board_info):
    return StreamState(board_info, name="test-board", nominal_rate_hz=80)


def test_a_clean_stream_in_batches_keeps_every_frame_and_its_time(stream, make_frames):
    frames = make_frames(200)
    updates = _feed(stream, frames, crc_errors=2, resyncs=1, skipped_bytes=37)
    assert _joined(updates, "frames").tobytes() == frames.tobytes()
    np.testing.assert_allclose(_joined(updates, "device_s"), np.arange(200) * PERIOD_S, atol=1e-9)
    q = stream.stats.as_dict()
    assert (q["frames"], q["lost"], q["gaps"], q["reboots"]) == (200, 0, 0, 0)
    assert (q["crc_errors"], q["resyncs"], q["skipped_bytes"], q["implausible_frames"]) == (2, 1, 37, 0)
    assert updates[0].link_counts == {"crc_errors": 2, "resyncs": 1, "skipped_bytes": 37}
    assert not any(u.rebooted or u.failure for u in updates)
    flags = _joined(updates, "flags")
    assert flags[0] == 0 and not flags.any()  # (a recording marks its own first frame)
    # host time follows the arrivals' lower envelope: never after an arrival
    host = _joined(updates, "host_s")
    assert np.all(np.diff(host) > 0)


def test_lost_frames_are_counted_by_sequence_across_the_u16_wrap(stream, make_frames):
    frames = make_frames(300, seq0=65436)  # wraps at frame 100
    lost_at = [5, 99, 100, 101, 250]
    _feed(stream, np.delete(frames, lost_at), every=7)
    q = stream.stats.as_dict()
    assert (q["frames"], q["lost"], q["gaps"], q["lost_in_gaps"]) == (295, 5, 0, 0)


def test_a_reboot_mid_batch_is_a_gap_of_its_own_kind_and_the_clock_goes_on(stream, make_frames, board_info):
    before = make_frames(50, t0_us=7_000_000)
    after = make_frames(30)  # the rebooted board starts again at seq 0, t_us 0
    update = stream.feed(_batch(np.concatenate([before, after]), infos=[(board_info, 50)]), 8.0)
    assert update.rebooted
    q = stream.stats.as_dict()
    assert (q["frames"], q["lost"], q["reboots"], q["gaps"], q["lost_in_gaps"]) == (80, 0, 1, 1, 0)
    first, second = update.chunks
    assert second.gap == Gap(float(first.device_s[-1]), float(second.device_s[0]), GAP_REBOOT, 0)
    assert second.flags[0] == FLAG_REBOOT | FLAG_NEW_SEGMENT and not second.flags[1:].any()
    dev = np.concatenate([first.device_s, second.device_s])
    assert np.all(np.diff(dev) > 0)  # the unwrapped clock never runs backwards


def test_an_info_that_ends_a_batch_makes_the_next_batchs_first_frame_a_reboot(stream, make_frames, board_info):
    stream.feed(_batch(make_frames(40, t0_us=5_000_000), infos=[(board_info, 40)]), 6.0)
    update = stream.feed(_batch(make_frames(20)), 6.3)
    assert update.chunks[0].gap.kind == GAP_REBOOT
    assert (stream.stats.reboots, stream.stats.lost, len(stream.stats.gap_list)) == (1, 0, 1)


@pytest.mark.parametrize("info_last_in_batch", [False, True])
def test_a_late_answer_to_an_info_request_is_not_a_reboot(stream, make_frames, board_info, info_last_in_batch):
    first, second = make_frames(np.arange(10)), make_frames(np.r_[10, 11, 13:40])
    if info_last_in_batch:
        stream.feed(_batch(first, infos=[(board_info, 10)]), 0.2)
        stream.feed(_batch(second), 0.6)
    else:
        stream.feed(_batch(np.concatenate([first, second]), infos=[(board_info, 10)]), 0.6)
    q = stream.stats.as_dict()
    assert (q["frames"], q["lost"], q["reboots"], q["gaps"]) == (39, 1, 0, 0)


@pytest.mark.parametrize("other, kind, words", [
    (dict(board_id=0x5B0000FF), BOARD_CHANGED, "a different board (id 5B0000FF)"),
    (dict(protocol_major=2), PROTOCOL_CHANGED, "announced protocol 2.0"),
])
def test_another_board_or_protocol_mid_stream_ends_it_keeping_what_came_before(stream, make_frames, other, kind, words):
    frames = make_frames(60)
    update = stream.feed(_batch(frames, infos=[(make_info(**other), 25)]), 1.0)
    assert update.failure is not None and update.failure.kind == kind and words in update.failure.message
    assert update.failure.t_s == pytest.approx(24 * PERIOD_S)  # the last frame kept
    assert _joined([update], "frames").tobytes() == frames[:25].tobytes()
    assert stream.failure is update.failure and stream.stats.frames == 25


def test_a_reconnect_counts_the_frames_sent_while_away_and_keeps_the_board_clock(stream, make_frames, board_info):
    frames = make_frames(400)
    _feed(stream, frames[:100])
    lost = stream.link_lost(_batch(frames[:0]), 1.3)
    assert lost.chunks == [] and lost.failure is None
    assert stream.reconnected(board_info) is None
    updates = _feed(stream, frames[180:])
    gap = updates[0].chunks[0].gap
    assert (gap.kind, gap.lost_frames) == (GAP_LINK_LOST, 80)  # frames 100 .. 179
    assert (gap.t_start_s, gap.t_end_s) == (pytest.approx(99 * PERIOD_S), pytest.approx(180 * PERIOD_S))
    q = stream.stats.as_dict()
    assert (q["frames"], q["lost"], q["lost_in_gaps"], q["gaps"], q["reboots"]) == (320, 0, 80, 1, 0)
    np.testing.assert_allclose(_joined(updates, "device_s"), np.arange(180, 400) * PERIOD_S, atol=1e-9)


def test_another_board_after_a_reconnect_is_a_failure(stream, make_frames):
    _feed(stream, make_frames(100))
    failure = stream.reconnected(make_info(0x5B000001))
    assert failure.kind == BOARD_CHANGED and "5B000001" in failure.message and "5B0000AA" in failure.message


def test_implausible_frames_are_rejected_counted_and_a_held_frame_is_decided_when_the_link_drops(stream, make_frames):
    frames = make_frames(100)
    frames["t_us"][40] += 9_700_000  # 9.7 s ahead of its sequence number: cannot be true
    frames["t_us"][99] += 5_000_000  # the last frame disagrees too: held until the stream says more
    updates = _feed(stream, frames, every=10)
    assert sum(u.link_counts.get("implausible_frames", 0) for u in updates) == 1
    assert len(_joined(updates, "frames")) == 98  # frame 40 rejected, frame 99 held
    released = stream.link_lost(_batch(frames[:0]), 2.0)
    assert released.chunks[0].frames.tobytes() == frames[99:].tobytes()  # nothing came to refute it
    q = stream.stats.as_dict()
    assert (q["frames"], q["implausible_frames"], q["lost"]) == (99, 1, 1)


def test_a_source_that_reports_on_change_keeps_every_frame_whatever_its_timing(board_info, make_frames):
    """Irregular steps (events only when a value changes) are real there; only impossible counts are refused."""
    rng = np.random.default_rng(3)
    frames = make_frames(300)
    frames["t_us"] = np.cumsum(rng.choice([2_000, 9_000, 16_000, 250_000], size=300))  # 2 ms .. 0.25 s apart
    frames["counts"][120, 2] = 1 << 24
    regular = StreamState(board_info, name="hx711", nominal_rate_hz=80)
    on_change = StreamState(board_info, name="wii", nominal_rate_hz=80, regular_timing=False)
    updates = _feed(on_change, frames, every=9)
    kept = _joined(updates, "frames")
    assert kept.tobytes() == np.delete(frames, 120).tobytes()
    np.testing.assert_allclose(_joined(updates, "device_s"), kept["t_us"] * 1e-6, atol=1e-9)  # the event times
    q = on_change.stats.as_dict()
    assert (q["frames"], q["implausible_frames"], q["lost"], q["gaps"]) == (299, 1, 1, 0)
    _feed(regular, frames, every=9)
    assert regular.stats.implausible_frames > 1  # the same stream would lose real frames under the fixed-rate check


# --------------------------------------------------------------------------- the recording fed by the stream
def _recording(tmp_path, rate=80):
    header = {"board": {"board_id": "5B0000AA", "nominal_rate_hz": rate},
              "source": {"kind": "virtual-arduino", "name": "test-board", "geometry": "reference-400x300",
                         "value_unit": "adc_counts", "nominal_rate_hz": rate},
              "meta": {"test": True}, "calibration": None}
    path = tmp_path / "t.journal"
    return Recording(JournalWriter(path, header), header, nominal_rate_hz=rate), path


def _record(rec, updates, *, now_s=0.0):
    for u in updates:
        rec.add_link_counts(u.link_counts)
        for chunk in u.chunks:
            rec.add(chunk, unix0_s=1.7e9, now_s=now_s)


def test_a_recording_keeps_gaps_inside_it_drops_the_one_before_it_and_its_journal_agrees(tmp_path, stream,
                                                                                          make_frames, board_info):
    frames = make_frames(600)
    _feed(stream, frames[:40])
    stream.link_lost(_batch(frames[:0]), 0.6)
    stream.reconnected(board_info)
    rec, path = _recording(tmp_path)
    # the recording begins right after a reconnect: that gap is not part of the trial
    _record(rec, _feed(stream, frames[60:300], crc_errors=3))
    stream.link_lost(_batch(frames[:0]), 4.0)
    stream.reconnected(board_info)
    _record(rec, _feed(stream, frames[320:]))
    assert rec.take_pending(0.05) == []  # a block waits up to JOURNAL_BLOCK_S
    items = rec.take_pending(0.3)
    assert [type(i) for i in items].count(Gap) == 1 and isinstance(items[-1], LinkCounts)
    assert all(isinstance(i, (FrameBlock, Gap, LinkCounts)) for i in items)
    rec.write(items)
    rec.close()
    trial = rec.trial()
    q = trial.quality
    assert (q["frames"], q["lost"], q["lost_in_gaps"], q["gaps"], q["crc_errors"]) == (520, 0, 20, 1, 3)
    assert trial.gaps == [[pytest.approx(239 * PERIOD_S), pytest.approx(260 * PERIOD_S)]]
    assert trial.events == [{"t_s": pytest.approx(239 * PERIOD_S), "kind": GAP_LINK_LOST,
                             "t_end_s": pytest.approx(260 * PERIOD_S)}]
    assert trial.source["kind"] == "virtual-arduino" and trial.value_unit == "adc_counts"
    back = read_journal(path)
    assert back.frames.tobytes() == trial.frames.tobytes()
    assert {k: back.quality[k] for k in ("frames", "lost", "lost_in_gaps", "gaps", "crc_errors")} == \
        {k: q[k] for k in ("frames", "lost", "lost_in_gaps", "gaps", "crc_errors")}
    assert back.source == trial.source


def test_a_recording_cut_at_its_duration_cuts_a_straddling_gap(tmp_path, stream, make_frames, board_info):
    frames = make_frames(400)
    rec, _ = _recording(tmp_path)
    _record(rec, _feed(stream, frames[:80]))  # 0 .. 0.9875 s
    stream.link_lost(_batch(frames[:0]), 1.0)
    stream.reconnected(board_info)
    _record(rec, _feed(stream, frames[160:]))  # the gap runs from 0.9875 s to 2.0 s
    rec.close()
    trial = rec.trial(duration_s=1.5)
    assert trial.n_frames == 80
    assert trial.gaps == [[pytest.approx(79 * PERIOD_S), pytest.approx(1.5)]]
    assert trial.quality["lost_in_gaps"] == round((1.5 - 79 * PERIOD_S) * 80) - 1


def test_a_failure_ends_the_recording_as_failed(tmp_path, stream, make_frames):
    rec, path = _recording(tmp_path)
    update = stream.feed(_batch(make_frames(60), infos=[(make_info(protocol_major=2), 30)]), 1.0)
    _record(rec, [update])
    rec.fail(update.failure, now_s=0.0)
    rec.write(rec.take_pending(0.0, force=True))
    rec.close()
    trial = rec.trial()
    assert trial.n_frames == 30 and trial.quality["failed_code"] == PROTOCOL_CHANGED
    assert [e["kind"] for e in trial.events] == [PROTOCOL_CHANGED]
    assert read_journal(path).quality["failed_code"] == PROTOCOL_CHANGED


def test_write_item_refuses_what_is_not_a_journal_item(tmp_path):
    rec, _ = _recording(tmp_path)
    with pytest.raises(TypeError, match="not a journal item"):
        write_item(rec.journal, ("frames", None))
    rec.close()
