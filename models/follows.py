"""Follows in both directions between our local actors and remote actors."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class FollowState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Direction(enum.StrEnum):
    INBOUND = "inbound"  # a remote actor follows one of ours
    OUTBOUND = "outbound"  # one of ours follows a remote actor


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("local_actor_id", "remote_actor_id", "direction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_uri: Mapped[str] = mapped_column(String(2048))
    direction: Mapped[str] = mapped_column(String(16))
    local_actor_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default=FollowState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
