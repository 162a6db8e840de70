"""Signals that cannot be silently wrong: cell health, impossible frames, link identity (virtual board, real code)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from station.board import protocol as P
from station.board.acquisition import Acquisition, LinkState
from station.board.decode import FrameSanity, decode_frames
from station.board.journal import read_journal
from station.board.virtual import Subject, VirtualBoard, VirtualTransport
from station.board.virtual.board import virtual_board_id
from station.core.health import calibration_problems, cell_problems, quality_problems, trial_problems

from .builders import make_frames


class _GatedTransport(VirtualTransport):
    """The virtual board at CPU speed, whose time starts moving only when the recording has begun
    (otherwise the reader thread may run the board seconds ahead before ``begin_recording``)."""

    def __init__(self, board, **kw):
        super().__init__(board, **kw)
        self.gate = threading.Event()

    def read(self, timeout_s: float = 0.05) -> bytes:
        if not self.gate.wait(timeout_s):
            return b""
        return super().read(timeout_s)


def _record(tmp_path, *, seconds=6.0, seed=2, subject=None, faults=None, scenes=(), **board_kw):
    """Record through the station's acquisition from a virtual board at CPU speed; return (trial, board, acq)."""
    vb = VirtualBoard(seed=seed, subject=subject if subject is not None else Subject(), faults=faults, **board_kw)
    transport = _GatedTransport(vb, realtime=False, chunk_s=0.05)
    acq = Acquisition(transport, reconnect_timeout_s=5.0)
    acq.start()
    journal = tmp_path / f"t{time.monotonic_ns()}.journal"
    try:
        acq.begin_recording(journal, {"test": True})
        transport.gate.set()
        deadline = time.monotonic() + 60
        pending = sorted(scenes, key=lambda sc: sc[0])
        while vb.time_s < seconds and not acq.state.ended and time.monotonic() < deadline:
            while pending and vb.time_s >= pending[0][0]:
                vb.apply_scene(pending.pop(0)[1])  # the patient follows a cue (board time ~0.05 s late at most)
            time.sleep(0.005)
        trial = acq.end_recording()
    finally:
        acq.stop()
    return trial, vb, acq, journal


def _sent_frames(truth, trial):
    """Truth rows (as FRAME_DTYPE) whose seq lies in the trial's range, and their intact flags."""
    seq = truth.seq.astype(int)
    s0, s1 = int(trial.frames["seq"][0]), int(trial.frames["seq"][-1])
    rows = np.flatnonzero((seq >= s0) & (seq <= s1))
    sent = np.zeros(len(rows), dtype=P.FRAME_DTYPE)
    for name in ("seq", "t_us", "counts", "status", "missed"):
        sent[name] = getattr(truth, name)[rows]
    return sent, truth.intact[rows]


# --------------------------------------------------------------------------- 1. cell health
@pytest.mark.parametrize("faults, code, cell, words", [
    ("dead=fr", "cell_dead", "fr", "front-right cell"),
    ("saturate=bl@1", "cell_saturated", "bl", "back-left cell"),
    ("timeout=br@2", "cell_timeout", "br", "back-right cell"),
    ("dead=fl@3", "cell_dead", "fl", "front-left cell"),
])
def test_a_bad_cell_is_named_from_status_bits_and_signal(tmp_path, faults, code, cell, words):
    trial, _, _, _ = _record(tmp_path, faults=faults)
    problems = cell_problems(trial.counts, trial.frames["status"], fs_hz=80.0)
    assert [(p["code"], p["cell"]) for p in problems] == [(code, cell)]
    assert words in problems[0]["message"] and f"({cell})" in problems[0]["message"]
    # (a timed-out ADC also misses conversions: the firmware counts them)
    assert [p["code"] for p in trial_problems(trial)] == [code] + (["quality_missed_conversions"] if code == "cell_timeout" else [])


def test_healthy_cells_raise_nothing_loaded_or_empty(tmp_path):
    for subject in (Subject(), Subject.resolve("empty"), Subject.resolve("weak-right:rdl-right")):
        trial, _, _, _ = _record(tmp_path, subject=subject, seconds=8.0, seed=5)
        assert cell_problems(trial.counts, trial.frames["status"], fs_hz=80.0) == []
        assert trial_problems(trial) == []


def test_a_rail_without_the_status_bit_is_a_dead_cell_and_no_status_still_works():
    counts = np.full((400, 4), 1000, dtype=np.int64) + np.random.default_rng(0).integers(-30, 30, (400, 4))
    counts[:, 2] = -(1 << 23)  # a broken signal wire pulls the ADC to its rail
    p = cell_problems(counts, np.zeros(400, np.uint8), fs_hz=80.0)
    assert [(x["code"], x["cell"]) for x in p] == [("cell_dead", "bl")] and "back-left cell" in p[0]["message"]
    counts[:, 2] = 5000 + np.arange(400) % 7
    counts[100:300, 0] = 1234  # flat for 2.5 s: dead from 1.25 s
    p = cell_problems(counts, None, fs_hz=80.0)
    assert [(x["code"], x["cell"], x["since_s"]) for x in p] == [("cell_dead", "fl", 1.25)]


