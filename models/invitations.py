"""Invitation links: how a new member joins a group without anyone typing a password for them.

Only a hash of the token is stored, so a leaked database does not leak usable links. A link works
once, until it expires.
"""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models import actors
from models.actors import LocalActor, Role
from models.base import Base, UTCDateTime, hash_token, utcnow

VALID_FOR = timedelta(days=7)


class InvitationInvalid(LookupError):
    """Unknown, used or expired: the page says the same thing for all three."""


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    used_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="SET NULL")
    )


async def invite(
    session: AsyncSession,
    group: LocalActor,
    role: Role = Role.MEMBER,
    created_by: LocalActor | None = None,
    valid_for: timedelta = VALID_FOR,
) -> str:
    """A new invitation to `group`; returns the token (shown once, never stored)."""
    if group.type != actors.ActorType.GROUP:
        raise ValueError(f"{group.username!r} is not a group")
    token = secrets.token_urlsafe(24)
    session.add(
        Invitation(
            token_hash=hash_token(token),
            group_id=group.id,
            role=Role(role),
            created_by_id=created_by.id if created_by else None,
            expires_at=utcnow() + valid_for,
        )
    )
    await session.flush()
    return token


async def usable(session: AsyncSession, token: str, now: datetime | None = None) -> Invitation:
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    )
    if (
        invitation is None
        or invitation.used_at is not None
        or invitation.expires_at <= (now or utcnow())
    ):
        raise InvitationInvalid("this invitation link is unknown, used or expired")
    return invitation


async def accept(
    session: AsyncSession, token: str, username: str, password_hash: str, display_name: str = ""
) -> LocalActor:
    """Creates the member (with a password hashed beforehand, away from the event loop), joins
    them to the group with the invitation's role, uses up the link.
    Raises InvitationInvalid, actors.InvalidName or actors.NameTaken; the caller's transaction
    rolls everything back on any of them."""
    invitation = await usable(session, token)
    group = await session.get(LocalActor, invitation.group_id)
    assert group is not None  # the foreign key cascades
    member = await actors.create_member(session, username, None, display_name)
    member.password_hash = password_hash
    await actors.join_group(session, group, member, Role(invitation.role))
    invitation.used_at, invitation.used_by_id = utcnow(), member.id
    return member


async def pending(session: AsyncSession, group: LocalActor) -> list[Invitation]:
    return list(
        await session.scalars(
            select(Invitation)
            .where(
                Invitation.group_id == group.id,
                Invitation.used_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.created_at.desc())
        )
    )


async def revoke(session: AsyncSession, group: LocalActor, invitation_id: int) -> bool:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.group_id != group.id or invitation.used_at is not None:
        return False
    await session.delete(invitation)
    return True
