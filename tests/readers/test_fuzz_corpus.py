"""Hostile input for ``station analyze`` (issue 12 item 6): the fuzz corpus.

Every case asserts its outcome: one clear line on stderr and a non-zero exit (with the words that say
what is wrong), or — for the valid controls — the correct result. ``CASES_TRIED`` counts them for the
report (explicit cases + hypothesis examples).
"""

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.cli import main

from .conftest import bds_cop_csv

COP = "t_s,cop_ml_mm,cop_ap_mm"
FORCES = "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n"
TWO = "t_s,fz_left_n,cop_ml_left_mm,cop_ap_left_mm,fz_right_n,cop_ml_right_mm,cop_ap_right_mm"


def _rows(n=300, fmt="{t:.2f},{x:.3f},{y:.3f}"):
    t = np.arange(n) / 100.0
    return "\n".join(fmt.format(t=a, x=3 * np.sin(a), y=2 * np.cos(a)) for a in t)


GOOD_BODY = _rows()
FORCE_BODY = "\n".join(f"{i / 100:.2f},150,160,170,180" for i in range(300))
TWO_BODY = "\n".join(f"{i / 100:.2f},300,-100,5,320,100,5" for i in range(300))

#: (id, file bytes or text, extra argv, words the one-line error must contain)
CSV_CASES = [
    ("empty", "", [], "is empty"),
    ("only-comments", "# a\n# b\n", [], "is empty"),
    ("blank-lines", "\n\n\n", [], "is empty"),
    ("header-only", COP + "\n", [], "no samples"),
    ("unknown-columns", "time,x,y\n0,1,2\n", [], "unknown columns"),
    ("semicolon-separated", "t_s;cop_ml_mm;cop_ap_mm\n0;1;2\n", [], "unknown columns"),
    ("tab-separated", "t_s\tcop_ml_mm\tcop_ap_mm\n0\t1\t2\n", [], "unknown columns"),
    ("duplicate-column", "t_s,cop_ml_mm,cop_ml_mm,cop_ap_mm\n0,1,1,2\n", [], "appears twice"),
    ("too-few-values", COP + "\n0,1,2\n0.01,1\n", [], "line 3: 2 values"),
    ("too-many-values", COP + "\n0,1,2\n0.01,1,2,3\n", [], "line 3: 4 values"),
    ("text-cell", COP + "\n0,1,2\n0.01,1,abc\n", [], "'abc'"),
    ("hex-cell", COP + "\n0,1,2\n0.01,0x10,2\n", [], "'0x10'"),
    ("comma-decimal", COP + '\n0,"1,5",2\n', [], "values"),
    ("time-missing", COP + "\n0,1,2\n,1,2\n", [], "time t_s is missing"),
    ("time-nan", COP + "\n0,1,2\nnan,1,2\n", [], "time t_s is missing"),
    ("time-inf", COP + "\n0,1,2\ninf,1,2\n", [], "time t_s is missing"),
    ("time-backwards", COP + "\n" + _rows(50) + "\n0.2,1,1\n", [], "time goes backwards"),
    ("time-repeats", COP + "\n0,1,2\n0,1,2\n", [], "time goes backwards"),
    ("time-step-1e-300", COP + "\n" + "\n".join(f"{i * 1e-300:.3e},1,2" for i in range(100)), [], "shorter than"),
    ("time-step-1e-7", COP + "\n" + "\n".join(f"{i * 1e-7:.9f},1,2" for i in range(100)), [], "shorter than"),
    ("time-milliseconds-span", COP + "\n" + "\n".join(f"{i * 1e6},1,2" for i in range(100)), [], "more than 24 h"),
    ("time-1e300", COP + "\n0,1,2\n1e300,1,2\n", [], "more than 24 h"),
    ("cop-1e308", COP + "\n" + _rows(100) + "\n1.5,1e308,2\n", [], "beyond"),
    ("cop-11m", COP + "\n" + _rows(100) + "\n1.5,11000,2\n", [], "line 102: cop_ml_mm is 11000"),
    ("cop-ap-negative-huge", COP + "\n" + _rows(100) + "\n1.5,1,-2e7\n", [], "cop_ap_mm"),
    ("cop-inf", COP + "\n" + _rows(100) + "\n1.5,inf,2\n", [], "beyond"),
    ("cop-minus-inf", COP + "\n" + _rows(100) + "\n1.5,1,-inf\n", [], "beyond"),
    ("cop-all-nan", COP + "\n" + "\n".join(f"{i / 100},nan,nan" for i in range(100)), [], "below the load threshold"),
    ("cop-one-sample", COP + "\n0,1,2\n", [], "Too few samples"),
    ("cop-19-samples-raw", COP + "\n" + _rows(19), ["--preset", "raw"], "Too few samples"),
    ("cop-short-clinical", COP + "\n" + _rows(400), [], "Too few samples"),
    ("force-nan", FORCES + "\n" + FORCE_BODY + "\n3.0,nan,1,1,1\n", ["--board-size", "400x300"], "f_fl_n is missing"),
    ("force-empty-cell", FORCES + "\n" + FORCE_BODY + "\n3.0,,1,1,1\n", ["--board-size", "400x300"], "f_fl_n is missing"),
    ("force-2MN", FORCES + "\n" + FORCE_BODY + "\n3.0,2e6,1,1,1\n", ["--board-size", "400x300"], "beyond ±1e+06 N"),
    ("force-minus-2MN", FORCES + "\n" + FORCE_BODY + "\n3.0,1,1,1,-2e6\n", ["--board-size", "400x300"], "f_br_n"),
    ("force-inf", FORCES + "\n" + FORCE_BODY + "\n3.0,1,inf,1,1\n", ["--board-size", "400x300"], "f_fr_n"),
    ("force-no-board-size", FORCES + "\n" + FORCE_BODY, [], "--board-size"),
    ("force-nobody", FORCES + "\n" + "\n".join(f"{i / 100},1,1,1,1" for i in range(600)), ["--board-size", "400x300"], "below the load threshold"),
    ("board-size-one-number", FORCES + "\n" + FORCE_BODY, ["--board-size", "400"], "WxL"),
    ("board-size-zero", FORCES + "\n" + FORCE_BODY, ["--board-size", "0x300"], "positive"),
    ("board-size-negative", FORCES + "\n" + FORCE_BODY, ["--board-size=-4x300"], "positive"),
    ("board-size-nan", FORCES + "\n" + FORCE_BODY, ["--board-size", "nanxnan"], "positive"),
    ("board-size-inf", FORCES + "\n" + FORCE_BODY, ["--board-size", "infx300"], "positive"),
    ("board-size-huge", FORCES + "\n" + FORCE_BODY, ["--board-size", "1e9x300"], "below 10 m"),
    ("board-size-text", FORCES + "\n" + FORCE_BODY, ["--board-size", "wide"], "WxL"),
    ("two-plate-fz-nan", TWO + "\n" + TWO_BODY + "\n3.0,nan,1,1,300,1,1\n", [], "fz_left_n is missing"),
    ("two-plate-fz-huge", TWO + "\n" + TWO_BODY + "\n3.0,300,1,1,3e6,1,1\n", [], "fz_right_n"),
    ("two-plate-cop-huge", TWO + "\n" + TWO_BODY + "\n3.0,300,1,1e12,300,1,1\n", [], "cop_ap_left_mm"),
    ("two-plate-nobody", TWO + "\n" + "\n".join(f"{i / 100},1,0,0,1,0,0" for i in range(600)), [], "below the load threshold"),
    ("two-plate-missing-column", "t_s,fz_left_n,cop_ml_left_mm,cop_ap_left_mm,fz_right_n,cop_ml_right_mm\n0,1,1,1,1,1\n", [], "unknown columns"),
    ("two-board-no-size", "t_s," + ",".join(f"f_{c}_{s}_n" for s in ("left", "right") for c in ("fl", "fr", "bl", "br")) + "\n0" + ",100" * 8 + "\n", [], "--board-size"),
    ("binary-nul", b"\x00\x01\x02garbage\x00" * 50, [], "neither a trial file"),
    ("latin1", COP.encode() + b"\n0,1,2\n0.01,1,\xe92\n", [], "not UTF-8"),
    ("utf16", (COP + "\n0,1,2\n").encode("utf-16"), [], "neither a trial file"),
    ("png-magic", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, [], "neither a trial file"),
    ("gzip-magic", b"\x1f\x8b\x08\x00" + b"\x00" * 100, [], "neither a trial file"),
    ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", [], "not UTF-8"),
    ("json-not-csv", '{"t_s": [0, 1]}\n', [], "unknown columns"),
    ("html", "<html><body>t_s,cop_ml_mm,cop_ap_mm</body></html>\n", [], "unknown columns"),
    ("formula-header", "=cmd|' /C calc'!A0,cop_ml_mm,cop_ap_mm\n0,1,2\n", [], "unknown columns"),
    ("very-long-line", COP + "\n0,1," + "9" * 100000 + "\n", [], "beyond"),
    ("body-mass-negative", COP + "\n" + GOOD_BODY, ["--body-mass", "-70"], "--body-mass"),
    ("body-mass-zero", COP + "\n" + GOOD_BODY, ["--body-mass", "0"], "--body-mass"),
    ("body-mass-nan", COP + "\n" + GOOD_BODY, ["--body-mass", "nan"], "--body-mass"),
    ("body-mass-inf", COP + "\n" + GOOD_BODY, ["--body-mass", "inf"], "--body-mass"),
    ("body-mass-huge", COP + "\n" + GOOD_BODY, ["--body-mass", "1e9"], "--body-mass"),
    ("jobs-zero", COP + "\n" + GOOD_BODY, ["--jobs", "0"], "--jobs"),
    ("jobs-negative", COP + "\n" + GOOD_BODY, ["--jobs", "-3"], "--jobs"),
    ("plates-one", COP + "\n" + GOOD_BODY, ["--plates", "1"], "--plates"),
    ("plates-same", COP + "\n" + GOOD_BODY, ["--plates", "2,2"], "--plates"),
    ("plates-text", COP + "\n" + GOOD_BODY, ["--plates", "a,b"], "--plates"),
    ("calibration-missing", COP + "\n" + GOOD_BODY, ["--calibration", "/nonexistent/cal.json"], "does not exist"),
    ("calibration-directory", COP + "\n" + GOOD_BODY, ["--calibration", "/tmp"], "is a directory"),
]

