"""PySide6 + pyqtgraph dashboard. The only package that imports Qt; nothing imports it.

Entry point::

    from station.dashboard.app import run_dashboard
    run_dashboard(*, port=None, sim=False, seed=0, rate_hz=80.0, subject="healthy", faults=None,
                  board_id=None, screenshot=None, after_s=5.0, tab=None, guided=False) -> int

Modules: ``app`` (start, screenshots), ``window`` (main window, redraw timer), ``station_link`` (board,
acquisition, calibration and the start-up worker; no Qt), ``live_data`` (what the live views draw; no
Qt), ``live_views``, ``protocol_view``, ``results_views``, ``calibration_view``, ``patients_view``,
``theme``.
"""
