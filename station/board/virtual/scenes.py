"""Scenarios for the virtual patient: what they do on the board over a whole recording.

A :class:`Scenario` is a timeline of scenes (who stands how, from which board time). The whole test
of the single-leg protocol is one: both feet down for ``lead_s``, then single-leg stance on each of
``sides`` for ``stance_s`` with both feet down for ``bipedal_s`` in between. A board follows a
scenario by :meth:`VirtualBoard.follow` (the changes happen at their exact board times, whichever
way the board is driven: ``advance`` in a test, a transport in ``station record --sim``).

Typical use::

    plan = whole_test(Subject.named("weak-right"), start_s=1.0)
    vb = VirtualBoard(seed=3)
    vb.follow(plan)
    vb.advance(plan.end_s)
    plan.stances        # [(start_s, end_s, side), ...] of the scene commands
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from station.board.virtual.subject import Subject
from station.errors import StationError

logger = logging.getLogger(__name__)

#: the single-leg sides of the ``alternating`` scenario: six stances, right first
ALTERNATING_SIDES = ("right", "left") * 3


@dataclass(frozen=True)
class Scene:
    """From ``start_s`` (board time) on, ``subject`` is on the board (None: nobody); ``side`` is the stance leg."""

    start_s: float
    subject: Subject | None
    side: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A timeline of scenes ending at ``end_s`` (board time)."""

    name: str
    scenes: tuple[Scene, ...]
    end_s: float

    @property
    def stances(self) -> list[tuple[float, float, str]]:
        """``(start_s, end_s, side)`` of each single-leg scene, in order (the scene commands' board times)."""
        bounds = [s.start_s for s in self.scenes[1:]] + [self.end_s]
        return [(s.start_s, end, s.side) for s, end in zip(self.scenes, bounds) if s.side is not None]

    @property
    def sides(self) -> list[str]:
        """The stance legs, in order."""
        return [side for _, _, side in self.stances]

    def shifted(self, offset_s: float) -> "Scenario":
        """The same scenario ``offset_s`` later in board time."""
        return Scenario(self.name, tuple(Scene(s.start_s + offset_s, s.subject, s.side) for s in self.scenes),
                        self.end_s + offset_s)


def whole_test(subject: Subject, *, sides=ALTERNATING_SIDES, stance_s: float = 20.0, bipedal_s: float = 8.0,
               lead_s: float = 5.0, start_s: float = 0.0, task: str = "single_leg", rdl_reps: int = 6,
               name: str = "whole-test") -> Scenario:
    """A whole test: both feet down from ``start_s`` for ``lead_s``, then each of ``sides`` for ``stance_s``
    (``task`` ``single_leg`` or ``rdl``) with ``bipedal_s`` on both feet after each.

    Parameters
    ----------
    subject : Subject
        The virtual patient (their stance and task are replaced scene by scene).
    sides : sequence of {"left", "right"}
        The stance leg of each single-leg scene, in order.
    stance_s, bipedal_s, lead_s : float
        Durations (s of board time) of each single-leg scene, of both feet down after it, and before the first.
    start_s : float
        Board time of the first (bipedal) scene.
    task : {"single_leg", "rdl"}
        What the patient does on one leg.
    rdl_reps : int
        Repetitions per set when ``task`` is ``rdl``.
    name : str
        The scenario's name.
    """
    if task not in ("single_leg", "rdl"):
        raise StationError(f"a whole test is single_leg or rdl stances (got '{task}').")
    bad = [s for s in sides if s not in ("left", "right")]
    if bad or not sides:
        raise StationError(f"a whole test needs stance legs 'left' or 'right' (got {list(sides)}).")
    if min(stance_s, bipedal_s, lead_s) <= 0:
        raise StationError("the stance, bipedal and lead-in durations of a whole test must be positive.")
    both = subject.replace(stance="both", task="quiet")
    extra = {"rdl_reps": rdl_reps} if task == "rdl" else {}
    scenes = [Scene(float(start_s), both)]
    t = float(start_s) + lead_s
    for side in sides:
        scenes.append(Scene(t, subject.replace(stance=side, task=task, **extra), side))
        scenes.append(Scene(t + stance_s, both))
        t += stance_s + bipedal_s
    return Scenario(name, tuple(scenes), t)


#: the scenarios ``station record --sim --scenario NAME`` knows (``alternating``: :func:`whole_test` of six
#: stances alternating right and left, right first, with the default durations; 173 s)
SCENARIO_NAMES = ("alternating",)


def scenario_named(name: str, subject: Subject, *, start_s: float = 0.0) -> Scenario:
    """The scenario ``name`` (one of :data:`SCENARIO_NAMES`) for ``subject``, starting at board time ``start_s``."""
    if name == "alternating":
        return whole_test(subject, sides=ALTERNATING_SIDES, start_s=start_s, name=name)
    raise StationError(f"unknown scenario '{name}'; known: {', '.join(SCENARIO_NAMES)}.")
