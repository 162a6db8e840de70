"""Errors a user can cause. The CLI turns each into one clear line and a non-zero exit."""


class StationError(Exception):
    """Base class of user-facing errors: the message is a complete sentence for the user."""

    exit_code = 2


class PortError(StationError):
    """A serial port is missing, busy, not permitted, or is not a board."""


class ProtocolError(StationError):
    """The device speaks something other than a protocol version this host understands."""


class InputFileError(StationError):
    """A file given on the command line is missing, malformed or of an unknown kind."""


class CalibrationError(StationError):
    """A calibration is missing, foreign (another board), stale or does not fit."""


class NoLoadError(StationError):
    """Nobody (or too little load) on the board where a load was needed."""
