"""Telling members: the worker that turns alerts (`models.alerts`) into e-mail and push
messages, by each member's switches and in her language.

An alert is claimed with a lease (`models.queue.claim`), so two workers never tell it twice; its
messages are queued and the alert deleted in one transaction, so it is told exactly once, and
the mail and push queues take it from there (retries, outages). Quiet hours hold a message back
in its queue (`not_before`), except for urgent calls.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from models import alerts, mail, push, queue
from models.actors import LocalActor
from models.base import utcnow
from models.queue import Alert
from models.runtime import Runtime

log = logging.getLogger("ayni.alerts")

LEASE = timedelta(minutes=2)
INTERVAL = 5.0  # seconds between looks at an empty queue: an urgent call is told within a minute
BATCH = 50


async def run_once(runtime: Runtime, now: datetime | None = None, limit: int = BATCH) -> int:
    """Tell the due alerts; returns how many were looked at."""
    now = now or utcnow()
    async with runtime.sessions() as session, session.begin():
        claimed = await queue.claim(session, Alert, now=now, lease=LEASE, limit=limit)
    for row in claimed:
        try:
            async with runtime.sessions() as session, session.begin():
                await tell(session, runtime, row.id, now)
        except Exception:  # one alert's failure must not stop the rest: its lease runs out
            log.exception("alert %d could not be told", row.id)
    return len(claimed)


async def tell(session: AsyncSession, runtime: Runtime, alert_id: int, now: datetime) -> None:
    alert = await session.get(Alert, alert_id)
    if alert is None:
        return
    member = await session.get(LocalActor, alert.member_id)
    switches = await alerts.settings_of(session, alert.member_id)
    message = (
        await alerts.compose(session, runtime.settings, alert, member)
        if member is not None and switches.wants(alert.kind)
        else None
    )
    if member is not None and message is not None:
        wait = None if message.urgent else switches.quiet_end(now)
        await mail.notify(
            session,
            runtime.settings,
            member,
            message.subject,
            message.paragraphs,
            lang=member.language,
            not_before=wait,
        )
        await push.enqueue(
            session,
            member.id,
            message.push,
            urgency="high" if message.urgent else "normal",
            not_before=wait,
        )
    await session.execute(delete(Alert).where(Alert.id == alert_id))


async def run(runtime: Runtime, stop: asyncio.Event, interval: float = INTERVAL) -> None:
    """The worker of `ayni serve` and `ayni worker`."""
    while not stop.is_set():
        try:
            told = await run_once(runtime)
            runtime.heartbeats.beat("alerts")
        except Exception:  # one broad except per cycle: log it and try again next time
            log.exception("the alerts worker failed")
            told = 0
        if told < BATCH:
            await queue.wait_at_most(stop, interval)
