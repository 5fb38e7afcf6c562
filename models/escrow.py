"""Location escrow: a call's exact meeting point, sealed at rest and shown only to the people
who committed to come.

The text is kept apart from the item, encrypted with AES-GCM under a key derived (HKDF) from the
instance's secret key, and bound to its item so a sealed value cannot be moved to another call.
Each person who commits gets a personal link (`/calls/<id>/where/<token>`, only the token's
SHA-256 is stored) that works until the call ends plus a margin; each view is recorded (who and
when, never an address). Revoking a link makes it answer 410.
"""

import base64
import secrets
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models import messages
from models.actors import LocalActor
from models.base import Base, UTCDateTime, hash_token, utcnow
from models.calls import Commitment
from models.items import Item
from models.queue import Activity
from models.remote import RemoteActor
from models.uris import Uris

MAX_MEETING_POINT = 500
# How long after a call ends its links still work: people arrive late, or look it up again.
MARGIN = timedelta(hours=2)
# A call without an end is taken to last this long.
DEFAULT_LENGTH = timedelta(hours=4)


class NoSecretKey(ValueError):
    def __init__(self) -> None:
        super().__init__(
            "a meeting point is sealed with the instance's secret key, and none is set "
            "(AYNI_SECRET_KEY, or secret_key in ayni.toml)"
        )


class Seal:
    """Encrypts and decrypts meeting points; one per instance, from its secret key."""

    def __init__(self, secret_key: str) -> None:
        self._aead: AESGCM | None = None
        if secret_key:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"ayni meeting points v1"
            ).derive(secret_key.encode())
            self._aead = AESGCM(key)

    def seal(self, item_uri: str, text: str) -> str:
        if self._aead is None:
            raise NoSecretKey()
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, text.encode(), item_uri.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, item_uri: str, sealed: str) -> str | None:
        """The text, or None when it cannot be read (another key, or another item's value)."""
        if self._aead is None:
            return None
        try:
            raw = base64.b64decode(sealed)
            return self._aead.decrypt(raw[:12], raw[12:], item_uri.encode()).decode()
        except (InvalidTag, ValueError):
            return None


class MeetingPoint(Base):
    __tablename__ = "meeting_points"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    sealed: Mapped[str] = mapped_column(Text)
    # Links go out this many seconds before the start; None: as soon as someone commits.
    reveal_before_s: Mapped[int | None] = mapped_column(Integer, default=None)
    reveal_inline: Mapped[bool] = mapped_column(default=False)


