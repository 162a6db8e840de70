"""The calibration wizard: tare, known masses, fit, verification, drift and creep, as one procedure.

The wizard talks to two things: a :class:`~station.calibration.reader.CountsReader` (fresh counts
from the board) and an *operator* who puts masses on and takes them off. The operator is a person
at a keyboard (:class:`ConsoleOperator`: prompts and waits for Enter) or the virtual board itself
(:class:`SimOperator`: sends ``CMD_SIM_SCENE {"masses": [[kg, x_mm, y_mm]]}`` over the wire). Either
way the wizard runs the same steps and waits for a stable reading before every hold.

Stable reading: over ``stability.window_s``, every channel's standard deviation is within
``noise_factor`` x its noise (the larger of the empty-board noise and a step-insensitive estimate
from successive differences) plus ``rel_floor`` x its load. A mass still rocking, a hand on the
board or a mass put down during the window all fail it.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field

import numpy as np

from station.board.protocol import ACK_OK, CMD_SIM_SCENE, encode_command
from station.calibration.drift import RateCheck, measure_rate
from station.calibration.files import Calibration
from station.calibration.fit import (
    GainFit,
    Placement,
    TareResult,
    apply_cop_correction,
    fit_cop_correction,
    fit_gains,
    interpolate_offsets,
    tare,
)
from station.calibration.geometry import BoardGeometry
from station.calibration.protocol import CalibrationProtocol
from station.calibration.verify import VerificationReport, verify
from station.errors import CalibrationError, NoLoadError

logger = logging.getLogger(__name__)


def describe_position(x_mm: float, y_mm: float) -> str:
    """``"the centre"`` or ``"100 mm right, 75 mm forward of the centre"``."""
    if abs(x_mm) < 0.5 and abs(y_mm) < 0.5:
        return "the centre"
    parts = []
    if abs(x_mm) >= 0.5:
        parts.append(f"{abs(x_mm):.0f} mm {'right' if x_mm > 0 else 'left'}")
    if abs(y_mm) >= 0.5:
        parts.append(f"{abs(y_mm):.0f} mm {'forward' if y_mm > 0 else 'back'}")
    return ", ".join(parts) + " of the centre"


# -- operators ---------------------------------------------------------------------------------
class ConsoleOperator:
    """A technician at the keyboard: each step is a prompt answered with Enter (``q`` aborts)."""

    def __init__(self, *, stdin=None, out=None):
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stderr

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _ask(self, text: str) -> None:
        print(f"{text} Press Enter when done (q to abort). ", end="", file=self.out, flush=True)
        answer = self.stdin.readline()
        if answer == "" or answer.strip().lower() in ("q", "quit", "abort"):
            raise CalibrationError("Calibration aborted by the operator; nothing was saved.")

    def place(self, masses: list[tuple[float, float, float]], text: str) -> None:
        self._ask(text)

    def clear(self, text: str) -> None:
        self._ask(text)

    def progress(self, label: str, fraction: float) -> None:
        width = 30
        done = int(round(fraction * width))
        end = "\n" if fraction >= 1.0 else ""
        print(f"\r  {label:<28} [{'#' * done}{'.' * (width - done)}] {fraction * 100:3.0f} %", end=end, file=self.out, flush=True)


class SimOperator:
    """The virtual board answers the prompts itself: masses are placed over the wire.

    Parameters
    ----------
    transport : Transport
        The link to the virtual board (serial pseudo-terminal or in-process).
    out : text stream or None
        Where to echo the prompts and progress (None: silent).
    misplace : dict, optional
        ``{step_index: (x_mm, y_mm)}``: put the mass of that placement step somewhere other than
        asked (to rehearse how the residual check catches a technician's mistake).
    """

    def __init__(self, transport, *, out=None, misplace: dict | None = None):
        self.transport = transport
        self.out = out
        self.misplace = dict(misplace or {})
        self.step = 0

    def say(self, text: str) -> None:
        if self.out is not None:
            print(text, file=self.out, flush=True)

    def _scene(self, masses) -> None:
        # a calibration scene: nobody on the board, only the known masses
        scene = {"subject": None, "masses": [[float(m), float(x), float(y)] for m, x, y in masses]}
        payload = json.dumps(scene).encode()
        self.transport.write(encode_command(CMD_SIM_SCENE, payload))

    def place(self, masses: list[tuple[float, float, float]], text: str) -> None:
        if self.step in self.misplace:
            x, y = self.misplace[self.step]
            masses = [(m, x, y) for m, _, _ in masses]
        self.step += 1
        self.say(f"{text} [virtual board: placed]")
        self._scene(masses)

    def clear(self, text: str) -> None:
        self.say(f"{text} [virtual board: cleared]")
        self._scene([])

    def progress(self, label: str, fraction: float) -> None:
        if self.out is not None and fraction >= 1.0:
            print(f"  {label}: done", file=self.out, flush=True)


# -- outcome -----------------------------------------------------------------------------------
@dataclass
class CalibrationOutcome:
    calibration: Calibration
    fit: GainFit
    tare_before: TareResult
    tare_after: TareResult | None = None
    verification: VerificationReport | None = None
    drift: RateCheck | None = None
    creep: RateCheck | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def format(self) -> str:
        """The technician's end-of-calibration report (plain text)."""
        cal = self.calibration
        r = self.fit.residuals()
        gains = np.asarray(cal.gains_n_per_count)
        diag = np.diag(gains) if gains.ndim == 2 else gains
        lines = [
            f"Calibration of board {cal.board_id} ({cal.geometry.name}), procedure '{cal.protocol}',"
            f" operator {cal.operator or '-'}, {cal.created}",
            "Tare: offsets " + ", ".join(f"{o:.0f}" for o in cal.offsets_counts)
            + " counts; noise " + ", ".join(f"{n:.1f}" for n in self.tare_before.noise_counts) + " counts RMS",
            f"Gains ({r['model']}): " + ", ".join(f"{g * 1000:.5f}" for g in diag) + " mN/count",
            f"Fit over {r['n_placements']} placements: force RMS {r['force_rms_n']:.3f} N"
            f" (max {r['force_max_pct']:.3f} %), COP RMS {r['cop_rms_mm']:.2f} mm"
            f" (max {r['cop_max_mm']:.2f} mm), condition number {r['condition_number']:.2f}",
        ]
        if self.verification is not None:
            lines.append(self.verification.format())
        for check in (self.drift, self.creep):
            if check is not None:
                lines.append(check.format())
        lines.append("RESULT: " + ("PASS" if self.passed else "FAIL"))
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


# -- the wizard --------------------------------------------------------------------------------
class CalibrationWizard:
    """Run a calibration procedure on a board.

    Parameters
    ----------
    reader : CountsReader
    operator : ConsoleOperator or SimOperator
    protocol : CalibrationProtocol
    geometry : BoardGeometry
    board_id : int or str
    operator_name : str
        Who calibrated (stored in the file).
    """

    def __init__(self, reader, operator, *, protocol: CalibrationProtocol, geometry: BoardGeometry,
                 board_id, operator_name: str = ""):
        self.reader = reader
        self.operator = operator
        self.protocol = protocol
        self.geometry = geometry
        self.board_id = board_id
        self.operator_name = operator_name
        self._tare: TareResult | None = None
        self._min_load_counts: float | None = None

    # -- readings ----------------------------------------------------------------------------
    def _noise(self, counts: np.ndarray) -> np.ndarray:
        """Per-channel noise: the larger of the tare noise and a step-insensitive estimate (MAD of
        successive differences), so a step or a slow trend does not inflate it."""
        diffs = np.diff(counts.astype(np.float64), axis=0)
        mad = np.median(np.abs(diffs - np.median(diffs, axis=0)), axis=0) * 1.4826 / np.sqrt(2.0)
        return mad if self._tare is None else np.maximum(mad, self._tare.noise_counts)

    def _stable(self, counts: np.ndarray) -> bool:
        st = self.protocol.stability
        mean = counts.mean(axis=0)
        load = np.abs(mean - self._tare.offsets_counts) if self._tare is not None else np.zeros(4)
        limit = st.noise_factor * self._noise(counts) + st.rel_floor * load + 1.0
        return bool(np.all(counts.std(axis=0) <= limit))

    def _load_counts(self, counts: np.ndarray) -> float:
        return float(np.abs(counts.mean(axis=0) - self._tare.offsets_counts).sum())

    def _settled_window(self, seconds: float, label: str, *, loaded: bool | None, steady_hold: bool = True):
        """Wait for a stable reading, then hold ``seconds`` and return that window (t_s, counts).

        With ``steady_hold`` the hold itself must pass the stability test too (else wait again);
        drift and creep checks turn it off, since their slow change is what they measure.
        """
        st = self.protocol.stability
        waited = 0.0
        self.reader.drain()
        while waited <= st.timeout_s:
            _, probe = self.reader.read(st.window_s)
            waited += st.window_s
            if not self._stable(probe) or not self._load_ok(probe, loaded):
                continue
            t, counts = self.reader.read(seconds, progress=lambda f: self.operator.progress(label, f))
            waited += seconds
            if not steady_hold or (self._stable(counts) and self._load_ok(counts, loaded)):
                return t, counts
            logger.info("%s: reading moved during the hold; waiting again", label)
        what = {True: "with the mass on", False: "with the board empty", None: ""}[loaded]
        raise CalibrationError(
            f"No stable reading {what} within {st.timeout_s:g} s ({label}): keep the board still and "
            "nothing else touching it, then run the calibration again."
        )

    def _load_ok(self, counts: np.ndarray, loaded: bool | None) -> bool:
        if loaded is None or self._tare is None:
            return True
        load = self._load_counts(counts)
        if loaded:
            return load >= 20.0 * float(np.sqrt(np.sum(self._tare.noise_counts**2))) + 4.0
        return self._min_load_counts is None or load <= 0.02 * self._min_load_counts

    def _do_tare(self, label: str) -> TareResult:
        self.operator.clear("Clear the board: nothing on it, nobody touching it.")
        t, counts = self._settled_window(self.protocol.tare_hold_s, label, loaded=False)
        result = tare(counts, t_s=t)
        logger.info("%s: offsets %s, noise %s", label, result.offsets_counts.round(1), result.noise_counts.round(2))
        return result

    def _place(self, mass_kg: float, x_mm: float, y_mm: float, hold_s: float, label: str):
        self.operator.place([(mass_kg, x_mm, y_mm)], f"Place {mass_kg:g} kg at {describe_position(x_mm, y_mm)}.")
        t, counts = self._settled_window(hold_s, label, loaded=True)
        load = self._load_counts(counts)
        self._min_load_counts = load if self._min_load_counts is None else min(self._min_load_counts, load)
        return t, counts

    # -- the procedure -----------------------------------------------------------------------
    def run(self) -> CalibrationOutcome:
        p = self.protocol
        fit_spec = p.fit
        self.operator.say(
            f"Calibrating board {self.board_id} ({self.geometry.name}) with procedure '{p.name}'."
        )
        self._tare = before = self._do_tare("tare")
        raw: list[tuple[float, float, float, np.ndarray, np.ndarray, int, float]] = []
        positions = fit_spec.positions.positions_mm(self.geometry)
        steps = [(m, x, y) for m in fit_spec.masses_kg for x, y in positions]
        for k, (m, x, y) in enumerate(steps, 1):
            t, counts = self._place(m, x, y, fit_spec.hold_s, f"placement {k}/{len(steps)}")
            raw.append((m, x, y, counts.mean(axis=0), counts.std(axis=0), len(counts), float(t.mean())))
        after = self._do_tare("tare again") if fit_spec.retare else None

        placements = [
            Placement(m, x, y, mean, std, n, interpolate_offsets(before, after, t_mid), t_mid)
            for m, x, y, mean, std, n, t_mid in raw
        ]
        fit = fit_gains(
            placements, self.geometry.positions_mm, model=fit_spec.model, gravity_m_s2=p.gravity_m_s2,
            suspect_cop_mm=fit_spec.suspect_cop_mm, suspect_force_pct=fit_spec.suspect_force_pct,
            max_condition_number=fit_spec.max_condition_number,
        )
        current = after or before
        calibration = Calibration(
            board_id=self.board_id,
            geometry=self.geometry,
            offsets_counts=current.offsets_counts,
            gains_n_per_count=fit.gains_n_per_count,
            operator=self.operator_name,
            masses=[pl.to_dict() for pl in placements],
            residuals=fit.residuals(),
            validity_days=p.validity_days,
            noise_counts=current.noise_counts,
            protocol=p.name,
        )
        if fit_spec.cop_correction != "none":
            calibration.cop_correction = self._cop_correction(fit, placements, calibration)
        outcome = CalibrationOutcome(calibration, fit, before, after)
        for j in fit.suspects:
            pl = placements[j]
            err = float(np.hypot(*fit.loo_cop_error_mm[j]))
            outcome.problems.append(
                f"placement {j + 1} ({pl.describe()}) disagrees with the others (COP off by {err:.1f} mm,"
                f" force off by {fit.loo_force_error_n[j]:+.2f} N): check the mass and where it stood, then repeat."
            )
        if outcome.problems:
            self.operator.say("The fit found suspect placements; verification skipped.")
            return outcome

        self._tare = current
        if p.verify is not None:
            outcome.verification = self._verify(calibration)
            calibration.verification = outcome.verification.to_dict()
            if not outcome.verification.passed:
                outcome.problems.append("verification outside tolerance (see the table).")
        if p.drift is not None:
            outcome.drift = self._rate_check("drift", calibration, p.drift.minutes, p.drift.max_n_per_min, 0.0)
            calibration.drift = outcome.drift.to_dict()
        if p.creep is not None:
            outcome.creep = self._rate_check("creep", calibration, p.creep.minutes, p.creep.max_n_per_min, p.creep.mass_kg)
            calibration.creep = outcome.creep.to_dict()
        for check in (outcome.drift, outcome.creep):
            if check is not None and not check.passed:
                outcome.problems.append(
                    f"{check.kind} of {check.rate_n_per_min:+.3f} N/min exceeds {check.max_n_per_min:g} N/min."
                )
        if p.creep is not None or (p.verify is not None and p.drift is None):
            self.operator.clear("Remove the mass: calibration finished.")
        return outcome

    def _cop_correction(self, fit: GainFit, placements: list[Placement], calibration: Calibration) -> dict:
        load = np.array([pl.load_counts for pl in placements])
        ml, ap, _ = calibration.cop_mm(load + calibration.offsets_counts, threshold_n=-np.inf)
        true = np.array([[pl.x_mm, pl.y_mm] for pl in placements])
        correction = fit_cop_correction(np.stack([ml, ap], 1), true, kind=self.protocol.fit.cop_correction)
        cml, cap = apply_cop_correction(correction, ml, ap)
        logger.info("COP correction %s: residual RMS %.3f mm", correction["kind"],
                    float(np.sqrt(np.mean((cml - true[:, 0]) ** 2 + (cap - true[:, 1]) ** 2))))
        return correction

    def _verify(self, calibration: Calibration) -> VerificationReport:
        spec = self.protocol.verify
        self.operator.say("Verification: the same masses again, read through the new calibration.")
        positions = spec.positions.positions_mm(self.geometry)
        placements = []
        for k, (x, y) in enumerate(positions, 1):
            t, counts = self._place(spec.mass_kg, x, y, spec.hold_s, f"verification {k}/{len(positions)}")
            placements.append(Placement(spec.mass_kg, x, y, counts.mean(axis=0), counts.std(axis=0), len(counts),
                                        calibration.offsets_counts, float(t.mean())))
        return verify(calibration, placements, force_tol_pct=spec.force_tol_pct, cop_rms_tol_mm=spec.cop_rms_tol_mm,
                      cop_max_tol_mm=spec.cop_max_tol_mm, gravity_m_s2=self.protocol.gravity_m_s2)

    def _rate_check(self, kind: str, calibration: Calibration, minutes: float, max_rate: float, mass_kg: float) -> RateCheck:
        if kind == "drift":
            self.operator.clear("Drift check: leave the board empty and untouched.")
            loaded = False
        else:
            if mass_kg <= 0:
                raise NoLoadError("The creep check needs a mass (creep.mass_kg in the procedure).")
            self.operator.place([(mass_kg, 0.0, 0.0)], f"Creep check: place {mass_kg:g} kg at the centre and leave it.")
            loaded = True
        label = f"{kind} check ({minutes:g} min)"
        t, counts = self._settled_window(minutes * 60.0, label, loaded=loaded, steady_hold=False)
        check = measure_rate(t, calibration.forces_n(counts), kind=kind, max_n_per_min=max_rate,
                             load_n=mass_kg * self.protocol.gravity_m_s2)
        logger.info("%s: %+.4f N/min", kind, check.rate_n_per_min)
        return check


def sim_scene_acknowledged(reader) -> bool:
    """True when every CMD_SIM_SCENE sent so far was acknowledged OK (false on a real board)."""
    scene = [result for cmd, result in reader.acks if cmd == CMD_SIM_SCENE]
    return bool(scene) and all(r == ACK_OK for r in scene)


def calibrate_over(transport, *, make_operator, protocol: CalibrationProtocol, geometry: BoardGeometry,
                   operator_name: str = "", for_saving: bool = False) -> CalibrationOutcome:
    """Start the board's :class:`~station.board.acquisition.Acquisition` on ``transport``, run the wizard
    with ``make_operator(link)`` and always release the board.

    Parameters
    ----------
    transport : station.board.transport.Transport
        The board (serial, or the virtual board in-process); opened and closed here.
    make_operator : callable
        ``link -> operator`` (``ConsoleOperator`` for a person, ``SimOperator`` for the virtual board);
        ``link.write(bytes)`` sends a command through the acquisition.
    for_saving : bool
        The result will be stored under the board's id: a board whose id was never set (FFFFFFFF) is
        refused before the first mass is placed, with how to set one.
    """
    from station.board.acquisition import Acquisition
    from station.calibration.reader import CountsReader

    if hasattr(transport, "paced_from_open"):
        transport.paced_from_open = True  # a simulated board waits for the reader from its first byte
    acq = Acquisition(transport, ring_seconds=5.0)
    info = acq.start()
    if for_saving:
        from station.calibration.files import refuse_unset_board_id

        try:
            refuse_unset_board_id(info.board_id)
        except BaseException:
            acq.stop()
            if hasattr(transport, "paced_from_open"):
                transport.paced_from_open = False
            raise
    reader = CountsReader(acq)
    try:
        wizard = CalibrationWizard(reader, make_operator(CommandLink(acq)), protocol=protocol, geometry=geometry,
                                   board_id=info.board_id, operator_name=operator_name)
        return wizard.run()
    finally:
        try:
            acq.stop()
        finally:
            reader.close()


class CommandLink:
    """What an operator may do with the board while the acquisition owns it: send commands."""

    def __init__(self, acquisition):
        self._acq = acquisition
        self.name = acquisition.transport_name

    def write(self, data: bytes) -> None:
        self._acq.send_command(data)


def calibrate_virtual(transport, *, geometry: BoardGeometry | None = None, protocol: str = "quick",
                      operator_name: str = "virtual board (scripted)", wrap_operator=None, on_finished=None):
    """The one virtual-board calibration: the known-mass wizard with the masses placed over the wire.

    The virtual board places each mass itself when told (CMD_SIM_SCENE), so this runs the same wizard,
    acquisition and fit as a technician's calibration, faster than real time. Drift and creep checks
    (minutes of waiting that belong to ``station calibrate``) are skipped.

    Parameters
    ----------
    transport : VirtualTransport
        Not yet opened; opened and closed here.
    geometry : BoardGeometry, optional
        Default ``reference-400x300``.
    protocol : str
        Calibration procedure name (``calibration/protocols``).
    wrap_operator : callable, optional
        ``operator -> operator`` (e.g. one that also shows every prompt in the dashboard).
    on_finished : callable, optional
        ``outcome -> None``, called before a failed calibration raises.

    Returns
    -------
    Calibration

    Raises
    ------
    CalibrationError
        The calibration did not pass.
    """
    from station.calibration.geometry import load_geometry
    from station.calibration.protocol import load_protocol

    def make_operator(link):
        operator = SimOperator(link)
        return operator if wrap_operator is None else wrap_operator(operator)

    outcome = calibrate_over(transport, make_operator=make_operator,
                             protocol=load_protocol(protocol).replace(drift=None, creep=None),
                             geometry=geometry or load_geometry("reference-400x300"), operator_name=operator_name)
    if on_finished is not None:
        on_finished(outcome)
    if not outcome.passed:
        raise CalibrationError("The virtual board's calibration failed: " + "; ".join(outcome.problems))
    logger.info("virtual board calibrated:\n%s", outcome.format())
    return outcome.calibration
