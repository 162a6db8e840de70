"""Trials of phase ``familiarisation`` (practice trials before the scored ones) can be stored.

Changes the CHECK constraint on ``trials.phase``. SQLite cannot alter a constraint, so the table is
rebuilt from the frozen definition below (Alembic's batch mode; foreign keys are off during the
upgrade, see :func:`station.store.engine.upgrade`, so the rebuild cascades nothing); the research
views that read ``trials`` are dropped and re-created around it. Frozen: never edit.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD = "phase IN ('baseline', 'primer', 'post_primer')"
NEW = "phase IN ('familiarisation', 'baseline', 'primer', 'post_primer')"
VIEWS = {
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


def _trials(phase_check: str) -> sa.Table:
    """The trials table as of this revision (for SQLite's rebuild)."""
    meta = sa.MetaData()
    sa.Table("sessions", meta, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("calibrations", meta, sa.Column("id", sa.Integer, primary_key=True))
    return sa.Table(
        "trials", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id", ondelete="CASCADE",
                                                          name="fk_trials_session_id_sessions"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("step", sa.Text, nullable=False, server_default=""),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("side", sa.Text, sa.CheckConstraint("side IS NULL OR side IN ('left', 'right')", name="ck_trials_side")),
        sa.Column("condition", sa.Text, nullable=False, server_default="eyes_open"),
        sa.Column("phase", sa.Text, sa.CheckConstraint(phase_check, name="ck_trials_phase"), nullable=False,
                  server_default="baseline"),
        sa.Column("status", sa.Text, sa.CheckConstraint(
            "status IN ('queued', 'running', 'finished', 'failed', 'aborted', 'interrupted')", name="ck_trials_status"),
            nullable=False, server_default="queued"),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("repeat_of", sa.Integer, sa.ForeignKey("trials.id", name="fk_trials_repeat_of_trials")),
        sa.Column("started", sa.Text),
        sa.Column("duration_s", sa.Float),
        sa.Column("fs_hz", sa.Float),
        sa.Column("window_start_s", sa.Float),
        sa.Column("window_end_s", sa.Float),
        sa.Column("calibration_id", sa.Integer, sa.ForeignKey("calibrations.id",
                                                              name="fk_trials_calibration_id_calibrations")),
        sa.Column("board_json", sa.Text),
        sa.Column("quality_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("gaps_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("events_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("meta_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("uuid", sa.String(36)),
        sa.UniqueConstraint("session_id", "seq", name="uq_trials_session_seq"),
        sa.Index("ix_trials_session_id", "session_id"),
        sa.Index("ix_trials_uuid", "uuid", unique=True),
    )


def _change(old: str, new: str) -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW {name}")
    with op.batch_alter_table("trials", copy_from=_trials(old), recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_trials_phase"), type_="check")
        batch.create_check_constraint(op.f("ck_trials_phase"), sa.text(new))
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {select}")


def upgrade() -> None:
    _change(OLD, NEW)


def downgrade() -> None:
    _change(NEW, OLD)