# --------------------------------------------------------------------------- 2. calibration fit
def test_a_foreign_calibration_is_reported_and_the_own_one_is_not(tmp_path):
    trial, vb, _, _ = _record(tmp_path, seconds=10.0, seed=3, subject=Subject.resolve("healthy:single-left"))
    other = VirtualBoard(seed=4, record_truth=False)
    counts = trial.counts.astype(float)
    own = (counts - vb.hidden_offsets_counts) / vb.hidden_gains_counts_per_n
    foreign = (counts - other.hidden_offsets_counts) / other.hidden_gains_counts_per_n
    assert calibration_problems(own, body_mass_kg=70.0) == []
    codes = {(p["code"], p.get("cell")) for p in calibration_problems(foreign, body_mass_kg=70.0)}
    assert codes == {("calibration_negative_cell", "fr"), ("calibration_total_implausible", None),
                     ("calibration_body_mass_mismatch", None)}
    # a calibration 15 % off in gain: only the body-mass check can tell (tolerance max(10 %, 5 kg))
    p = calibration_problems(own * 1.15, body_mass_kg=70.0)
    assert [x["code"] for x in p] == ["calibration_body_mass_mismatch"] and "70.0 kg" in p[0]["message"]
    assert calibration_problems(own * 1.08, body_mass_kg=70.0) == []
    assert calibration_problems(own * 1.15, body_mass_kg=None) == []


# --------------------------------------------------------------------------- 3. frames that cannot be true
def test_frame_sanity_rejects_isolated_impossible_frames_and_keeps_real_jumps():
    good = make_frames(200)
    bad = good.copy()
    bad["counts"][50, 1] = 1 << 24  # outside ±2^23
    bad["t_us"][120] += 9_700_000  # 9.7 s ahead of its sequence number
    bad["t_us"][121] -= 4000  # a late-but-plausible frame (jitter) stays
    restart = make_frames(20, seq0=0, t0_us=0)  # an unannounced restart: seq and clock start again, together
    sanity = FrameSanity(nominal_period_s=0.0125)
    out = np.concatenate([sanity.feed(bad[:100]), sanity.feed(bad[100:]), sanity.feed(restart, final=True)])
    assert sanity.rejected == 2
    expected = np.concatenate([np.delete(bad, [50, 120]), restart])
    assert out.tobytes() == expected.tobytes()
    # a board whose real rate differs from nominal (HX711s: ~93 SPS on an "80 Hz" board) loses nothing
    fast = make_frames(500, period_us=10750)
    sanity = FrameSanity(nominal_period_s=0.0125)
    assert len(sanity.feed(fast)) == 500 and sanity.rejected == 0
    # skipped sequence numbers (lost frames) with matching clock steps are plausible
    lossy = np.delete(make_frames(100), [10, 11, 12, 40])
    sanity = FrameSanity(nominal_period_s=0.0125)
    assert len(sanity.feed(lossy)) == 96 and sanity.rejected == 0


def test_injected_impossible_frames_are_rejected_and_counted(tmp_path):
    # (fault times are board seconds; the recording starts within the first seconds of the board's time)
    faults = "forge=4.5,forge=5.5:clock,forge=6.5:counts,forge=7.5:clock"
    trial, vb, _, journal = _record(tmp_path, faults=faults, seconds=9.0)
    sent, intact = _sent_frames(vb.truth, trial)
    assert (~intact).sum() == 4
    assert trial.frames.tobytes() == sent[intact].tobytes()  # every true frame, none of the forged ones
    q = trial.quality
    assert q["implausible_frames"] == 4 and q["lost"] == 4 and q["crc_errors"] == 0
    assert trial.duration_s == pytest.approx(sent["t_us"][-1] / 1e6 - sent["t_us"][0] / 1e6, abs=1e-6)
    assert read_journal(journal).quality["implausible_frames"] == 4  # recovery keeps the count
    codes = [p["code"] for p in trial_problems(trial)]
    assert "quality_implausible_frames" in codes


def test_the_decoder_path_agrees_on_out_of_range_counts():
    f = make_frames(3)
    wire = b"".join(P.encode_frame(P.TYPE_DATA, P.DATA_PAYLOAD.pack(int(r["seq"]), int(r["t_us"]), *map(int, r["counts"]),
                                                                    0, 0)) for r in f)
    forged = P.encode_frame(P.TYPE_DATA, P.DATA_PAYLOAD.pack(3, 37500, 1, 1 << 28, 1, 1, 0, 0))  # CRC-valid
    batch = decode_frames(wire + forged)
    assert len(batch.frames) == 4 and batch.crc_errors == 0  # the CRC cannot tell
    sanity = FrameSanity(nominal_period_s=0.0125)
    assert len(sanity.feed(batch.frames, final=True)) == 3 and sanity.rejected == 1


