"""The fan-out job: one activity row -> one delivery row per inbox, inserted in batches.

Unknown recipients are fetched first, with no transaction open (the network may take 30 s);
everything else happens in one transaction, so a crash leaves the job pending and no
half-expanded set of rows behind (deliveries are unique per inbox anyway). Jobs are taken by
the one claim of every queue (models.queue.claim), leased on `next_attempt_at` (the table has
no `locked_until`). A job that fails, however it fails, is counted by `fail`: retried as
`retry.DELIVERY` says, `failed` after its last try, its last error kept.
"""

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation import retry, vocab
from federation.errors import FederationError
from federation.retry import Failure
from models import hosts, policy, queue
from models.follows import Direction, Follow, FollowState
from models.queue import Activity, Delivery, FanoutState
from models.remote import RemoteActor
from outbox import fanout
from outbox.fanout import Recipient

log = logging.getLogger("ayni.outbox")

INSERT_BATCH = 1000
# Time for a batch of jobs, each looking up its unknown recipients (30 s each at most). A job
# still running when its lease ends may be claimed again; `expand` then finds it locked or done.
LEASE = timedelta(minutes=5)
Fetch = Callable[[str], Awaitable[dict[str, Any]]]


async def follower_recipients(session: AsyncSession, actor_id: int) -> list[Recipient]:
    rows = await session.execute(
        select(RemoteActor.uri, RemoteActor.inbox_uri, RemoteActor.shared_inbox_uri)
        .join(Follow, Follow.remote_actor_id == RemoteActor.id)
        .where(
            Follow.local_actor_id == actor_id,
            Follow.direction == Direction.INBOUND,
            Follow.state == FollowState.ACCEPTED,
            RemoteActor.gone.is_(False),
        )
    )
    return [Recipient(uri, inbox, shared) for uri, inbox, shared in rows]


async def named_recipients(
    sessions: async_sessionmaker[AsyncSession], uris: list[str], fetch: Fetch
) -> list[Recipient]:
    """Known actors from the cache; the rest fetched once the cache's session is closed."""
    async with sessions() as session:
        known = {
            row.uri: Recipient(row.uri, row.inbox_uri, row.shared_inbox_uri)
            for row in await session.execute(
                select(RemoteActor.uri, RemoteActor.inbox_uri, RemoteActor.shared_inbox_uri).where(
                    RemoteActor.uri.in_(uris), RemoteActor.inbox_uri != ""
                )
            )
        }
    found = [known[uri] for uri in uris if uri in known]
    for uri in uris:
        if uri not in known:
            document = await fetch(uri)
            inbox = vocab.id_of(document.get("inbox"))
            endpoints = document.get("endpoints")
            shared = (
                vocab.id_of(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
            )
            if inbox:
                found.append(Recipient(uri, inbox, shared))
    return found


async def expand(
    sessions: async_sessionmaker[AsyncSession],
    activity_id: int,
    *,
    own_host: str,
    fetch: Fetch,
    now: datetime,
    random_unit: Callable[[], float] = random.random,
) -> int:
    """Expand one pending activity; returns how many delivery rows it made. A recipient that
    cannot be had (a server down, refusing, answering nonsense) counts as a failed attempt."""
    async with sessions() as session:
        row = await session.get(Activity, activity_id)
        if row is None or row.fanout_state != FanoutState.PENDING:
            return 0
        audience = row.audience or {}
    try:
        named = await named_recipients(sessions, list(audience.get("actors") or []), fetch)
    except FederationError as e:
        error = f"resolving recipients: {type(e).__name__}: {e}"
        log.info("fan-out of activity %s: %s", activity_id, error)
        await fail(sessions, activity_id, error, now=now, random_unit=random_unit)
        return 0
    async with sessions() as session, session.begin():
        # Claimed under a lease; this lock covers the job whose lease ran out mid-way.
        row = await session.scalar(
            select(Activity)
            .where(Activity.id == activity_id, Activity.fanout_state == FanoutState.PENDING)
            .with_for_update(skip_locked=True)
        )
        if row is None:
            return 0  # another worker has it, or has done it
        recipients = named
        if audience.get("followers"):
            recipients = [*named, *await follower_recipients(session, row.actor_id)]
        for actor_id in audience.get("followers_of") or []:
            recipients = [*recipients, *await follower_recipients(session, int(actor_id))]
        # Inboxes named as they are: fan_out still drops blocked and unavailable hosts.
        recipients += [Recipient(inbox, inbox) for inbox in audience.get("inboxes") or []]
        rules = await policy.load_rules(session)
        targets = fanout.fan_out(
            row.type,
            recipients,
            own_host=own_host,
            blocked_domains=rules.blocked,
            allowed_domains=rules.allowed,
            unavailable_hosts=await hosts.unavailable_hosts(session),
        )
        values = [
            {
                "activity_id": row.id,
                "inbox_uri": t.inbox_uri,
                "host": t.host,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for t in targets
        ]
        for start in range(0, len(values), INSERT_BATCH):
            await session.execute(insert(Delivery), values[start : start + INSERT_BATCH])
        row.fanout_state = FanoutState.DONE
        row.attempts += 1
    log.info("activity %s fanned out to %d inboxes", activity_id, len(values))
    return len(values)


async def fail(
    sessions: async_sessionmaker[AsyncSession],
    activity_id: int,
    error: str,
    *,
    now: datetime,
    random_unit: Callable[[], float] = random.random,
) -> None:
    """Count one failed attempt and keep its error: retried as `retry.DELIVERY` says, `failed`
    for good after its last try. A job done or failed meanwhile is left as it is."""
    async with sessions() as session, session.begin():
        row = await session.get(Activity, activity_id, with_for_update=True)
        if row is None or row.fanout_state != FanoutState.PENDING:
            return
        row.attempts += 1
        row.last_error = error[:2000]
        delay = retry.DELIVERY(row.attempts, Failure(), random_unit)
        if delay is None:
            row.fanout_state = FanoutState.FAILED
            log.warning("fan-out of activity %s failed for good: %s", activity_id, row.last_error)
        else:
            row.next_attempt_at = now + delay


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    limit: int = 20,
    lease: timedelta = LEASE,
) -> list[int]:
    """Lease up to `limit` due jobs, oldest first; their ids."""
    async with sessions() as session, session.begin():
        rows = await queue.claim(
            session,
            Activity,
            now=now,
            lease=lease,
            limit=limit,
            where=[Activity.fanout_state == FanoutState.PENDING],
        )
    return [row.id for row in rows]
