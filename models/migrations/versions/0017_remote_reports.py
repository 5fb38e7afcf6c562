"""members report other servers' items from the board

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 15:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch: SQLite rebuilds the table to add the foreign key (foreign keys are off meanwhile).
    with op.batch_alter_table("member_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_item_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_member_reports_remote_item_id_remote_items"),
            "remote_items",
            ["remote_item_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("member_reports", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_member_reports_remote_item_id_remote_items"), type_="foreignkey"
        )
        batch_op.drop_column("remote_item_id")
