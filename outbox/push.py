"""Sending Web Push: the worker that empties the push queue (`models.queue.PushMessage`).

A message is claimed with a lease (`models.queue.claim`), so two workers never send it both. At
send time, outside any transaction, it is encrypted to its subscription's keys (RFC 8291,
aes128gcm, by http_ece), signed with the instance's VAPID key (RFC 8292, by py_vapid), and
POSTed through the deliveries' `Sender`: the same SSRF guard (every address of the push
service's host checked, the socket opened to a checked one), caps and 30 s deadline. Then the
outcome is recorded (`decide`):

    2xx                         sent
    404, 410                    the subscription is gone: dropped, with what was queued for it
    refused by our own guard    failed (a private address, a URL we will never POST to)
    anything else               as `PUSH` says: again later (401, 408, 429, 5xx, no answer;
                                Retry-After honoured), failed at once (other 4xx: 403 a key
                                that does not match, 413 too large…), failed after the last try

A notification is worth little late, so `PUSH` gives up within about two hours.
"""

import asyncio
import base64
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from federation import retry
from federation.errors import FetchError, Refused
from federation.retry import Failure, RetryPolicy
from federation.sender import Sender, Target
from models import push, queue, transactions
from models.base import utcnow
from models.push import PushSubscription
from models.queue import MailState, PushMessage
from models.runtime import Runtime
from models.settings import Settings
from outbox.deliver import Outcome
from outbox.worker import sender as new_sender

if TYPE_CHECKING:
    from py_vapid import Vapid02

log = logging.getLogger("ayni.push")

PUSH = RetryPolicy(
    first=timedelta(seconds=30),
    factor=2,
    ceiling=timedelta(minutes=30),
    attempts=8,
    jitter=0.25,
    retry_after_cap=timedelta(hours=1),
)
LEASE = timedelta(minutes=2)  # past the Sender's 30 s deadline, with room
INTERVAL = 5.0  # seconds between looks at an empty queue
BATCH = 50
AT_ONCE = 16  # sends in flight
TTL = 24 * 3600  # seconds a push service keeps a message for a browser that is away
VAPID_FOR = timedelta(hours=12)  # a VAPID token's life (RFC 8292: at most 24 hours)


@dataclass(frozen=True)
class Claimed:
    id: int
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str
    payload: dict[str, Any]
    urgency: str
    attempts: int


@dataclass(frozen=True)
class Signer:
    """The instance's VAPID key, parsed once per pass, and the contact it names (`sub`)."""

    vapid: "Vapid02"
    subject: str

    @classmethod
    def of(cls, pem: str, settings: Settings) -> "Signer":
        from py_vapid import Vapid02  # loaded by the first message to send, like pywebpush

        key = serialization.load_pem_private_key(pem.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        # Our own subject, so py_vapid's check (a mailto: or an https origin) is not needed.
        return cls(Vapid02(key, conf={"no-strict": True}), subject(settings))

    def authorization(self, target: Target, now: datetime) -> str:
        claims = {
            "aud": f"{target.scheme}://{target.authority}",
            "exp": int((now + VAPID_FOR).timestamp()),
            "sub": self.subject,
        }
        value: str = self.vapid.sign(claims)["Authorization"]
        return value


def subject(settings: Settings) -> str:
    """Whom a push service may contact about our messages: the From address, else the site."""
    _, address = parseaddr(settings.mail_from)
    return f"mailto:{address}" if "@" in address else settings.base_url


def encrypt(message: Claimed) -> bytes:
    """The payload's JSON, encrypted to the browser's keys (RFC 8291, aes128gcm) with a key
    made for this message alone."""
    import http_ece  # loaded by the first message to send

    return http_ece.encrypt(  # type: ignore[no-any-return]
        push.encoded(message.payload),
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=_unpadded_b64(message.p256dh),
        auth_secret=_unpadded_b64(message.auth),
        version="aes128gcm",
    )


def _unpadded_b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def send(sender: Sender, message: Claimed, signer: Signer, now: datetime) -> Outcome:
    """POST one message through the Sender; every answer, refusal or failure is an Outcome."""
    transactions.outside_transaction("a push message")
    try:
        target = Target.of(message.endpoint)
        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Encoding", "aes128gcm"),
            ("TTL", str(TTL)),
            ("Urgency", message.urgency),
            ("Authorization", signer.authorization(target, now)),
        ]
        answer = await sender.post(target, encrypt(message), headers)
    except Refused as e:
        return Outcome(None, error=f"refused: {e}", refused=True)
    except FetchError as e:
        return Outcome(e.status, error=f"{type(e).__name__}: {e}")
    except Exception as e:  # one broad except per message: logged, and recorded on its row
        log.exception("push message %d could not be sent", message.id)
        return Outcome(None, error=f"{type(e).__name__}: {e}")
    error = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    return Outcome(answer.status, answer.retry_after, error)


