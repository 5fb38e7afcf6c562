"""E-mail: a member's address, confirmed by a link before anything else is sent to it, and the
messages queued for the worker in `outbox/mail.py` (`enqueue`, in the caller's transaction).

Messages are plain text plus a minimal HTML part: no images, nothing that tracks, links as they
are. Each has a `Message-ID` on our host, a `Date` and `Auto-Submitted: auto-generated`;
notifications also carry `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058 one-click).

Only hashes of the links' tokens are stored. The unsubscribe token is derived from the secret
key and the address (`unsubscribe_token`), so every notification can carry it; the confirmation
token is random and shown once, in the confirmation message.
"""

import hashlib
import hmac
import html
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.actors import LocalActor
from models.base import Base, UTCDateTime, hash_token, utcnow
from models.queue import MailMessage
from models.settings import Settings
from models.texts import N_, translations


class InvalidAddress(ValueError):
    """Not an e-mail address by the standards' syntax."""


class MailOff(ValueError):
    """AYNI_SMTP_URL or AYNI_MAIL_FROM is not set."""

    def __init__(self) -> None:
        super().__init__("e-mail is off: set AYNI_SMTP_URL and AYNI_MAIL_FROM to turn it on")


class MemberEmail(Base):
    """A member's one address. Nothing but its confirmation is sent to it until it is confirmed,
    and no notification once she unsubscribed."""

    __tablename__ = "member_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), unique=True
    )
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The confirmation link's token, until it is used.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    unsubscribe_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def reachable(self) -> bool:
        """Notifications may be sent to it."""
        return self.confirmed_at is not None and self.unsubscribed_at is None


