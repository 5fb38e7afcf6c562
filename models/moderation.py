"""A group's own moderation: remote actors it blocks, its decisions on held submissions, what
it relayed (at most once per item), and the allies whose items it relays on its own."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Decision(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class ActorBlock(Base):
    """A remote actor one group will not hear from: no follow, reply or submission."""

    __tablename__ = "actor_blocks"
    __table_args__ = (UniqueConstraint("group_id", "remote_actor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Review(Base):
    """A moderator's decision on a held submission; a submission without one is pending."""

    __tablename__ = "submission_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    remote_object_id: Mapped[int] = mapped_column(
        ForeignKey("remote_objects.id", ondelete="CASCADE"), unique=True
    )
    decision: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Relay(Base):
    """A group's Announce of an object from elsewhere; the unique pair is what stops loops."""

    __tablename__ = "relays"
    __table_args__ = (UniqueConstraint("group_id", "object_uri"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    object_uri: Mapped[str] = mapped_column(String(2048))
    activity_uri: Mapped[str] = mapped_column(String(2048))
    automatic: Mapped[bool] = mapped_column(default=False)
    # An item that overflowed to the group: the ally's Announce that brought it, whose Undo
    # takes this relay back (`models.overflow`).
    overflow_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Overflow(Base):
    """An item a group sent on to one of its allies (an Announce addressed to it), once per
    item and ally; withdrawn by an Undo of `activity_uri` when the item closes."""

    __tablename__ = "overflows"
    __table_args__ = (UniqueConstraint("group_id", "object_uri", "ally_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    object_uri: Mapped[str] = mapped_column(String(2048))
    ally_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    activity_uri: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ally(Base):
    """A followed actor whose items a group relays automatically, all or one category's; or,
    when `allied` is set, the group's explicit word on whether the actor is its ally
    (`models.alliances`): one such row per pair, never a relay rule."""

    __tablename__ = "relay_allies"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    category_uri: Mapped[str | None] = mapped_column(
        String(2048), default=None
    )  # None: every category
    allied: Mapped[bool | None] = mapped_column(default=None)  # None: a relay rule
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberReport(Base):
    """A member's report to her group's moderators about one of the group's items, one of its
    members, or another server's item on her board. It stays here: the moderators read it on
    their page and mark it resolved (or pass one about another server's item on to it)."""

    __tablename__ = "member_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="SET NULL")
    )
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    # Another server's item on her board: the moderators may pass the report on to its server.
    remote_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_items.id", ondelete="CASCADE")
    )
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
