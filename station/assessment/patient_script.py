"""Who follows the runner's cues: the one seam between the protocol runner and a virtual patient.

With real hardware a person follows the cues and the runner sends the board nothing
(:class:`NoScript`). With a virtual board (``adc_kind == "virtual"``, in-process or behind
``station simulate``) a :class:`VirtualPatient` turns each cue into a ``CMD_SIM_SCENE`` command, so the
simulated person stands on the cued leg, does the repetitions asked for, rests on both feet, steps off.
It can be told to make a patient's mistake: stand on the other leg in chosen trials
(``wrong_leg_trials``) until the runner tells it so and repeats the trial.

Who the virtual person *is* (body mass, weak side, variability) is set once, by ``introduce``, only
when the runner was given subject fields (``station assess --sim``); over a port the subject chosen
with ``station simulate --subject`` keeps its traits, and only stance and task change.
"""

from __future__ import annotations

import json
import logging
from typing import Callable, Iterable

log = logging.getLogger(__name__)

#: a scene command's JSON must fit the frame's 255-byte payload (with room to spare)
MAX_SCENE_JSON = 240


class NoScript:
    """A real person: cues are for them, the board gets no commands."""

    def introduce(self) -> None:
        """Describe the patient to the board (nothing to do)."""

    def cue(self, step, *, repeat: bool = False) -> None:
        """Make the patient follow a recorded step's cue (nothing to do); ``repeat``: a failed trial again."""

    def rest(self) -> None:
        """Both feet on the board (nothing to do)."""

    def leave(self) -> None:
        """Off the board, e.g. for tare, an exercise or the end (nothing to do)."""


class VirtualPatient(NoScript):
    """The virtual board's simulated person, driven by scene commands.

    Parameters
    ----------
    send : callable(bytes)
        Sends a command frame to the board (``Acquisition.send_command``).
    subject : dict or None
        Subject fields (``station.board.virtual.Subject``, ``"preset"`` allowed) sent by
        :meth:`introduce`; None keeps the board's own subject.
    adjust : callable(step) -> dict, optional
        Extra subject fields sent with each cue (e.g. less sway after the primer).
    wrong_leg_trials : iterable of int, optional
        Recorded trials (1 = the session's first; repeats not counted) in which the patient first stands
        on the other leg than the cued one; told so, it stands on the cued leg in the repeated trial.
    """

    def __init__(self, send: Callable[[bytes], None], *, subject: dict | None = None,
                 adjust: Callable[[object], dict] | None = None, wrong_leg_trials: Iterable[int] = ()):
        self._send = send
        self.subject = dict(subject) if subject is not None else None
        self.adjust = adjust
        self.wrong_leg_trials = frozenset(int(k) for k in wrong_leg_trials)
        self.trials_cued = 0

    def scene(self, scene: dict) -> None:
        from station.board.protocol import CMD_SIM_SCENE, encode_command

        self._send(encode_command(CMD_SIM_SCENE, json.dumps(scene).encode()))

    def introduce(self) -> None:
        """Send the subject in as many scene commands as the payload needs (the first one carries the preset)."""
        if self.subject is None:
            return
        fields = {"preset": "healthy"} | self.subject | {"stance": "both", "task": "quiet"}
        messages, current = [], {"preset": fields.pop("preset")}
        for key, value in fields.items():
            trial = current | {key: value}
            if len(json.dumps({"subject": trial})) > MAX_SCENE_JSON and current:
                messages.append(current)
                current = {key: value}
            else:
                current = trial
        messages.append(current)
        for message in messages:
            self.scene({"subject": message})

    def cue(self, step, *, repeat: bool = False) -> None:
        if not repeat:
            self.trials_cued += 1
        side = step.side
        if not repeat and self.trials_cued in self.wrong_leg_trials:
            side = "left" if side == "right" else "right"
            log.info("virtual patient: trial %d on the wrong (%s) leg", self.trials_cued, side)
        if step.kind == "stance":
            scene = {"stance": side, "task": "single_leg"}
        else:
            scene = {"stance": side, "task": "rdl", "rdl_reps": int(step.reps)}
        if self.adjust is not None:
            scene.update(self.adjust(step) or {})
        self.scene({"subject": scene})

    def rest(self) -> None:
        self.scene({"subject": {"stance": "both", "task": "quiet"}})

    def leave(self) -> None:
        self.scene({"subject": None})
