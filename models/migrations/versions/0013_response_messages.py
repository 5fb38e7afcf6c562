"""responses: a member's private message, taking a response back, and private answers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite adds them in place, no table is rebuilt.
    op.add_column("item_responses", sa.Column("message", sa.Text(), nullable=True))
    op.add_column(
        "item_responses",
        sa.Column("withdrawn_at", models.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "response_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("note_uri", sa.String(length=2048), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["local_actors.id"],
            name=op.f("fk_response_answers_author_id_local_actors"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["item_responses.id"],
            name=op.f("fk_response_answers_response_id_item_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_answers")),
    )
    op.create_index(
        op.f("ix_response_answers_response_id"), "response_answers", ["response_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_response_answers_response_id"), table_name="response_answers")
    op.drop_table("response_answers")
    with op.batch_alter_table("item_responses", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("message")
