"""Web Push: a member's browsers that asked to be told (RFC 8030 subscriptions, with the keys of
RFC 8291 that their messages are encrypted to), and the instance's VAPID key (RFC 8292)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(Text, unique=True)
    p256dh: Mapped[str] = mapped_column(String(255))  # the browser's public key, base64url
    auth: Mapped[str] = mapped_column(String(255))  # the shared authentication secret
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
