"""The queues, as tables: activities received (`incoming`), activities to fan out
(`activities`) and deliveries; and the one way every worker takes rows from them, `claim`.

Each row's state is one enum column plus `attempts`, `next_attempt_at`, `last_error`; every retry
has a ceiling (federation/retry.py).

    rows = await claim(session, Delivery, now=now, lease=timedelta(minutes=2), limit=384,
                       where=[Delivery.state == "pending"], columns=[Delivery.host], keep=...)

A claim leases due rows (`next_attempt_at` come, no lease running) in one UPDATE … RETURNING:
on PostgreSQL its SELECT is `FOR UPDATE SKIP LOCKED`, so concurrent claimers never take the
same row; SQLite has one writer at a time, the statement's own transaction. A crashed worker's
rows come due again when their lease runs out. The lease is `locked_until`; a table without
one (`activities`) is leased on `next_attempt_at` itself, moved past the lease. Each queue's
own limits are parameters: `where` leaves out what the worker cannot take now (a host at its
limit), `keep` holds the rule for the rows of one claim (so many per host), and the rows it
turns away go back at once (`release`): due now, behind the rows that were waiting.
"""

import asyncio
import contextlib
import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

T = TypeVar("T")


class IncomingState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


class Incoming(Base):
    """One activity as it arrived at an inbox, stored before it is acted on."""

    __tablename__ = "incoming"
    __table_args__ = (Index("ix_incoming_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_uri: Mapped[str] = mapped_column(String(2048), unique=True)
    activity_type: Mapped[str] = mapped_column(String(64))
    actor_uri: Mapped[str] = mapped_column(String(2048))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The local actor whose inbox received it (None for the shared inbox).
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(16), default=IncomingState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FanoutState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Activity(Base):
    """An activity we published: dereferenceable at its `uri`, and fanned out once."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_fanout_due", "fanout_state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    object_uri: Mapped[str | None] = mapped_column(String(2048), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    visibility: Mapped[str] = mapped_column(String(16))
    # Who it goes to, as data the fan-out job expands: {"followers": bool, "actors": [uri, ...]}.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    fanout_state: Mapped[str] = mapped_column(String(16), default=FanoutState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    GONE = "gone"
    REJECTED = "rejected"
    FAILED = "failed"


class Delivery(Base):
    """One activity to one inbox. Stored unsigned; signed at send time."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("activity_id", "inbox_uri"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    inbox_uri: Mapped[str] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Host(Base):
    """What we know of a remote server's health; an unavailable host is skipped until it answers."""

    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    unavailable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DomainAllow(Base):
    """In allowlist mode, only these domains (and their subdomains) may talk to us."""

    __tablename__ = "domain_allows"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DomainBlock(Base):
    """An instance-wide block: no inbox traffic, no fetches, no deliveries."""

    __tablename__ = "domain_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Message:
    """What a message to a person has as it waits, is sent, or fails: the mail and push queues'
    shared columns (pending, sent or failed; the lease; the retries)."""

    state: Mapped[str] = mapped_column(String(16), default=MailState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class MailMessage(Message, Base):
    """One e-mail message to one address, as built (`models.mail`): the worker in
    `outbox/mail.py` sends it, and retries it while the SMTP server is out of reach."""

    __tablename__ = "mail_queue"
    __table_args__ = (Index("ix_mail_queue_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Message-ID, List-Unsubscribe…: fixed when queued, so a retry is the same message.
    headers: Mapped[dict[str, str]] = mapped_column(JSON)


class PushMessage(Message, Base):
    """One Web Push message to one subscription (`models.push`): its payload before encryption,
    sent and retried by the worker in `outbox/push.py`."""

    __tablename__ = "push_queue"
    __table_args__ = (Index("ix_push_queue_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # RFC 8030 Urgency: "high" for urgent calls, else "normal".
    urgency: Mapped[str] = mapped_column(String(16), default="normal")


class Alert(Base):
    """Something to tell one member outside the site (`models.alerts`), recorded in the
    transaction that made it happen; the worker in `outbox/alerts.py` turns it into her e-mail
    and push messages, by her switches and in her language, then deletes it."""

    __tablename__ = "alert_queue"
    __table_args__ = (Index("ix_alert_queue_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), default=None
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("local_actors.id", ondelete="CASCADE"), default=None
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Queue = (
    type[Incoming]
    | type[Activity]
    | type[Delivery]
    | type[MailMessage]
    | type[PushMessage]
    | type[Alert]
)
Leased = Row[*tuple[Any, ...]]  # a claimed row: its id, the columns asked for, the order's


async def claim(
    session: AsyncSession,
    queue: Queue,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    where: Sequence[ColumnElement[bool]] = (),
    order_by: Sequence[InstrumentedAttribute[Any]] = (),
    columns: Sequence[InstrumentedAttribute[Any]] = (),
    keep: Callable[[Leased], bool] | None = None,
) -> list[Leased]:
    """Lease up to `limit` due rows matching `where`, first by `order_by` (ascending; then id),
    and return their id and `columns` in that order. `keep`, asked once per row in that order,
    may turn rows away: they are released in the same transaction, and not returned."""
    table = cast(Table, queue.__table__)
    due = (
        select(table.c.id)
        .where(*where, table.c.next_attempt_at <= now)
        .order_by(*order_by, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # SQLite leaves this out
    )
    if "locked_until" in table.c:
        due = due.where(or_(table.c.locked_until.is_(None), table.c.locked_until <= now))
        leased = table.c.locked_until
    else:
        leased = table.c.next_attempt_at
    names = ["id", *(column.key for column in columns)]
    names += [column.key for column in order_by if column.key not in names]
    claimed = await session.execute(
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values({leased: now + lease})
        .returning(*(table.c[name] for name in names))
    )
    # RETURNING keeps no order: put the rows back in the claim's (by position, which is cheaper
    # than by name: a delivery worker claims hundreds of rows at a time).
    rows = sorted(claimed, key=itemgetter(*(names.index(column.key) for column in order_by), 0))
    if keep is None:
        return rows
    kept = [row for row in rows if keep(row)]
    if len(kept) < len(rows):
        await release(session, queue, {row.id for row in rows} - {row.id for row in kept}, now)
    return kept


async def wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """A worker's pause: until `event` is set, or `seconds` have passed."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def stop_tasks(tasks: Mapping[asyncio.Task[None], T], grace: float) -> list[T]:
    """A worker's shutdown: running jobs get `grace` seconds, the rest are cancelled. Returns
    what the cancelled ones held (their leases are the caller's to give back)."""
    if tasks:
        await asyncio.wait(list(tasks), timeout=grace)
    unfinished = list(tasks.values())
    for task in list(tasks):
        task.cancel()
    if unfinished:
        await asyncio.gather(*list(tasks), return_exceptions=True)
    return unfinished


async def release(session: AsyncSession, queue: Queue, ids: Collection[int], now: datetime) -> None:
    """Give back the leases of claimed rows not worked on: due now, behind those waiting longer."""
    if not ids:
        return
    table = cast(Table, queue.__table__)
    values: dict[Any, Any] = {table.c.next_attempt_at: now}
    if "locked_until" in table.c:
        values[table.c.locked_until] = None
    await session.execute(update(table).where(table.c.id.in_(list(ids))).values(values))


# What each queue holds while it waits: the rows `depths` counts.
WAITING: dict[str, tuple[Queue, ColumnElement[bool] | None]] = {
    "incoming": (Incoming, Incoming.state == IncomingState.PENDING),
    "fanout": (Activity, Activity.fanout_state == FanoutState.PENDING),
    "deliveries": (Delivery, Delivery.state == DeliveryState.PENDING),
    "mail": (MailMessage, MailMessage.state == MailState.PENDING),
    "push": (PushMessage, PushMessage.state == MailState.PENDING),
    "alerts": (Alert, None),  # told alerts are deleted: every row waits
}


async def depths(session: AsyncSession, now: datetime) -> dict[str, tuple[int, float]]:
    """Per queue: the rows waiting, and seconds since the oldest due one came due (0 when none
    is due). Each is one query on the queue's (state, next_attempt_at) index."""
    found = {}
    for name, (table, waiting) in WAITING.items():
        where = [] if waiting is None else [waiting]
        count, oldest = (
            await session.execute(
                select(
                    func.count(),
                    func.min(table.next_attempt_at).filter(table.next_attempt_at <= now),
                ).where(*where)
            )
        ).one()
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        found[name] = (int(count), max(age, 0.0))
    return found
