"""The runner page shows the patient time still to come, and why an adaptive block asks for another trial."""

from station.assessment import protocols
from station.dashboard.protocol_view import ProtocolPanel
from station.store import Store

from tests.assessment.simsession import run_protocol

STEADY = {"trial_cv_pct": 0.0, "session_cv_pct": 0.0, "practice_pct": 0.0, "fatigue_pct_per_trial": 0.0,
          "touchdowns_per_min_left": 0.0, "touchdowns_per_min_right": 0.0}


def test_the_page_shows_the_time_left_and_why_another_trial(qtbot, tmp_path):
    # the events of a real session on the virtual board (lockstep), shown as the page receives them
    # a symmetric patient whose trials vary by 25 %: undecided at the first looks (at most 5 trials per leg)
    protocol = protocols.get("single-leg", duration_s=10.0, exclude_s=2.0, max_trials=5)
    with Store.open(tmp_path) as store:
        run = run_protocol(protocol, data_dir=tmp_path, store=store, seed=4,
                           sim_subject={"preset": "healthy", **STEADY, "trial_cv_pct": 25.0})
    panel = ProtocolPanel(lambda: {})
    qtbot.addWidget(panel)
    panel._steps_total = len(protocol.steps)
    shown = []
    for event in run.events:
        panel._on_event(event)
        if event.kind in ("step", "adaptive"):
            shown.append((event.kind, panel.time_left.text(), panel.status.text()))
    first_step = shown[0]
    # before the practice trials: 2 practice trials (10 s, as long as these short trials) + 3 to 5 pairs still to
    # come, each trial 1.5 s of rest, 0.25 s of reference, 2 s to the stance, 10 s and 0.3 s of margin: 14.05 s
    pair_min = 2 * 14.05 / 60
    assert first_step[1] == f"About {4 * pair_min:.1f} min of patient time left (up to {6 * pair_min:.1f} min)."
    looks = [s for s in shown if s[0] == "adaptive"]
    assert looks[0][2].startswith("Another trial per leg (4 of up to 5): the left/right verdict is undecided")
    assert looks[0][1] == "About 0.5 min of patient time left (up to 0.9 min)." and looks[0][2].endswith(looks[0][1])
    assert looks[-1][1] == "No patient time left."
    assert panel.time_left.text() == f"Patient time: {run.runner.patient_minutes:.1f} min."
