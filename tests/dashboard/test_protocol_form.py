"""The runner page's form shows the chosen protocol's own settings, and says what to press next."""

from types import SimpleNamespace

from station.dashboard.protocol_view import PICK_PATIENT, ProtocolPanel


def _shown(panel, *widgets):
    return [not w.isHidden() for w in widgets]


def test_the_form_follows_the_protocol_and_the_patient(qtbot):
    panel = ProtocolPanel(lambda: {})
    qtbot.addWidget(panel)
    panel.show()
    assert panel.step.text() == PICK_PATIENT
    panel.set_protocol("rdl")
    assert _shown(panel, panel.reps, panel.sets, panel.trials, panel.duration) == [True, True, False, False]
    assert panel.reps_label.text() == "Repetitions per set"
    # the RDL starts on its adaptive design (1-3 sets per side, the sets box's special value 0)
    assert (panel.reps.value(), panel.sets.value(), panel.sets.text()) == (10, 0, "adaptive (1–3)")
    # each stance protocol starts on its own benchmarked design: single-leg adaptive, primer 6 before the primer
    panel.set_protocol("single-leg")
    assert _shown(panel, panel.reps, panel.sets, panel.trials, panel.duration) == [False, False, True, True]
    assert panel.trials.value() == 0 and panel.trials.text() == "adaptive (3–12)"
    assert panel.duration.value() == 20.0
    panel.set_protocol("primer")
    assert _shown(panel, panel.reps, panel.sets, panel.trials, panel.duration) == [True, False, True, True]
    assert panel.reps_label.text() == "Primer RDL repetitions"
    assert panel.trials.value() == 6 and panel.trials.minimum() == 2
    # what Start runs: the defaults of station.assessment.protocols, the designs bench/verdicts.py measures
    from station.assessment import protocols

    assert panel.build_protocol().to_dict() == protocols.get("primer").to_dict()
    panel.set_protocol("single-leg")
    assert panel.build_protocol().to_dict() == protocols.get("single-leg").to_dict()
    assert panel.build_protocol().design()["stance/baseline/eyes_open"]["adaptive"] is True
    panel.set_protocol("rdl")
    assert panel.build_protocol().to_dict() == protocols.get("rdl").to_dict()
    panel.sets.setValue(1)
    assert [s.side for s in panel.build_protocol().steps] == ["left", "right"]
    panel.set_protocol("single-leg")
    panel.trials.setValue(4)  # a number fixes the trials: no adaptive stopping
    assert panel.build_protocol().design() == {} and panel.build_protocol().settings["trials_per_side"] == 4
    panel.set_protocol("primer")
    # a chosen patient: the page names them and the button; the protocol change follows
    panel.set_patient(SimpleNamespace(name="Runner A"))
    assert panel.step.text() == "Runner A: press Start protocol — Primer session: baseline, primer, re-test."
    panel.set_protocol("rdl")
    assert panel.step.text() == "Runner A: press Start protocol — Single-leg Romanian dead-lift, left / right."
    panel.set_patient(None)
    assert panel.step.text() == PICK_PATIENT
    # hardware: no virtual patient and no speed choice (always real time)
    panel.set_virtual(False)
    assert _shown(panel, panel.subject, panel.speed) == [False, False] and panel.speed_factor == 1.0
    panel.set_virtual(True)
    panel.speed.setCurrentIndex(panel.speed.findData(4.0))
    assert panel.speed_factor == 4.0
