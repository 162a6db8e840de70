"""Migration scripts, oldest first (``0001`` …)."""
