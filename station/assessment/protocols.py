"""Assessment protocols as data: ordered steps the runner walks through.

A protocol is a tuple of steps, each a frozen dataclass:

- :class:`StanceTrial` — one recorded single-leg stance trial (side, duration, seconds excluded at
  the start, eyes open/closed, phase);
- :class:`RdlSet` — one recorded set of single-leg Romanian dead-lifts (side, repetitions counted
  from the board);
- :class:`Exercise` — a guided, unrecorded primer exercise with a timer (a hold of ``duration_s``
  or ``reps`` paced at ``seconds_per_rep``);
- :class:`AdaptiveStance` — single-leg stance trials alternating sides, as many per side as the
  headline verdict needs: at least ``min_trials``, then one more per side while the verdict names no side
  and its interval still holds an asymmetry as large as ``target_si_pct``, up to ``max_trials``
  (a group-sequential design with efficacy and futility boundaries, :mod:`station.assessment.sequential`;
  docs/ASSESSMENT.md §5).

Familiarisation trials (task ``single_leg_practice``, before the scored trials) are recorded and
stored but never scored: the first trials on a leg sway more (learning), and must not read as "worse before the
primer" or as an asymmetry.

Invalid settings (no trials, no repetitions, negative durations...) raise ``ValueError`` before
anything is recorded.

The builders below give the clinic's defaults; every number is a keyword argument,
so a clinic (or a test) changes a protocol without changing code::

    protocols.get("single-leg", trials_per_side=3, duration_s=30.0, exclude_s=5.0)
    protocols.get("primer", duration_s=15.0, exclude_s=2.0, rounds=3)
"""

from __future__ import annotations

