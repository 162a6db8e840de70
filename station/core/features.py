"""Extended posturography features (the Quijoux et al. 2021 feature set) — owned by the research toolkit.

:func:`extended_features` is called by :func:`station.core.metrics.suite` on the centred, uniform COP
stretch; every key it returns is declared in :mod:`station.core.registry_features`.
"""

from __future__ import annotations


def extended_features(ml, ap, *, fs_hz: float) -> dict:
    """Extra measures of centred ``ml``, ``ap`` (mm) sampled uniformly at ``fs_hz`` (none yet)."""
    return {}
