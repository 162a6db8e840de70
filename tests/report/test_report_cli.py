"""``station report`` and ``station export`` on the command line: outputs, and one-line errors."""

import re
from pathlib import Path

import pytest

from station.cli import main
from station.report.definitions import METRIC_KEYS


@pytest.fixture
def data_dir(primer_session, monkeypatch):
    d = str(primer_session.store.data_dir)
    monkeypatch.setenv("STATION_DATA_DIR", d)  # restored afterwards (the CLI sets it from --data-dir)
    return d


def test_export_and_report_commands(primer_session, data_dir, tmp_path, capsys):
    sid = str(primer_session.session_id)
    assert main(["--data-dir", data_dir, "export", sid, "--format", "json", "--out", str(tmp_path / "j")]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(tmp_path / "j" / f"session{sid}.json")] and Path(out[0]).stat().st_size > 10_000
    assert main(["--data-dir", data_dir, "export", sid, "--format", "c3d", "--out", str(tmp_path / "c")]) == 0
    files = capsys.readouterr().out.split()
    assert len(files) == len(primer_session.store.trials(int(sid))) and all(f.endswith(".c3d") for f in files)
    assert main(["--data-dir", data_dir, "report", sid, "--out", str(tmp_path / "r.pdf"), "--pseudonymise"]) == 0
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("argv, message", [
    (["report", "999", "--out", "x.pdf"], "There is no session with id 999."),
    (["export", "999", "--format", "csv", "--out", "d"], "There is no session with id 999."),
    (["export", "first", "--format", "csv", "--out", "d"], "A session is given by its number"),
    (["report", "1", "--out", "x.png"], "give --out a name ending in .pdf"),
])
def test_user_errors_are_one_line(data_dir, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["--data-dir", data_dir] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("station: error: ") and message in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "d").exists()


def test_export_format_is_checked_by_the_parser(data_dir, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "1", "--format", "xlsx", "--out", "d"])
    assert exc.value.code == 2 and "invalid choice: 'xlsx'" in capsys.readouterr().err


def test_definitions_name_metrics_that_metrics_md_defines():
    text = (Path(__file__).resolve().parents[2] / "docs" / "METRICS.md").read_text()
    for key in METRIC_KEYS:
        assert re.search(rf"`{re.escape(key)}`|\b{re.escape(key)}\b", text), key
