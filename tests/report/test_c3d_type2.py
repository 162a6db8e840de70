"""C3D export: FORCE_PLATFORM type 2 by default (type 3 on request), read back with ezc3d and with the
independent ``c3d`` package; lost frames keep true timing (uniform grid, missing samples marked)."""

import numpy as np
import pytest

from station.report.c3d_export import build_c3d, frame_grid
from station.report.samples import TrialSamples

POS = np.array([[-200.0, 150.0], [200.0, 150.0], [-200.0, -150.0], [200.0, -150.0]])


def samples_with_lost_frames(lost=()):
    fs = 93.0  # a real HX711 rate, not the nominal 80 Hz
    k = np.array([i for i in range(1200) if i not in set(lost)])
    rng = np.random.default_rng(5)
    t = k / fs + rng.uniform(-2e-4, 2e-4, k.size)  # the device clock's jitter
    ml = 30 * np.sin(2 * np.pi * 0.4 * t)
    ap = -20 + 10 * np.cos(2 * np.pi * 0.3 * t)
    total = np.full(t.size, 700.0)
    fx, fy = 0.5 + ml / 400, 0.5 + ap / 300
    forces = total[:, None] * np.column_stack([(1 - fx) * fy, fx * fy, (1 - fx) * (1 - fy), fx * (1 - fy)])
    return TrialSamples(t_s=t, forces_n=forces, total_n=total, cop_ml_mm=ml, cop_ap_mm=ap, threshold_n=100.0,
                        fs_hz=float((t.size - 1) / (t[-1] - t[0])), positions_mm=POS), k, fs


@pytest.mark.parametrize("platform_type", [2, 3])
def test_read_back_with_ezc3d_and_c3d(platform_type, tmp_path):
    import c3d as c3d_pkg
    import ezc3d

    s, _, fs = samples_with_lost_frames()
    path = tmp_path / "t.c3d"
    build_c3d(s, platform_type=platform_type).write(str(path))
    e = ezc3d.c3d(str(path), extract_forceplat_data=True)
    assert int(e["parameters"]["FORCE_PLATFORM"]["TYPE"]["value"][0]) == platform_type
    assert e["header"]["points"]["frame_rate"] == pytest.approx(fs, rel=1e-4)
    pl = e["data"]["platform"][0]
    np.testing.assert_allclose(-pl["force"][2], 700.0, rtol=1e-6)
    np.testing.assert_allclose(pl["center_of_pressure"][0], s.cop_ml_mm, atol=1e-3)
    np.testing.assert_allclose(pl["center_of_pressure"][1], s.cop_ap_mm, atol=1e-3)
    # the independent reader: same channels, labels and platform description
    with open(path, "rb") as fh:
        r = c3d_pkg.Reader(fh)
        labels = [lab.strip() for lab in r.analog_labels]
        assert int(r.get("FORCE_PLATFORM:TYPE").int16_value) == platform_type
        frames = [analog for _, _, analog in r.read_frames()]
    analog = np.concatenate(frames, axis=1) if frames[0].ndim == 2 else np.array(frames).T
    if platform_type == 2:
        assert labels[:6] == ["Fx", "Fy", "Fz", "Mx", "My", "Mz"]
        fz, mx, my = analog[2], analog[3], analog[4]
        np.testing.assert_allclose(fz, 700.0, rtol=1e-6)
        np.testing.assert_allclose(my / fz, s.cop_ml_mm, atol=1e-3)  # My = -x_p Fz, x_p = -ML
        np.testing.assert_allclose(mx / fz, s.cop_ap_mm, atol=1e-3)
    else:
        assert labels[:4] == ["F_fl", "F_fr", "F_bl", "F_br"]
        np.testing.assert_allclose(analog[:4].T, s.forces_n, rtol=1e-6, atol=1e-4)


def test_lost_frames_keep_true_timing_and_are_marked(tmp_path):
    import ezc3d

    lost = list(range(300, 340)) + [700, 701, 950]
    s, k, fs = samples_with_lost_frames(lost)
    slot, recorded, rate = frame_grid(s.t_s)
    assert rate == pytest.approx(fs, rel=1e-5) and recorded.size == 1200 and np.array_equal(slot, k)
    assert (~recorded).sum() == len(lost) and not recorded[lost].any()
    path = tmp_path / "lost.c3d"
    build_c3d(s).write(str(path))
    e = ezc3d.c3d(str(path))
    assert e["header"]["points"]["last_frame"] - e["header"]["points"]["first_frame"] + 1 == 1200
    assert e["header"]["points"]["frame_rate"] == pytest.approx(93.0, rel=1e-4)  # not the average over uneven samples
    rec = e["data"]["analogs"][0][10]
    assert np.array_equal(rec == 1, recorded)
    residual = e["data"]["meta_points"]["residuals"][0, 0]
    assert (residual[lost] < 0).all() and (residual[recorded] >= 0).all()
    # a recorded frame sits at its true time: frame 600 at 600 / 93 s
    point = e["data"]["points"][:, 0, :]
    np.testing.assert_allclose(point[0][slot], s.cop_ml_mm, atol=1e-3)


def test_export_command_writes_type_2_or_3(primer_session, tmp_path, monkeypatch, capsys):
    import ezc3d

    from station.cli import main

    data_dir = str(primer_session.store.data_dir)
    monkeypatch.setenv("STATION_DATA_DIR", data_dir)  # restored afterwards (the CLI sets it from --data-dir)
    sid = str(primer_session.session_id)
    for kind in (2, 3):
        out = tmp_path / f"c{kind}"
        assert main(["--data-dir", data_dir, "export", sid, "--format", "c3d", "--out", str(out), "--c3d-type", str(kind)]) == 0
        first = sorted(out.glob("*.c3d"))[0]
        assert int(ezc3d.c3d(str(first))["parameters"]["FORCE_PLATFORM"]["TYPE"]["value"][0]) == kind
    capsys.readouterr()