# --------------------------------------------------------------------------- 4. link identity
def test_a_mid_stream_info_of_another_protocol_major_stops_the_recording_and_keeps_the_data(tmp_path):
    trial, vb, acq, journal = _record(tmp_path, faults="reflash=5:2", seconds=9.0)
    assert acq.state == LinkState.FAILED and "protocol 2.0" in str(acq.error) and "recording stopped" in str(acq.error)
    sent, intact = _sent_frames(vb.truth, trial)
    before = vb.truth.t_s[np.isin(vb.truth.seq, trial.frames["seq"])]
    assert trial.n_frames > 80 and before.max() <= 5.0  # everything before the reflash is kept, nothing after
    assert trial.frames.tobytes() == sent[intact].tobytes()
    assert trial.quality["failed_code"] == "protocol_changed" and "protocol 2.0" in trial.quality["failed"]
    assert [e["kind"] for e in trial.events] == ["protocol_changed"]
    assert read_journal(journal).quality["failed_code"] == "protocol_changed"
    assert trial_problems(trial)[0]["code"] == "link_protocol_changed"


def test_a_replug_bringing_another_board_ends_the_trial_as_failed(tmp_path):
    trial, vb, acq, journal = _record(tmp_path, faults="disconnect=5:1,swap=5B0000FF", seconds=9.0)
    assert acq.state == LinkState.FAILED
    assert "5B0000FF" in str(acq.error) and f"{virtual_board_id(vb.seed):08X}" in str(acq.error)
    assert trial.quality["failed_code"] == "board_changed" and trial.quality["gaps"] == 0
    assert vb.truth.t_s[np.isin(vb.truth.seq, trial.frames["seq"])].max() < 5.0  # nothing of the second board
    recovered = read_journal(journal)
    assert recovered.quality["failed_code"] == "board_changed" and recovered.n_frames == trial.n_frames
    assert [p["code"] for p in trial_problems(trial)] == ["link_board_changed"]


def test_the_same_board_coming_back_is_still_merged(tmp_path):
    trial, vb, acq, _ = _record(tmp_path, faults="disconnect=5:1", seconds=9.0)
    assert "failed" not in trial.quality and trial.quality["gaps"] == 1
    assert vb.truth.t_s[np.isin(vb.truth.seq, trial.frames["seq"])].max() > 8.0


# --------------------------------------------------------------------------- 5. quality gates
def test_quality_gates_inside_the_window(tmp_path):
    trial, _, _, _ = _record(tmp_path, faults="burst=0.3:30", seconds=8.0)  # ~30 % of frames lost
    p = trial_problems(trial)
    lost = [x for x in p if x["code"] == "quality_frames_lost"]
    assert len(lost) == 1 and 0.2 < lost[0]["fraction"] < 0.4
    clean, _, _, _ = _record(tmp_path, seconds=8.0)
    assert trial_problems(clean) == []
    # a disconnect outside the analysed window does not count, inside it does
    gapped, _, _, _ = _record(tmp_path, faults="disconnect=8:0.5", seconds=10.0)
    t = gapped.device_time_s
    g0 = gapped.gaps[0][0]
    assert g0 > 2.0
    kw = dict(nominal_rate_hz=80, device_time_s=t, seq=gapped.frames["seq"], missed=gapped.frames["missed"])
    assert quality_problems(gapped.quality, gapped.gaps, window_s=(0.5, g0 - 0.5), **kw) == []
    codes = {x["code"] for x in quality_problems(gapped.quality, gapped.gaps, window_s=(0.5, t[-1]), **kw)}
    assert codes == {"quality_gap", "quality_frames_lost"}


def test_an_adc_stuck_at_10_sps_is_rate_low(tmp_path):
    # a board announcing 80 Hz whose conversions come at 10 Hz
    t = np.arange(100) * 0.1
    p = quality_problems({}, [], window_s=None, nominal_rate_hz=80, device_time_s=t, seq=np.arange(100),
                         missed=np.zeros(100))
    assert [x["code"] for x in p] == ["rate_low"] and p[0]["effective_rate_hz"] == pytest.approx(10.0)
    timeouts, _, _, _ = _record(tmp_path, faults="timeout=br@1", seconds=5.0)
    codes = [x["code"] for x in trial_problems(timeouts)]
    assert codes == ["cell_timeout", "quality_missed_conversions"]


