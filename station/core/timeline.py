"""Trial events as a small typed, time-sorted list (kineticstoolkit's ``TimeSeriesEvent`` is the model).

An :class:`Event` has a time (s, the trial's device time base), a kind from :class:`Kind` and a few
named values (``data``). :class:`Events` keeps them sorted by time and converts to and from the plain
dicts the database and trial files store (``{"t_s", "kind", ...}``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    """What happened. The values are the strings stored in files and the database."""

    CUE = "cue"
    STEP_ON = "step_on"
    STEP_OFF = "step_off"
    STANCE_START = "stance_start"
    STABILISED = "stabilised"
    TOUCHDOWN = "touchdown"
    WINDOW = "window"
    REP_START = "rep_start"
    REP_BOTTOM = "rep_bottom"
    REP_END = "rep_end"
    REP_REJECTED = "rep_rejected"
    GAP = "gap"
    LINK_LOST = "link_lost"
    REBOOT = "reboot"
    OTHER = "other"

    @classmethod
    def of(cls, value: str) -> "Kind":
        try:
            return cls(value)
        except ValueError:
            return cls.OTHER


@dataclass(frozen=True, order=True)
class Event:
    """One timed event. ``data`` holds the kind's own values (``t_end_s``, ``rep``, ``side``, ...)."""

    t_s: float
    kind: Kind = field(compare=False)
    data: dict = field(default_factory=dict, compare=False)
    name: str = field(default="", compare=False)  # the stored kind string when ``kind`` is OTHER

    def as_dict(self) -> dict:
        kind = self.name if self.kind is Kind.OTHER and self.name else self.kind.value
        return {"t_s": float(self.t_s), "kind": kind, **self.data}

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        kind = Kind.of(str(d.get("kind", "")))
        data = {k: v for k, v in d.items() if k not in ("t_s", "kind")}
        t = float(d.get("t_s", math.nan))
        return cls(t, kind, data, name=str(d.get("kind", "")) if kind is Kind.OTHER else "")


class Events:
    """A time-sorted list of :class:`Event` (insertion keeps the order)."""

    def __init__(self, events=()):
        self._items: list[Event] = []
        for e in events:
            self.add(e)

    def add(self, event: Event | dict) -> Event:
        if isinstance(event, dict):
            event = Event.from_dict(event)
        i = len(self._items)
        while i > 0 and self._items[i - 1].t_s > event.t_s:
            i -= 1
        self._items.insert(i, event)
        return event

    def new(self, t_s: float, kind: Kind, **data) -> Event:
        return self.add(Event(float(t_s), kind, data))

    def of(self, kind: Kind) -> list[Event]:
        return [e for e in self._items if e.kind is kind]

    def first(self, kind: Kind) -> Event | None:
        return next((e for e in self._items if e.kind is kind), None)

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i):
        return self._items[i]

    def as_dicts(self) -> list[dict]:
        return [e.as_dict() for e in self._items]

    @classmethod
    def from_dicts(cls, dicts) -> "Events":
        return cls(Event.from_dict(d) for d in dicts or () if isinstance(d, dict))
