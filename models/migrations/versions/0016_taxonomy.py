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
    # A group's own categories made before now narrow "other", as new ones do by default: every
    # category then names a shared concept. The default slugs are written out: a migration
    # does not import the code it migrates.
    op.execute(
        sa.text(
            "UPDATE categories SET broader = 'other' WHERE slug NOT IN "
            "('food', 'housing', 'transport', 'childcare', 'health', 'money', 'goods', "
            "'skills', 'care', 'legal', 'other')"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("remote_items", schema=None) as batch_op:
        batch_op.drop_column("concept")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_column("broader")
