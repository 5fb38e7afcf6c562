"""conversations: direct messages to a group about none of its items, and its answers

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-10 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("remote_actor_id", sa.Integer(), nullable=False),
        sa.Column("answer_type", sa.String(length=16), nullable=False),
        sa.Column("last_message_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_received_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["local_actors.id"],
            name=op.f("fk_conversations_group_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_actor_id"],
            ["remote_actors.id"],
            name=op.f("fk_conversations_remote_actor_id_remote_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "group_id", "remote_actor_id", name=op.f("uq_conversations_group_id_remote_actor_id")
        ),
    )
    op.create_index(op.f("ix_conversations_group_id"), "conversations", ["group_id"], unique=False)
    op.create_index(
        op.f("ix_conversations_remote_actor_id"),
        "conversations",
        ["remote_actor_id"],
        unique=False,
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("remote_object_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_object_id"],
            ["remote_objects.id"],
            name=op.f("fk_conversation_messages_remote_object_id_remote_objects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_conversation_messages_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_conversation_messages_member_id_local_actors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
        sa.UniqueConstraint(
            "remote_object_id", name=op.f("uq_conversation_messages_remote_object_id")
        ),
    )
    op.create_index(
        op.f("ix_conversation_messages_conversation_id"),
        "conversation_messages",
        ["conversation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("conversation_messages")
    op.drop_table("conversations")
