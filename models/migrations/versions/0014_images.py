"""images: a group's avatar and banner; members' reports to their moderators; resolved reports

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["local_actors.id"],
            name=op.f("fk_images_actor_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("actor_id", "role", name=op.f("uq_images_actor_id_role")),
    )
    op.create_index(op.f("ix_images_digest"), "images", ["digest"], unique=False)
    op.create_table(
        "member_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["local_actors.id"],
            name=op.f("fk_member_reports_group_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_member_reports_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_member_reports_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["local_actors.id"],
            name=op.f("fk_member_reports_reporter_id_local_actors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_reports")),
    )
    op.create_index(
        op.f("ix_member_reports_group_id"), "member_reports", ["group_id"], unique=False
    )
    # A plain ADD COLUMN: SQLite adds it in place, no table is rebuilt.
    op.add_column(
        "remote_objects",
        sa.Column("resolved_at", models.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("remote_objects", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
    op.drop_index(op.f("ix_member_reports_group_id"), table_name="member_reports")
    op.drop_table("member_reports")
    op.drop_index(op.f("ix_images_digest"), table_name="images")
    op.drop_table("images")