def check_address(address: str) -> str:
    """The address in its normalised form (the domain lowercased), or InvalidAddress. Syntax
    only: no DNS lookup."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise InvalidAddress(f"{address.strip()!r} is not an e-mail address: {e}") from None


def unsubscribe_token(settings: Settings, member_id: int, address: str) -> str:
    mac = hmac.new(
        settings.secret_key.encode(), f"unsubscribe:{member_id}:{address}".encode(), hashlib.sha256
    )
    return mac.hexdigest()[:40]


def unsubscribe_url(settings: Settings, row: MemberEmail) -> str:
    token = unsubscribe_token(settings, row.member_id, row.address)
    return f"{settings.base_url}/email/unsubscribe/{token}"


async def address_of(session: AsyncSession, member: LocalActor) -> MemberEmail | None:
    return await session.scalar(select(MemberEmail).where(MemberEmail.member_id == member.id))


async def set_address(
    session: AsyncSession, settings: Settings, member: LocalActor, address: str
) -> MemberEmail:
    """Set (or replace) her address, unconfirmed, and queue the confirmation message."""
    if not settings.mail_enabled:
        raise MailOff
    address = check_address(address)
    token = secrets.token_urlsafe(24)
    row = await address_of(session, member)
    if row is None:
        row = MemberEmail(member_id=member.id)
        session.add(row)
    row.address = address
    row.confirmed_at = None
    row.unsubscribed_at = None
    row.token_hash = hash_token(token)
    row.unsubscribe_hash = hash_token(unsubscribe_token(settings, member.id, address))
    link = f"{settings.base_url}/email/confirm/{token}"
    gettext = translations(member.language).gettext
    await enqueue(
        session,
        settings,
        to=address,
        subject=gettext(N_("Confirm your e-mail address")),
        paragraphs=[
            gettext(N_("Someone, probably you, gave this address to @%(name)s on %(host)s."))
            % {"name": member.username, "host": settings.host},
            gettext(N_("Open this link to confirm it; until then nothing else is sent to it:")),
            Link(link),
            gettext(N_("If it was not you, ignore this message: nothing more will come.")),
        ],
        lang=member.language,
    )
    await session.flush()
    return row


async def confirm(session: AsyncSession, token: str, now: datetime | None = None) -> MemberEmail:
    """Confirm the address whose link this is; LookupError for an unknown or used link."""
    row = await session.scalar(
        select(MemberEmail).where(MemberEmail.token_hash == hash_token(token))
    )
    if row is None:
        raise LookupError("this confirmation link is unknown or was already used")
    row.confirmed_at = now or utcnow()
    row.token_hash = None
    return row


async def by_unsubscribe_token(session: AsyncSession, token: str) -> MemberEmail | None:
    return await session.scalar(
        select(MemberEmail).where(MemberEmail.unsubscribe_hash == hash_token(token))
    )


async def unsubscribe(session: AsyncSession, token: str, now: datetime | None = None) -> bool:
    """Stop notifications to the address of this link. False for an unknown link."""
    row = await by_unsubscribe_token(session, token)
    if row is None:
        return False
    if row.unsubscribed_at is None:
        row.unsubscribed_at = now or utcnow()
    return True


@dataclass(frozen=True)
class Link:
    """A paragraph that is one link: written out in full in both parts, never rewritten."""

    url: str


Paragraph = str | Link


def text_body(paragraphs: list[Paragraph]) -> str:
    return "\n\n".join(p.url if isinstance(p, Link) else p for p in paragraphs) + "\n"


def html_body(paragraphs: list[Paragraph], lang: str = "en") -> str:
    parts = []
    for p in paragraphs:
        if isinstance(p, Link):
            url = html.escape(p.url)
            parts.append(f'<p><a href="{url}">{url}</a></p>')
        else:
            parts.append(f"<p>{html.escape(p)}</p>")
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}"><head><meta charset="utf-8"></head>'
        f"<body>\n{body}\n</body></html>\n"
    )


def headers(settings: Settings, unsubscribe: str | None = None) -> dict[str, str]:
    """The headers fixed when a message is queued (a retry sends the same message)."""
    domain = urlsplit(settings.base_url).hostname or "localhost"
    fixed = {"Message-ID": make_msgid(domain=domain), "Auto-Submitted": "auto-generated"}
    if unsubscribe is not None:
        fixed["List-Unsubscribe"] = f"<{unsubscribe}>"
        fixed["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return fixed


async def enqueue(
    session: AsyncSession,
    settings: Settings,
    *,
    to: str,
    subject: str,
    paragraphs: list[Paragraph],
    unsubscribe: str | None = None,
    lang: str = "en",
    not_before: datetime | None = None,
) -> MailMessage | None:
    """Queue one message in the caller's transaction; None (and nothing queued) while e-mail is
    off. `unsubscribe` (a notification's: `unsubscribe_url`) adds the RFC 8058 headers and a
    visible link at the end; `not_before` holds it back (the end of her quiet hours)."""
    if not settings.mail_enabled:
        return None
    if unsubscribe is not None:
        stop = translations(lang).gettext(N_("To stop these messages, open:"))
        paragraphs = [*paragraphs, stop, Link(unsubscribe)]
    row = MailMessage(
        to=to,
        subject=subject,
        text_body=text_body(paragraphs),
        html_body=html_body(paragraphs, lang),
        headers=headers(settings, unsubscribe),
        next_attempt_at=not_before or utcnow(),
    )
    session.add(row)
    return row


async def notify(
    session: AsyncSession,
    settings: Settings,
    member: LocalActor,
    subject: str,
    paragraphs: list[Paragraph],
    lang: str = "en",
    not_before: datetime | None = None,
) -> MailMessage | None:
    """Queue a notification to her address, if it is confirmed and she has not unsubscribed."""
    row = await address_of(session, member)
    if row is None or not row.reachable:
        return None
    return await enqueue(
        session,
        settings,
        to=row.address,
        subject=subject,
        paragraphs=paragraphs,
        unsubscribe=unsubscribe_url(settings, row),
        lang=lang,
        not_before=not_before,
    )


def build(
    settings: Settings,
    *,
    to: str,
    subject: str,
    text: str,
    html_part: str,
    fixed: dict[str, str],
    now: datetime | None = None,
) -> EmailMessage:
    """The message as sent: headers, then the text part and the HTML alternative."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now or utcnow())
    for name, value in fixed.items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html_part, subtype="html")
    return message


def message_of(settings: Settings, row: MailMessage, now: datetime | None = None) -> EmailMessage:
    return build(
        settings,
        to=row.to,
        subject=row.subject,
        text=row.text_body,
        html_part=row.html_body,
        fixed=row.headers,
        now=now,
    )
