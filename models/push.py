"""Web Push: a member's browsers that asked to be told (RFC 8030 subscriptions, with the keys of
RFC 8291 that their messages are encrypted to), the instance's VAPID key (RFC 8292), and the
messages queued for them (`enqueue`, in the caller's transaction; `outbox/push.py` sends).

    count = await push.enqueue(session, member.id, {"title": ..., "body": ..., "url": "/..."},
                               urgency="high")

What a message says is the caller's to decide, and the least that works (never an exact place,
a requester's name or a private message's text: the `url` leads to the page); here it is only
held under the size every push service must take: its JSON at most `MAX_PAYLOAD` bytes, the
body cut short (then the title) when it would not fit.
"""

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import ForeignKey, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.actors import Instance, LocalActor
from models.base import Base, UTCDateTime, upsert, utcnow
from models.queue import PushMessage

# RFC 8291: a push service must accept 4096 bytes of encrypted body; aes128gcm adds 103 (a
# header of 86 with our one-time public key, the 16-byte tag, one padding delimiter).
MAX_PAYLOAD = 4096 - 103
MAX_SUBSCRIPTIONS = 10  # per member: her phone, her laptop…; a new one beyond drops the oldest
MAX_ENDPOINT = 2048
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 section 5.3
ELLIPSIS = "…"


class InvalidSubscription(ValueError):
    """What a browser sent is not a Web Push subscription we can send to."""


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


def new_key() -> str:
    """A VAPID key: P-256, as PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


async def private_key(session: AsyncSession) -> str:
    """The instance's VAPID key (PEM), made on first use. Made once even when two first uses
    meet: only the one that finds the column empty writes it, and both read what was kept."""
    pem: str | None = await session.scalar(select(Instance.vapid_private_key))
    if pem is None:
        await session.execute(
            update(Instance)
            .where(Instance.vapid_private_key.is_(None))
            .values(vapid_private_key=new_key())
        )
        pem = await session.scalar(select(Instance.vapid_private_key))
    if pem is None:
        raise LookupError("this database has no instance row: run `ayni init` first")
    return pem


def public_key_of(pem: str) -> str:
    """The key's public half as browsers take it (`applicationServerKey`): base64url of the
    uncompressed point, unpadded."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


async def public_key(session: AsyncSession) -> str:
    return public_key_of(await private_key(session))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decoded(value: str, name: str) -> bytes:
    value = value.strip()
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSubscription(f"{name} is not base64url") from None


