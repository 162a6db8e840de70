"""PySide6 + pyqtgraph dashboard. The only package that imports Qt; nothing imports it."""