def decide(
    outcome: Outcome, attempts: int, now: datetime, random_unit: Callable[[], float] = random.random
) -> tuple[str, datetime]:
    """A message's state after its `attempts`-th try ("sent", "gone", "pending", "failed") and
    when it is next due (see the module's docstring)."""
    status = outcome.status
    if status is not None and not outcome.refused:
        if 200 <= status < 300:
            return MailState.SENT, now
        if status in (404, 410):
            return "gone", now
    failure = Failure(
        status, retry.parse_retry_after(outcome.retry_after, now), final=outcome.refused
    )
    delay = PUSH(attempts, failure, random_unit)
    if delay is None:
        return MailState.FAILED, now
    return MailState.PENDING, now + delay


async def claim(runtime: Runtime, now: datetime, limit: int) -> tuple[list[Claimed], str]:
    """Lease up to `limit` due messages; with them, the VAPID key (made on first use)."""
    async with runtime.sessions() as session, session.begin():
        leased = await queue.claim(
            session,
            PushMessage,
            now=now,
            lease=LEASE,
            limit=limit,
            where=[PushMessage.state == MailState.PENDING],
            order_by=[PushMessage.next_attempt_at],
        )
        if not leased:
            return [], ""
        rows = await session.execute(
            select(PushMessage, PushSubscription)
            .join(PushSubscription, PushSubscription.id == PushMessage.subscription_id)
            .where(PushMessage.id.in_([row.id for row in leased]))
            .order_by(PushMessage.next_attempt_at, PushMessage.id)
        )
        claimed = [
            Claimed(m.id, s.id, s.endpoint, s.p256dh, s.auth, m.payload, m.urgency, m.attempts)
            for m, s in rows
        ]
        return claimed, await push.private_key(session)


async def run_once(
    runtime: Runtime,
    now: datetime | None = None,
    limit: int = BATCH,
    random_unit: Callable[[], float] = random.random,
    sender: Sender | None = None,
) -> int:
    """Claim the due messages, send them, record each outcome. Returns how many were sent.
    Without a `sender` (tests, one pass) one is opened for the pass."""
    now = now or utcnow()
    claimed, pem = await claim(runtime, now, limit)
    if not claimed:
        return 0
    signer = Signer.of(pem, runtime.settings)
    slots = asyncio.Semaphore(AT_ONCE)

    async def one(message: Claimed, posts: Sender) -> bool:
        async with slots:
            outcome = await send(posts, message, signer, now)
        state = await _record(runtime, message, outcome, now, random_unit)
        return state == MailState.SENT

    if sender is not None:
        sent = await asyncio.gather(*(one(message, sender) for message in claimed))
    else:
        async with new_sender(runtime) as posts:
            sent = await asyncio.gather(*(one(message, posts) for message in claimed))
    return sum(sent)


async def _record(
    runtime: Runtime,
    message: Claimed,
    outcome: Outcome,
    now: datetime,
    random_unit: Callable[[], float],
) -> str:
    attempts = message.attempts + 1
    state, due = decide(outcome, attempts, now, random_unit)
    async with runtime.sessions() as session, session.begin():
        if state == "gone":
            log.info("push subscription %d is gone: dropped", message.subscription_id)
            await push.drop(session, message.subscription_id)
            return state
        if state != MailState.SENT:
            log.info("push message %d not sent (try %d): %s", message.id, attempts, outcome.error)
        await session.execute(
            update(PushMessage)
            .where(PushMessage.id == message.id)
            .values(
                state=state,
                attempts=attempts,
                locked_until=None,
                next_attempt_at=due,
                last_error=outcome.error,
                sent_at=utcnow() if state == MailState.SENT else None,
            )
            .execution_options(synchronize_session=False)
        )
    return state


async def run(runtime: Runtime, stop: asyncio.Event, interval: float = INTERVAL) -> None:
    """The worker of `ayni serve` and `ayni worker`."""
    async with new_sender(runtime) as posts:
        while not stop.is_set():
            try:
                sent = await run_once(runtime, sender=posts)
                runtime.heartbeats.beat("push")
            except Exception:  # one broad except per cycle: log it and try again next time
                log.exception("the push worker failed")
                sent = 0
            if sent < BATCH:
                await queue.wait_at_most(stop, interval)
