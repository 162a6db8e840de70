"""Assessment protocols as data: ordered steps the runner walks through.

A protocol is a tuple of steps, each a frozen dataclass:

- :class:`StanceTrial` — one recorded single-leg stance trial (side, duration, seconds excluded at
  the start, eyes open/closed, phase);
- :class:`RdlSet` — one recorded set of single-leg Romanian dead-lifts (side, repetitions counted
  from the board);
- :class:`Exercise` — a guided, unrecorded primer exercise with a timer (a hold of ``duration_s``
  or ``reps`` paced at ``seconds_per_rep``).

The builders below give the clinic's defaults (DESIGN §1, §9); every number is a keyword argument,
so a clinic (or a test) changes a protocol without changing code::

    protocols.get("single-leg", trials_per_side=3, duration_s=30.0, exclude_s=5.0)
    protocols.get("primer", duration_s=15.0, exclude_s=2.0, rounds=3)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Union

SIDES = ("left", "right")


@dataclass(frozen=True)
class StanceTrial:
    """Single-leg stance on ``side`` for ``duration_s`` after the stance is detected.

    The first ``exclude_s`` seconds (settling after lifting the other foot) are recorded but not
    analysed.
    """

    side: str
    duration_s: float = 30.0
    exclude_s: float = 5.0
    condition: str = "eyes_open"  # or "eyes_closed"
    phase: str = "baseline"
    task: str = "single_leg"
    label: str = ""

    @property
    def kind(self) -> str:
        return "stance"


@dataclass(frozen=True)
class RdlSet:
    """``reps`` single-leg Romanian dead-lifts standing on ``side``; repetitions counted from the board.

    ``max_duration_s`` bounds the set (the runner stops waiting for repetitions after it).
    """

    side: str
    reps: int = 10
    max_duration_s: float = 90.0
    phase: str = "baseline"
    task: str = "rdl"  # "rfe_rdl" for the rear-foot-elevated variant of the primer
    label: str = ""

    @property
    def kind(self) -> str:
        return "rdl"


@dataclass(frozen=True)
class Exercise:
    """A guided primer exercise without analysis: a hold (``duration_s``) or paced reps (``reps``)."""

    name: str  # "pigeon", "hip_lift"
    side: str
    duration_s: float | None = None
    reps: int | None = None
    seconds_per_rep: float = 3.0
    phase: str = "primer"
    label: str = ""

    @property
    def kind(self) -> str:
        return "exercise"

    @property
    def total_s(self) -> float:
        return float(self.duration_s if self.duration_s is not None else (self.reps or 0) * self.seconds_per_rep)


Step = Union[StanceTrial, RdlSet, Exercise]


@dataclass(frozen=True)
class Protocol:
    """A named sequence of steps plus the parameters it was built with (stored with the session)."""

    name: str
    title: str
    steps: tuple[Step, ...]
    settings: dict = field(default_factory=dict)
    max_repeats: int = 2  # a failed recorded step is repeated at most this many times

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "settings": dict(self.settings),
            "max_repeats": self.max_repeats,
            "steps": [{"kind": s.kind, **asdict(s)} for s in self.steps],
        }


def _sides(first_side: str) -> tuple[str, str]:
    if first_side not in SIDES:
        raise ValueError(f"first_side must be 'left' or 'right', not {first_side!r}")
    return (first_side, "right" if first_side == "left" else "left")


def stance_block(
    *,
    trials_per_side: int = 3,
    duration_s: float = 30.0,
    exclude_s: float = 5.0,
    eyes_closed: bool = False,
    phase: str = "baseline",
    first_side: str = "left",
) -> tuple[StanceTrial, ...]:
    """Single-leg stance trials alternating sides (L, R, L, R, ...), eyes open, then eyes closed if asked."""
    if duration_s <= exclude_s:
        raise ValueError("duration_s must be longer than the excluded start exclude_s")
    steps = []
    conditions = ("eyes_open", "eyes_closed") if eyes_closed else ("eyes_open",)
    for condition in conditions:
        for i in range(trials_per_side):
            for side in _sides(first_side):
                label = f"{phase.replace('_', '-')} single-leg {side} {condition.replace('_', ' ')} #{i + 1}"
                steps.append(
                    StanceTrial(side=side, duration_s=duration_s, exclude_s=exclude_s, condition=condition,
                                phase=phase, label=label)
                )
    return tuple(steps)


def single_leg(
    *,
    trials_per_side: int = 3,
    duration_s: float = 30.0,
    exclude_s: float = 5.0,
    eyes_closed: bool = False,
    first_side: str = "left",
) -> Protocol:
    """Single-leg stance per side (default 3 trials x 30 s, first 5 s excluded, eyes open)."""
    settings = dict(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s,
                    eyes_closed=eyes_closed, first_side=first_side)
    steps = stance_block(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s,
                         eyes_closed=eyes_closed, first_side=first_side)
    return Protocol("single-leg", "Single-leg stance, left vs right", steps, settings)


def rdl(*, reps: int = 10, sets_per_side: int = 1, max_duration_s: float = 90.0, first_side: str = "left") -> Protocol:
    """Single-leg Romanian dead-lift per side (default one set of 10 repetitions per side)."""
    settings = dict(reps=reps, sets_per_side=sets_per_side, max_duration_s=max_duration_s, first_side=first_side)
    steps = tuple(
        RdlSet(side=side, reps=reps, max_duration_s=max_duration_s, label=f"single-leg RDL {side} set {i + 1}")
        for i in range(sets_per_side)
        for side in _sides(first_side)
    )
    return Protocol("rdl", "Single-leg Romanian dead-lift, left vs right", steps, settings)


def primer(
    *,
    trials_per_side: int = 3,
    duration_s: float = 30.0,
    exclude_s: float = 5.0,
    rounds: int = 3,
    pigeon_s: float = 30.0,
    hip_lifts: int = 10,
    hip_lift_s_per_rep: float = 3.0,
    rfe_rdl_reps: int = 10,
    rfe_rdl_max_s: float = 90.0,
    first_side: str = "left",
) -> Protocol:
    """Baseline single-leg block -> guided primer (``rounds`` circuits) -> post-primer single-leg block.

    One primer round, per side: standing pigeon stretch ``pigeon_s`` (timer), side-lying hip lifts
    ``hip_lifts`` (paced timer), rear-foot-elevated RDL ``rfe_rdl_reps`` (counted from the board and
    stored as a ``primer`` phase trial, not scored).
    """
    settings = dict(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s, rounds=rounds,
                    pigeon_s=pigeon_s, hip_lifts=hip_lifts, hip_lift_s_per_rep=hip_lift_s_per_rep,
                    rfe_rdl_reps=rfe_rdl_reps, rfe_rdl_max_s=rfe_rdl_max_s, first_side=first_side)
    block = dict(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s, first_side=first_side)
    steps: list[Step] = list(stance_block(phase="baseline", **block))
    for r in range(1, rounds + 1):
        for side in _sides(first_side):
            steps.append(Exercise("pigeon", side, duration_s=pigeon_s,
                                  label=f"primer round {r}: standing pigeon stretch, {side} leg"))
        for side in _sides(first_side):
            steps.append(Exercise("hip_lift", side, reps=hip_lifts, seconds_per_rep=hip_lift_s_per_rep,
                                  label=f"primer round {r}: side-lying hip lifts, {side} leg"))
        for side in _sides(first_side):
            steps.append(RdlSet(side=side, reps=rfe_rdl_reps, max_duration_s=rfe_rdl_max_s, phase="primer",
                                task="rfe_rdl", label=f"primer round {r}: rear-foot-elevated RDL, {side} leg"))
    steps.extend(stance_block(phase="post_primer", **block))
    return Protocol("primer", "Primer session: baseline, guided primer, post-primer", tuple(steps), settings)


#: protocol name (as on the command line) -> builder
PROTOCOLS: dict[str, Callable[..., Protocol]] = {"single-leg": single_leg, "rdl": rdl, "primer": primer}


def get(name: str, **overrides) -> Protocol:
    """Build protocol ``name`` ("single-leg", "rdl", "primer") with its defaults changed by ``overrides``."""
    from station.errors import StationError

    try:
        builder = PROTOCOLS[name]
    except KeyError:
        raise StationError(f"Unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}.") from None
    return builder(**overrides)
