"""The one JSON sanitiser: numpy values, paths and non-finite floats made JSON-safe.

Trial headers, the database's JSON columns, the JSON export and ``assess --json`` all write through
:func:`json_safe` / :func:`dumps`, so NaN and infinities become ``null`` everywhere and a numpy scalar
never breaks a write.
"""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import PurePath

import numpy as np


def json_safe(value):
    """JSON-safe copy: NaN/inf become None, numpy scalars and arrays become Python values, paths strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):  # states, event kinds, failure reasons
        return json_safe(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_default(obj):
    """``json.dumps(default=...)`` for what :func:`json_safe` converts (when a caller dumps directly)."""
    safe = json_safe(obj)
    if safe is obj:
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
    return safe


def dumps(value, **kwargs) -> str:
    """``json.dumps`` of :func:`json_safe` (``allow_nan=False``: nothing non-finite gets through)."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)
