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
    assert _shown(panel, panel.reps, panel.trials, panel.duration) == [True, False, False]
    assert panel.reps_label.text() == "Repetitions per side"
    panel.set_protocol("single-leg")
    assert _shown(panel, panel.reps, panel.trials, panel.duration) == [False, True, True]
    panel.set_protocol("primer")
    assert _shown(panel, panel.reps, panel.trials, panel.duration) == [True, True, True]
    assert panel.reps_label.text() == "Primer RDL repetitions"
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
