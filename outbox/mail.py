"""Sending e-mail: the worker that empties the mail queue (`models.queue.MailMessage`), and the
one SMTP conversation every message goes through (`send`).

A message is claimed with a lease (`models.queue.claim`), so two workers never send it both; it
is sent outside any transaction and its outcome recorded after. A server out of reach or a 4xx
answer is tried again later (`MAIL`: minutes, then hours, for about three days: an outage
delays, never drops); a 5xx is final, recorded as `failed` with the server's reason.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import select, update

from federation.retry import Failure, RetryPolicy
from models import mail, queue
from models.base import utcnow
from models.queue import MailMessage, MailState
from models.runtime import Runtime
from models.settings import Settings

log = logging.getLogger("ayni.mail")

MAIL = RetryPolicy(
    first=timedelta(minutes=1),
    factor=2,
    ceiling=timedelta(hours=6),
    attempts=16,
    jitter=0.25,
)
LEASE = timedelta(minutes=5)  # far longer than one conversation takes (TIMEOUT)
TIMEOUT = 30.0  # seconds, for each step of the conversation
INTERVAL = 5.0  # seconds between looks at an empty queue
BATCH = 20


async def send(settings: Settings, message: EmailMessage, timeout: float = TIMEOUT) -> None:
    """One SMTP conversation; raises aiosmtplib's errors (OSError for a server out of reach)."""
    url = urlsplit(settings.smtp_url)
    implicit = url.scheme == "smtps"
    await aiosmtplib.send(
        message,
        hostname=url.hostname,
        port=url.port or (465 if implicit else 587),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=implicit,
        start_tls=False if implicit else None,  # None: STARTTLS whenever the server offers it
        timeout=timeout,
    )


def describe(error: BaseException) -> str:
    """The SMTP outcome in one line: the server's code and words, or why it could not answer."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{error.code} {' '.join(error.message.split())}"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def is_permanent(error: BaseException) -> bool:
    """A 5xx answer: the server refused for good. Anything else (4xx, no answer) may pass."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(r.code >= 500 for r in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and 500 <= error.code < 600


SENDING_ERRORS = (aiosmtplib.SMTPException, OSError, ValueError)


async def run_once(
    runtime: Runtime,
    now: datetime | None = None,
    limit: int = BATCH,
    random_unit: Callable[[], float] = random.random,
) -> int:
    """Claim the due messages, send them, record each outcome. Returns how many were sent."""
    settings = runtime.settings
    if not settings.mail_enabled:
        return 0
    now = now or utcnow()
    async with runtime.sessions() as session, session.begin():
        claimed = await queue.claim(
            session,
            MailMessage,
            now=now,
            lease=LEASE,
            limit=limit,
            where=[MailMessage.state == MailState.PENDING],
            order_by=[MailMessage.next_attempt_at],
        )
        rows = list(
            await session.scalars(
                select(MailMessage).where(MailMessage.id.in_([row.id for row in claimed]))
            )
        )
        messages = [(row.id, row.attempts, mail.message_of(settings, row, now)) for row in rows]
    sent = 0
    for row_id, attempts, message in messages:
        try:
            await send(settings, message)
        except SENDING_ERRORS as e:
            await _failed(runtime, row_id, attempts + 1, e, now, random_unit)
        else:
            sent += 1
            await _record(runtime, row_id, state=MailState.SENT, sent_at=utcnow(), last_error=None)
    return sent


async def _record(runtime: Runtime, row_id: int, **values: object) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(MailMessage)
            .where(MailMessage.id == row_id)
            .values(locked_until=None, **values)
            .execution_options(synchronize_session=False)
        )


async def _failed(
    runtime: Runtime,
    row_id: int,
    attempt: int,
    error: BaseException,
    now: datetime,
    random_unit: Callable[[], float],
) -> None:
    reason = describe(error)
    delay = MAIL(attempt, Failure(final=is_permanent(error)), random_unit)
    if delay is None:
        log.warning("mail %d failed for good: %s", row_id, reason)
        await _record(runtime, row_id, state=MailState.FAILED, attempts=attempt, last_error=reason)
    else:
        log.info("mail %d not sent (try %d), again in %s: %s", row_id, attempt, delay, reason)
        await _record(
            runtime, row_id, attempts=attempt, last_error=reason, next_attempt_at=now + delay
        )


async def run(runtime: Runtime, stop: asyncio.Event, interval: float = INTERVAL) -> None:
    """The worker of `ayni serve` and `ayni worker`; does nothing while e-mail is off."""
    if not runtime.settings.mail_enabled:
        return
    while not stop.is_set():
        try:
            sent = await run_once(runtime)
            runtime.heartbeats.beat("mail")
        except Exception:  # one broad except per cycle: log it and try again next time
            log.exception("the mail worker failed")
            sent = 0
        if sent < BATCH:
            await queue.wait_at_most(stop, interval)
