"""Runs of True in boolean masks: where the board is loaded, where the COP is defined, and so on."""

from __future__ import annotations

import numpy as np


def runs(mask) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the runs of True in a boolean mask (``stop`` exclusive)."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def longest_run(mask) -> tuple[int, int]:
    """``(start, stop)`` of the longest run of True in ``mask`` ((0, 0) when there is none)."""
    found = runs(mask)
    return max(found, key=lambda r: r[1] - r[0]) if found else (0, 0)


def merge_short_gaps(spans, min_gap: int) -> list[tuple[int, int]]:
    """Join consecutive ``(start, stop)`` spans separated by fewer than ``min_gap`` samples."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a - out[-1][1] < min_gap:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
