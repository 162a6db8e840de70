"""Patient and session selection (the side panel): pick or add a patient, pick one of their sessions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from station.dashboard import theme
from station.errors import StationError


class PatientPanel(QWidget):
    """Patients and their sessions from the :class:`~station.store.Store`.

    Signals
    -------
    patient_changed(object)  the Patient (or None)
    session_selected(int)    a session id clicked in the list
    """

    patient_changed = Signal(object)
    session_selected = Signal(int)

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self.patients = QComboBox()
        self.patients.setMinimumWidth(220)
        self.patients.currentIndexChanged.connect(self._on_patient)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setStyleSheet(f"color: {theme.MUTED};")

        self.name = QLineEdit()
        self.name.setPlaceholderText("name or pseudonym")
        self.mass = QDoubleSpinBox()
        self.mass.setRange(10.0, 250.0)
        self.mass.setDecimals(1)
        self.mass.setSuffix(" kg")
        self.mass.setValue(70.0)
        self.add = QPushButton("Add patient")
        self.add.clicked.connect(self.add_patient)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        new_box = QGroupBox("New patient")
        form = QFormLayout(new_box)
        form.addRow("Name", self.name)
        form.addRow("Body mass", self.mass)
        form.addRow(self.add)
        form.addRow(self.message)

        self.sessions = QListWidget()
        self.sessions.setWordWrap(True)
        self.sessions.itemClicked.connect(self._on_session)
        patient_box = QGroupBox("Patient")
        pv = QVBoxLayout(patient_box)
        pv.addWidget(self.patients)
        pv.addWidget(self.details)
        session_box = QGroupBox("Sessions")
        sv = QVBoxLayout(session_box)
        sv.addWidget(self.sessions)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(patient_box)
        layout.addWidget(new_box)
        layout.addWidget(session_box, 1)
        self.refresh()

    # ------------------------------------------------------------------ data
    @property
    def patient(self):
        pid = self.patients.currentData()
        return self.store.get_patient(pid) if pid is not None else None

    def refresh(self, *, select_id: int | None = None) -> None:
        current = select_id if select_id is not None else self.patients.currentData()
        self.patients.blockSignals(True)
        self.patients.clear()
        for p in self.store.list_patients():
            mass = f", {p.body_mass_kg:g} kg" if p.body_mass_kg else ""
            self.patients.addItem(f"{p.name} (#{p.id}{mass})", p.id)
        if current is not None:
            index = self.patients.findData(current)
            if index >= 0:
                self.patients.setCurrentIndex(index)
        self.patients.blockSignals(False)
        self._on_patient()

    def refresh_sessions(self) -> None:
        self.sessions.clear()
        pid = self.patients.currentData()
        if pid is None:
            return
        for s in reversed(self.store.list_sessions(pid)):
            summary = ""
            stance = (s.scores or {}).get("stance") or {}
            if stance:
                first = stance[min(stance)]
                summary = f" — {first.get('summary', '')}"
            before_after = before_after_summary(s.scores)
            if before_after:
                summary += f"; after the primer: {before_after}"
            item = QListWidgetItem(f"#{s.id} {s.started[:16].replace('T', ' ')} {s.protocol} ({s.status}){summary}")
            item.setData(Qt.UserRole, s.id)
            item.setToolTip(item.text())
            self.sessions.addItem(item)

    def add_patient(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.message.setText("Type a name or pseudonym first.")
            return
        try:
            pid = self.store.add_patient(name=name, body_mass_kg=float(self.mass.value()))
        except StationError as exc:
            self.message.setText(str(exc))
            return
        self.name.clear()
        self.message.setText(f"Added {name}.")
        self.refresh(select_id=pid)

    # ------------------------------------------------------------------ signals
    def _on_patient(self, *_) -> None:
        patient = self.patient
        if patient is None:
            self.details.setText("No patient yet: add one below.")
        else:
            bits = [f"{patient.body_mass_kg:g} kg" if patient.body_mass_kg else "body mass unknown"]
            if patient.dominant_leg and patient.dominant_leg != "unknown":
                bits.append(f"dominant leg {patient.dominant_leg}")
            self.details.setText(", ".join(bits))
        self.refresh_sessions()
        self.patient_changed.emit(patient)

    def _on_session(self, item: QListWidgetItem) -> None:
        self.session_selected.emit(int(item.data(Qt.UserRole)))


def before_after_summary(scores: dict | None) -> str:
    """``"left no detectable change, right improved"`` (the sway-index verdict per side), or ``""``."""
    blocks = (scores or {}).get("before_after") or {}
    if not blocks:
        return ""
    sides = blocks["eyes_open" if "eyes_open" in blocks else min(blocks)].get("sides", {})
    parts = []
    for side in ("left", "right"):
        verdict = (sides.get(side) or {}).get("verdict")
        if isinstance(verdict, dict):
            verdict = verdict.get("verdict")
        if verdict:
            parts.append(f"{side} {verdict}")
    return ", ".join(parts)
