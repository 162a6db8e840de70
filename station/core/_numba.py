"""The project's one numba wrapper (MNE-style).

``jit`` applies the project's defaults (``cache=True``, ``nogil=True``) and can be switched off for
debugging with ``STATION_DISABLE_JIT=1``: the decorated function then runs as plain Python. numba is
imported lazily, at first decoration, so importing ``station`` costs nothing.
"""

from __future__ import annotations

import os

JIT_DISABLED = os.environ.get("STATION_DISABLE_JIT", "") not in ("", "0")


def jit(func=None, **options):
    """Decorate a kernel with ``numba.njit(cache=True, nogil=True, **options)``."""

    def wrap(f):
        if JIT_DISABLED:
            return f
        import numba

        opts = {"cache": True, "nogil": True}
        opts.update(options)
        return numba.njit(**opts)(f)

    return wrap(func) if func is not None else wrap
