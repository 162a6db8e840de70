"""Hostile input for ``station analyze``: the fuzz corpus.

Every case asserts its outcome: one clear line on stderr and a non-zero exit (with the words that say
what is wrong), or — for the valid controls — the correct result. ``test_corpus_size`` counts the
collected cases (at least 150 explicit ones, hypothesis examples not counted).
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
    # encodings, BOM, NUL bytes
    ("nul-after-64k", COP + "\n" + _rows(6000) + "\n60.0,1,\x002\n", [], "line 6002: "),
    ("nul-in-header", "t_s,cop_ml\x00_mm,cop_ap_mm\n0,1,2\n", [], "neither a trial file"),
    ("bom-twice", "\ufeff\ufeff" + COP + "\n" + GOOD_BODY, [], "unknown columns"),
    ("bom-mid-file", COP + "\n" + _rows(50) + "\n\ufeff0.5,1,2\n", [], "line 52"),
    ("utf16-le-no-bom", (COP + "\n0,1,2\n").encode("utf-16-le"), [], "neither a trial file"),
    ("utf32", (COP + "\n0,1,2\n").encode("utf-32"), [], "neither a trial file"),
    ("cp1252-quotes", COP.encode() + b"\n0,1,2\n0.01,\x931\x94,2\n", [], "not UTF-8"),
    ("invalid-utf8-header", b"t_s,cop_ml_mm,cop_ap_mm\xff\n0,1,2\n", [], "line 1: not UTF-8"),
    ("overlong-utf8", COP.encode() + b"\n0,1,\xc0\xb12\n", [], "not UTF-8"),
    # ragged rows and cell shapes (the fast reader falls back and the line is named)
    ("ragged-row-deep", COP + "\n" + _rows(2000) + "\n20.0,1\n" + _rows(10), [], "line 2002: 2 values"),
    ("extra-cell-deep", COP + "\n" + _rows(2000) + "\n20.0,1,2,3\n", [], "line 2002: 4 values"),
    ("trailing-comma-every-line", COP + "\n" + "\n".join(line + "," for line in _rows(50).splitlines()), [], "line 2: 4 values"),
    ("header-trailing-comma", COP + ",\n" + GOOD_BODY, [], "line 1: column 4 of the header has no name"),
    ("only-commas", COP + "\n" + _rows(30) + "\n,,\n", [], "time t_s is missing"),
    ("empty-header-names", ",,\n0,1,2\n", [], "line 1: column 1 of the header has no name"),
    ("quoted-header", '"t_s","cop_ml_mm","cop_ap_mm"\n0,1,2\n', [], "unknown columns"),
    ("quoted-cells", COP + '\n0,"1","2"\n', [], "is not a number"),
    ("header-repeated-mid-file", COP + "\n" + _rows(100) + "\n" + COP + "\n" + _rows(10), [], "line 102: 't_s' in column t_s is not a number"),
    ("fortran-exponent", COP + "\n" + _rows(30) + "\n0.5,1.0D+00,2\n", [], "'1.0D+00' in column cop_ml_mm"),
    ("thousands-separator-space", COP + "\n0,1 000,2\n", [], "'1 000'"),
    ("percent-cell", COP + "\n0,5%,2\n", [], "'5%'"),
    ("cell-with-unit", COP + "\n0,5mm,2\n", [], "'5mm'"),
    # unit lines and units in the header
    ("unit-line-after-header", COP + "\ns,mm,mm\n" + GOOD_BODY, [], "line 2: 's' in column t_s is not a number"),
    ("units-in-header", "t_s [s],cop_ml_mm [mm],cop_ap_mm [mm]\n0,1,2\n", [], "unknown columns"),
    ("units-in-brackets-row", "# units\n" + COP + "\n[s],[mm],[mm]\n" + GOOD_BODY, [], "line 3: '[s]'"),
    # huge numbers
    ("time-1e309", COP + "\n0,1,2\n1e309,1,2\n", [], "time t_s is missing"),
    ("cop-1e309", COP + "\n" + _rows(100) + "\n1.5,1e309,2\n", [], "beyond"),
    ("cop-many-digits", COP + "\n" + _rows(100) + "\n1.5," + "1" * 400 + ",2\n", [], "beyond"),
    ("force-1e309", FORCES + "\n" + FORCE_BODY + "\n3.0,1e309,1,1,1\n", ["--board-size", "400x300"], "f_fl_n"),
    ("force-tiny-negative-huge", FORCES + "\n" + FORCE_BODY + "\n3.0,1,1,-1e300,1\n", ["--board-size", "400x300"], "f_bl_n"),
    ("two-plate-inf-right-cop", TWO + "\n" + TWO_BODY + "\n3.0,300,1,1,300,-inf,1\n", [], "cop_ml_right_mm"),
    ("time-negative-huge-span", COP + "\n-1e6,1,2\n" + _rows(30), [], "more than 24 h"),
    # options
    ("board-size-three-numbers", FORCES + "\n" + FORCE_BODY, ["--board-size", "400x300x10"], "WxL"),
    ("board-size-trailing-x", FORCES + "\n" + FORCE_BODY, ["--board-size", "400x"], "WxL"),
    ("plates-zero", COP + "\n" + GOOD_BODY, ["--plates", "0,0"], "--plates"),
    ("plates-three", COP + "\n" + GOOD_BODY, ["--plates", "1,2,3"], "--plates"),
    ("jobs-huge", COP + "\n" + GOOD_BODY, ["--jobs", "100000"], "--jobs"),
]

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


def _frames_with(n=200, *, counts):
    f = _frames(n)
    f["t_us"] = np.arange(n) * 12500
    f["counts"] = counts
    return f


def _cal(**changes):
    """A valid calibration dict of board 5B000001, with ``changes`` (``KeyError`` as a value drops the key)."""
    from station.calibration import Calibration, load_geometry

    d = json.loads(json.dumps(Calibration(board_id="5B000001", geometry=load_geometry("reference-400x300"),
                                          offsets_counts=np.zeros(4), gains_n_per_count=np.full(4, 0.018),
                                          created="2026-11-25T08:00:00+00:00").to_dict()))
    for k, v in changes.items():
        if v is KeyError:
            d.pop(k)
        else:
            d[k] = v
    return d


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
    # header fields of the wrong type, shape or range
    ("n-frames-string", dict(header=_header(n_frames="200")), "n_frames must be a whole number"),
    ("n-frames-float", dict(header=_header(n_frames=200.0)), "n_frames must be a whole number"),
    ("n-frames-mismatch", dict(header=_header(n_frames=5)), "announces 5 frames, frames.npy holds 200"),
    ("quality-frames-string", dict(header=_header(quality={"frames": "x"})), "quality.frames must be a number"),
    ("quality-lost-list", dict(header=_header(quality={"lost": [1]})), "quality.lost must be a number"),
    ("quality-rate-bool", dict(header=_header(quality={"effective_rate_hz": True})), "quality.effective_rate_hz must be a number"),
    ("rate-nan", dict(header_text=json.dumps(_header(board={"nominal_rate_hz": float("nan")}))), "nominal_rate_hz"),
    ("rate-zero", dict(header=_header(board={"nominal_rate_hz": 0})), "nominal_rate_hz"),
    ("rate-bool", dict(header=_header(board={"nominal_rate_hz": True})), "nominal_rate_hz"),
    ("event-time-string", dict(header=_header(events=[{"t_s": "soon", "kind": "cue"}])), "each event must be an object with a finite t_s"),
    ("event-time-nan", dict(header_text=json.dumps(_header(events=[{"t_s": float("nan"), "kind": "cue"}]))), "finite t_s"),
    ("event-without-kind", dict(header=_header(events=[{"t_s": 1.0}])), "finite t_s and a kind"),
    ("event-kind-number", dict(header=_header(events=[{"t_s": 1.0, "kind": 3}])), "finite t_s and a kind"),
    ("gap-reversed", dict(header=_header(gaps=[[2.0, 1.0]])), "start <= end"),
    ("gap-inf", dict(header_text=json.dumps(_header(gaps=[[1.0, float("inf")]]))), "each gap"),
    ("gap-bool", dict(header=_header(gaps=[[True, 2.0]])), "each gap"),
    ("meta-analysis-list", dict(header=_header(meta={"analysis": [1]})), "meta.analysis must be an object"),
    ("meta-analysis-protocol-string", dict(header=_header(meta={"analysis": {"protocol": "single-leg"}})), "meta.analysis.protocol must be an object"),
    ("meta-body-mass-string", dict(header=_header(meta={"body_mass_kg": "heavy"})), "meta.body_mass_kg must be a positive number"),
    ("meta-body-mass-negative", dict(header=_header(meta={"analysis": {"body_mass_kg": -70}})), "meta.analysis.body_mass_kg"),
    ("meta-body-mass-inf", dict(header_text=json.dumps(_header(meta={"body_mass_kg": float("inf")}))), "meta.body_mass_kg"),
    ("header-latin1", dict(header_text=json.dumps(_header(meta={"x": "é"}), ensure_ascii=False).encode("latin-1")), "damaged header"),
    ("header-with-comments", dict(header_text="// written by hand\n" + json.dumps(_header())), "damaged header"),
    ("header-nul-bytes", dict(header_text=b"\x00" * 64), "damaged header"),
    ("header-trailing-garbage", dict(header_text=json.dumps(_header()) + " trailing"), "damaged header"),
    ("header-huge-number", dict(header_text=json.dumps(_header()).replace('"version": 1', '"version": 1e400')), "format version"),
    # arrays: dtypes, lengths, values
    ("device-time-bool", dict(dev=np.ones(200, dtype=bool)), "device_time_s has shape (200,) and dtype bool"),
    ("device-time-complex", dict(dev=np.arange(200) + 0j), "dtype complex128"),
    ("device-time-constant", dict(dev=np.zeros(200)), "device time does not advance"),
    ("host-time-strings", dict(host=np.array(["x"] * 200)), "host_time_s has shape"),
    ("host-time-short", dict(host=np.arange(199) / 80.0), "different length"),
    ("frames-structured-other", dict(frames=np.zeros(200, dtype=[("seq", "<u2"), ("t_us", "<u4")])), "dtype"),
    ("frames-counts-beyond-24-bit", dict(frames=_frames_with(counts=1 << 30)), "outside the 24-bit ADC range"),
    ("frames-counts-rail-negative", dict(frames=_frames_with(counts=-(1 << 23) - 1)), "outside the 24-bit ADC range"),
    # a calibration inside the trial that cannot be applied
    ("calibration-empty-object", dict(header=_header(calibration={}), frames=_frames_with(counts=40000)), "malformed field ('geometry')"),
    ("calibration-gains-3", dict(header=_header(calibration=_cal(gains_n_per_count=[1, 2, 3])), frames=_frames_with(counts=40000)),
     "gains_n_per_count must be 4 finite per-cell gains"),
    ("calibration-gains-nan", dict(header_text=json.dumps(_header(calibration=_cal(gains_n_per_count=[float("nan")] * 4))),
                                   frames=_frames_with(counts=40000)), "gains_n_per_count must be 4 finite"),
    ("calibration-offsets-nan", dict(header_text=json.dumps(_header(calibration=_cal(offsets_counts=[float("nan")] * 4))),
                                     frames=_frames_with(counts=40000)), "offsets_counts must be 4 finite numbers"),
    ("calibration-sensors-missing", dict(header=_header(calibration=_cal(geometry={"name": "x", "sensors_mm": {"fl": [0, 0]}})),
                                         frames=_frames_with(counts=40000)), "malformed field"),
    ("protocol-malformed-duration", dict(header=_header(calibration=_cal(), meta={"analysis": {"protocol": {"duration_s": "x"}}}),
                                         frames=_frames_with(counts=40000)), "malformed 'duration_s'"),
    ("no-frames-calibrated", dict(header=_header(n_frames=0, calibration=_cal()), frames=_frames(0), dev=np.zeros(0), host=np.zeros(0)),
     "too few samples (0)"),
    ("one-frame-calibrated", dict(header=_header(n_frames=1, calibration=_cal()), frames=_frames_with(1, counts=40000),
                                  dev=np.zeros(1), host=np.zeros(1)), "too few samples (1)"),
    ("npy-garbage", dict(frames=None), None),  # replaced below by raw garbage bytes
]


def _write_trial_case(path, spec):
    if spec.get("frames") is None and "frames" in spec and spec is TRIAL_CASES[-1][1]:  # npy-garbage
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("header.json", json.dumps(_header()))
            zf.writestr("frames.npy", b"\x93NUMPY garbage")
            zf.writestr("device_time_s.npy", _npy(np.arange(200) / 80.0))
            zf.writestr("host_time_s.npy", _npy(np.arange(200) / 80.0))
        return path
    return _trial(path, **spec)


@pytest.mark.parametrize("case", TRIAL_CASES, ids=[c[0] for c in TRIAL_CASES])
def test_malformed_trial_file_gives_one_clear_line(case, tmp_path, analyze_error):
    name, spec, words = case
    path = _write_trial_case(tmp_path / f"{name}.trial", spec)
    err = analyze_error(path)
    assert (words or "cannot be read") in err, err


def _zip_members(members: dict, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _good_trial_bytes(tmp_path) -> bytes:
    return _trial(tmp_path / "good.trial").read_bytes()


#: (id, function of a valid trial's bytes -> damaged bytes, words the one-line error must contain)
ARCHIVE_CASES = [
    ("truncated-half", lambda g: g[: len(g) // 2], "is a damaged trial file: its archive is truncated or corrupt"),
    ("truncated-end", lambda g: g[:-30], "is a damaged trial file: its archive is truncated or corrupt"),
    ("flipped-header-byte", lambda g: g[:40] + b"\xff" + g[41:], "trial"),
    ("empty-zip", lambda g: _zip_members({}), "no header.json inside"),
    ("zip-of-a-csv", lambda g: _zip_members({"data.csv": COP + "\n" + GOOD_BODY}), "no header.json inside"),
    ("header-in-a-folder", lambda g: _zip_members({"trial/header.json": json.dumps(_header())}), "no header.json inside"),
    ("only-a-header", lambda g: _zip_members({"header.json": json.dumps(_header())}), "frames.npy is missing"),
    ("second-header-wins", lambda g: _append_member(g, "header.json", "[1]"), "JSON list"),
    ("bzip2-members", lambda g: _recompress(g, zipfile.ZIP_BZIP2), None),  # a valid control: any zip method reads
    ("zero-length-file-with-zip-suffix", lambda g: b"", "is empty"),
]


def _append_member(good: bytes, name: str, data: str) -> bytes:
    import warnings

    buf = io.BytesIO(good)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": the point of the case
        with zipfile.ZipFile(buf, "a") as zf:
            zf.writestr(name, data)
    return buf.getvalue()


def _recompress(good: bytes, compression) -> bytes:
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        return _zip_members({n: zf.read(n) for n in zf.namelist()}, compression=compression)


@pytest.mark.parametrize("case", ARCHIVE_CASES, ids=[c[0] for c in ARCHIVE_CASES])
def test_truncated_and_corrupted_archives(case, tmp_path, analyze_error, analyze_json):
    name, damage, words = case
    p = tmp_path / f"{name}.trial"
    p.write_bytes(damage(_good_trial_bytes(tmp_path)))
    if words is None:  # the control: read, no calibration, so no metrics and the note
        out = analyze_json(p)
        assert out["n_samples"] == 200 and out["metrics"] == {} and "calibration" in out["note"]
        return
    err = analyze_error(p)
    assert words in err, (name, err)


def test_valid_trial_without_calibration_is_a_control(tmp_path, analyze_json):
    out = analyze_json(_trial(tmp_path / "ok.trial"))
    assert out["metrics"] == {} and out["n_samples"] == 200 and "calibration" in out["note"]
    out = analyze_json(_trial(tmp_path / "deflated.trial", compression=zipfile.ZIP_DEFLATED))
    assert out["n_samples"] == 200


#: (id, calibration file text, or a dict of changes to a valid calibration, words the error must contain)
CALIBRATION_CASES = [
    ("not-json", "{oops", "not valid JSON"),
    ("json-list", "[1,2]", "not a Balance Station calibration file"),
    ("json-null", "null", "not a Balance Station calibration file"),
    ("empty", "", "not valid JSON"),
    ("binary", "\x00\x01", "not valid JSON"),
    ("deep-nesting", "[" * 100000 + "]" * 100000, "nested too deeply"),
    ("latin1", b'{"kind": "caf\xe9"}', "not valid JSON"),
    ("gains-three", dict(gains_n_per_count=[1, 2, 3]), "4 finite per-cell gains"),
    ("gains-string", dict(gains_n_per_count="fast"), "malformed field"),
    ("gains-nan", dict(gains_n_per_count=[float("nan")] * 4), "4 finite per-cell gains"),
    ("gains-inf", dict(gains_n_per_count=[float("inf")] * 4), "4 finite per-cell gains"),
    ("gains-1e400", dict(gains_n_per_count="1e400"), "4 finite per-cell gains"),
    ("gains-matrix-3x3", dict(gains_n_per_count=[[1, 0, 0]] * 3), "4 finite per-cell gains"),
    ("gains-dict", dict(gains_n_per_count={"fl": 1}), "malformed field"),
    ("gains-missing", dict(gains_n_per_count=KeyError), "malformed field ('gains_n_per_count')"),
    ("offsets-missing", dict(offsets_counts=KeyError), "malformed field ('offsets_counts')"),
    ("offsets-five", dict(offsets_counts=[0] * 5), "malformed field"),
    ("offsets-nan", dict(offsets_counts=[float("nan")] * 4), "offsets must be 4 finite numbers"),
    ("offsets-strings", dict(offsets_counts=["a"] * 4), "malformed field"),
    ("geometry-missing", dict(geometry=KeyError), "malformed field ('geometry')"),
    ("geometry-unknown-name", dict(geometry="no-such-board"), "board geometry"),
    ("geometry-sensor-missing", dict(geometry={"name": "x", "sensors_mm": {"fl": [0, 0]}}), "board geometry"),
    ("board-id-other", dict(board_id="5B000009"), "belongs to board 5B000009, this board is 5B000001"),
    ("board-id-garbage", dict(board_id="zz"), "is not a board id"),
    ("kind-other", dict(kind="something"), "not a Balance Station calibration file"),
    ("format-99", dict(format=99), "calibration format 99"),
    ("format-string", dict(format="1"), "calibration format"),
    ("created-missing", dict(created=KeyError), "malformed field ('created')"),
    ("created-garbage", dict(created="yesterday"), "'created' must be an ISO date and time"),
    ("validity-string", dict(validity_days="long"), "malformed field"),
    ("version-string", dict(version="v2"), "malformed field"),
    ("noise-two-values", dict(noise_counts=[1, 2]), "malformed field"),
]


@pytest.mark.parametrize("case", CALIBRATION_CASES, ids=[c[0] for c in CALIBRATION_CASES])
def test_calibration_files_that_are_not_calibrations(case, tmp_path, analyze_error):
    name, content, words = case
    trial = _trial(tmp_path / "t.trial")
    p = tmp_path / f"{name}.json"
    if isinstance(content, dict):
        text = json.dumps(_cal(**{k: v for k, v in content.items() if v != "1e400"}))
        if content.get("gains_n_per_count") == "1e400":
            text = text.replace('"gains_n_per_count": [', '"gains_n_per_count": [1e400, ', 1)
        p.write_text(text)
    elif isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    err = analyze_error(trial, "--calibration", p)
    assert words in err, (name, err)


def test_a_valid_calibration_file_is_a_control(tmp_path, analyze_json):
    """A trial with a valid calibration file of its board is analysed (equal counts: 720 N, centred)."""
    p = tmp_path / "cal.json"
    p.write_text(json.dumps(_cal()))
    n = 2400
    trial = _trial(tmp_path / "loaded.trial", _header(n_frames=n), frames=_frames_with(n, counts=10000),
                   dev=np.arange(n) / 80.0, host=np.arange(n) / 80.0)
    out = analyze_json(trial, "--calibration", p)
    assert out["n_samples"] == n and out["metrics"]["n_used"] > 1000
    assert out["metrics"]["mean_total_force_n"] == pytest.approx(4 * 10000 * 0.018, rel=1e-9)  # 720 N
    assert out["metrics"]["right_share_pct"] == pytest.approx(50.0)


# -- valid controls: the correct result ----------------------------------------------------------


CONTROLS = [
    ("bom", lambda s: "\ufeff" + s),
    ("crlf", lambda s: s.replace("\n", "\r\n")),
    ("comments-and-blanks", lambda s: "# station test\n\n" + s.replace("\n", "\n\n", 3)),
    ("spaces-around-cells", lambda s: s.replace(",", " , ")),
    ("extra-column", lambda s: "\n".join(line + (",extra" if i == 0 else ",7") for i, line in enumerate(s.splitlines()))),
    ("reordered-columns", lambda s: "\n".join(",".join(reversed(line.split(","))) for line in s.splitlines())),
    ("cr-only-line-ends", lambda s: s.replace("\n", "\r")),
    ("no-final-newline", lambda s: s.rstrip("\n")),
    ("bom-crlf-and-a-comment-mid-file", lambda s: "\ufeff" + s.replace("\n", "\r\n", 40).replace("\r\n", "\r\n# mid-file note\r\n", 1)),
    ("trailing-blank-lines", lambda s: s + "\n\n   \n"),
]


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


def test_closed_pipe_ends_quietly(tmp_path):
    paths = [str(bds_cop_csv(k, tmp_path)) for k in (1, 2, 3)]
    cmd = f"{sys.executable} -m station analyze {' '.join(paths)} --jsonl - --jobs 1 | head -c 10"
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith('{"input"')
    assert proc.stderr == "" and "Traceback" not in proc.stderr


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


#: examples each hypothesis test draws (not counted as explicit cases)
HYPOTHESIS_EXAMPLES = 60 + 60 + 40


def test_corpus_size(request):
    """At least 150 explicit cases, counted from what pytest collects in this module (each parametrized
    case is one test; the hypothesis tests and this one are not counted)."""
    items = [item for item in request.node.parent.collect() if isinstance(item, pytest.Function)]
    explicit = [i for i in items if i.name != "test_corpus_size" and not getattr(i.obj, "is_hypothesis_test", False)]
    hypothesis_tests = [i for i in items if getattr(i.obj, "is_hypothesis_test", False)]
    assert len(hypothesis_tests) == 3
    assert len(explicit) >= 150, len(explicit)
    by_test = {}
    for i in explicit:
        by_test[i.originalname] = by_test.get(i.originalname, 0) + 1
    assert by_test["test_malformed_table_gives_one_clear_line"] == len(CSV_CASES)
    assert by_test["test_malformed_trial_file_gives_one_clear_line"] == len(TRIAL_CASES)
    print(f"fuzz corpus: {len(explicit)} explicit cases + {HYPOTHESIS_EXAMPLES} hypothesis examples: {by_test}")
