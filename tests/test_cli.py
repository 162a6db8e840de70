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


def test_help_imports_no_numpy_numba_or_qt():
    import subprocess
    import sys

    code = ("import sys; from station.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'numba', 'scipy', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()[-1]
    assert out == "[]"  # `station --help` stays fast (<= 0.2 s)
