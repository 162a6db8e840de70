"""Several stations: global uuids, the recording station's name, deleted-at tombstones, research views.

Existing rows get a fresh uuid each (in Python, portable). Frozen: never edit.

Revision ID: 0002
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The views as of this revision (frozen copy: a later change to the views is a new revision).
VIEWS = {
    "research_patients": (
        "SELECT uuid AS patient_uuid, birth_year, sex, dominant_leg, "
        "ROUND(body_mass_kg / 5.0) * 5 AS body_mass_5kg FROM patients WHERE deleted_at IS NULL"
    ),
    "research_sessions": (
        "SELECT s.uuid AS session_uuid, p.uuid AS patient_uuid, s.protocol, s.status, "
        "SUBSTR(s.started, 1, 10) AS started_date, s.settings_json, s.scores_json "
        "FROM sessions s JOIN patients p ON p.id = s.patient_id "
        "WHERE s.deleted_at IS NULL AND p.deleted_at IS NULL"
    ),
    "research_trials": (
        "SELECT t.uuid AS trial_uuid, s.uuid AS session_uuid, t.seq, t.task, t.side, t.condition, t.phase, "
        "t.status, t.duration_s, t.fs_hz, t.window_start_s, t.window_end_s, t.quality_json, t.events_json "
        "FROM trials t JOIN sessions s ON s.id = t.session_id WHERE s.deleted_at IS NULL"
    ),
    "research_metrics": (
        "SELECT t.uuid AS trial_uuid, m.rep, m.name, m.value FROM metrics m "
        "JOIN trials t ON t.id = m.trial_id JOIN sessions s ON s.id = t.session_id WHERE s.deleted_at IS NULL"
    ),
    "research_trial_arrays": (
        "SELECT t.uuid AS trial_uuid, a.name, a.dtype, a.shape, a.rate_hz, a.data FROM trial_arrays a "
        "JOIN trials t ON t.id = a.trial_id JOIN sessions s ON s.id = t.session_id WHERE s.deleted_at IS NULL"
    ),
}


def upgrade() -> None:
    for table in ("patients", "sessions", "trials"):
        op.add_column(table, sa.Column("uuid", sa.String(36)))
    op.add_column("patients", sa.Column("deleted_at", sa.Text))
    op.add_column("sessions", sa.Column("station", sa.Text, nullable=False, server_default=""))
    op.add_column("sessions", sa.Column("deleted_at", sa.Text))
    conn = op.get_bind()
    for table in ("patients", "sessions", "trials"):
        t = sa.table(table, sa.column("id", sa.Integer), sa.column("uuid", sa.String))
        for (row_id,) in conn.execute(sa.select(t.c.id).where(t.c.uuid.is_(None))).all():
            conn.execute(t.update().where(t.c.id == row_id).values(uuid=str(uuid.uuid4())))
        op.create_index(f"ix_{table}_uuid", table, ["uuid"], unique=True)
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {select}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW {name}")
