"""The before/after view and the scoreboard, filled by the assessment's own scoring of a metrics table."""


from station.assessment import scoring
from station.dashboard.app import save_screenshot

from .conftest import image_stats, plain_text


def _rows():
    """Three baseline and three post-primer trials per side: the right side steadies after the primer."""
    rows, tid = [], 0
    values = {  # ML velocity (mm/s) per trial
        ("baseline", "left"): (40.0, 42.0, 41.0), ("baseline", "right"): (66.0, 70.0, 68.0),
        ("post_primer", "left"): (41.0, 40.0, 42.0), ("post_primer", "right"): (50.0, 52.0, 51.0),
    }
    for (phase, side), velocities in values.items():
        for v in velocities:
            tid += 1
            m = {"mean_velocity_ml_mm_s": v, "range_ml_mm": v, "ellipse95_area_mm2": 30.0 * v,
                 "mean_velocity_mm_s": 1.3 * v, "touchdowns": 0.0}
            m["sway_index"] = scoring.sway_index(m)
            m["stability_score"] = scoring.stability_score(m["sway_index"])
            rows.append({"trial_id": tid, "seq": tid, "task": "single_leg", "side": side, "condition": "eyes_open",
                         "phase": phase, "status": "finished", "reason": "", "metrics": m, "reps": []})
    return rows


def test_before_after_shows_change_mdc_and_verdict_per_side(qtbot, tmp_path):
    from station.dashboard import theme
    from station.dashboard.results_views import BeforeAfter

    scores = scoring.score_session(_rows())
    view = BeforeAfter()
    view.setFont(theme.font(theme.BASE_PT))
    view.setStyleSheet(theme.STYLE_SHEET)
    qtbot.addWidget(view)
    view.resize(1100, 600)
    assert view.show_scores(scores)
    table = view.table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    right = scores["before_after"]["eyes_open"]["sides"]["right"]["metrics"]["mean_velocity_ml_mm_s"]
    r = rows["RIGHT · ML velocity (mm/s)"]
    assert table.item(r, 1).text() == "68.0" and table.item(r, 2).text() == "51.0"
    assert table.item(r, 3).text() == f"{right['change']:+.1f} ({right['change_pct']:+.0f} %)".replace("-", "−") == "−17.0 (−25 %)"
    assert table.item(r, 4).text() == f"{right['mdc95']:.1f}"
    assert table.item(r, 5).text() == "improved"
    left = rows["LEFT · ML velocity (mm/s)"]
    assert table.item(left, 5).text() == "no detectable change"
    right_index = scores["before_after"]["eyes_open"]["sides"]["right"]["metrics"]["sway_index"]
    # the left side's mean did not move: its change shows as "0 %" (no "-0 %")
    from station.assessment.results import SessionScores
    from station.report.wording import verdict_estimate

    heads = SessionScores.from_dict(scores).before_after["eyes_open"].headline
    assert [v.side for v in heads] == ["left", "right", None]
    assert [v.outcome.value for v in heads] == ["no detectable change", "improved", "reduced"]
    assert plain_text(view.summary) == (f"LEFT leg: no detectable change ({verdict_estimate(heads[0])})  ·  "
                                        f"RIGHT leg: improved ({verdict_estimate(heads[1])})  ·  "
                                        f"Asymmetry: reduced ({verdict_estimate(heads[2])})")
    # each leg's interval is a 95 % one (4 % + 1 % tails), the asymmetry change's a 96 % one
    assert all(f"] {level}" in verdict_estimate(v) for v, level in zip(heads, ("95 % CI", "95 % CI", "96 % CI")))
    assert "-0 " not in plain_text(view.summary) and "−0 " not in plain_text(view.summary)
    assert view.table.horizontalHeaderItem(1).text() == "before (mean of 3)"
    assert view.table.horizontalHeaderItem(2).text() == "after (mean of 3)"
    view.show()
    # (docs/screenshots/before-after.png is the main window on a real session: test_before_after_session)
    w, h, colours, ink = image_stats(save_screenshot(view, tmp_path / "before-after-widget.png"))
    assert (w, h) == (1100, 600) and colours > 20 and ink > 0.03


def test_scoreboard_without_enough_trials_names_no_side(qtbot):
    from station.dashboard.results_views import Scoreboard

    rows = [r for r in _rows() if r["phase"] == "baseline"][:4]  # 3 left, 1 right
    board = Scoreboard()
    qtbot.addWidget(board)
    assert board.show_scores(scoring.score_session(rows))
    assert "less stable" not in board.verdict.text()
    assert board.verdict.text().lower().startswith("not enough")
