"""privacy by default: retention and region per group, retired handles, intake notes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("local_actors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.add_column(sa.Column("region", sa.String(length=2), nullable=True))
    op.create_table(
        "retired_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("retired_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retired_names")),
        sa.UniqueConstraint("username", name=op.f("uq_retired_names_username")),
    )
    op.create_table(
        "intake_notes",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_intake_notes_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_intake_notes")),
    )


def downgrade() -> None:
    op.drop_table("intake_notes")
    op.drop_table("retired_names")
    with op.batch_alter_table("local_actors", schema=None) as batch_op:
        batch_op.drop_column("region")
        batch_op.drop_column("retention_days")
