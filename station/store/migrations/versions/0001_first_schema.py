"""The first schema: patients, calibrations, sessions, trials, trial arrays, metrics.

The hand-written SQLite store's ``schema_version`` 1, expressed portably. Frozen: never edit.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("birth_year", sa.Integer,
                  sa.CheckConstraint("birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100", name="birth_year")),
        sa.Column("sex", sa.Text, sa.CheckConstraint(
            "sex IS NULL OR sex IN ('female', 'male', 'other', 'unknown')", name="sex")),
        sa.Column("body_mass_kg", sa.Float,
                  sa.CheckConstraint("body_mass_kg IS NULL OR body_mass_kg > 0", name="body_mass_kg")),
        sa.Column("dominant_leg", sa.Text, sa.CheckConstraint(
            "dominant_leg IS NULL OR dominant_leg IN ('left', 'right', 'unknown')", name="dominant_leg")),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("created", sa.Text, nullable=False),
    )
    op.create_table(
        "calibrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("board_id", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("data_json", sa.Text, nullable=False),
        sa.Column("digest", sa.Text, nullable=False, unique=True),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("protocol", sa.Text, nullable=False),
        sa.Column("status", sa.Text, sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'aborted', 'interrupted')", name="status"),
            nullable=False, server_default="running"),
        sa.Column("started", sa.Text, nullable=False),
        sa.Column("finished", sa.Text),
        sa.Column("board_json", sa.Text),
        sa.Column("calibration_id", sa.Integer, sa.ForeignKey("calibrations.id")),
        sa.Column("operator", sa.Text, nullable=False, server_default=""),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("settings_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("scores_json", sa.Text),
    )
    op.create_index("ix_sessions_patient_id", "sessions", ["patient_id"])
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("step", sa.Text, nullable=False, server_default=""),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("side", sa.Text, sa.CheckConstraint("side IS NULL OR side IN ('left', 'right')", name="side")),
        sa.Column("condition", sa.Text, nullable=False, server_default="eyes_open"),
        sa.Column("phase", sa.Text, sa.CheckConstraint(
            "phase IN ('baseline', 'primer', 'post_primer')", name="phase"),
            nullable=False, server_default="baseline"),
        sa.Column("status", sa.Text, sa.CheckConstraint(
            "status IN ('queued', 'running', 'finished', 'failed', 'aborted', 'interrupted')", name="status"),
            nullable=False, server_default="queued"),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("repeat_of", sa.Integer, sa.ForeignKey("trials.id")),
        sa.Column("started", sa.Text),
        sa.Column("duration_s", sa.Float),
        sa.Column("fs_hz", sa.Float),
        sa.Column("window_start_s", sa.Float),
        sa.Column("window_end_s", sa.Float),
        sa.Column("calibration_id", sa.Integer, sa.ForeignKey("calibrations.id")),
        sa.Column("board_json", sa.Text),
        sa.Column("quality_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("gaps_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("events_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("meta_json", sa.Text, nullable=False, server_default="{}"),
        sa.UniqueConstraint("session_id", "seq", name="uq_trials_session_seq"),
    )
    op.create_index("ix_trials_session_id", "trials", ["session_id"])
    op.create_table(
        "trial_arrays",
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("dtype", sa.Text, nullable=False),
        sa.Column("shape", sa.Text, nullable=False),
        sa.Column("rate_hz", sa.Float),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "metrics",
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("rep", sa.Integer, primary_key=True, server_default="0"),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Float),
    )


def downgrade() -> None:
    for table in ("metrics", "trial_arrays", "trials", "sessions", "calibrations", "patients"):
        op.drop_table(table)
