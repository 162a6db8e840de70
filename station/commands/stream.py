"""``station stream``: live forces and COP of a board (or the virtual board) as a Lab Streaming Layer outlet.

With a calibration (``--calibration FILE``, else the board's active one; ``--sim`` calibrates the
virtual board from its own hidden gains) the stream carries the four cell forces, the total vertical
force (N) and the COP (mm, NaN below the load gate); without one, the raw counts. Channel labels and
units are in the stream description (:mod:`station.board.lsl`). Runs until ``--seconds`` or Ctrl-C.
"""

from __future__ import annotations

import logging
import sys
import time

from station.commands.board import add_virtual_board_id_option, virtual_board_id_option
from station.errors import StationError

log = logging.getLogger(__name__)

#: how often the ring buffer is drained into the outlet (s)
POLL_S = 0.05


def register(subparsers) -> None:
    p = subparsers.add_parser("stream", help="live forces and COP as a Lab Streaming Layer (LSL) outlet",
                              description="Stream a board's live forces and COP to LSL (needs the 'lsl' extra: pylsl).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", metavar="DEV", help="serial device of the board")
    src.add_argument("--sim", action="store_true", help="stream the in-process virtual board")
    p.add_argument("--calibration", metavar="FILE", help="calibration file (default: the board's active calibration)")
    p.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--seed", type=int, default=0, help="--sim: the virtual board's seed")
    add_virtual_board_id_option(p, help_prefix="--sim: ")
    p.add_argument("--rate", type=float, default=80.0, metavar="HZ", help="--sim: frame rate (default 80)")
    p.add_argument("--subject", default="healthy", help="--sim: who stands on the board (default healthy)")
    p.add_argument("--body-mass", type=float, metavar="KG", help="load gate of the COP: 20 %% of body weight (default 100 N)")
    p.set_defaults(func=run)


def _sim_source(args, board_id: int | None):
    from station.board.virtual import BoardModel, Subject, VirtualBoard, VirtualTransport
    from station.calibration import Calibration, load_geometry

    geometry = load_geometry("reference-400x300")
    model = BoardModel(positions_mm=tuple(map(tuple, geometry.positions_mm.tolist())), name=geometry.name)
    board = VirtualBoard(seed=args.seed, rate_hz=args.rate, board=model, board_id=board_id, record_truth=False)
    board.set_subject(Subject.named(args.subject))

    def calibration_for(board_id: str):
        # the simulator's own (hidden) gains and offsets: an exact calibration of the virtual board
        return Calibration(board_id=board_id, geometry=geometry, offsets_counts=board.hidden_offsets_counts,
                           gains_n_per_count=1.0 / board.hidden_gains_counts_per_n)

    return VirtualTransport(board, realtime=True), calibration_for


def run(args) -> int:
    import numpy as np

    from station.board.acquisition import Acquisition
    from station.board.lsl import CALIBRATED_CHANNELS, RAW_CHANNELS, LslOutlet
    from station.core.cop import default_threshold_n

    if args.seconds is not None and not args.seconds > 0:
        raise StationError(f"--seconds must be positive (got {args.seconds:g}).")
    board_id = virtual_board_id_option(args)
    sim_calibration = None
    if args.sim:
        transport, sim_calibration = _sim_source(args, board_id)
    else:
        from station.board.serial_transport import SerialTransport

        transport = SerialTransport(args.port)
    acq = Acquisition(transport, ring_seconds=10.0)
    info = acq.start()
    try:
        from station.calibration import active_calibration, load_calibration

        if args.calibration:
            calibration = load_calibration(args.calibration, board_id=info.board_id_hex)
        elif sim_calibration is not None:
            calibration = sim_calibration(info.board_id_hex)
        else:
            calibration = active_calibration(info.board_id_hex)
        channels = CALIBRATED_CHANNELS if calibration is not None else RAW_CHANNELS
        outlet = LslOutlet(board_id=info.board_id_hex, nominal_rate_hz=info.nominal_rate_hz, channels=channels,
                           model=f"{info.adc_kind} board")
        threshold = default_threshold_n(args.body_mass)
        print(f"streaming {outlet.name} ({len(channels)} channels: {', '.join(c.label for c in channels)}) "
              f"at {info.nominal_rate_hz} Hz{'' if calibration else ' - no calibration: raw counts'}; Ctrl-C stops.",
              file=sys.stderr, flush=True)
        last_t = -float("inf")
        end = time.monotonic() + args.seconds if args.seconds else float("inf")
        try:
            while time.monotonic() < end and not acq.state.ended:
                time.sleep(POLL_S)
                win = acq.snapshot(2.0)
                new = win.t_s > last_t
                if not new.any():
                    continue
                t, counts = win.t_s[new], win.counts[new]
                last_t = float(t[-1])
                if calibration is None:
                    outlet.push(t, counts)
                    continue
                forces = calibration.forces_n(counts)
                ml, ap, total = calibration.cop_mm(counts, threshold_n=threshold)
                outlet.push(t, np.column_stack([forces, total, ml, ap]))
        except KeyboardInterrupt:
            pass
        print(f"streamed {outlet.pushed} samples.", file=sys.stderr)
        outlet.close()
    finally:
        acq.stop()
    return 0
