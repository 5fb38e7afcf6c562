"""Alerts: what is told to a member outside the site (e-mail, Web Push), by her own switches.

Each member's `AlertSettings` (a member without a row has the defaults): urgent calls of her
groups at once, even in her quiet hours; responses to her items at once or in the digest; the
digest of new asks, offers and calls daily, weekly or never; for moderators, follow requests,
held submissions and reports. Quiet hours are minutes of the day in her time zone.
"""

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Responses(enum.StrEnum):
    NOW = "now"
    DIGEST = "digest"
    OFF = "off"


class Digest(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    OFF = "off"


class AlertSettings(Base):
    __tablename__ = "alert_settings"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), primary_key=True
    )
    urgent_calls: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    responses: Mapped[str] = mapped_column(String(8), default=Responses.NOW, server_default="now")
    digest: Mapped[str] = mapped_column(String(8), default=Digest.WEEKLY, server_default="weekly")
    moderation: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Quiet hours, minutes after midnight in `timezone`; both None: none.
    quiet_from: Mapped[int | None] = mapped_column(Integer, default=None)
    quiet_until: Mapped[int | None] = mapped_column(Integer, default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # The last digest's cut: the next one tells what came after it.
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