def checked_keys(p256dh: str, auth: str) -> tuple[str, str]:
    """The browser's public key (a P-256 point, 65 bytes uncompressed) and its authentication
    secret (16 bytes), unpadded base64url; InvalidSubscription otherwise."""
    point, secret = _decoded(p256dh, "p256dh"), _decoded(auth, "auth")
    if len(point) != 65 or point[0] != 4:
        raise InvalidSubscription("p256dh is not an uncompressed P-256 public key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidSubscription("p256dh is not a point on P-256") from None
    if len(secret) != 16:
        raise InvalidSubscription("auth is not a 16-byte secret")
    return b64url(point), b64url(secret)


def checked_endpoint(endpoint: str, *, allow_http: bool = False) -> str:
    """An https URL with a host (plain http only when the instance allows private addresses,
    as tests do); where it leads is checked again at each send (the SSRF guard)."""
    endpoint = endpoint.strip()
    if len(endpoint) > MAX_ENDPOINT:
        raise InvalidSubscription("the endpoint is too long")
    try:
        url = urlsplit(endpoint)
        host = url.hostname
    except ValueError:
        raise InvalidSubscription("the endpoint is not a URL") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if url.scheme not in schemes or not host or url.username or url.password:
        raise InvalidSubscription("the endpoint is not an https URL")
    return endpoint


async def subscribe(
    session: AsyncSession,
    member: LocalActor,
    endpoint: str,
    p256dh: str,
    auth: str,
    *,
    allow_http: bool = False,
) -> PushSubscription:
    """Keep (or renew) this browser's subscription for her. A browser someone else had turned
    on is hers from now on, and what was queued for them is dropped; beyond MAX_SUBSCRIPTIONS
    her oldest goes."""
    endpoint = checked_endpoint(endpoint, allow_http=allow_http)
    p256dh, auth = checked_keys(p256dh, auth)
    await session.execute(
        delete(PushSubscription).where(
            PushSubscription.endpoint == endpoint, PushSubscription.member_id != member.id
        )
    )
    await upsert(
        session,
        PushSubscription,
        {
            "member_id": member.id,
            "endpoint": endpoint,
            "p256dh": p256dh,
            "auth": auth,
            "created_at": utcnow(),
        },
        key="endpoint",
        update=["p256dh", "auth", "created_at"],
    )
    others = (
        select(PushSubscription.id)
        .where(PushSubscription.member_id == member.id, PushSubscription.endpoint != endpoint)
        .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
        .offset(MAX_SUBSCRIPTIONS - 1)
    )
    await _drop(session, list(await session.scalars(others)))
    row = await session.scalar(
        select(PushSubscription)
        .where(PushSubscription.endpoint == endpoint)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def unsubscribe(session: AsyncSession, member: LocalActor, endpoint: str) -> bool:
    """Forget her subscription at `endpoint` and what was queued for it; False if none."""
    ids = await session.scalars(
        select(PushSubscription.id).where(
            PushSubscription.member_id == member.id, PushSubscription.endpoint == endpoint.strip()
        )
    )
    return await _drop(session, list(ids)) > 0


async def drop(session: AsyncSession, subscription_id: int) -> None:
    """Forget a subscription its push service said is gone (404, 410), with its queue."""
    await _drop(session, [subscription_id])


async def _drop(session: AsyncSession, ids: list[int]) -> int:
    if not ids:
        return 0
    # The foreign key cascades too; said here so that no database setting decides it.
    await session.execute(delete(PushMessage).where(PushMessage.subscription_id.in_(ids)))
    await session.execute(delete(PushSubscription).where(PushSubscription.id.in_(ids)))
    return len(ids)


def encoded(payload: dict[str, Any]) -> bytes:
    """The bytes a message's payload is sent as (then encrypted)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def capped(payload: dict[str, str]) -> dict[str, str]:
    """`payload` with its body (then its title) cut short, ending in "…", until its JSON fits
    in MAX_PAYLOAD bytes; ValueError when even that is not enough (an overlong url)."""
    capped = dict(payload)
    for field in ("body", "title"):
        if len(encoded(capped)) <= MAX_PAYLOAD or not capped.get(field):
            continue
        # The longest prefix that fits: JSON escapes make bytes and characters differ.
        low, high = 0, len(capped[field])
        while low < high:
            middle = (low + high + 1) // 2
            if len(encoded(_cut(capped, field, middle))) <= MAX_PAYLOAD:
                low = middle
            else:
                high = middle - 1
        capped = _cut(capped, field, low)
    if len(encoded(capped)) > MAX_PAYLOAD:
        raise ValueError(f"a push payload must fit in {MAX_PAYLOAD} bytes")
    return capped


def _cut(payload: dict[str, str], field: str, length: int) -> dict[str, str]:
    shorter = payload[field][:length].rstrip()
    return {**payload, field: shorter + ELLIPSIS if shorter else ""}


async def enqueue(
    session: AsyncSession,
    member_id: int,
    payload: dict[str, str],
    *,
    urgency: str = "normal",
    not_before: datetime | None = None,
) -> int:
    """Queue one message to each of the member's subscriptions, in the caller's transaction
    (nothing is sent in it). `payload` is what the service worker shows: {"title", "body",
    "url"} and optionally "tag" (a later message with the same tag replaces it). Returns how
    many were queued: 0 when she has turned push on nowhere."""
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in payload.items()):
        raise TypeError("a push payload maps strings to strings")
    message = capped(payload)
    ids = list(
        await session.scalars(
            select(PushSubscription.id)
            .where(PushSubscription.member_id == member_id)
            .order_by(PushSubscription.id)
        )
    )
    due = not_before or utcnow()
    session.add_all(
        PushMessage(subscription_id=i, payload=message, urgency=urgency, next_attempt_at=due)
        for i in ids
    )
    return len(ids)