class EscrowLink(Base):
    """One person's way to the meeting point: a link (or, inline, the text itself) in a DM."""

    __tablename__ = "escrow_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    commitment_id: Mapped[int] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    message_uri: Mapped[str | None] = mapped_column(String(2048), default=None)  # the DM's Note
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class EscrowView(Base):
    """Someone saw the meeting point: through a link, or signed in on the call's page."""

    __tablename__ = "escrow_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("escrow_links.id", ondelete="CASCADE"), default=None, index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), default=None
    )
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def clean(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    if len(text) > MAX_MEETING_POINT:
        raise ValueError(f"a meeting point has at most {MAX_MEETING_POINT} characters")
    return text or None


async def meeting_point_row(session: AsyncSession, item: Item) -> MeetingPoint | None:
    return await session.get(MeetingPoint, item.id)


async def store(
    session: AsyncSession,
    seal: Seal,
    item: Item,
    text: str | None,
    *,
    reveal_before: timedelta | None = None,
    reveal_inline: bool = False,
) -> None:
    """Seal (or, with no text, remove) the item's meeting point."""
    text = clean(text)
    row = await meeting_point_row(session, item)
    if text is None:
        if row is not None:
            await session.delete(row)
        return
    sealed = seal.seal(item.uri, text)
    seconds = int(reveal_before.total_seconds()) if reveal_before is not None else None
    if row is None:
        session.add(
            MeetingPoint(
                item_id=item.id,
                sealed=sealed,
                reveal_before_s=seconds,
                reveal_inline=reveal_inline,
            )
        )
    else:
        row.sealed, row.reveal_before_s, row.reveal_inline = sealed, seconds, reveal_inline
    await session.flush()


async def meeting_point(session: AsyncSession, seal: Seal, item: Item) -> str | None:
    row = await meeting_point_row(session, item)
    return seal.open(item.uri, row.sealed) if row is not None else None


def expiry(item: Item) -> datetime:
    assert item.starts_at is not None
    return (item.ends_at or item.starts_at + DEFAULT_LENGTH) + MARGIN


def reveal_time(item: Item, row: MeetingPoint) -> datetime | None:
    """When links may go out: None means at once."""
    if row.reveal_before_s is None or item.starts_at is None:
        return None
    return item.starts_at - timedelta(seconds=row.reveal_before_s)


async def issue(
    session: AsyncSession, item: Item, commitment_id: int, now: datetime | None = None
) -> tuple[EscrowLink, str]:
    """A new personal link for one commitment: (the row, the token to put in the URL)."""
    token = secrets.token_urlsafe(24)
    link = EscrowLink(
        item_id=item.id,
        commitment_id=commitment_id,
        token_hash=hash_token(token),
        created_at=now or utcnow(),
        expires_at=expiry(item),
    )
    session.add(link)
    await session.flush()
    return link, token


async def live_links(session: AsyncSession, commitment_id: int) -> list[EscrowLink]:
    return list(
        await session.scalars(
            select(EscrowLink).where(
                EscrowLink.commitment_id == commitment_id, EscrowLink.revoked_at.is_(None)
            )
        )
    )


async def find_link(session: AsyncSession, item: Item, token: str) -> EscrowLink | None:
    return await session.scalar(
        select(EscrowLink).where(
            EscrowLink.item_id == item.id, EscrowLink.token_hash == hash_token(token)
        )
    )


def usable(link: EscrowLink, item: Item, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return link.revoked_at is None and now < link.expires_at and item.deleted_at is None


async def record_view(
    session: AsyncSession,
    item: Item,
    *,
    link: EscrowLink | None = None,
    member_id: int | None = None,
    now: datetime | None = None,
) -> None:
    session.add(
        EscrowView(
            item_id=item.id,
            link_id=link.id if link else None,
            member_id=member_id,
            viewed_at=now or utcnow(),
        )
    )
    await session.flush()


async def _forget_message(session: AsyncSession, note_uri: str) -> None:
    """Our stored copy of a DM that carried a link (or the place itself) keeps nothing of it."""
    sent = await session.scalar(
        select(Activity).where(Activity.object_uri == note_uri, Activity.type == "Create")
    )
    if sent is not None and isinstance(sent.document.get("object"), dict):
        sent.document = {**sent.document, "object": {**sent.document["object"], "content": ""}}


async def revoke(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    commitment: Commitment | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """End the live links of one commitment (or all of the call's): they answer 410, and each
    DM that carried one is deleted. The number of links ended."""
    now = now or utcnow()
    query = (
        select(EscrowLink, RemoteActor.uri)
        .join(Commitment, Commitment.id == EscrowLink.commitment_id)
        .outerjoin(RemoteActor, RemoteActor.id == Commitment.remote_actor_id)
    )
    query = query.where(EscrowLink.item_id == item.id, EscrowLink.revoked_at.is_(None))
    if commitment is not None:
        query = query.where(EscrowLink.commitment_id == commitment.id)
    links = list(await session.execute(query))
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    for link, recipient_uri in links:
        link.revoked_at = now
        if link.message_uri and recipient_uri:
            await _forget_message(session, link.message_uri)
            await messages.delete_message(session, uris, group, recipient_uri, link.message_uri)
    await session.flush()
    return len(links)
