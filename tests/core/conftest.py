"""Shared builders of the core tests: virtual-board recordings with ground truth (tests/core/scenarios.py).

``whole_tests`` builds each whole-test recording once per test module (a recording of six stances is
~3 minutes of board time), keyed by its arguments.
"""

from __future__ import annotations

import pytest

import station.board.virtual as virtual
from tests.core.scenarios import whole_test


@pytest.fixture(scope="module")
def whole_tests():
    """``get(preset, seed=..., **kwargs)`` -> the :class:`~tests.core.scenarios.WholeTest` of that virtual patient."""
    cache: dict = {}

    def get(preset: str, *, seed: int = 0, replace: dict | None = None, **kwargs):
        key = (preset, seed, tuple(sorted((replace or {}).items())), tuple(sorted(kwargs.items())))
        if key not in cache:
            subject = virtual.Subject.named(preset).replace(**(replace or {}))
            cache[key] = whole_test(subject, seed=seed, **kwargs)
        return cache[key]

    return get
