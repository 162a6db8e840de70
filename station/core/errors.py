"""Errors the analysis core raises for input a user can cause (too short, non-monotonic time, no load).

They are :class:`station.errors.StationError` subclasses, so the CLI prints them as one line.
"""

from __future__ import annotations

from station.errors import NoLoadError, StationError

__all__ = ["NoLoadError", "SignalError"]


class SignalError(StationError):
    """A signal cannot be analysed: too few samples, time that goes backwards, non-finite rate."""
