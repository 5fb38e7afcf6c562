"""Signed-in sessions, held on the server so that they can be ended.

The cookie only carries a random token; its hash is a row here. Signing out deletes the row, a
new password or a removal by an admin deletes all of a member's rows, and a session unused for
`IDLE` ends by itself. A copied cookie is then worth no more than the row behind it.
"""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.actors import LocalActor
from models.base import Base, UTCDateTime, hash_token, utcnow

IDLE = timedelta(days=14)
# `last_seen_at` is written at most this often: not one write per page view.
TOUCH_EVERY = timedelta(minutes=5)


class MemberSession(Base):
    __tablename__ = "member_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def start(session: AsyncSession, member: LocalActor) -> str:
    """A new session for `member`; returns its token (for the cookie, never stored)."""
    now = utcnow()
    await session.execute(delete(MemberSession).where(MemberSession.last_seen_at < now - IDLE))
    token = secrets.token_urlsafe(32)
    session.add(
        MemberSession(
            token_hash=hash_token(token), member_id=member.id, created_at=now, last_seen_at=now
        )
    )
    await session.flush()
    return token


async def member_id_of(
    session: AsyncSession, token: str, now: datetime | None = None
) -> int | None:
    """The member a live session belongs to (and the session marked as used), or None."""
    now = now or utcnow()
    found = await session.scalar(
        select(MemberSession).where(MemberSession.token_hash == hash_token(token))
    )
    if found is None:
        return None
    if found.last_seen_at < now - IDLE:
        await session.delete(found)
        return None
    if found.last_seen_at < now - TOUCH_EVERY:
        await session.execute(
            update(MemberSession).where(MemberSession.id == found.id).values(last_seen_at=now)
        )
    return found.member_id


async def end(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(MemberSession).where(MemberSession.token_hash == hash_token(token))
    )


async def end_all(session: AsyncSession, member_id: int) -> int:
    """Ends every session of a member (a new password, a removal); how many there were."""
    result = await session.execute(
        delete(MemberSession).where(MemberSession.member_id == member_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def new_password(session: AsyncSession, member: LocalActor, password_hash: str) -> int:
    """Sets a member's password (hashed beforehand, off the event loop) and ends her sessions:
    whoever held a copy of her cookie is out. Returns how many sessions ended."""
    member.password_hash = password_hash
    return await end_all(session, member.id)
