"""The inbox worker: claim due `incoming` rows, dispatch each to its handler, record the outcome.

    processed = await run_once(runtime)      tests drive it step by step
    await run(runtime, stop)                 `ayni serve` and `ayni worker` loop until `stop` is set

Rows are claimed under a lease (`locked_until`), with `FOR UPDATE SKIP LOCKED` on PostgreSQL so
several workers share one database; on SQLite one in-process worker runs. A handler's own
"no" (Ignored) and documents that cannot be had (404, 410, refused, malformed) end as
`ignored` with the reason; anything else is retried with backoff, then `failed`.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from ayni.runtime import Runtime
from federation import vocab
from federation.errors import Gone, InvalidDocument, NotFound, Refused
from inbox.handlers import Context, Ignored, dispatch
from models.base import utcnow
from models.queue import Incoming, IncomingState
from outbox.hosts import mark_host_alive

log = logging.getLogger("ayni.inbox")

BATCH = 50
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=6)
IDLE_WAIT = 1.0
PERMANENT = (Ignored, InvalidDocument, NotFound, Gone, Refused)


@dataclass(frozen=True)
class Job:
    id: int
    document: dict[str, Any]
    recipient_id: int | None
    attempts: int


def retry_delay(attempts: int) -> timedelta:
    """30 s, 2 min, 8 min ... capped at 6 h: about a day and a half over MAX_ATTEMPTS."""
    delay: timedelta = FIRST_RETRY * 4 ** max(attempts - 1, 0)
    return min(delay, LAST_RETRY)


async def claim(runtime: Runtime, limit: int = BATCH) -> list[Job]:
    now = utcnow()
    query = (
        select(Incoming.id, Incoming.document, Incoming.recipient_id, Incoming.attempts)
        .where(
            Incoming.state == IncomingState.PENDING,
            Incoming.next_attempt_at <= now,
            or_(Incoming.locked_until.is_(None), Incoming.locked_until <= now),
        )
        .order_by(Incoming.id)
        .limit(limit)
    )
    if not runtime.settings.is_sqlite:
        query = query.with_for_update(skip_locked=True)
    async with runtime.sessions() as session, session.begin():
        rows = (await session.execute(query)).all()
        if rows:
            await session.execute(
                update(Incoming).where(Incoming.id.in_([r.id for r in rows])).values(locked_until=now + LEASE)
            )
            # A server that sends us something is up again: deliveries to it resume now.
            for host in {vocab.host_of(vocab.id_of(r.document.get("actor"))) for r in rows} - {None}:
                await mark_host_alive(session, str(host), now)
    return [Job(r.id, r.document, r.recipient_id, r.attempts) for r in rows]


async def process(runtime: Runtime, job: Job) -> str:
    attempts = job.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "locked_until": None, "last_error": None}
    try:
        await dispatch(Context(runtime, job.recipient_id), job.document)
        values["state"] = IncomingState.DONE
    except PERMANENT as error:
        values["state"] = IncomingState.IGNORED
        values["last_error"] = _reason(error)
    except Exception as error:  # noqa: BLE001  the one broad except: whatever went wrong is kept on the row
        values["last_error"] = _reason(error)
        if attempts >= MAX_ATTEMPTS:
            values["state"] = IncomingState.FAILED
            log.warning("inbox: activity %s failed for good: %s", job.id, values["last_error"])
        else:
            values["next_attempt_at"] = utcnow() + retry_delay(attempts)
            log.info("inbox: activity %s will be retried: %s", job.id, values["last_error"])
    async with runtime.sessions() as session, session.begin():
        await session.execute(update(Incoming).where(Incoming.id == job.id).values(**values))
    return str(values.get("state", IncomingState.PENDING))


def _reason(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, Ignored):
        return text
    return f"{type(error).__name__}: {text}"[:2000]


async def run_once(runtime: Runtime, limit: int = BATCH) -> int:
    """Claim and process one batch of due rows; how many were processed."""
    jobs = await claim(runtime, limit)
    for job in jobs:
        await process(runtime, job)
    return len(jobs)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            processed = await run_once(runtime)
        except Exception as error:  # noqa: BLE001  the database went away: wait, then try again
            log.warning("inbox worker: %s", error)
            processed = 0
        if processed == 0:
            try:
                await asyncio.wait_for(stop.wait(), IDLE_WAIT)
            except TimeoutError:
                pass
