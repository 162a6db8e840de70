"""Compile (or load from the on-disk cache) every numba kernel of the core on tiny inputs.

The dashboard runs :func:`warmup` in a worker thread at start-up (kernels are ``nogil``) and shows the
progress it reports; with a warm cache each step only loads machine code from disk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)


def _steps():
    from station.core import cop, diffusion, entropy, features, forces, resample, spectral, swarii, sway, zerolag

    rng = np.random.default_rng(0)
    counts_i = rng.integers(-1000, 1000, size=(8, 4)).astype(np.int32)
    xy = np.cumsum(rng.normal(size=(2, 64)), axis=1)
    f, p = spectral.welch_psd(xy[0], fs_hz=100.0)
    t = np.cumsum(rng.uniform(0.01, 0.03, 16))
    return [
        ("counts to forces (gains)", lambda: forces.counts_to_forces(counts_i, np.zeros(4), np.ones(4))),
        ("counts to forces (float counts)", lambda: forces.counts_to_forces(counts_i.astype(float), np.zeros(4), np.ones(4))),
        ("counts to forces (matrix)", lambda: forces.counts_to_forces(counts_i, np.zeros(4), np.eye(4))),
        ("centre of pressure", lambda: cop.cop_from_forces(np.abs(counts_i).astype(float), np.ones((4, 2)), threshold_n=1.0)),
        ("resampling", lambda: resample.resample_uniform(t, np.ones((16, 2)), fs_hz=50.0)),
        ("sway measures", lambda: sway.sway_stats(xy[0], xy[1])),
        ("spectral measures", lambda: spectral.spectral_stats(f, p)),
        ("diffusion fits", lambda: diffusion.line_fit(np.arange(8.0), np.arange(8.0), 0, 8)),
        ("sample entropy", lambda: entropy.sample_entropy(xy[0], r=0.5)),
        ("zero-lag filter", lambda: zerolag.sosfiltfilt(zerolag.butter_lowpass_sos(2, 10.0, 100.0), xy.T.copy(), padlen=15)),
        ("extended features", lambda: features.extended_features(xy[0] - xy[0].mean(), xy[1] - xy[1].mean(), fs_hz=10.0)),
        ("SWARII resampling", lambda: swarii.swarii_resample(t, np.ones((16, 2)), fs_hz=50.0)),
    ]


def warmup(progress: Callable[[int, int, str], None] | None = None) -> dict[str, float]:
    """Compile every kernel once; call ``progress(done, total, name)`` after each.

    Returns
    -------
    dict
        Seconds spent per kernel (compilation, or loading from the cache).
    """
    steps = _steps()
    spent = {}
    for k, (name, fn) in enumerate(steps, start=1):
        t0 = time.perf_counter()
        fn()
        spent[name] = time.perf_counter() - t0
        log.info("kernel ready: %s (%.3f s)", name, spent[name])
        if progress is not None:
            progress(k, len(steps), name)
    return spent
