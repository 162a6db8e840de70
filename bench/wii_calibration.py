"""COP error of the Wii Balance Board before and after a known-mass calibration, on virtual boards.

Each seed is a virtual Wii Balance Board whose four corners are off their factory calibration by a per-corner
gain error (2.5 % SD: the force and COP uncertainty Bartlett, Ting & Bingham 2014 measured across boards).
The station's calibration wizard (procedure ``quick``: 20 kg on the 3 x 3 grid at half the sensor spacing,
least-squares per-corner gains) runs on it unchanged; then a person-sized load (70 kg) is placed at 16
points *off* the calibration grid (x = ±55, ±160 mm; y = ±30, ±90 mm) and the COP is computed with the
default model (the driver's 10 g units, tared) and with the fitted calibration.

  nice .venv/bin/python bench/wii_calibration.py --seeds 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

POINTS = [(x, y) for y in (90.0, 30.0, -30.0, -90.0) for x in (-160.0, -55.0, 55.0, 160.0)]


def one_board(seed: int, *, mass_kg: float = 70.0) -> dict:
    """Before/after COP errors (mm) at :data:`POINTS` for the virtual Wii Balance Board of ``seed``."""
    import dataclasses

    from station.board.virtual.wii import virtual_wii_source
    from station.board.wii import CORNER_AXES
    from station.calibration.geometry import load_geometry
    from station.calibration.protocol import load_protocol
    from station.calibration.wii import cop_errors_on_virtual_board, default_wii_calibration
    from station.calibration.wizard import SimOperator, calibrate_over

    source = virtual_wii_source(seed=seed, chunk_s=0.25)
    outcome = calibrate_over(source, make_operator=lambda link: SimOperator(link),
                             protocol=load_protocol("quick").replace(drift=None, creep=None),
                             geometry=load_geometry("wii-balance-board"))
    fitted = outcome.calibration
    source = virtual_wii_source(seed=seed, chunk_s=0.25)  # a fresh reader of a board with the same hidden errors
    source.open()
    source.start()
    source.board.advance(1.0)
    empty = [source.device.absinfo(code).value for code in CORNER_AXES]  # the tare of the empty board
    source.board.take_events()
    default = default_wii_calibration(source.info.board_id, offsets_units=empty)
    fitted = dataclasses.replace(fitted, offsets_counts=np.asarray(empty, dtype=float))
    errors = cop_errors_on_virtual_board(source, {"before": default, "after": fitted}, POINTS, mass_kg=mass_kg)
    return {"seed": seed, "passed": outcome.passed, "gain_errors_pct": 100 * source.board.gain_errors, **errors}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20, help="virtual boards (default 20)")
    p.add_argument("--mass", type=float, default=70.0, help="load placed at the test points, kg (default 70)")
    args = p.parse_args(argv)
    rows = [one_board(seed, mass_kg=args.mass) for seed in range(args.seeds)]
    before = np.concatenate([r["before"] for r in rows])
    after = np.concatenate([r["after"] for r in rows])
    print(f"bench/wii_calibration.py: {args.seeds} virtual Wii Balance Boards, {args.mass:g} kg at {len(POINTS)} "
          f"off-grid points each; calibrations passed {sum(r['passed'] for r in rows)}/{len(rows)}")
    for name, e in (("before (driver 10 g units, tared)", before), ("after (known-mass per-corner gains)", after)):
        per_board = [float(np.mean(r[name.split()[0]])) for r in rows]
        print(f"  COP error {name}: mean {e.mean():.2f} mm, median {np.median(e):.2f}, 95th pct "
              f"{np.percentile(e, 95):.2f}, max {e.max():.2f}; per-board mean {min(per_board):.2f}-{max(per_board):.2f} mm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
