"""Whether Qt can open a window here, asked of a child process (a Qt that cannot aborts its process)."""

from __future__ import annotations

import os


def qt_platform_loads(env: dict | None = None, *, timeout_s: float = 30.0) -> tuple[bool, str]:
    """Can Qt open its window platform here? Tried in a child process, since a failing one aborts.

    A display variable is not enough: with a library of Qt's xcb plugin missing
    (``libxcb-icccm4``, ``libxcb-keysyms1``) or an X server that refuses us, ``QGuiApplication``
    aborts the whole process (SIGABRT). Returns ``(True, "")`` or ``(False, Qt's last message)``.
    """
    import subprocess
    import sys

    probe = "from PySide6.QtGui import QGuiApplication; app = QGuiApplication(['station']); print(app.platformName())"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], env=env if env is not None else dict(os.environ),
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"Qt did not start within {timeout_s:g} s"
    if proc.returncode == 0:
        return True, ""
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return False, (lines[0] if lines else f"exit status {proc.returncode}")
