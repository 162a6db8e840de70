"""Analysis core: numba kernels with plain-numpy references. Arrays in, arrays out; no I/O, no Qt.

Modules: ``forces`` (counts -> N), ``cop`` (COP + load gate), ``resample``, ``filters``, ``sway``,
``ellipse``, ``spectral``, ``diffusion``, ``entropy``, ``metrics`` (the suite and its presets),
``events``, ``pipeline`` (a trial -> metrics and events). docs/METRICS.md defines every measure.

Importing this package is free: numba is imported when a kernel module is first imported.
"""


def warmup(progress=None):
    """Compile (or load from cache) every kernel; see :func:`station.core.precompile.warmup`."""
    from station.core.precompile import warmup as _warmup

    return _warmup(progress)
