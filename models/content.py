"""Objects received from other servers: replies, private messages, submissions, posts of actors
we follow. Tombstones remember deletions, including a Delete that arrives before its Create."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class RemoteObjectKind(enum.StrEnum):
    RESPONSE = "response"  # a public reply to one of our objects
    PRIVATE = "private"  # addressed only to a local group or member (a Mastodon DM)
    SUBMISSION = "submission"  # a public post mentioning a group, held for its moderators
    CONTENT = "content"  # anything else from an actor we follow
    REPORT = "report"  # a Flag for a group's moderators


class RemoteObject(Base):
    __tablename__ = "remote_objects"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    remote_actor_id: Mapped[int] = mapped_column(
        ForeignKey("remote_actors.id", ondelete="CASCADE"), index=True
    )
    # The local actor it concerns: the group replied to, messaged, mentioned or reported to.
    local_actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    in_reply_to_uri: Mapped[str | None] = mapped_column(String(2048), index=True)
    content_html: Mapped[str] = mapped_column(Text, default="")  # sanitised before storage
    public: Mapped[bool] = mapped_column(default=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A report (kind REPORT) a moderator marked resolved: off her list and her badge.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Tombstone(Base):
    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    actor_uri: Mapped[str] = mapped_column(String(2048))
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
