"""introductions: a group asks the other side of a match whether to be put in touch

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "introductions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("candidate_uri", sa.String(length=2048), nullable=False),
        sa.Column("recipient_uri", sa.String(length=2048), nullable=False),
        sa.Column("note_uri", sa.String(length=2048), nullable=False),
        sa.Column("contact_note_uri", sa.String(length=2048), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["local_actors.id"],
            name=op.f("fk_introductions_group_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_introductions_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introductions")),
        sa.UniqueConstraint(
            "item_id", "candidate_uri", name=op.f("uq_introductions_item_id_candidate_uri")
        ),
    )
    op.create_index(op.f("ix_introductions_group_id"), "introductions", ["group_id"])
    op.create_index(op.f("ix_introductions_item_id"), "introductions", ["item_id"])
    op.create_index(op.f("ix_introductions_recipient_uri"), "introductions", ["recipient_uri"])
    op.create_index(op.f("ix_introductions_note_uri"), "introductions", ["note_uri"])


def downgrade() -> None:
    for column in ("note_uri", "recipient_uri", "item_id", "group_id"):
        op.drop_index(op.f(f"ix_introductions_{column}"), table_name="introductions")
    op.drop_table("introductions")
