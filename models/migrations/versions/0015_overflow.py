"""alliances: explicit allies, service areas, and items that overflow to allied groups

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_AREA = ("area_latitude", "area_longitude", "area_radius_km")


def upgrade() -> None:
    # Plain ADD COLUMNs and a new table: SQLite adds them in place, no table is rebuilt.
    for table in ("local_actors", "remote_actors"):
        for column in _AREA:
            op.add_column(table, sa.Column(column, sa.Float(), nullable=True))
    op.add_column("relay_allies", sa.Column("allied", sa.Boolean(), nullable=True))
    op.add_column("relays", sa.Column("overflow_uri", sa.String(length=2048), nullable=True))
    op.add_column(
        "items",
        sa.Column("overflow_at", models.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "items", sa.Column("overflow_hops", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "items",
        sa.Column("overflowed_at", models.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "overflows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("object_uri", sa.String(length=2048), nullable=False),
        sa.Column("ally_id", sa.Integer(), nullable=False),
        sa.Column("activity_uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ally_id"],
            ["remote_actors.id"],
            name=op.f("fk_overflows_ally_id_remote_actors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["local_actors.id"],
            name=op.f("fk_overflows_group_id_local_actors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overflows")),
        sa.UniqueConstraint(
            "group_id",
            "object_uri",
            "ally_id",
            name=op.f("uq_overflows_group_id_object_uri_ally_id"),
        ),
    )
    op.create_index(op.f("ix_overflows_group_id"), "overflows", ["group_id"], unique=False)
    op.create_index(op.f("ix_overflows_ally_id"), "overflows", ["ally_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_overflows_ally_id"), table_name="overflows")
    op.drop_index(op.f("ix_overflows_group_id"), table_name="overflows")
    op.drop_table("overflows")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("overflowed_at")
        batch_op.drop_column("overflow_hops")
        batch_op.drop_column("overflow_at")
    with op.batch_alter_table("relays", schema=None) as batch_op:
        batch_op.drop_column("overflow_uri")
    with op.batch_alter_table("relay_allies", schema=None) as batch_op:
        batch_op.drop_column("allied")
    for table in ("remote_actors", "local_actors"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(_AREA):
                batch_op.drop_column(column)