CASES_TRIED = {"csv": len(CSV_CASES)}


@pytest.mark.parametrize("case", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_malformed_table_gives_one_clear_line(case, tmp_path, analyze_error):
    name, content, argv, words = case
    path = tmp_path / f"{name}.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    err = analyze_error(path, *argv)
    assert words in err, err


# -- trial files ------------------------------------------------------------------------------


def _header(**changes):
    h = {"format": "balance-station-trial", "version": 1, "n_frames": 200, "board": {"board_id": "5B000001", "nominal_rate_hz": 80},
         "quality": {"frames": 200}, "gaps": [], "calibration": None, "meta": {}, "events": []}
    h.update(changes)
    return h


def _npy(a):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def _frames(n=200):
    from station.board.protocol import FRAME_DTYPE

    f = np.zeros(n, dtype=FRAME_DTYPE)
    f["seq"] = np.arange(n)
    return f


def _trial(path, header=None, *, frames=None, dev=None, host=None, header_text=None, drop=(), compression=zipfile.ZIP_STORED):
    n = 200
    members = {
        "header.json": header_text if header_text is not None else json.dumps(_header() if header is None else header),
        "frames.npy": _npy(_frames(n) if frames is None else frames),
        "device_time_s.npy": _npy(np.arange(n) / 80.0 if dev is None else dev),
        "host_time_s.npy": _npy(np.arange(n) / 80.0 + 1.7e9 if host is None else host),
    }
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for k, v in members.items():
            if k not in drop:
                zf.writestr(k, v)
    return path


TRIAL_CASES = [
    ("header-list", dict(header_text="[1, 2, 3]"), "JSON list"),
    ("header-null", dict(header_text="null"), "JSON NoneType"),
    ("header-number", dict(header_text="42"), "JSON int"),
    ("header-string", dict(header_text='"trial"'), "JSON str"),
    ("header-invalid-json", dict(header_text="{not json"), "damaged header"),
    ("header-empty", dict(header_text=""), "damaged header"),
    ("header-deep-nesting", dict(header_text="[" * 100000 + "]" * 100000), "damaged header"),
    ("header-missing", dict(drop=("header.json",)), "no header.json"),
    ("format-other", dict(header=_header(format="something-else")), "not a Balance Station trial file"),
    ("format-missing", dict(header={k: v for k, v in _header().items() if k != "format"}), "not a Balance Station trial file"),
    ("version-2", dict(header=_header(version=2)), "format version 2"),
    ("version-string", dict(header=_header(version="1")), "format version"),
    ("version-true", dict(header=_header(version=True)), "format version"),
    ("version-float", dict(header=_header(version=1.5)), "format version"),
    ("quality-string", dict(header=_header(quality="good")), "'quality' must be an object"),
    ("quality-list", dict(header=_header(quality=[1, 2])), "'quality' must be an object"),
    ("board-list", dict(header=_header(board=["x"])), "'board' must be an object"),
    ("board-string", dict(header=_header(board="5B")), "'board' must be an object"),
    ("meta-list", dict(header=_header(meta=[1])), "'meta' must be an object"),
    ("meta-number", dict(header=_header(meta=3)), "'meta' must be an object"),
    ("gaps-dict", dict(header=_header(gaps={"a": 1})), "'gaps' must be a list"),
    ("gaps-bad-entry", dict(header=_header(gaps=[[1]])), "each gap"),
    ("gaps-text-entry", dict(header=_header(gaps=[["a", "b"]])), "each gap"),
    ("events-dict", dict(header=_header(events={"t_s": 1})), "'events' must be a list"),
    ("events-numbers", dict(header=_header(events=[1, 2])), "each event"),
    ("calibration-string", dict(header=_header(calibration="cal.json")), "'calibration' must be an object or null"),
    ("calibration-list", dict(header=_header(calibration=[1])), "'calibration' must be an object or null"),
    ("rate-string", dict(header=_header(board={"nominal_rate_hz": "fast"})), "nominal_rate_hz"),
    ("rate-negative", dict(header=_header(board={"nominal_rate_hz": -80})), "nominal_rate_hz"),
    ("rate-huge", dict(header=_header(board={"nominal_rate_hz": 1e300})), "nominal_rate_hz"),
    ("frames-missing", dict(drop=("frames.npy",)), "frames.npy is missing"),
    ("device-time-missing", dict(drop=("device_time_s.npy",)), "device_time_s.npy is missing"),
    ("host-time-missing", dict(drop=("host_time_s.npy",)), "host_time_s.npy is missing"),
    ("frames-wrong-dtype", dict(frames=np.zeros(200)), "dtype"),
    ("frames-2d", dict(frames=np.zeros((10, 20), dtype=_frames().dtype)), "shape"),
    ("frames-object-pickle", dict(frames=np.array([{"a": 1}], dtype=object)), "cannot be read"),
    ("device-time-2d", dict(dev=np.zeros((200, 2))), "device_time_s has shape"),
    ("device-time-strings", dict(dev=np.array(["a"] * 200)), "device_time_s has shape"),
    ("host-time-2d", dict(host=np.zeros((200, 1))), "host_time_s has shape"),
    ("time-length-mismatch", dict(dev=np.arange(150) / 80.0), "different length"),
    ("device-time-nan", dict(dev=np.r_[np.arange(199) / 80.0, np.nan]), "not a finite number"),
    ("device-time-inf", dict(dev=np.r_[np.arange(199) / 80.0, np.inf]), "not a finite number"),
    ("device-time-backwards", dict(dev=np.r_[np.arange(100) / 80.0, np.arange(100) / 80.0]), "goes backwards"),
    ("device-time-1e300", dict(dev=np.arange(200) * 1e298), "more than a week"),
    ("npy-garbage", dict(frames=None), None),  # replaced below by raw garbage bytes
]


def _write_trial_case(path, spec):
    if spec.get("frames") is None and "frames" in spec and spec is TRIAL_CASES[-1][1]:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("header.json", json.dumps(_header()))
            zf.writestr("frames.npy", b"\x93NUMPY garbage")
            zf.writestr("device_time_s.npy", _npy(np.arange(200) / 80.0))
            zf.writestr("host_time_s.npy", _npy(np.arange(200) / 80.0))
        return path
    return _trial(path, **spec)


CASES_TRIED["trial"] = len(TRIAL_CASES)


@pytest.mark.parametrize("case", TRIAL_CASES, ids=[c[0] for c in TRIAL_CASES])
def test_malformed_trial_file_gives_one_clear_line(case, tmp_path, analyze_error):
    name, spec, words = case
    path = _write_trial_case(tmp_path / f"{name}.trial", spec)
    err = analyze_error(path)
    assert (words or "cannot be read") in err, err


def test_truncated_and_corrupted_archives(tmp_path, analyze_error):
    good = _trial(tmp_path / "good.trial").read_bytes()
    cases = {"truncated-half": good[: len(good) // 2], "truncated-end": good[:-30], "flipped-header-byte": good[:40] + b"\xff" + good[41:]}
    for name, data in cases.items():
        p = tmp_path / f"{name}.trial"
        p.write_bytes(data)
        err = analyze_error(p)
        assert "trial" in err or "damaged" in err or "not" in err, (name, err)
    CASES_TRIED["archives"] = len(cases)


def test_valid_trial_without_calibration_is_a_control(tmp_path, analyze_json):
    out = analyze_json(_trial(tmp_path / "ok.trial"))
    assert out["metrics"] == {} and out["n_samples"] == 200 and "calibration" in out["note"]
    out = analyze_json(_trial(tmp_path / "deflated.trial", compression=zipfile.ZIP_DEFLATED))
    assert out["n_samples"] == 200


def test_calibration_files_that_are_not_calibrations(tmp_path, analyze_error):
    from .test_fuzz_corpus import _trial as make

    trial = make(tmp_path / "t.trial")
    bad = {"not-json": "{oops", "json-list": "[1,2]", "json-null": "null", "empty": "", "binary": "\x00\x01"}
    for name, text in bad.items():
        p = tmp_path / f"{name}.json"
        p.write_text(text)
        err = analyze_error(trial, "--calibration", p)
        assert "alibration" in err, (name, err)
    CASES_TRIED["calibration"] = len(bad)


# -- valid controls: the correct result ----------------------------------------------------------


CONTROLS = [
    ("bom", lambda s: "\ufeff" + s),
    ("crlf", lambda s: s.replace("\n", "\r\n")),
    ("comments-and-blanks", lambda s: "# station test\n\n" + s.replace("\n", "\n\n", 3)),
    ("spaces-around-cells", lambda s: s.replace(",", " , ")),
    ("extra-column", lambda s: "\n".join(line + (",extra" if i == 0 else ",7") for i, line in enumerate(s.splitlines()))),
    ("reordered-columns", lambda s: "\n".join(",".join(reversed(line.split(","))) for line in s.splitlines())),
]
CASES_TRIED["controls"] = len(CONTROLS)


@pytest.mark.parametrize("name,transform", CONTROLS, ids=[c[0] for c in CONTROLS])
def test_valid_variants_give_the_same_metrics(name, transform, tmp_path, analyze_json):
    base = bds_cop_csv(1, tmp_path)
    ref = analyze_json(base, "--preset", "raw")["metrics"]
    variant = tmp_path / f"{name}.csv"
    variant.write_text(transform(base.read_text()))
    got = analyze_json(variant, "--preset", "raw")["metrics"]
    for key in ("path_length_mm", "ellipse95_area_mm2", "mean_power_frequency_hz", "planar_range_mm"):
        assert got[key] == pytest.approx(ref[key], rel=1e-12), key


# -- size limits and streaming outputs --------------------------------------------------------


def test_oversized_inputs_are_refused_in_seconds(tmp_path, analyze_error, monkeypatch):
    import time

    from station.readers import MAX_INPUT_BYTES

    big = tmp_path / "huge.csv"
    with open(big, "wb") as fh:  # sparse: 10 million rows' worth of bytes without writing them
        fh.write((COP + "\n").encode())
        fh.truncate(MAX_INPUT_BYTES + 1)
    t0 = time.perf_counter()
    assert "MiB" in analyze_error(big)
    assert time.perf_counter() - t0 < 2.0
    import station.readers.tables as tables

    monkeypatch.setattr(tables, "MAX_SAMPLES", 1000)
    many = tmp_path / "many.csv"
    many.write_text(COP + "\n" + _rows(1500))
    assert "more than 1000 samples" in analyze_error(many)
    CASES_TRIED["size"] = 2


def test_closed_pipe_ends_quietly(tmp_path):
    paths = [str(bds_cop_csv(k, tmp_path)) for k in (1, 2, 3)]
    cmd = f"{sys.executable} -m station analyze {' '.join(paths)} --jsonl - --jobs 1 | head -c 10"
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith('{"input"')
    assert proc.stderr == "" and "Traceback" not in proc.stderr
    CASES_TRIED["pipe"] = 1


# -- generated cases (hypothesis) ------------------------------------------------------------


def _outcome(capsys, path, *argv):
    code = main(["analyze", str(path), "--preset", "raw", *argv, "--json"])
    out = capsys.readouterr()
    if code == 0:
        return json.loads(out.out)
    assert out.err.count("\n") == 1 and out.err.startswith("station: error: ") and "Traceback" not in out.err, out.err
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=400))
def test_random_bytes_never_crash(data, tmp_path, capsys):
    p = tmp_path / "random.csv"
    p.write_bytes(data)
    assert _outcome(capsys, p) is None  # random bytes are never a valid table of 20+ samples


finite_or_wild = st.one_of(
    st.floats(min_value=-50, max_value=50),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 1e-300, 0.0, 2e4, -2e4]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(finite_or_wild, finite_or_wild), min_size=0, max_size=80))
