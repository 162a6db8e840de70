"""The record a clinician keeps in the side panel: full patient form, edit, operator, delete with
confirmation into the store's recoverable trash."""

from PySide6.QtCore import Qt

from station.dashboard.patients_view import PatientPanel, patient_line, session_line


def test_add_edit_and_delete_a_patient_and_a_session(qtbot, store):
    answers = []
    panel = PatientPanel(store, confirm=lambda title, text: answers.pop(0))
    qtbot.addWidget(panel)
    panel.show()
    assert panel.details.text() == "No patient yet: add one below."
    qtbot.keyClicks(panel.name, "Runner C")
    panel.mass.setValue(61.5)
    panel.birth_year.setValue(1992)
    panel.sex.setCurrentText("female")
    panel.dominant.setCurrentText("left")
    qtbot.keyClicks(panel.notes, "left ACL, 9 months post-op")
    qtbot.mouseClick(panel.add, Qt.LeftButton)
    p = panel.patient
    assert (p.name, p.body_mass_kg, p.birth_year, p.sex, p.dominant_leg, p.notes) == (
        "Runner C", 61.5, 1992, "female", "left", "left ACL, 9 months post-op")
    assert panel.details.text() == "61.5 kg · born 1992 · female · dominant leg left · left ACL, 9 months post-op"
    assert patient_line(p) == panel.details.text()

    # edit: the form is filled with the record; "Save changes" writes it back to the same patient
    qtbot.mouseClick(panel.edit, Qt.LeftButton)
    assert panel.form_box.title() == "Edit Runner C" and panel.add.text() == "Save changes"
    assert panel.name.text() == "Runner C" and panel.birth_year.value() == 1992
    panel.notes.setText("left ACL, 10 months post-op")
    panel.mass.setValue(62.0)
    qtbot.mouseClick(panel.add, Qt.LeftButton)
    p2 = store.get_patient(p.id)
    assert (p2.notes, p2.body_mass_kg, p2.birth_year) == ("left ACL, 10 months post-op", 62.0, 1992)
    assert panel.add.text() == "Add patient" and len(store.list_patients()) == 1

    # the operator typed in the session box is the session's operator (the runner takes it from here)
    panel.operator.setText("  Physio D ")
    assert panel.operator_name() == "Physio D"
    sid = store.create_session(patient_id=p.id, protocol="single-leg", operator=panel.operator_name())
    store.finish_session(sid, status="aborted")
    panel.refresh_sessions()
    assert panel.sessions.count() == 1
    assert "single-leg stance (aborted), Physio D" in panel.sessions.item(0).text()
    assert session_line(store.get_session(sid)) == panel.sessions.item(0).text()

    # delete the session: "Cancel" keeps it, "Yes" moves it to the trash
    panel.sessions.setCurrentRow(0)
    answers[:] = [False]
    panel.delete_session()
    assert [s.id for s in store.list_sessions(p.id)] == [sid]
    answers[:] = [True]
    panel.delete_session()
    assert store.list_sessions(p.id) == [] and panel.sessions.count() == 0
    store.restore_session(sid)
    assert [s.id for s in store.list_sessions(p.id)] == [sid]

    # delete the patient (with their session), then restore both from the trash
    answers[:] = [True]
    qtbot.mouseClick(panel.delete, Qt.LeftButton)
    assert store.list_patients() == [] and panel.patient is None
    assert "recoverable" in panel.message.text()
    store.restore_patient(p.id)
    panel.refresh()
    assert panel.patient.id == p.id and [s.id for s in store.list_sessions(p.id)] == [sid]


def test_the_history_tab_keeps_the_criterion_the_clinician_sets(qtbot, store):
    from station.dashboard.history_view import HistoryView
    from station.report.history import Criterion, patient_history

    from .history_data import CRITERION_BY_VISIT, build_rehab_history

    pid, _ = build_rehab_history(store)
    view = HistoryView(store)
    qtbot.addWidget(view)
    view.show_patient(store.get_patient(pid))
    statuses = [view.table.item(r, 5).text() for r in range(view.table.rowCount())]
    history = patient_history(store, pid)
    assert statuses == [h["criterion"] for h in history] == CRITERION_BY_VISIT
    # each chart says the level of the intervals it draws: the visits' headline test, the legs' trial means
    levels = {h["level"] for h in history}
    assert levels == {0.96}
    assert view.si_plot.getPlotItem().titleLabel.text == "Asymmetry per visit (SI with its 96 % interval)"
    assert view.sway_plot.getPlotItem().titleLabel.text.endswith("per leg (mean, 95 % interval)")
    assert [view.table.item(r, 2).text().endswith("96 % CI") for r in range(5)] == [True] * 5
    view.max_si.setValue(8.0)
    view.ci_within.setValue(12.0)
    assert Criterion.load(store.data_dir) == Criterion(8.0, 12.0)
    assert view.table.item(3, 5).text() == "undecided"
    # a new view (the next start of the dashboard) and the report use the kept criterion
    again = HistoryView(store)
    qtbot.addWidget(again)
    assert (again.max_si.value(), again.ci_within.value()) == (8.0, 12.0)
