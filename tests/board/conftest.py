"""Fixtures shared by the board tests (the builders themselves live in :mod:`builders`)."""

import pytest

from .builders import board_info as _board_info
from .builders import make_frames as _make_frames


@pytest.fixture
def make_frames():
    """Build FRAME_DTYPE frames (see :func:`builders.make_frames`)."""
    return _make_frames


@pytest.fixture
def board_info():
    """A test board's info frame (board 5B0000AA, protocol 1.0, 80 Hz)."""
    return _board_info()