import dataclasses
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

    ``exercise``: the set is part of the guided primer (its dose), not a measurement a verdict needs: a set
    in which the board recognised fewer than ``reps`` is kept with those it recognised and never repeated (a
    repeat would add a fourth set to the patient's primer because the board missed a repetition). Any set
    whose board missed repetitions ends at the patient's pace (:data:`station.assessment.steps.SET_IDLE_S`),
    not at ``max_duration_s``.
    """

    side: str
    reps: int = 10
    max_duration_s: float = 90.0
    phase: str = "baseline"
    task: str = "rdl"  # "rfe_rdl" for the rear-foot-elevated variant of the primer
    label: str = ""
    exercise: bool = False

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


class AdaptiveBlock:
    """What the adaptive blocks share (:class:`AdaptiveStance`, :class:`AdaptiveRdl`): trials (sets) in pairs
    L/R, ``min_trials`` .. ``max_trials`` per side, a look after every pair from ``min_trials`` on with the
    group-sequential design of :mod:`station.assessment.sequential` (efficacy at ``alpha_interim`` /
    ``alpha_final``, futility on the ``1 - futility_alpha`` interval inside the block's target), and the
    entry of :meth:`Protocol.design` that scoring reads. A block says only what its target is
    (:meth:`target`) and which trial it records (``trial``)."""

    min_trials: int
    max_trials: int
    alpha_interim: float
    alpha_final: float
    futility_alpha: float

    def target(self) -> tuple[str, str, float]:
        """The futility target: ``(Design keyword, design-entry key, value)``."""
        raise NotImplementedError

    def alpha(self, pairs: int) -> float:
        """Test level of the look after ``pairs`` trials per side."""
        return self.sequential().alpha(pairs)

    def sequential(self):
        """The block's group-sequential design (:class:`station.assessment.sequential.Design`)."""
        from station.assessment.sequential import Design

        keyword, _, value = self.target()
        return Design(min_pairs=self.min_trials, max_pairs=self.max_trials, alpha_interim=self.alpha_interim,
                      alpha_final=self.alpha_final, futility_alpha=self.futility_alpha, **{keyword: value})

    def design_entry(self) -> dict:
        """The block's entry of :meth:`Protocol.design` (``alpha`` the last look's; the runner replaces it with
        the level of the look where the block stopped)."""
        _, key, value = self.target()
        return {"alpha": self.alpha_final, "alpha_interim": self.alpha_interim, "adaptive": True,
                "min_trials": self.min_trials, "max_trials": self.max_trials, "futility_alpha": self.futility_alpha,
                key: value}


@dataclass(frozen=True)
class AdaptiveStance(AdaptiveBlock):
    """Single-leg stance L/R until decided: ``min_trials``..``max_trials`` per side (see the module notes).

    Each look (after every pair of trials from ``min_trials`` on) tests at ``alpha_interim``, the last
    one (``max_trials``) at ``alpha_final``: together 4 % false positives (``verdicts.ADAPTIVE_ALPHA_*``).
    An interim look also stops when the ``1 - futility_alpha`` interval (80 %) holds 0 and excludes an
    asymmetry of ``target_si_pct`` (futility; :mod:`station.assessment.sequential`); the verdict then carries
    the family-level (96 %) interval.
    """

    min_trials: int = 3
    max_trials: int = 12
    duration_s: float = 20.0
    exclude_s: float = 3.0
    condition: str = "eyes_open"
    phase: str = "baseline"
    first_side: str = "left"
    alpha_interim: float = 0.001
    alpha_final: float = 0.037
    futility_alpha: float = 0.2
    target_si_pct: float = 25.0
    task: str = "single_leg"
    label: str = ""

    @property
    def kind(self) -> str:
        return "adaptive_stance"

    @property
    def block(self) -> str:
        return f"stance/{self.phase}/{self.condition}"

    def target(self) -> tuple[str, str, float]:
        return "target_si_pct", "target_si_pct", self.target_si_pct

    def trial(self, side: str, number: int) -> StanceTrial:
        """The ``number``-th (1-based) trial on ``side`` of this block."""
        label = f"{self.phase.replace('_', '-')} single-leg {side} {self.condition.replace('_', ' ')} #{number}"
        return StanceTrial(side=side, duration_s=self.duration_s, exclude_s=self.exclude_s, condition=self.condition,
                           phase=self.phase, label=label)


@dataclass(frozen=True)
class AdaptiveRdl(AdaptiveBlock):
    """Single-leg RDL sets alternating sides, as many per side as the L/R verdict needs: ``min_sets`` ..
    ``max_sets`` per side, a look after every pair of sets from ``min_sets`` on (the same group-sequential
    rules as :class:`AdaptiveStance`, on the difference R − L of the outward lateral shift in mm: efficacy at
    ``alpha_interim`` / ``alpha_final``, futility when the ``1 - futility_alpha`` interval holds 0 and lies
    inside ±``target_mm``)."""

    min_sets: int = 1
    max_sets: int = 3
    reps: int = 10
    max_duration_s: float = 90.0
    first_side: str = "left"
    alpha_interim: float = 0.001
    alpha_final: float = 0.039
    futility_alpha: float = 0.2
    target_mm: float = 8.0
    phase: str = "baseline"
    task: str = "rdl"
    label: str = ""

    @property
    def kind(self) -> str:
        return "adaptive_rdl"

    @property
    def block(self) -> str:
        return "rdl"

    # the runner's adaptive loop speaks of trials; an RDL block's trials are its sets
    @property
    def min_trials(self) -> int:
        return self.min_sets

    @property
    def max_trials(self) -> int:
        return self.max_sets

    def target(self) -> tuple[str, str, float]:
        return "target_difference", "target_mm", self.target_mm

    def trial(self, side: str, number: int) -> RdlSet:
        """The ``number``-th (1-based) set on ``side`` of this block."""
        return RdlSet(side=side, reps=self.reps, max_duration_s=self.max_duration_s, phase=self.phase, task=self.task,
                      label=f"single-leg RDL {side} set {number}")


@dataclass(frozen=True)
class AdaptivePost(AdaptiveStance):
    """The post-primer stance block of a primer session: trials in pairs, ``min_trials``..``max_trials`` per
    side, stopped early only for futility of the before/after question (docs/ASSESSMENT.md §5): at a look,
    when no before/after verdict would be called (each leg's change and the asymmetry change at their own
    levels) and neither leg's ``1 - futility_alpha`` interval reaches an improvement of ``target_change_pct``.

    The stop never calls anything, so the before/after false-positive rates cannot grow (non-binding); what
    it costs is power, measured by the bench. The block's own left/right test stays the fixed-design test
    (4 %) of the trials it has.
    """

    min_trials: int = 3
    max_trials: int = 8
    phase: str = "post_primer"
    #: the improvement a primer is expected to show after the session's fatigue: a 25 % lower sway index on
    #: the weak leg before it, +4-5 % of fatigue over the primer (ASSESSMENT.md §11), about -20 % net. Futility
    #: at -25 % stopped the block while a -20 % change was still plausible (74 % power there, 80 % now)
    target_change_pct: float = 20.0

    @property
    def kind(self) -> str:
        return "adaptive_post"


Step = Union[StanceTrial, RdlSet, Exercise, AdaptiveStance, AdaptiveRdl]  # AdaptivePost is an AdaptiveStance


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
            "design": self.design(),
        }

    def design(self) -> dict:
        """Per-block test levels for scoring, ``{"stance/baseline/eyes_open": {"alpha": ..., "adaptive": True, ...}}``.

        ``alpha`` is the final look's level; the runner replaces it with the level of the look where the
        block actually stopped.
        """
        # the post-primer block is not recorded as adaptive: it never names a side early (AdaptivePost)
        return {s.block: s.design_entry() for s in self.steps
                if isinstance(s, AdaptiveBlock) and not isinstance(s, AdaptivePost)}


def _check(**values) -> None:
    """Refuse settings no protocol can run: counts below their minimum, negative or zero durations."""
    minimum = {"trials_per_side": 1, "post_trials": 1, "reps": 1, "rfe_rdl_reps": 1, "sets_per_side": 1, "min_trials": 2,
               "max_trials": 2, "rounds": 0, "hip_lifts": 0, "familiarisation": 0, "min_sets": 1, "max_sets": 1}
    for key, value in values.items():
        if value is None:
            continue
        if key in minimum:
            if int(value) != value or value < minimum[key]:
                raise ValueError(f"{key} must be a whole number of at least {minimum[key]}, not {value!r}")
        elif key in ("exclude_s", "pigeon_s"):
            if not value >= 0:
                raise ValueError(f"{key} must not be negative, not {value!r}")
        elif not value > 0:
            raise ValueError(f"{key} must be positive, not {value!r}")
    if values.get("min_trials") is not None and values.get("max_trials") is not None \
            and values["max_trials"] < values["min_trials"]:
        raise ValueError("max_trials must be at least min_trials")


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
    _check(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s)
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


#: task of the practice trials: recorded and stored like single-leg stance, never scored
PRACTICE_TASK = "single_leg_practice"


def _practice(trials: int, duration_s: float, exclude_s: float, practice_s: float | None, first_side: str,
              phase: str = "baseline") -> tuple[StanceTrial, ...]:
    """The practice trials of a protocol: ``practice_s`` long (None, or longer than a scored trial:
    ``duration_s``), the excluded start no more than half of them."""
    length = duration_s if practice_s is None else min(practice_s, duration_s)
    return familiarisation_block(trials_per_side=trials, duration_s=length, exclude_s=min(exclude_s, length / 2.0),
                                 first_side=first_side, phase=phase)


def familiarisation_block(*, trials_per_side: int = 1, duration_s: float = 30.0, exclude_s: float = 5.0,
                          first_side: str = "left", phase: str = "baseline") -> tuple[StanceTrial, ...]:
    """Practice trials (task :data:`PRACTICE_TASK`, never scored), alternating sides."""
    if trials_per_side == 0:
        return ()
    return tuple(
        dataclasses.replace(t, task=PRACTICE_TASK, label=t.label.replace(" single-leg ", " practice single-leg "))
        for t in stance_block(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s,
                              phase=phase, first_side=first_side)
    )


#: length of a practice trial (s after the stance is detected): long enough to find the stance and settle
#: in it (the learning of the first trials on a leg is what it absorbs), shorter than a scored trial
PRACTICE_S = 10.0


def single_leg(
    *,
    trials_per_side: int | None = None,
    duration_s: float = 20.0,
    exclude_s: float = 3.0,
    eyes_closed: bool = False,
    first_side: str = "left",
    min_trials: int = 3,
    max_trials: int = 12,
    familiarisation: int = 1,
    practice_s: float | None = PRACTICE_S,
    target_si_pct: float = 25.0,
) -> Protocol:
    """Single-leg stance per side, eyes open: one 10 s practice trial per side, then adaptive 3-12 trials x 20 s.

    ``trials_per_side`` fixes the number of scored trials (no adaptive stopping); by default the block
    is an :class:`AdaptiveStance` of ``min_trials``..``max_trials`` per side that also stops once an
    asymmetry of ``target_si_pct`` is unlikely (futility). The first ``exclude_s`` seconds of each trial are
    not analysed. ``practice_s``: length of the practice trials (None: as long as a scored trial).
    """
    from station.assessment.verdicts import ADAPTIVE_ALPHA_FINAL, ADAPTIVE_ALPHA_INTERIM

    _check(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s, min_trials=min_trials,
           max_trials=max_trials, familiarisation=familiarisation, target_si_pct=target_si_pct, practice_s=practice_s)
    settings = dict(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s,
                    eyes_closed=eyes_closed, first_side=first_side, min_trials=min_trials, max_trials=max_trials,
                    familiarisation=familiarisation, practice_s=practice_s, target_si_pct=target_si_pct)
    steps: list[Step] = list(_practice(familiarisation, duration_s, exclude_s, practice_s, first_side))
    if trials_per_side is not None:
        steps += stance_block(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s,
                              eyes_closed=eyes_closed, first_side=first_side)
    else:
        if duration_s <= exclude_s:
            raise ValueError("duration_s must be longer than the excluded start exclude_s")
        conditions = ("eyes_open", "eyes_closed") if eyes_closed else ("eyes_open",)
        steps += [AdaptiveStance(min_trials=min_trials, max_trials=max_trials, duration_s=duration_s, exclude_s=exclude_s,
                                 condition=c, first_side=first_side, alpha_interim=ADAPTIVE_ALPHA_INTERIM,
                                 alpha_final=ADAPTIVE_ALPHA_FINAL,
                                 target_si_pct=target_si_pct,
                                 label=f"single-leg stance L/R, {c.replace('_', ' ')} ({min_trials}-{max_trials} trials per leg)")
                  for c in conditions]
    return Protocol("single-leg", "Single-leg stance, left vs right", tuple(steps), settings)


def rdl(*, reps: int = 10, sets_per_side: int | None = None, max_duration_s: float = 90.0, first_side: str = "left",
        min_sets: int = 1, max_sets: int = 3, target_mm: float = 8.0) -> Protocol:
    """Single-leg Romanian dead-lift per side, sets of 10 repetitions alternating L R: by default an
    :class:`AdaptiveRdl` block of 1-3 sets per side with a look after each pair of sets.

    One set of 10 per side detects a 4 vs 12 mm lateral shift in about half the sessions on the realistic
    patients; a second and third pair of sets follow only while the verdict is undecided (neither a side
    named nor an 8 mm difference unlikely): most healthy patients stop after one set per leg, a 4 vs 12 mm
    patient after two or three (docs/ASSESSMENT.md §5, §11). ``sets_per_side=N`` fixes N sets per side.
    """
    from station.assessment.verdicts import ADAPTIVE_ALPHA_INTERIM, RDL_ADAPTIVE_ALPHA_FINAL

    _check(reps=reps, sets_per_side=sets_per_side, max_duration_s=max_duration_s, min_sets=min_sets, max_sets=max_sets,
           target_mm=target_mm)
    if max_sets < min_sets:
        raise ValueError("max_sets must be at least min_sets")
    _sides(first_side)
    settings = dict(reps=reps, sets_per_side=sets_per_side, max_duration_s=max_duration_s, first_side=first_side,
                    min_sets=min_sets, max_sets=max_sets, target_mm=target_mm)
    if sets_per_side is not None:
        steps: tuple = tuple(
            RdlSet(side=side, reps=reps, max_duration_s=max_duration_s, label=f"single-leg RDL {side} set {i + 1}")
            for i in range(sets_per_side)
            for side in _sides(first_side)
        )
    else:
        steps = (AdaptiveRdl(min_sets=min_sets, max_sets=max_sets, reps=reps, max_duration_s=max_duration_s,
                             first_side=first_side, alpha_interim=ADAPTIVE_ALPHA_INTERIM,
                             alpha_final=RDL_ADAPTIVE_ALPHA_FINAL, target_mm=target_mm,
                             label=f"single-leg RDL L/R ({min_sets}-{max_sets} sets of {reps} per leg)"),)
    return Protocol("rdl", "Single-leg Romanian dead-lift, left vs right", steps, settings)


def primer(
    *,
    trials_per_side: int = 6,
    post_trials: int | None = None,
    post_min_trials: int = 3,
    post_max_trials: int = 8,
    duration_s: float = 20.0,
    exclude_s: float = 3.0,
    practice_s: float | None = PRACTICE_S,
    rounds: int = 3,
    pigeon_s: float = 30.0,
    hip_lifts: int = 10,
    hip_lift_s_per_rep: float = 3.0,
    rfe_rdl_reps: int = 10,
    rfe_rdl_max_s: float = 90.0,
    first_side: str = "left",
    familiarisation: int = 1,
) -> Protocol:
    """Practice -> baseline single-leg block -> guided primer (``rounds`` circuits) -> post-primer block.

    ``familiarisation`` practice trials per side (``practice_s`` long) come first and are not scored, so the
    learning over the first trials does not read as an improvement after the primer. The baseline block has
    ``trials_per_side`` (default 6) trials of ``duration_s`` (20 s) per side; the post-primer block is an
    :class:`AdaptivePost` of ``post_min_trials``..``post_max_trials`` (3-8) per side that stops early only
    when the before/after question is futile (docs/ASSESSMENT.md §5), or ``post_trials`` fixed trials.

    One primer round, per side: standing pigeon stretch ``pigeon_s`` (timer), side-lying hip lifts
    ``hip_lifts`` (paced timer), rear-foot-elevated RDL ``rfe_rdl_reps`` (counted from the board and
    stored as a ``primer`` phase trial, described, not tested; an ``exercise`` set: never repeated for a
    repetition the board missed, so every patient gets the same primer).
    """
    _check(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s, rounds=rounds, pigeon_s=pigeon_s,
           hip_lifts=hip_lifts, hip_lift_s_per_rep=hip_lift_s_per_rep, rfe_rdl_reps=rfe_rdl_reps,
           rfe_rdl_max_s=rfe_rdl_max_s, familiarisation=familiarisation, post_trials=post_trials,
           min_trials=post_min_trials, max_trials=post_max_trials, practice_s=practice_s)
    if duration_s <= exclude_s:
        raise ValueError("duration_s must be longer than the excluded start exclude_s")
    settings = dict(trials_per_side=trials_per_side, post_trials=post_trials, post_min_trials=post_min_trials,
                    post_max_trials=post_max_trials, duration_s=duration_s, exclude_s=exclude_s, practice_s=practice_s,
                    rounds=rounds, pigeon_s=pigeon_s, hip_lifts=hip_lifts, hip_lift_s_per_rep=hip_lift_s_per_rep,
                    rfe_rdl_reps=rfe_rdl_reps, rfe_rdl_max_s=rfe_rdl_max_s, first_side=first_side,
                    familiarisation=familiarisation)
    block = dict(trials_per_side=trials_per_side, duration_s=duration_s, exclude_s=exclude_s, first_side=first_side)
    steps: list[Step] = list(_practice(familiarisation, duration_s, exclude_s, practice_s, first_side))
    steps += stance_block(phase="baseline", **block)
    for r in range(1, rounds + 1):
        for side in _sides(first_side):
            steps.append(Exercise("pigeon", side, duration_s=pigeon_s,
                                  label=f"primer round {r}: standing pigeon stretch, {side} leg"))
        for side in _sides(first_side):
            steps.append(Exercise("hip_lift", side, reps=hip_lifts, seconds_per_rep=hip_lift_s_per_rep,
                                  label=f"primer round {r}: side-lying hip lifts, {side} leg"))
        for side in _sides(first_side):
            steps.append(RdlSet(side=side, reps=rfe_rdl_reps, max_duration_s=rfe_rdl_max_s, phase="primer",
                                task="rfe_rdl", label=f"primer round {r}: rear-foot-elevated RDL, {side} leg",
                                exercise=True))
    if post_trials is not None:
        steps.extend(stance_block(phase="post_primer", **dict(block, trials_per_side=post_trials)))
    else:
        steps.append(AdaptivePost(min_trials=post_min_trials, max_trials=post_max_trials, duration_s=duration_s,
                                  exclude_s=exclude_s, first_side=first_side,
                                  label=f"single-leg stance after the primer ({post_min_trials}-{post_max_trials} "
                                        f"trials per leg)"))
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
    try:
        return builder(**overrides)
    except TypeError as exc:  # an unknown setting
        raise StationError(f"Invalid protocol settings for {name!r}: {exc}.") from None
