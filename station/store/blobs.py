"""Arrays as typed little-endian blobs: the bytes plus the dtype string and the shape.

The dtype string is numpy's (``"<i4"``, ``"<f8"``, ``"|u1"``), always little-endian, so a blob
written on any machine reads back identically on any other, with or without numpy.
"""

from __future__ import annotations

import json

import numpy as np


def to_blob(array) -> tuple[bytes, str, str]:
    """Encode ``array`` as ``(bytes, dtype_str, shape_json)``, converting to little-endian first."""
    a = np.asarray(array)
    if a.dtype.fields is not None:
        raise TypeError("structured arrays are stored one field per blob")
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return a.tobytes(), a.dtype.str, json.dumps(list(a.shape))


def from_blob(data: bytes, dtype: str, shape: str) -> np.ndarray:
    """Decode a blob written by :func:`to_blob` into a fresh, writable array."""
    dims = tuple(json.loads(shape))
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(dims).copy()
