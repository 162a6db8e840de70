"""The outbox table: sessions and patients a station changed while its server was away.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("marked", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox")
