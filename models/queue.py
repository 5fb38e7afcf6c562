"""The two queues, as tables: activities received (`incoming`) and activities to deliver.

Each row's state is one enum column plus `attempts`, `next_attempt_at`, `last_error`; every retry
has a ceiling. Workers claim due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) under a lease, so a
crashed worker's rows become due again when the lease runs out.
"""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class IncomingState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


class Incoming(Base):
    """One activity as it arrived at an inbox, stored before it is acted on."""

    __tablename__ = "incoming"
    __table_args__ = (Index("ix_incoming_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_uri: Mapped[str] = mapped_column(String(2048), unique=True)
    activity_type: Mapped[str] = mapped_column(String(64))
    actor_uri: Mapped[str] = mapped_column(String(2048))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The local actor whose inbox received it (None for the shared inbox).
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("local_actors.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default=IncomingState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FanoutState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Activity(Base):
    """An activity we published: dereferenceable at its `uri`, and fanned out once."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_fanout_due", "fanout_state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int] = mapped_column(ForeignKey("local_actors.id", ondelete="CASCADE"), index=True)
    object_uri: Mapped[str | None] = mapped_column(String(2048), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    visibility: Mapped[str] = mapped_column(String(16))
    # Who it goes to, as data the fan-out job expands: {"followers": bool, "actors": [uri, ...]}.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    fanout_state: Mapped[str] = mapped_column(String(16), default=FanoutState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    GONE = "gone"
    REJECTED = "rejected"
    FAILED = "failed"


class Delivery(Base):
    """One activity to one inbox. Stored unsigned; signed at send time."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("activity_id", "inbox_uri"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    inbox_uri: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Host(Base):
    """What we know of a remote server's health; an unavailable host is skipped until it answers."""

    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    unavailable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DomainAllow(Base):
    """In allowlist mode, only these domains (and their subdomains) may talk to us."""

    __tablename__ = "domain_allows"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DomainBlock(Base):
    """An instance-wide block: no inbox traffic, no fetches, no deliveries."""

    __tablename__ = "domain_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
