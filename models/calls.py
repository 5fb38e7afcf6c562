"""The tables of solidarity calls: who is coming (commitments), the escalation steps taken, and
the calls of other servers our members said they would come to (outgoing joins)."""

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class CommitmentState(enum.StrEnum):
    COMING = "coming"
    MAYBE = "maybe"
    WITHDRAWN = "withdrawn"


class Channel(enum.StrEnum):
    WEB = "web"  # a member's button
    CLI = "cli"  # ayni item rsvp
    POLL = "poll"  # a vote in the call's Question
    DM = "dm"  # a direct message with a keyword
    JOIN = "join"  # Join / Leave (Mobilizon, FEP-8a8e, another Ayni group)
    EVENT_REPLY = "event-reply"  # Accept / TentativeAccept / Reject of the Event (Friendica)


class Commitment(Base):
    """One person's answer to a call, whatever channel it came by: a local member, a remote
    actor, or someone another group speaks for anonymously (keyed by that group's Join)."""

    __tablename__ = "commitments"
    __table_args__ = (UniqueConstraint("item_id", "person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    person: Mapped[str] = mapped_column(String(2100))  # "member:<id>", an actor uri, a Join uri
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), default=None
    )
    remote_actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), default=None
    )
    state: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    via_uri: Mapped[str | None] = mapped_column(String(2048), default=None)  # vote, DM, Join
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Escalation(Base):
    """A step of a short call's escalation ladder, taken once."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("item_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutgoingJoin(Base):
    """A member here said she is coming to another server's call: our Join, as her or (when she
    stays anonymous) as her group."""

    __tablename__ = "outgoing_joins"
    __table_args__ = (UniqueConstraint("member_id", "remote_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"))
    remote_item_id: Mapped[int] = mapped_column(ForeignKey("remote_items.id", ondelete="CASCADE"))
    join_uri: Mapped[str] = mapped_column(String(2048), unique=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))  # pending, accepted, rejected, withdrawn
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
