"""Balance Station: force-plate balance assessment (board link, analysis core, dashboard, reports)."""

__version__ = "0.1.0"
