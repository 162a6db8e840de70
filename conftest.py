"""Root conftest: make Qt headless before anything can import it.

Without a display and without QT_QPA_PLATFORM=offscreen, Qt aborts the whole pytest process.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _station_environment_restored():
    """`station.cli.main(["--data-dir", ...])` run in-process sets STATION_* variables (as the command does
    for its subprocesses); put them back after every test so no test leaks its data dir or database."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("STATION_")}
    yield
    for key in [k for k in os.environ if k.startswith("STATION_") and k not in saved]:
        del os.environ[key]
    os.environ.update(saved)
