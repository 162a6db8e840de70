"""The clinic PDF: every page renders (pdftoppm) and its text (pdftotext) carries the names and values
that matter, taken from the stored session's scores."""

import shutil
import subprocess

import pytest

from station.board.virtual.board import virtual_board_id
from station.assessment.results import SessionScores
from station.report import wording as w
from station.report.pdf import write_session_report

from .conftest import BIRTH_YEAR, PATIENT_NAME
from .sessions import SEED

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
                                reason="poppler-utils (pdftotext, pdftoppm) not installed")


def _text(pdf, *, layout: bool = True) -> str:
    args = ["pdftotext"] + (["-layout"] if layout else []) + [str(pdf), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _pages(pdf) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_report_pages_render_and_show_the_verdicts_and_values(primer_session, tmp_path):
    run = primer_session
    pdf = write_session_report(run.store, run.session_id, tmp_path / "out" / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    n_pages = _pages(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    from matplotlib.image import imread

    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == n_pages
    for png in pngs:  # every page has drawn content (not a blank sheet)
        img = imread(png)
        assert (img[..., :3] < 0.9).any(axis=-1).mean() > 0.01, png.name

    text = _text(pdf)
    pages = text.split("\f")
    first = pages[0]
    scores = run.store.get_session(run.session_id).scores
    stance = scores["stance"]["baseline/eyes_open"]
    assert stance["less_stable"] == "right"
    assert PATIENT_NAME in first and str(BIRTH_YEAR) in first and "female" in first
    assert "RIGHT leg less stable" in first
    assert "Primer session" in first and f"#{run.session_id}" in first
    # the asymmetry index and its interval, as stored by the scoring
    # per-side values of the results table
    # page 1 is the summary: every headline verdict, as the scoring stored it
    flat = " ".join(_text(pdf, layout=False).split("\f")[0].split())  # reading order keeps wrapped cells whole
    verdicts = SessionScores.from_dict(scores).verdicts
    for v in verdicts:
        assert w.block_title(v.block) in flat and w.verdict_estimate(v) in flat, v
    # the box on top: a primer session's headline, the change of the L/R asymmetry, in its sentence
    # (SI before -> after with their intervals, the change in points)
    (asym,) = [v for v in verdicts if v.kind.value == "before_after" and v.side is None]
    assert w.verdict_sentence(asym) in flat and "→" in w.verdict_sentence(asym)
    assert w.verdict_estimate(asym).startswith(f"SI {w.number(asym.si_before, 0, sign=True)} → ")
    assert w.verdict_estimate(asym, full=True).startswith(f"SI {w.number(asym.si_before, 0, sign=True)} % [")
    # page 1 states the recording quality of exactly the trials the verdicts rest on
    scored = [t for t in run.store.trials(run.session_id)
              if t.status == "finished" and t.task in ("single_leg", "rdl", "rfe_rdl")]
    scored_frames = sum(t.quality["frames"] for t in scored)
    assert (f"Recordings the verdicts rest on: {len(scored)} trials, {scored_frames} frames, 0 lost "
            f"(0.00 %), 0 gaps") in flat
    assert "at most 1 % lost frames" in flat and "1 trial failed" in flat
    assert "Patient time" not in flat  # this session was stored without the runner: no time to state
    # page 2: the per-side values of the results tables
    results = pages[1]
    left, right = stance["sides"]["left"], stance["sides"]["right"]
    for side in (left, right):
        assert f"{w.number(side['mean_velocity_ml_mm_s']['mean'], 1)} ± {w.number(side['mean_velocity_ml_mm_s']['sd'], 1)}" in results
        assert f"{w.number(side['stability_score']['mean'], 0)} ± {w.number(side['stability_score']['sd'], 0)}" in results
    # before/after verdicts per side
    ba = scores["before_after"]["eyes_open"]["sides"]
    heads = {v.side: v.outcome.value for v in verdicts if v.kind.value == "before_after" and v.side}
    assert f"LEFT: {heads['left']}; RIGHT: {heads['right']}" in results
    assert heads["right"] == "improved"
    mdc = ba["right"]["metrics"]["sway_index"]["mdc95"]
    assert w.number(mdc, 2) in first + results
    # the sections, each starting on its own page, in this order
    def page_of(heading):
        return next(i for i, p in enumerate(pages) if heading in p)

    order = [page_of(h) for h in ("Stabilograms: centre of pressure per side", "Primer RDL (rear foot elevated), lateral weight shift: repetitions",
                                  "Patient history: single-leg stance over the visits",
                                  "Only finished trials enter the scores", "Recording quality", "Calibration",
                                  "Definitions of the measures shown")]
    assert order == sorted(order) and order[:4] == [2, 3, 4, 5]
    assert order[-1] == n_pages - 1 == len([p for p in pages if p.strip()]) - 1
    rest = " ".join(" ".join(pages[5:]).split())
    trials = run.store.trials(run.session_id)
    frames = sum(t.quality["frames"] for t in trials)
    assert f"{frames} frames received, 0 lost (0.00 %), 0 CRC errors" in rest and "A clean recording" in rest
    assert f"Board {virtual_board_id(SEED):08X}" in rest and "valid at the session" in rest and "technician A" in rest
    for t in trials:
        if t.task == "single_leg" and t.status == "finished":
            assert w.number(t.metrics["ellipse95_area_mm2"], 0) in rest
    failed = [t for t in trials if t.status == "failed"]
    assert len(failed) == 1 and "stepped off the board" in failed[0].reason
    cells = " ".join(_text(pdf, layout=False).split())  # reading order keeps a wrapped table cell together
    assert f"failed: {failed[0].reason}" in cells and f"(repeat of #{failed[0].seq})" in cells
    assert "MDC95" in pages[order[-1]]


def test_pseudonymised_report_has_no_name_and_birth_year_only(primer_session, tmp_path):
    from station.report.pseudonym import installation_secret, pseudonym

    run = primer_session
    pdf = write_session_report(run.store, run.session_id, tmp_path / "p.pdf", pseudonymise=True)
    text = _text(pdf)
    patient_id = run.store.get_session(run.session_id).patient_id
    alias = pseudonym(patient_id, secret=installation_secret(run.store.data_dir))
    assert alias in text and "HYPERLINK" not in text and "Example Street" not in text
    assert str(BIRTH_YEAR) in text


def test_unknown_session_is_a_clear_error(primer_session, tmp_path):
    from station.errors import StationError

    with pytest.raises(StationError, match="There is no session with id 999"):
        write_session_report(primer_session.store, 999, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_a_session_without_scorable_trials_still_gives_a_report(tmp_path):
    from station.store import Store

    with Store.open(tmp_path / "data") as store:
        patient = store.add_patient(name="Aborted Early", body_mass_kg=60.0)
        sid = store.create_session(patient_id=patient, protocol="single-leg", settings={"title": "Single-leg stance"})
        store.add_trial(sid, task="single_leg", side="left", status="aborted")
        store.update_trial(store.trials(sid)[0].id, reason="stopped by the operator",
                           quality={"frames": 700, "lost": 12, "crc_errors": 3, "resyncs": 2, "gaps": 1, "gap_s": 1.5,
                                    "missed_conversions": 0, "effective_rate_hz": 79.6, "jitter_ms": 0.8})
        store.finish_session(sid, status="aborted")
        pdf = write_session_report(store, sid, tmp_path / "r.pdf")
    text = " ".join(_text(pdf, layout=False).split())
    assert "Aborted Early" in text and "no finished trials that can be scored" in text
    assert "aborted: stopped by the operator" in text and "No calibration is recorded" in text
    assert "700 frames received, 12 lost (1.69 %), 3 CRC errors, 2 resyncs, 1 gaps" in text
    assert "Trials with link problems:" in text and "1 (1.5)" in text and "79.6" in text


def test_a_board_stuck_at_10_sps_is_named_in_the_report(tmp_path):
    """An HX711 left with RATE low on an 80 SPS board: the quality section names ``rate_low``."""
    from station.store import Store

    with Store.open(tmp_path / "data") as store:
        patient = store.add_patient(name="Slow Board", body_mass_kg=60.0)
        sid = store.create_session(patient_id=patient, protocol="single-leg", settings={"title": "Single-leg stance"},
                                   board={"board_id": "5B000009", "nominal_rate_hz": 80, "adc_kind": "hx711"})
        store.add_trial(sid, task="single_leg", side="left", status="aborted")
        store.update_trial(store.trials(sid)[0].id, reason="stopped by the operator",
                           quality={"frames": 300, "lost": 0, "crc_errors": 0, "resyncs": 0, "gaps": 0, "gap_s": 0.0,
                                    "missed_conversions": 0, "effective_rate_hz": 10.1, "jitter_ms": 0.5,
                                    "duration_s": 29.7})
        store.finish_session(sid, status="aborted")
        pdf = write_session_report(store, sid, tmp_path / "r.pdf")
    text = " ".join(_text(pdf, layout=False).split())
    assert "rate_low (trials #1): the board delivered 10.1 frames/s against its nominal 80 Hz" in text
    assert "RATE tied low gives 10 SPS" in text


def test_page_one_states_the_patient_time_of_each_block(tmp_path):
    """A session run by the runner on the virtual board: page 1 states its patient time, block by block, as
    the runner stored it on the board's clock."""
    from station.assessment import protocols
    from station.assessment.virtual_session import run_protocol
    from station.store import Store

    with Store.open(tmp_path / "data") as store:
        protocol = protocols.get("single-leg", trials_per_side=2, duration_s=10.0, exclude_s=2.0)
        run = run_protocol(protocol, store=store, seed=4, sim_subject={"preset": "healthy"})
        scores = store.get_session(run.session_id).scores
        pdf = write_session_report(store, run.session_id, tmp_path / "report.pdf")
    blocks = scores["minutes_by_block"]
    assert list(blocks) == ["setup", "practice", "stance/baseline/eyes_open"]
    assert sum(blocks.values()) == pytest.approx(scores["minutes"], abs=1e-9)
    flat = " ".join(_text(pdf, layout=False).split("\f")[0].split())
    assert (f"Patient time: {scores['minutes']:.1f} min (set-up {blocks['setup']:.1f}, practice trials "
            f"{blocks['practice']:.1f}, single-leg stance, baseline {blocks['stance/baseline/eyes_open']:.1f} min).") in flat

