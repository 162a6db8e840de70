"""The Wii Balance Board source: evdev events -> frames, against hand-computed streams; its one-line errors."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from station.board import wii as W
from station.board.virtual.wii import InputEvent, VirtualWiiBoard, VirtualWiiDevice, VirtualWiiSource
from station.errors import PortError


def ev(t_us: int, etype: int, code: int, value: int = 0) -> InputEvent:
    return InputEvent(t_us // 1_000_000, t_us % 1_000_000, etype, code, value)


def syn(t_us: int) -> InputEvent:
    return ev(t_us, W.EV_SYN, W.SYN_REPORT)


T0 = 1_767_225_600_000_000  # 2026-01-01 in kernel microseconds


def test_axis_mapping_follows_the_kernel():
    # wiimod_bboard_in_ext: HAT0X top-right, HAT0Y bottom-right, HAT1X top-left, HAT1Y bottom-left
    assert W.CORNER_AXES == (W.ABS_HAT1X, W.ABS_HAT0X, W.ABS_HAT1Y, W.ABS_HAT0Y)  # fl, fr, bl, br
    assert (W.ABS_HAT0X, W.ABS_HAT0Y, W.ABS_HAT1X, W.ABS_HAT1Y, W.BTN_A) == (16, 17, 18, 19, 304)
    assert W.DRIVER_REPORT_ORDER == (1, 3, 0, 2)


def test_one_frame_per_report_with_kernel_time_stamps_and_carried_values():
    asm = W.WiiFrameAssembler((5, 6, 7, 8))
    stream = [
        ev(T0, W.EV_ABS, W.ABS_HAT0X, 1000), ev(T0, W.EV_ABS, W.ABS_HAT1X, 1100), syn(T0),          # fr, fl
        ev(T0 + 5_000, W.EV_KEY, W.BTN_A, 1), syn(T0 + 5_000),                                     # button only
        ev(T0 + 12_345, W.EV_ABS, W.ABS_HAT0Y, 900), syn(T0 + 12_345),                             # br
        syn(T0 + 20_000),                                                                          # empty report
        ev(T0 + 31_000, W.EV_ABS, W.ABS_HAT1Y, 950), syn(T0 + 31_000),                             # bl
        ev(T0 + 40_000, W.EV_KEY, W.BTN_A, 0), syn(T0 + 40_000),
    ]
    frames, buttons = asm.feed(stream)
    assert len(frames) == 3
    assert frames["seq"].tolist() == [0, 1, 2]
    wrap = 2**32
    assert frames["t_us"].tolist() == [T0 % wrap, (T0 + 12_345) % wrap, (T0 + 31_000) % wrap]
    assert frames["counts"].tolist() == [[1100, 1000, 7, 8], [1100, 1000, 7, 900], [1100, 1000, 950, 900]]
    assert frames["status"].tolist() == [0, 0, 0] and frames["missed"].tolist() == [0, 0, 0]
    assert buttons == [W.ButtonEvent((T0 + 5_000) % wrap, True), W.ButtonEvent((T0 + 40_000) % wrap, False)]


def test_a_report_split_across_reads_is_one_frame_and_seq_wraps():
    asm = W.WiiFrameAssembler(seq_start=65535)
    f1, _ = asm.feed([ev(T0, W.EV_ABS, W.ABS_HAT0X, 10)])
    f2, _ = asm.feed([ev(T0, W.EV_ABS, W.ABS_HAT0Y, 20), syn(T0)])
    f3, _ = asm.feed([ev(T0 + 9_000, W.EV_ABS, W.ABS_HAT0X, 11), syn(T0 + 9_000)])
    assert len(f1) == 0 and len(f2) == 1 and len(f3) == 1
    assert f2["counts"][0].tolist() == [0, 10, 0, 20]
    assert (int(f2["seq"][0]), int(f3["seq"][0])) == (65535, 0)


def test_syn_dropped_discards_to_the_next_report_resyncs_and_counts_one_lost_frame():
    asm = W.WiiFrameAssembler((100, 100, 100, 100))
    f, _ = asm.feed([ev(T0, W.EV_ABS, W.ABS_HAT1X, 101), syn(T0),
                     ev(T0 + 10_000, W.EV_ABS, W.ABS_HAT1X, 999),            # part of the overrun report
                     ev(T0 + 20_000, W.EV_SYN, W.SYN_DROPPED),
                     ev(T0 + 20_000, W.EV_ABS, W.ABS_HAT0X, 555), syn(T0 + 20_000)])  # discarded
    assert len(f) == 1 and asm.resync_needed and asm.overruns == 1
    asm.resync((120, 130, 140, 150))
    f2, _ = asm.feed([ev(T0 + 30_000, W.EV_ABS, W.ABS_HAT0X, 131), syn(T0 + 30_000)])
    assert f2["counts"][0].tolist() == [120, 131, 140, 150]
    assert int(f2["seq"][0]) == 2  # seq 1 never came: the acquisition counts it as lost


def test_saturated_bit_only_for_an_impossible_corner_value():
    status = W.WiiFrameAssembler.status_of
    assert status(np.array([0, 2000, 2000, 2000])) == 0  # a corner at the driver's zero is not "saturated"
    assert status(np.array([W.SATURATED_UNITS, 0, 0, 58000])) == 0b1001


def test_board_id_from_the_bluetooth_address():
    assert W.board_id_from_address("00:1E:35:AB:CD:EF") == 0x35ABCDEF
    with pytest.raises(PortError, match="no Bluetooth address"):
        W.board_id_from_address("")


def test_source_opens_the_virtual_board_and_names_it():
    board = VirtualWiiBoard(seed=4)
    src = VirtualWiiSource(VirtualWiiDevice(board))
    info = src.open()
    assert (info.kind, info.geometry, info.value_unit) == ("virtual-wii", "wii-balance-board", "wii_10g")
    assert info.board_id == W.board_id_from_address(board.address) == info.board.board_id
    assert info.board.adc_kind == "virtual" and info.nominal_rate_hz == W.NOMINAL_RATE_HZ


class _Keyboard:
    name = "AT Translated Set 2 keyboard"
    uniq = ""
    path = "/dev/input/event0"

    def capabilities(self):
        return {W.EV_KEY: [30, 31]}

    def close(self):
        pass


def test_not_a_balance_board_is_refused_in_one_line():
    with pytest.raises(PortError) as exc:
        W.WiiBalanceBoardSource(_Keyboard()).open()
    assert "/dev/input/event0 is not a Wii Balance Board" in str(exc.value) and "\n" not in str(exc.value)


def test_missing_evdev_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "evdev", None)  # import evdev -> ImportError
    with pytest.raises(PortError) as exc:
        W.open_event_device("/dev/input/event3")
    assert str(exc.value) == ("reading a Wii Balance Board needs the Python package evdev, which is not installed: "
                              "pip install 'balance-station[wii]' (Linux only).")
    assert W.list_wii_boards() == []


def test_unreadable_missing_and_wrong_device_files_are_one_line(monkeypatch, tmp_path):
    evdev = pytest.importorskip("evdev")
    with pytest.raises(PortError, match=r"^/dev/input/event999: no such input device") as exc:
        W.open_event_device("/dev/input/event999")
    assert "\n" not in str(exc.value)
    plain = tmp_path / "not-a-device"
    plain.write_bytes(b"")
    with pytest.raises(PortError, match="cannot open the input device") as exc:  # evdev's ioctl on a plain file
        W.open_event_device(str(plain))
    assert "\n" not in str(exc.value)

    def denied(path):  # tests run as root, where a 0600 file is still readable: the kernel's answer for others
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(evdev, "InputDevice", denied)
    with pytest.raises(PortError) as exc:
        W.open_event_device("/dev/input/event7")
    assert str(exc.value).startswith("/dev/input/event7: permission denied.") and "udev rule" in str(exc.value)


def test_the_balance_board_is_found_among_input_devices(monkeypatch, tmp_path):
    evdev = pytest.importorskip("evdev")
    for n in (3, 7, 12):
        (tmp_path / f"event{n}").write_bytes(b"")
    board = VirtualWiiBoard(seed=6)
    devices = {str(tmp_path / "event3"): _Keyboard(), str(tmp_path / "event7"): VirtualWiiDevice(board)}

    def open_device(path):  # evdev's constructor, on this machine's (absent) /dev/input
        if path not in devices:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return devices[path]

    monkeypatch.setattr(evdev, "InputDevice", open_device)
    found = W.list_wii_boards(str(tmp_path / "event*"))
    assert found == [W.WiiBoardPort(str(tmp_path / "event7"), board.address, "virtual-bluetooth")]


def test_port_names_that_mean_a_balance_board():
    assert W.looks_like_wii_port("wii") and W.looks_like_wii_port("/dev/input/event7")
    assert W.looks_like_wii_port("00:1E:35:AB:CD:EF")
    assert not W.looks_like_wii_port("/dev/ttyACM0") and not W.looks_like_wii_port("COM3")
    assert W.resolve_wii_port("/dev/input/event7") == "/dev/input/event7"


def test_a_lost_link_is_link_lost():
    from station.board.transport import LinkLost

    board = VirtualWiiBoard(seed=2, faults="disconnect=1.0:2.0")
    src = VirtualWiiSource(VirtualWiiDevice(board, chunk_s=0.25))
    src.open()
    src.start()
    with pytest.raises(LinkLost, match="went away"):
        for _ in range(20):
            src.read()
    assert 1.0 <= board.time_s <= 1.5
    info = src.reconnect(timeout_s=5.0)
    assert board.link_up and info.board_id == W.board_id_from_address(board.address)


def test_the_dashboard_link_opens_a_balance_board_port(monkeypatch, tmp_path):
    """``station dashboard --port /dev/input/event7``: the Wii source, its id and the driver-unit calibration."""
    evdev = pytest.importorskip("evdev")
    from station.dashboard.station_link import BoardLink

    board = VirtualWiiBoard(seed=12, subject=None)
    monkeypatch.setattr(evdev, "InputDevice", lambda path: VirtualWiiDevice(board) if path == "/dev/input/event7" else None)
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path))  # no stored calibration for this board
    link = BoardLink(port="/dev/input/event7")
    link.start()
    try:
        assert link.wait_started(120) and link.error is None
        assert link.info.board_id == W.board_id_from_address(board.address)
        assert link.acquisition.source_info.kind == "wii-balance-board"
        assert link.calibration.geometry.name == "wii-balance-board"
        assert np.allclose(link.calibration.gains_n_per_count, W.N_PER_UNIT)
    finally:
        link.close()
