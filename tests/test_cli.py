"""The CLI contract: --help everywhere, one clear line and a non-zero exit on bad input."""

import subprocess
import sys

from station.cli import COMMANDS, main


def test_top_level_help_lists_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "station", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
