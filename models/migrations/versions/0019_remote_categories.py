"""remote categories: another server's category URI and the shared concept it maps to

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remote_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("concept", sa.String(length=2048), nullable=True),
        sa.Column("checked_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_categories")),
        sa.UniqueConstraint("uri", name=op.f("uq_remote_categories_uri")),
    )
    op.create_index(
        op.f("ix_remote_categories_next_attempt_at"),
        "remote_categories",
        ["next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_remote_categories_next_attempt_at"), table_name="remote_categories")
    op.drop_table("remote_categories")
