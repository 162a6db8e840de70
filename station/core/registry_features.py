"""Declarations of the extended posturography features (the Quijoux et al. 2021 feature set).

Each family computed by :mod:`station.core.features` declares its metrics here with
:func:`station.core.registry.register`.
"""

from __future__ import annotations
