"""rapid-response calls: commitments, sealed meeting points, escrow links, escalation, notices

A call's meeting point used to be published with it: it stays public, moved into the public
place name, and the column goes. Members' "I'm coming" responses become commitments.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("local_actors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="en", nullable=False)
        )

    op.execute(
        "UPDATE items SET place_name = CASE WHEN place_name IS NULL THEN meeting_point "
        "ELSE substr(meeting_point || ', ' || place_name, 1, 200) END "
        "WHERE meeting_point IS NOT NULL"
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("meeting_point")
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("ally_relay", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("escalation_step", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("count_sent", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("count_sent_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )

    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=2100), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("remote_actor_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("via_uri", sa.String(length=2048), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_commitments_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_commitments_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_actor_id"],
            ["remote_actors.id"],
            name=op.f("fk_commitments_remote_actor_id_remote_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
        sa.UniqueConstraint("item_id", "person", name=op.f("uq_commitments_item_id_person")),
    )
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commitments_item_id"), ["item_id"], unique=False)
    op.execute(
        "INSERT INTO commitments "
        "(item_id, person, member_id, state, channel, created_at, updated_at) "
        "SELECT item_id, 'member:' || member_id, member_id, 'coming', 'web', created_at, "
        "created_at FROM item_responses WHERE kind = 'coming' AND member_id IS NOT NULL"
    )
    op.execute("DELETE FROM item_responses WHERE kind = 'coming'")

    op.create_table(
        "meeting_points",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("reveal_before_s", sa.Integer(), nullable=True),
        sa.Column("reveal_inline", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_meeting_points_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_meeting_points")),
    )
    op.create_table(
        "escrow_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("message_uri", sa.String(length=2048), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("fk_escrow_links_commitment_id_commitments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_escrow_links_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_escrow_links_token_hash")),
    )
    with op.batch_alter_table("escrow_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escrow_links_commitment_id"), ["commitment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_escrow_links_item_id"), ["item_id"], unique=False)
    op.create_table(
        "escrow_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("viewed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_escrow_views_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["escrow_links.id"],
            name=op.f("fk_escrow_views_link_id_escrow_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_escrow_views_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_views")),
    )
    with op.batch_alter_table("escrow_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escrow_views_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_escrow_views_link_id"), ["link_id"], unique=False)
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("taken_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_escalations_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("item_id", "step", name=op.f("uq_escalations_item_id_step")),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("remote_item_id", sa.Integer(), nullable=True),
        sa.Column("remote_object_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_notices_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_notices_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_item_id"],
            ["remote_items.id"],
            name=op.f("fk_notices_remote_item_id_remote_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_object_id"],
            ["remote_objects.id"],
            name=op.f("fk_notices_remote_object_id_remote_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_member_id"), ["member_id"], unique=False)
    op.create_table(
        "outgoing_joins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("remote_item_id", sa.Integer(), nullable=False),
        sa.Column("join_uri", sa.String(length=2048), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["local_actors.id"],
            name=op.f("fk_outgoing_joins_member_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_item_id"],
            ["remote_items.id"],
            name=op.f("fk_outgoing_joins_remote_item_id_remote_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_joins")),
        sa.UniqueConstraint("join_uri", name=op.f("uq_outgoing_joins_join_uri")),
        sa.UniqueConstraint(
            "member_id", "remote_item_id", name=op.f("uq_outgoing_joins_member_id_remote_item_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("outgoing_joins")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_member_id"))
    op.drop_table("notices")
    op.drop_table("escalations")
    with op.batch_alter_table("escrow_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escrow_views_link_id"))
        batch_op.drop_index(batch_op.f("ix_escrow_views_item_id"))
    op.drop_table("escrow_views")
    with op.batch_alter_table("escrow_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escrow_links_item_id"))
        batch_op.drop_index(batch_op.f("ix_escrow_links_commitment_id"))
    op.drop_table("escrow_links")
    op.drop_table("meeting_points")
    op.execute(
        "INSERT INTO item_responses (item_id, kind, member_id, created_at) "
        "SELECT item_id, 'coming', member_id, created_at FROM commitments "
        "WHERE member_id IS NOT NULL AND state = 'coming'"
    )
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitments_item_id"))
    op.drop_table("commitments")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("count_sent_at")
        batch_op.drop_column("count_sent")
        batch_op.drop_column("escalation_step")
        batch_op.drop_column("ally_relay")
        batch_op.drop_column("capacity")
        batch_op.add_column(sa.Column("meeting_point", sa.String(length=200), nullable=True))
    with op.batch_alter_table("local_actors", schema=None) as batch_op:
        batch_op.drop_column("language")
