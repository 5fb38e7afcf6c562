"""The periodic job of items: it closes those past their end, sends asks and offers still open
after their overflow delay to the group's allies, and for calls takes the escalation steps that
are due, publishes counts that had to wait, and sends meeting-point links whose time has come.
It also maps the categories of other servers' items to shared concepts (models.taxonomy), the
one step that fetches, so it runs outside the tasks' transactions."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import alerts, commitments, escalation, overflow, retention, taxonomy
from models.base import utcnow
from models.posting import expire_due
from models.runtime import Runtime

log = logging.getLogger("ayni.items")

INTERVAL = 60.0  # seconds; an item's end is a date, a minute late is on time

Task = Callable[[AsyncSession, Runtime, datetime], Awaitable[int]]


async def _forget(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    return len(await retention.forget_due(session, runtime, now))


async def _digests(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    return await alerts.digests_due(session, runtime.settings, now)


async def _expire(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    return await expire_due(session, runtime.uris, now)


# Each in its own transaction, in this order: a call that ended is closed before its ladder runs.
TASKS: dict[str, Task] = {
    "expired": _expire,
    "escalated": escalation.escalate_due,
    "overflowed to allies": overflow.due,
    "counts published": commitments.counts_due,
    "links revealed": commitments.reveal_due,
    "forgotten (retention)": _forget,
    "digests sent": _digests,
}


async def run_once(runtime: Runtime, now: datetime | None = None) -> int:
    """One round: how many items expired. A task that fails is logged and rolled back; the
    others still run."""
    now = now or utcnow()
    done: dict[str, int] = {}
    for name, task in TASKS.items():
        try:
            async with runtime.sessions() as session, session.begin():
                done[name] = await task(session, runtime, now)
        except Exception:  # one task's failure must not stop the others: logged, retried next time
            log.exception("the periodic job failed at: %s", name)
    try:
        done["categories mapped"] = await taxonomy.map_due(runtime, now)
    except Exception:  # as a task's: logged, retried next time
        log.exception("the periodic job failed at: mapping categories")
    for name, count in done.items():
        if count and name != "expired":
            log.info("%d %s", count, name)
    return done.get("expired", 0)


async def run(runtime: Runtime, stop: asyncio.Event, interval: float = INTERVAL) -> None:
    while not stop.is_set():
        try:
            expired = await run_once(runtime)
            runtime.heartbeats.beat("expiry")
            if expired:
                log.info("%d items expired", expired)
        except Exception:  # one broad except per cycle: log it and try again next time
            log.exception("expiring items failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
