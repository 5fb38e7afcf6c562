"""What `ayni queue status` shows and what `ayni queue retry HOST` does."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.queue import Activity, Delivery, DeliveryState, Host, MailMessage, PushMessage


@dataclass(frozen=True)
class Waiting:
    """A host's pending deliveries: the oldest one's due time, how many, the most attempts any
    has had, and the error of its latest failed attempt (status and reason) if any."""

    host: str
    due: datetime
    pending: int
    attempts: int
    last_error: str

    def line(self) -> str:
        due = self.due.isoformat(timespec="seconds")
        error = f"  last error: {self.last_error}" if self.last_error else ""
        return f"  {self.host}  due {due}  {self.pending} pending  {self.attempts} attempts{error}"


@dataclass(frozen=True)
class QueueStatus:
    fanout: dict[str, int]
    deliveries: dict[str, int]
    oldest_due: list[Waiting]
    unavailable: list[str]
    mail: dict[str, int]
    mail_failed: list[tuple[int, str, str]]  # the latest failed messages: id, to, reason
    push: dict[str, int]
    push_failed: list[tuple[int, str]]  # the latest failed push messages: id, reason

    def lines(self) -> list[str]:
        out = [
            "fan-out jobs: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.fanout.items())) or "none")
        ]
        out.append(
            "deliveries: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.deliveries.items())) or "none")
        )
        if self.oldest_due:
            out.append("pending by host (oldest due first):")
            out += [w.line() for w in self.oldest_due]
        if self.unavailable:
            out.append("unavailable hosts: " + ", ".join(self.unavailable))
        out.append(
            "mail: " + (", ".join(f"{k} {v}" for k, v in sorted(self.mail.items())) or "none")
        )
        out += [f"  failed mail {i} to {to}: {reason}" for i, to, reason in self.mail_failed]
        out.append(
            "push: " + (", ".join(f"{k} {v}" for k, v in sorted(self.push.items())) or "none")
        )
        # Not the endpoint: whoever holds it can send to that browser.
        out += [f"  failed push {i}: {reason}" for i, reason in self.push_failed]
        return out


async def queue_status(session: AsyncSession, limit: int = 50) -> QueueStatus:
    fanout = {
        k: n
        for k, n in await session.execute(
            select(Activity.fanout_state, func.count()).group_by(Activity.fanout_state)
        )
    }
    deliveries = {
        k: n
        for k, n in await session.execute(
            select(Delivery.state, func.count()).group_by(Delivery.state)
        )
    }
    oldest = func.min(Delivery.next_attempt_at)
    rows = list(
        await session.execute(
            select(Delivery.host, oldest, func.count(), func.max(Delivery.attempts))
            .where(Delivery.state == DeliveryState.PENDING)
            .group_by(Delivery.host)
            .order_by(oldest)
            .limit(limit)
        )
    )
    errors = await last_errors(session, [host for host, *_ in rows])
    unavailable = await session.scalars(
        select(Host.host).where(Host.unavailable_since.is_not(None)).order_by(Host.host)
    )
    mail = {
        str(k): n
        for k, n in await session.execute(
            select(MailMessage.state, func.count()).group_by(MailMessage.state)
        )
    }
    failed = await session.execute(
        select(MailMessage.id, MailMessage.to, MailMessage.last_error)
        .where(MailMessage.state == "failed")
        .order_by(MailMessage.id.desc())
        .limit(10)
    )
    push = {
        str(k): n
        for k, n in await session.execute(
            select(PushMessage.state, func.count()).group_by(PushMessage.state)
        )
    }
    push_failed = await session.execute(
        select(PushMessage.id, PushMessage.last_error)
        .where(PushMessage.state == "failed")
        .order_by(PushMessage.id.desc())
        .limit(10)
    )
    return QueueStatus(
        {str(k): v for k, v in fanout.items()},
        {str(k): v for k, v in deliveries.items()},
        [Waiting(host, due, n, attempts, errors.get(host, "")) for host, due, n, attempts in rows],
        list(unavailable),
        mail,
        [(i, to, reason or "") for i, to, reason in failed],
        push,
        [(i, reason or "") for i, reason in push_failed],
    )


async def last_errors(session: AsyncSession, hosts: list[str]) -> dict[str, str]:
    """Per host, the error of its pending delivery tried most (the latest of those), as
    "status: reason"."""
    if not hosts:
        return {}
    ranked = (
        select(
            Delivery.host,
            Delivery.last_status,
            Delivery.last_error,
            func.row_number()
            .over(
                partition_by=Delivery.host,
                order_by=(Delivery.attempts.desc(), Delivery.id.desc()),
            )
            .label("rank"),
        )
        .where(
            Delivery.state == DeliveryState.PENDING,
            Delivery.host.in_(hosts),
            or_(Delivery.last_error.is_not(None), Delivery.last_status.is_not(None)),
        )
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.host, ranked.c.last_status, ranked.c.last_error).where(ranked.c.rank == 1)
    )
    return {
        host: ": ".join(str(part) for part in (status, error) if part is not None)
        for host, status, error in rows
    }


async def retry_host(session: AsyncSession, host: str, now: datetime | None = None) -> int:
    """Make the host's pending deliveries due now and forget that it was failing."""
    now = now or utcnow()
    result = await session.execute(
        update(Delivery)
        .where(Delivery.host == host, Delivery.state == DeliveryState.PENDING)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Host)
        .where(Host.host == host)
        .values(consecutive_failures=0, first_failure_at=None, unavailable_since=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
