"""The dashboard's in-process virtual board has its seed's own id (or ``--board-id``), and the link never
applies another board's calibration (no window needed: :class:`BoardLink` has no Qt)."""

import pytest

from station.board.virtual.board import virtual_board_id
from station.cli import main
from station.dashboard.station_link import BoardLink, SimOptions
from station.errors import CalibrationError

from .conftest import known_board


def _started(link: BoardLink) -> BoardLink:
    link.start()
    assert link.wait_started(120.0) or link.error is not None
    return link


@pytest.mark.parametrize("board_id, expected", [(None, virtual_board_id(3)), (0x5B0000AA, 0x5B0000AA)])
def test_sim_board_id_is_the_seeds_own_or_the_option(store, board_id, expected):
    link = _started(BoardLink(sim=SimOptions(seed=3, board_id=board_id, realtime=False)))
    try:
        assert link.error is None
        assert link.info.board_id == expected
        # the start-up calibration is this board's, under this board's id
        assert link.calibration.board_id == f"{expected:08X}"
    finally:
        link.close()


def test_a_calibration_of_another_seeds_board_is_refused(store):
    model, seed_1 = known_board(1)
    link = _started(BoardLink(sim=SimOptions(seed=2, board_model=model, realtime=False), calibration=seed_1))
    try:
        assert not link.ready and isinstance(link.error, CalibrationError)
        assert str(link.error) == (f"The calibration given is board {virtual_board_id(1):08X}'s, but this board is "
                                   f"{virtual_board_id(2):08X}: calibrate this board before assessing patients.")
        assert link.acquisition is None  # the stream was stopped again
    finally:
        link.close()
    model, own = known_board(2)
    link = _started(BoardLink(sim=SimOptions(seed=2, board_model=model, realtime=False), calibration=own))
    try:
        assert link.error is None and link.calibration is own
    finally:
        link.close()


def _record_run_dashboard(monkeypatch):
    import station.dashboard.app as app

    calls = []
    monkeypatch.setattr(app, "run_dashboard", lambda **kw: calls.append(kw) or 0)
    return calls


def test_dashboard_and_demo_pass_the_board_id_option_on(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    calls = _record_run_dashboard(monkeypatch)
    png = str(tmp_path / "s.png")
    assert main(["dashboard", "--sim", "--seed", "3", "--board-id", "5b0000aa", "--screenshot", png]) == 0
    assert main(["dashboard", "--sim", "--seed", "3", "--screenshot", png]) == 0
    assert [(c["seed"], c["board_id"]) for c in calls] == [(3, 0x5B0000AA), (3, None)]  # None: the seed's own id
    # the demo with a display: the same dashboard, on the same board id
    import station.commands.demo as demo
    import station.commands.qtprobe as qtprobe

    monkeypatch.setattr(demo, "_has_display", lambda: True)
    monkeypatch.setattr(qtprobe, "qt_platform_loads", lambda: (True, ""))
    assert main(["demo", "--board-id", "5B0000AA"]) == 0
    assert (calls[-1]["seed"], calls[-1]["board_id"], calls[-1]["guided"]) == (7, 0x5B0000AA, True)


@pytest.mark.parametrize("argv", [["dashboard", "--sim", "--board-id", "5B0G"], ["demo", "--board-id", "5B0G"],
                                  ["demo", "--headless", "--board-id", "5B0G"]])
def test_bad_board_id_is_one_clear_line_before_qt_starts(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))
    calls = _record_run_dashboard(monkeypatch)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == "station: error: board id '5B0G' is not 1-8 hexadecimal digits (e.g. 5B000002).\n"
    assert captured.out == "" and calls == []
