"""taxonomy: a category's broader default concept, a remote item's mapped concept

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 15:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite adds them in place, no table is rebuilt.
    op.add_column("categories", sa.Column("broader", sa.String(length=64), nullable=True))
    op.add_column("remote_items", sa.Column("concept", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("remote_items", schema=None) as batch_op:
        batch_op.drop_column("concept")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_column("broader")
