"""alerts: members' switches, urgent calls, Web Push subscriptions and queue, the VAPID key

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite adds them in place, no table is rebuilt.
    op.add_column(
        "items", sa.Column("urgent", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("instance", sa.Column("vapid_private_key", sa.Text(), nullable=True))
    op.create_table(
        "alert_settings",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("urgent_calls", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("responses", sa.String(length=8), server_default="now", nullable=False),
        sa.Column("digest", sa.String(length=8), server_default="weekly", nullable=False),
        sa.Column("moderation", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("quiet_from", sa.Integer(), nullable=True),
        sa.Column("quiet_until", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("digest_sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_alert_settings_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_alert_settings")),
    )
    op.create_table(
        "alert_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_alert_queue_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_alert_queue_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["local_actors.id"],
            name=op.f("fk_alert_queue_group_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_queue")),
    )
    op.create_index("ix_alert_queue_due", "alert_queue", ["next_attempt_at"], unique=False)
    op.create_index(op.f("ix_alert_queue_member_id"), "alert_queue", ["member_id"], unique=False)
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.String(length=255), nullable=False),
        sa.Column("auth", sa.String(length=255), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_push_subscriptions_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_index(
        op.f("ix_push_subscriptions_member_id"), "push_subscriptions", ["member_id"], unique=False
    )
    op.create_table(
        "push_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["push_subscriptions.id"],
            name=op.f("fk_push_queue_subscription_id_push_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_queue")),
    )
    op.create_index("ix_push_queue_due", "push_queue", ["state", "next_attempt_at"], unique=False)
    op.create_index(
        op.f("ix_push_queue_subscription_id"), "push_queue", ["subscription_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_push_queue_subscription_id"), table_name="push_queue")
    op.drop_index("ix_push_queue_due", table_name="push_queue")
    op.drop_table("push_queue")
    op.drop_index(op.f("ix_push_subscriptions_member_id"), table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_index(op.f("ix_alert_queue_member_id"), table_name="alert_queue")
    op.drop_index("ix_alert_queue_due", table_name="alert_queue")
    op.drop_table("alert_queue")
    op.drop_table("alert_settings")
    with op.batch_alter_table("instance") as batch_op:
        batch_op.drop_column("vapid_private_key")
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_column("urgent")
