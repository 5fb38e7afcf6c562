"""Remote hosts' health as the delivery worker sees it; the inbox reports a host alive too.

A host is `unavailable` once it has failed for UNAVAILABLE_AFTER without a single success;
fan-out then skips it until it answers or sends us anything.
"""

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import upsert, utcnow
from models.queue import Delivery, DeliveryState, Host

UNAVAILABLE_AFTER = timedelta(hours=24)
UNAVAILABLE_MIN_FAILURES = 5


def host_unavailable(
    consecutive_failures: int, first_failure_at: datetime | None, now: datetime
) -> bool:
    return (
        first_failure_at is not None
        and consecutive_failures >= UNAVAILABLE_MIN_FAILURES
        and now - first_failure_at >= UNAVAILABLE_AFTER
    )


async def mark_host_alive(session: AsyncSession, host: str, now: datetime | None = None) -> None:
    """The host answered us or sent us something: forget its failures, and if it had been
    given up on, make its waiting deliveries due now. Cheap when the host was healthy."""
    now = now or utcnow()
    revived = await session.scalar(
        update(Host)
        .where(Host.host == host, Host.consecutive_failures > 0)
        .values(
            consecutive_failures=0,
            first_failure_at=None,
            unavailable_since=None,
            last_success_at=now,
        )
        .returning(Host.id)
    )
    if revived is not None:
        await session.execute(
            update(Delivery)
            .where(
                Delivery.host == host,
                Delivery.state == DeliveryState.PENDING,
                Delivery.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )


async def record_failures(
    session: AsyncSession, failures: dict[str, datetime], now: datetime
) -> None:
    """`failures`: host -> when it failed. Marks hosts unavailable per host_unavailable."""
    if not failures:
        return
    # Insert the hosts we have not met (another worker may insert the same one at the same
    # moment), then count under a row lock, so that two workers' failures are both counted.
    for host in failures:
        await upsert(session, Host, {"host": host, "consecutive_failures": 0}, key="host")
    query = (
        select(Host).where(Host.host.in_(list(failures))).execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = {row.host: row for row in await session.scalars(query)}
    for host, moment in failures.items():
        row = rows[host]
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
        row.first_failure_at = row.first_failure_at or moment
        if row.unavailable_since is None and host_unavailable(
            row.consecutive_failures, row.first_failure_at, now
        ):
            row.unavailable_since = now


async def unavailable_hosts(session: AsyncSession) -> set[str]:
    return set(await session.scalars(select(Host.host).where(Host.unavailable_since.is_not(None))))
