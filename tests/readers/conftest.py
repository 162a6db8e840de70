"""Shared helpers of the reader and batch tests."""

import json
from pathlib import Path

import numpy as np
import pytest

from station.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
TWO_PLATE_HEADER = "t_s,fz_left_n,cop_ml_left_mm,cop_ap_left_mm,fz_right_n,cop_ml_right_mm,cop_ap_right_mm"


def write_csv(path, header, rows, comments=()):
    rows = np.asarray(rows, dtype=float)
    body = "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows)
    path.write_text("\n".join([*comments, header, body]) + "\n")
    return path


def pds_two_plate_csv(name: str, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A PDS trial as the two-plate CSV layout (Y vertical; COP _X = AP, _Z = ML, m -> mm)."""
    d = np.genfromtxt(DATA / "pds" / f"{name}grf.txt", names=True, delimiter="\t")
    rows = np.column_stack([d["Time"], d["LGRF_Y"], d["LCOP_Z"] * 1000, d["LCOP_X"] * 1000,
                            d["RGRF_Y"], d["RCOP_Z"] * 1000, d["RCOP_X"] * 1000])
    return write_csv(tmp_path / f"{name}.csv", TWO_PLATE_HEADER, rows), d


def bds_cop_csv(k: int, tmp_path: Path) -> Path:
    d = np.loadtxt(DATA / "bds" / f"BDS{k:05d}.txt", skiprows=1)
    return write_csv(tmp_path / f"bds{k}.csv", "t_s,cop_ml_mm,cop_ap_mm", np.column_stack([d[:, 0], d[:, 8] * 10, d[:, 7] * 10]))


@pytest.fixture
def analyze_json(capsys):
    def run(*argv):
        code = main(["analyze", *map(str, argv), "--json"])
        out = capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)
    return run


@pytest.fixture
def analyze_error(capsys):
    def run(*argv):
        code = main(["analyze", *map(str, argv)])
        err = capsys.readouterr().err
        assert code != 0
        assert err.count("\n") == 1 and err.startswith("station: error: ") and "Traceback" not in err, err
        return err
    return run