def test_random_cop_tables_give_a_result_or_a_clear_error(values, tmp_path, capsys):
    p = tmp_path / "cop.csv"
    p.write_text(COP + "\n" + "\n".join(f"{i / 100:.2f},{x!r},{y!r}" for i, (x, y) in enumerate(values)) + "\n")
    out = _outcome(capsys, p)
    arr = np.array(values, dtype=float).reshape(-1, 2)
    wild = ~np.isnan(arr) & (np.abs(arr) > 1e4)
    if wild.any() or arr.shape[0] < 20:
        assert out is None  # absurd values (beyond 10 m, inf) or too few samples are refused
    elif out is not None:
        m = out["metrics"]
        assert m["n_used"] >= 20 and np.isfinite(m["path_length_mm"]) and m["range_ml_mm"] <= 100.0 + 1e-9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(times=st.lists(st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.sampled_from([float("nan"), float("inf"), 1e300, 1e-300])),
                      min_size=2, max_size=60))
def test_random_time_columns(times, tmp_path, capsys):
    p = tmp_path / "t.csv"
    p.write_text(COP + "\n" + "\n".join(f"{t!r},1.0,2.0" for t in times) + "\n")
    out = _outcome(capsys, p)
    t = np.array(times)
    ok = np.isfinite(t).all() and (np.diff(t) >= 1e-5).all() and t[-1] - t[0] <= 86400 and t.size >= 20
    assert (out is not None) == ok or (ok and out is None)  # a valid time column may still be refused (too few samples)
    if not ok:
        assert out is None


CASES_TRIED["hypothesis"] = 60 + 60 + 40


def test_corpus_size():
    assert sum(CASES_TRIED.values()) >= 150
