"""Patients and sessions (the side panel): pick, add, edit or delete a patient; pick or delete a session.

The record a clinician keeps: name (or pseudonym), body mass, birth year, sex, dominant leg and notes
per patient; the operator of each session. Deleting asks first and uses the store's
``delete_patient`` / ``delete_session``, which move the raw data to a recoverable trash.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from station.dashboard import theme
from station.errors import StationError

log = logging.getLogger(__name__)

SEX_CHOICES = ("unknown", "female", "male", "other")
LEG_CHOICES = ("unknown", "right", "left")
#: the birth-year spin box shows "unknown" at its minimum
NO_BIRTH_YEAR = 1900
PROTOCOL_NAMES = {"single-leg": "single-leg stance", "rdl": "single-leg RDL", "primer": "primer session"}


def _wrapping(label: QLabel) -> QLabel:
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    return label


class PatientPanel(QWidget):
    """Patients and their sessions from the :class:`~station.store.Store`.

    Signals
    -------
    patient_changed(object)  the Patient (or None)
    session_selected(int)    a session id clicked in the list
    sessions_changed()       a session was deleted (views showing it must forget it)
    """

    patient_changed = Signal(object)
    session_selected = Signal(int)
    sessions_changed = Signal()

    def __init__(self, store, parent=None, *, confirm=None):
        super().__init__(parent)
        self.store = store
        # confirm(title, text) -> bool; a dialog by default, replaceable in tests
        self.confirm = confirm or self._ask
        self._editing: int | None = None

        self.patients = QComboBox()
        self.patients.setMinimumWidth(220)
        self.patients.currentIndexChanged.connect(self._on_patient)
        self.details = _wrapping(QLabel(""))
        self.details.setStyleSheet(f"color: {theme.MUTED};")
        self.edit = QPushButton("Edit")
        self.edit.clicked.connect(self.begin_edit)
        self.delete = QPushButton("Delete…")
        self.delete.clicked.connect(self.delete_patient)
        patient_box = QGroupBox("Patient")
        pv = QVBoxLayout(patient_box)
        pv.addWidget(self.patients)
        pv.addWidget(self.details)
        prow = QHBoxLayout()
        prow.addWidget(self.edit)
        prow.addWidget(self.delete)
        pv.addLayout(prow)

        self.name = QLineEdit()
        self.name.setPlaceholderText("name or pseudonym")
        self.mass = QDoubleSpinBox()
        self.mass.setRange(10.0, 250.0)
        self.mass.setDecimals(1)
        self.mass.setSuffix(" kg")
        self.mass.setValue(70.0)
        self.birth_year = QSpinBox()
        self.birth_year.setRange(NO_BIRTH_YEAR, 2100)
        self.birth_year.setSpecialValueText("unknown")
        self.birth_year.setValue(NO_BIRTH_YEAR)
        self.sex = QComboBox()
        self.sex.addItems(SEX_CHOICES)
        self.dominant = QComboBox()
        self.dominant.addItems(LEG_CHOICES)
        self.notes = QLineEdit()
        self.notes.setPlaceholderText("e.g. right hip drop, 6 weeks post injury")
        self.add = QPushButton("Add patient")
        self.add.clicked.connect(self.save_patient)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.end_edit)
        self.cancel.hide()
        self.message = _wrapping(QLabel(""))
        self.form_box = QGroupBox("New patient")
        form = QFormLayout(self.form_box)
        form.addRow("Name", self.name)
        form.addRow("Body mass", self.mass)
        form.addRow("Birth year", self.birth_year)
        form.addRow("Sex", self.sex)
        form.addRow("Dominant leg", self.dominant)
        form.addRow("Notes", self.notes)
        brow = QHBoxLayout()
        brow.addWidget(self.add, 1)
        brow.addWidget(self.cancel)
        form.addRow(brow)
        form.addRow(self.message)

        self.operator = QLineEdit()
        self.operator.setPlaceholderText("who runs the session")
        self.sessions = QListWidget()
        self.sessions.setWordWrap(True)
        self.sessions.itemClicked.connect(self._on_session)
        self.delete_session_button = QPushButton("Delete session…")
        self.delete_session_button.clicked.connect(self.delete_session)
        session_box = QGroupBox("Sessions")
        sv = QVBoxLayout(session_box)
        orow = QFormLayout()
        orow.addRow("Operator", self.operator)
        sv.addLayout(orow)
        sv.addWidget(self.sessions, 1)
        sv.addWidget(self.delete_session_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(patient_box)
        layout.addWidget(self.form_box)
        layout.addWidget(session_box, 1)
        self.refresh()

    # ------------------------------------------------------------------ data
    @property
    def patient(self):
        pid = self.patients.currentData()
        return self.store.get_patient(pid) if pid is not None else None

    def operator_name(self) -> str:
        return self.operator.text().strip()

    def refresh(self, *, select_id: int | None = None) -> None:
        current = select_id if select_id is not None else self.patients.currentData()
        self.patients.blockSignals(True)
        self.patients.clear()
        for p in self.store.list_patients():
            mass = f", {p.body_mass_kg:g} kg" if p.body_mass_kg else ""
            self.patients.addItem(f"{p.name}{mass}", p.id)
        if current is not None:
            index = self.patients.findData(current)
            if index >= 0:
                self.patients.setCurrentIndex(index)
        self.patients.blockSignals(False)
        self._on_patient()

    def select(self, patient_id: int) -> None:
        self.refresh(select_id=patient_id)

    def refresh_sessions(self) -> None:
        self.sessions.clear()
        pid = self.patients.currentData()
        self.delete_session_button.setEnabled(False)
        if pid is None:
            return
        for s in reversed(self.store.list_sessions(pid)):
            item = QListWidgetItem(session_line(s))
            item.setData(Qt.UserRole, s.id)
            item.setToolTip(item.text())
            self.sessions.addItem(item)

    def _form_fields(self) -> dict:
        year = self.birth_year.value()
        sex, leg = self.sex.currentText(), self.dominant.currentText()
        return {"name": self.name.text().strip(), "body_mass_kg": float(self.mass.value()),
                "birth_year": None if year == NO_BIRTH_YEAR else int(year),
                "sex": None if sex == "unknown" else sex, "dominant_leg": None if leg == "unknown" else leg,
                "notes": self.notes.text().strip()}

    def save_patient(self) -> None:
        """Add the patient of the form, or save the changes to the one being edited."""
        fields = self._form_fields()
        if not fields["name"]:
            self.message.setText("Type a name or pseudonym first.")
            return
        try:
            if self._editing is None:
                pid = self.store.add_patient(**fields)
                text = f"Added {fields['name']}."
            else:
                pid = self._editing
                self.store.update_patient(pid, **fields)
                text = f"Saved {fields['name']}."
        except StationError as exc:
            self.message.setText(str(exc))
            return
        self.end_edit()
        self.message.setText(text)
        self.refresh(select_id=pid)

    # kept for callers of the first dashboard
    add_patient = save_patient

    def begin_edit(self) -> None:
        """Fill the form with the chosen patient; "Save changes" writes them back."""
        patient = self.patient
        if patient is None:
            return
        self._editing = patient.id
        self.name.setText(patient.name)
        self.mass.setValue(patient.body_mass_kg or 70.0)
        self.birth_year.setValue(patient.birth_year or NO_BIRTH_YEAR)
        self.sex.setCurrentText(patient.sex or "unknown")
        self.dominant.setCurrentText(patient.dominant_leg or "unknown")
        self.notes.setText(patient.notes or "")
        self.form_box.setTitle(f"Edit {patient.name}")
        self.add.setText("Save changes")
        self.cancel.show()
        self.message.setText("")

    def end_edit(self) -> None:
        self._editing = None
        for field in (self.name, self.notes):
            field.clear()
        self.birth_year.setValue(NO_BIRTH_YEAR)
        self.sex.setCurrentIndex(0)
        self.dominant.setCurrentIndex(0)
        self.form_box.setTitle("New patient")
        self.add.setText("Add patient")
        self.cancel.hide()

    def delete_patient(self) -> None:
        patient = self.patient
        if patient is None:
            return
        n = len(self.store.list_sessions(patient.id))
        if self._to_trash("Delete patient", f"Delete {patient.name} and their {n} session(s)?",
                          lambda: self.store.delete_patient(patient.id)):
            self.message.setText(f"Deleted {patient.name} (recoverable from the trash).")
            self.refresh()
            self.sessions_changed.emit()

    def delete_session(self) -> None:
        item = self.sessions.currentItem()
        if item is None:
            return
        sid = int(item.data(Qt.UserRole))
        if self._to_trash("Delete session", f"Delete the session {item.text().split(' — ')[0]}?",
                          lambda: self.store.delete_session(sid)):
            self.refresh_sessions()
            self.sessions_changed.emit()

    def _to_trash(self, title: str, question: str, delete) -> bool:
        """Ask, then ``delete()`` (the store moves the raw data to its trash); True when it was deleted."""
        if not self.confirm(title, f"{question} The recordings move to the station's trash and can be restored."):
            return False
        try:
            delete()
        except StationError as exc:
            self.message.setText(str(exc))
            return False
        return True

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    # ------------------------------------------------------------------ signals
    def _on_patient(self, *_) -> None:
        patient = self.patient
        self.edit.setEnabled(patient is not None)
        self.delete.setEnabled(patient is not None)
        if patient is None:
            self.details.setText("No patient yet: add one below.")
        else:
            self.details.setText(patient_line(patient))
        self.refresh_sessions()
        self.patient_changed.emit(patient)

    def _on_session(self, item: QListWidgetItem) -> None:
        self.delete_session_button.setEnabled(True)
        self.session_selected.emit(int(item.data(Qt.UserRole)))


def patient_line(patient) -> str:
    """``"72 kg · born 1990 · female · dominant leg right · notes"`` (unknown fields left out)."""
    bits = [f"{patient.body_mass_kg:g} kg" if patient.body_mass_kg else "body mass unknown"]
    if patient.birth_year:
        bits.append(f"born {patient.birth_year}")
    if patient.sex and patient.sex != "unknown":
        bits.append(patient.sex)
    if patient.dominant_leg and patient.dominant_leg != "unknown":
        bits.append(f"dominant leg {patient.dominant_leg}")
    if patient.notes:
        bits.append(patient.notes)
    return " · ".join(bits)


def session_line(session) -> str:
    """One line per session: date, protocol, status, operator and its headline verdict."""
    from station.assessment.results import SessionScores
    from station.report.wording import verdict_headline

    when = session.started[:16].replace("T", " ")
    text = f"{when} {PROTOCOL_NAMES.get(session.protocol, session.protocol)}"
    if session.status != "finished":
        text += f" ({session.status})"
    if session.operator:
        text += f", {session.operator}"
    verdicts = SessionScores.from_dict(session.scores).verdicts
    if verdicts:
        text += f" — {verdict_headline(verdicts[0])}"
    ba = before_after_summary(session.scores)
    if ba:
        text += f"; after the primer: {ba}"
    return text


def before_after_summary(scores: dict | None) -> str:
    """``"left no detectable change, right improved"``: the headline before/after verdict of each leg, or ``""``."""
    from station.assessment.results import SessionScores

    block = SessionScores.from_dict(scores).before_after.get("eyes_open")
    parts = [f"{v.side} {v.outcome.value}" for v in (block.headline if block else ()) if v.side]
    return ", ".join(parts)
