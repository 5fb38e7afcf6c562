"""Local actors (the instance, groups, members), their keys and memberships.

Groups and members share one namespace because both are `acct:name@host` handles.
"""

import enum
import re
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from federation import keys
from models import passwords
from models.base import Base, UTCDateTime, utcnow

NAME_PATTERN = re.compile(r"[a-z0-9_]{1,30}")


class ActorType(enum.StrEnum):
    GROUP = "Group"
    PERSON = "Person"
    APPLICATION = "Application"
    # A deleted member's handle and key, kept to sign the Deletes of her account (models.accounts)
    GONE = "Tombstone"


class Role(enum.StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class InvalidName(ValueError):
    pass


class NameTaken(ValueError):
    pass


class Instance(Base):
    __tablename__ = "instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    base_url: Mapped[str] = mapped_column(String(255))
    # "open": everyone but blocked domains; "allowlist": only allowed domains (see models.policy).
    federation_mode: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    # Shown on the home page; edited by admins on /admin/instance.
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Web Push's VAPID key (PEM), made on first use (`models.push`).
    vapid_private_key: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LocalActor(Base):
    __tablename__ = "local_actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    manually_approves_followers: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)  # instance admin (members only)
    # A group's language: its polls and messages about calls ("en" or "es").
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # A group's retention: its items are forgotten this many days after they close.
    retention_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # A group's country (ISO 3166 alpha-2): the default region of phone numbers it checks.
    region: Mapped[str | None] = mapped_column(String(2), default=None)
    # A group's coarse service area (centre coarsened like an item's place), on its actor.
    area_latitude: Mapped[float | None] = mapped_column(Float, default=None)
    area_longitude: Mapped[float | None] = mapped_column(Float, default=None)
    area_radius_km: Mapped[float | None] = mapped_column(Float, default=None)
    # Responses newer than this are a member's unread notifications.
    notifications_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    key: Mapped["ActorKey"] = relationship(lazy="joined", innerjoin=True)


class ActorKey(Base):
    """Generated once, stored, backed up, never rotated silently (GoToSocial rejects changed
    keys)."""

    __tablename__ = "actor_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), unique=True
    )
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("group_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetiredName(Base):
    """The handle of a deleted account: never given to anyone else (other servers still know
    it as hers)."""

    __tablename__ = "retired_names"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def validate_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidName(f"invalid name {name!r}: use 1-30 lowercase letters, digits or _")
    return name


async def find_actor(session: AsyncSession, username: str) -> LocalActor | None:
    """Case-insensitive, as handles are."""
    return await session.scalar(
        select(LocalActor).where(func.lower(LocalActor.username) == username.lower())
    )


async def _new_actor(
    session: AsyncSession, username: str, type: ActorType, **fields: object
) -> LocalActor:
    retired = select(RetiredName.id).where(func.lower(RetiredName.username) == username.lower())
    if await find_actor(session, username) is not None or await session.scalar(retired):
        raise NameTaken(f"the name {username!r} is already taken by a group or member")
    private_key = keys.generate_private_key()
    actor = LocalActor(username=username, type=type, **fields)
    actor.key = ActorKey(
        private_key_pem=keys.private_key_to_pem(private_key),
        public_key_pem=keys.public_key_to_pem(private_key.public_key()),
    )
    session.add(actor)
    await session.flush()
    return actor


async def create_instance(session: AsyncSession, base_url: str, host: str) -> LocalActor:
    """The instance row and its `Application` actor (preferredUsername = host), which signs
    fetches."""
    session.add(Instance(base_url=base_url))
    return await _new_actor(session, host, ActorType.APPLICATION, name=host)


async def instance_actor(session: AsyncSession) -> LocalActor:
    actor = await session.scalar(select(LocalActor).where(LocalActor.type == ActorType.APPLICATION))
    if actor is None:
        raise LookupError("this database has no instance actor: run `ayni init` first")
    return actor


async def create_group(
    session: AsyncSession, name: str, title: str, summary: str = "", manual_approval: bool = False
) -> LocalActor:
    validate_name(name)
    if not title.strip():
        raise ValueError("a group needs a title")
    return await _new_actor(
        session,
        name,
        ActorType.GROUP,
        name=title.strip(),
        summary=summary,
        manually_approves_followers=manual_approval,
    )


async def create_member(
    session: AsyncSession,
    username: str,
    password: str | None = None,
    display_name: str = "",
    is_admin: bool = False,
) -> LocalActor:
    validate_name(username)
    return await _new_actor(
        session,
        username,
        ActorType.PERSON,
        name=display_name or username,
        password_hash=passwords.hash_password(password) if password else None,
        is_admin=is_admin,
    )


async def join_group(
    session: AsyncSession, group: LocalActor, member: LocalActor, role: Role
) -> Membership:
    if group.type != ActorType.GROUP:
        raise ValueError(f"{group.username!r} is not a group")
    existing = await session.scalar(
        select(Membership).where(Membership.group_id == group.id, Membership.member_id == member.id)
    )
    if existing is not None:
        existing.role = role
        return existing
    membership = Membership(group_id=group.id, member_id=member.id, role=role)
    session.add(membership)
    await session.flush()
    return membership


async def role_in(session: AsyncSession, group: LocalActor, member: LocalActor) -> Role | None:
    """The member's role in the group. An instance admin counts as every group's admin, for the
    pages, the CLI and the domain functions alike: she answers for the whole instance."""
    if member.is_admin:
        return Role.ADMIN
    role = await session.scalar(
        select(Membership.role).where(
            Membership.group_id == group.id, Membership.member_id == member.id
        )
    )
    return Role(role) if role else None


async def count_actors(session: AsyncSession, type: ActorType) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(LocalActor).where(LocalActor.type == type)
        )
        or 0
    )