# --------------------------------------------------------------------------- through `station analyze --json`
def _calibration(vb):
    from station.calibration import Calibration

    return Calibration(board_id=vb.info.board_id_hex, geometry="reference-400x300",
                       offsets_counts=vb.hidden_offsets_counts, gains_n_per_count=1.0 / vb.hidden_gains_counts_per_n)


@pytest.mark.parametrize("faults, cal_seed, expected", [
    (None, None, []),
    ("dead=fr", None, [("cell_dead", "fr"), ("calibration_body_mass_mismatch", None)]),  # 516 N for 70 kg
    # (a saturated cell also makes the total absurd: 148 kN for 70 kg, as the issue saw)
    ("saturate=bl@4", None, [("cell_saturated", "bl"), ("calibration_total_implausible", None),
                             ("calibration_body_mass_mismatch", None)]),
    ("burst=0.3:30", None, [("quality_frames_lost", None)]),
    (None, 4, [("calibration_negative_cell", "fr"), ("calibration_total_implausible", None),
                ("calibration_body_mass_mismatch", None)]),
])
def test_analyze_json_lists_the_problems_naming_the_cell(tmp_path, capsys, faults, cal_seed, expected):
    import json

    from station.board.trialfile import write_trial
    from station.cli import main

    trial, vb, _, _ = _record(tmp_path, faults=faults, seconds=12.0, seed=3)
    cal = _calibration(vb if cal_seed is None else VirtualBoard(seed=cal_seed, record_truth=False))
    trial.calibration = dict(cal.to_dict(), board_id=vb.info.board_id_hex)
    trial.meta["body_mass_kg"] = 70.0
    path = write_trial(tmp_path / "t.trial", trial)
    code = main(["analyze", str(path), "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out or "{}")
    assert "problems" in out, captured.err
    got = [(p["code"], p.get("cell")) for p in out["problems"]]
    assert got == expected, out["problems"]
    for p in out["problems"]:
        if p.get("cell"):
            assert f"({p['cell']})" in p["message"] and " cell" in p["message"]
    assert code in (0, 1, 3)


def test_an_assessment_trial_with_a_dead_cell_fails_naming_it(tmp_path):
    from station.assessment.analysis import analyze_stance

    cue = [(2.0, {"subject": {"stance": "left", "task": "single_leg"}})]
    trial, vb, _, _ = _record(tmp_path, faults="dead=fr@1", seconds=16.0, seed=3, scenes=cue)
    result = analyze_stance(trial, _calibration(vb), side="left", duration_s=10.0, exclude_s=2.0, body_mass_kg=70.0)
    assert result.status == "failed" and "front-right cell (fr) is dead" in result.reason, result.reason
    clean, vb, _, _ = _record(tmp_path, seconds=16.0, seed=3, scenes=cue)
    ok = analyze_stance(clean, _calibration(vb), side="left", duration_s=10.0, exclude_s=2.0, body_mass_kg=70.0)
    assert ok.status == "finished" and ok.problems == [], (ok.reason, ok.problems)


def test_frame_sanity_property_isolated_outliers_never_cost_a_good_frame():
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=150, deadline=None)
    @given(n=st.integers(20, 400), rate_factor=st.floats(0.75, 1.3), seed=st.integers(0, 10_000),
           every=st.integers(3, 60), batch=st.integers(1, 64), lost_every=st.integers(0, 30))
    def check(n, rate_factor, seed, every, batch, lost_every):
        rng = np.random.default_rng(seed)
        good = make_frames(n, period_us=12500 / rate_factor, seq0=int(rng.integers(0, 65536)),
                       t0_us=int(rng.integers(0, 1 << 32)))
        if lost_every:
            good = np.delete(good, np.arange(5, n - 1, lost_every + 2))  # lost frames: seq and clock both skip
        wire = list(good)
        bad_at = set(range(1 + int(rng.integers(0, every)), len(good), every))  # never two in a row
        out_rows = []
        for i in sorted(bad_at, reverse=True):
            f = good[i].copy()
            if rng.random() < 0.5:
                f["counts"][int(rng.integers(0, 4))] = int(rng.choice([1, -1])) * int(rng.integers(1 << 23, 1 << 31))
            else:
                f["t_us"] = (int(f["t_us"]) + int(rng.integers(2_000_000, 4_000_000_000))) & 0xFFFFFFFF
            wire.insert(i, f)
        stream = np.array(wire, dtype=P.FRAME_DTYPE)
        sanity = FrameSanity(nominal_period_s=0.0125)
        for a in range(0, len(stream), batch):
            out_rows.append(sanity.feed(stream[a : a + batch]))
        out_rows.append(sanity.feed(stream[:0], final=True))
        out = np.concatenate(out_rows)
        assert out.tobytes() == good.tobytes()
        assert sanity.rejected == len(bad_at)

    check()
