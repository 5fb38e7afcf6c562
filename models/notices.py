"""Notices: what the app tells one member that is not a response to her own item (a call of her
group still short of people, a meeting-point link another server sent her, a private answer to
her response, an introduction asked or accepted). Shown on her notifications page; they name an
item, never what it is about."""

import enum
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class NoticeKind(enum.StrEnum):
    CALL_SHORT = "call-short"  # a call of her group is still short of people
    MEETING_POINT = "meeting-point"  # another server sent her where to meet
    ANSWER = "answer"  # the author or a moderator answered her response privately
    INTRODUCTION_ASKED = "introduction-asked"  # a group here asks to put her item in touch
    INTRODUCTION = "introduction"  # the other side of her item's match said yes


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), default=None
    )
    remote_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_items.id", ondelete="CASCADE"), default=None
    )
    remote_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_objects.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def notify(
    session: AsyncSession,
    member_ids: Iterable[int],
    kind: NoticeKind,
    *,
    item_id: int | None = None,
    remote_item_id: int | None = None,
    remote_object_id: int | None = None,
    now: datetime | None = None,
) -> int:
    rows = [
        Notice(
            member_id=member_id,
            kind=kind,
            item_id=item_id,
            remote_item_id=remote_item_id,
            remote_object_id=remote_object_id,
            created_at=now or utcnow(),
        )
        for member_id in dict.fromkeys(member_ids)
    ]
    session.add_all(rows)
    await session.flush()
    return len(rows)
