"""Sample entropy (Richman & Moorman 2000).

``SampEn(m, r) = -ln(A / B)`` where, over the ``N - m`` templates starting at ``i = 0 .. N-m-1``,
``B`` counts pairs ``i < j`` whose length-``m`` templates match within ``r`` (Chebyshev distance, ``<= r``)
and ``A`` the pairs whose length-``m+1`` templates match. Self-matches are excluded. NaN when
``A`` or ``B`` is zero (undefined).

Station convention: ``m = 2``, ``r = 0.2 · SD`` (SD with 1/N of the analysed series), each axis
separately, on the centred COP decimated to at most 20 Hz (every q-th sample, ``q = floor(fs / 20)``;
in the clinical preset the 10 Hz low-pass comes first). Decimation keeps the cost bounded (the
measure is O(N²)) and makes the value independent of the board's rate. Beyond ``MAX_SAMPLES``
decimated samples (10 minutes at 20 Hz) the measure is NaN with a note instead of running for minutes:
sample entropy describes a stationary stretch, and a recording that long is not one.

The kernel sorts templates by their first value so it only visits pairs within ``r`` of each other.
"""

from __future__ import annotations

import math

import numpy as np

from station.core._numba import jit

M = 2
R_FRACTION = 0.2
MAX_RATE_HZ = 20.0
#: longest decimated series sample entropy is computed on (cost grows with N² in the worst case)
MAX_SAMPLES = 12_000


@jit
def _sampen_kernel(x, m, r):  # pragma: no cover
    n = x.shape[0]
    nt = n - m
    if nt < 2:
        return np.nan
    order = np.argsort(x[:nt])
    # templates (length m + 1) laid out contiguously in sorted order, so the pair scan streams
    tm = np.empty((nt, m + 1))
    for p in range(nt):
        for k in range(m + 1):
            tm[p, k] = x[order[p] + k]
    a = 0
    b = 0
    for p in range(nt):
        x0 = tm[p, 0]
        for q in range(p + 1, nt):
            if tm[q, 0] - x0 > r:
                break
            # branch-free: the match tests are coin flips a predictor cannot learn
            ok = 1
            for k in range(1, m):
                ok &= abs(tm[p, k] - tm[q, k]) <= r
            b += ok
            a += ok & (abs(tm[p, m] - tm[q, m]) <= r)
    if a == 0 or b == 0:
        return np.nan
    return -math.log(a / b)


def sample_entropy(x, *, m: int = M, r: float) -> float:
    """Sample entropy of ``x`` with template length ``m`` and tolerance ``r`` (same unit as x)."""
    return float(_sampen_kernel(np.ascontiguousarray(x, dtype=np.float64), int(m), float(r)))


def sample_entropy_reference(x, *, m: int = M, r: float) -> float:
    """Plain-numpy O(N²) reference of :func:`sample_entropy`."""
    x = np.asarray(x, dtype=np.float64)
    nt = x.size - m
    if nt < 2:
        return float("nan")
    tm = np.lib.stride_tricks.sliding_window_view(x, m + 1)[:nt]
    a = b = 0
    for i in range(nt - 1):
        d = np.abs(tm[i + 1 :] - tm[i])
        close_m = d[:, :m].max(axis=1) <= r
        b += int(close_m.sum())
        a += int((close_m & (d[:, m] <= r)).sum())
    return float(-np.log(a / b)) if a and b else float("nan")


def entropy_measures(ml, ap, *, fs_hz: float, sampen=sample_entropy, notes: list | None = None) -> dict:
    """Sample entropy of each axis under the station convention (see the module docstring).

    ``notes``, when given, receives a ``{"code", "message"}`` dict when the series is too long.
    """
    q = max(1, int(math.floor(fs_hz / MAX_RATE_HZ)))
    out = {}
    n_dec = (len(ml) + q - 1) // q
    if n_dec > MAX_SAMPLES:
        if notes is not None:
            notes.append({"code": "entropy_too_long",
                          "message": f"Sample entropy is not computed on {n_dec} samples (more than {MAX_SAMPLES}, "
                                     f"{MAX_SAMPLES / (fs_hz / q) / 60:.0f} min): analyse a shorter stretch."})
        return {"sample_entropy_ml": float("nan"), "sample_entropy_ap": float("nan"), "sample_entropy_rate_hz": fs_hz / q}
    for name, x in (("ml", ml), ("ap", ap)):
        xd = np.asarray(x, dtype=np.float64)[::q]
        sd = float(xd.std())
        out[f"sample_entropy_{name}"] = sampen(xd, m=M, r=R_FRACTION * sd) if sd > 0 else float("nan")
    out["sample_entropy_rate_hz"] = fs_hz / q
    return out
