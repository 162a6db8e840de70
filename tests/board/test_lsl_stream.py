"""`station stream --sim`: an LSL outlet read back with an LSL inlet on this machine (pylsl ships liblsl)."""

import os
import secrets
import subprocess
import sys
import time

import numpy as np
import pytest

import pylsl  # the `lsl` extra (also in `test`)


def test_stream_carries_labelled_forces_and_cop(tmp_path):
    env = dict(os.environ, STATION_DATA_DIR=str(tmp_path / "data"))
    # a board id of this run's own: LSL finds every outlet on the machine, and another station (or another test
    # run) streaming the same virtual board would answer under the same name and then go away
    board_id = f"{secrets.randbits(31) | 0x1:08X}"
    proc = subprocess.Popen([sys.executable, "-m", "station", "stream", "--sim", "--seed", "7", "--board-id", board_id,
                             "--seconds", "12"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        streams = pylsl.resolve_byprop("name", f"BalanceStation-{board_id}", minimum=1, timeout=20.0)
        assert streams and streams[0].type() == "Force", "no BalanceStation outlet of this run found"
        inlet = pylsl.StreamInlet(streams[0], recover=False)
        info = inlet.info(timeout=10.0)
        assert info.channel_count() == 7 and info.nominal_srate() == 80.0
        ch = info.desc().child("channels").child("channel")
        labels, units = [], []
        for _ in range(info.channel_count()):
            labels.append(ch.child_value("label"))
            units.append(ch.child_value("unit"))
            ch = ch.next_sibling()
        assert labels == ["Fz_fl", "Fz_fr", "Fz_bl", "Fz_br", "Fz_total", "COP_ML", "COP_AP"]
        assert units == ["N"] * 5 + ["mm", "mm"]
        assert info.desc().child("acquisition").child_value("manufacturer") == "Balance Station"
        samples, stamps = [], []
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            chunk, ts = inlet.pull_chunk(timeout=0.5)
            samples += chunk
            stamps += ts
        x = np.array(samples)
        assert x.shape[0] > 200  # ~4 s at 80 Hz
        np.testing.assert_allclose(x[:, :4].sum(axis=1), x[:, 4], rtol=1e-4, atol=0.05)
        standing = x[:, 4] > 300
        assert standing.mean() > 0.8 and 500 < np.median(x[standing, 4]) < 1200  # a person of 50-120 kg
        assert np.all(np.abs(x[standing, 5]) < 200) and np.all(np.abs(x[standing, 6]) < 150)  # COP on the board
        dt = np.diff(stamps)
        assert np.median(dt) == pytest.approx(1 / 80, rel=0.05)  # the board's own timing, not USB arrival
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("extra, board", [([], None), (["--board-id", "5B0000AA"], "5B0000AA")])
def test_stream_names_the_virtual_boards_own_id_or_the_option(tmp_path, monkeypatch, capsys, extra, board):
    from station.board.virtual.board import virtual_board_id
    from station.cli import main

    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    assert main(["stream", "--sim", "--seed", "3", *extra, "--seconds", "0.5"]) == 0
    err = capsys.readouterr().err
    assert f"streaming BalanceStation-{board or f'{virtual_board_id(3):08X}'} (7 channels: " in err


def test_stream_bad_board_id_is_one_clear_line(tmp_path, monkeypatch, capsys):
    from station.cli import main

    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    assert main(["stream", "--sim", "--board-id", "-1", "--seconds", "0.5"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "station: error: board id '-1' is not 1-8 hexadecimal digits (e.g. 5B000002).\n"
    assert captured.out == ""
