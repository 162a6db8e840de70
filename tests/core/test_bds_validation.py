"""The raw preset reproduces the Santos & Duarte 2016 published values for all twelve trials."""

from pathlib import Path

import numpy as np
import pytest

from station.core.metrics import compute_metrics

BDS = Path(__file__).resolve().parents[1] / "data" / "bds"


def published():
    rows = (BDS / "published_values.tsv").read_text().splitlines()
    head = rows[0].split("\t")
    return [dict(zip(head, r.split("\t"))) for r in rows[1:]]


@pytest.mark.parametrize("row", published(), ids=lambda r: r["Trial"])
def test_raw_preset_reproduces_published_values(row):
    data = np.loadtxt(BDS / f"{row['Trial']}.txt", skiprows=1)
    # COPx is antero-posterior, COPy medio-lateral, both in cm
    t, ap_mm, ml_mm = data[:, 0], data[:, 7] * 10.0, data[:, 8] * 10.0
    m = compute_metrics(ml_mm, ap_mm, t_s=t, preset="raw")
    assert m["n_used"] == 6000 and m["fs_hz"] == pytest.approx(100.0, rel=1e-12)
    assert m["ellipse95_area_mm2"] / 100.0 == pytest.approx(float(row["COParea"]), rel=1e-6)
    assert m["mean_velocity_mm_s"] / 10.0 == pytest.approx(float(row["COPvelo"]), rel=1e-6)
    assert m["mean_power_frequency_hz"] == pytest.approx(float(row["COPmfreq"]), rel=1e-6)
