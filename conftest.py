"""Root conftest: make Qt headless before anything can import it.

Without a display and without QT_QPA_PLATFORM=offscreen, Qt aborts the whole pytest process.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
