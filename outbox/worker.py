"""The delivery worker: fan-out jobs, then deliveries claimed under a lease and sent.

    worker = DeliveryWorker(runtime)          # now=, limits= injectable for tests
    await worker.run_once()                   # one pass: expand jobs, send what is due, record
    await run(runtime, stop)                  # the loop `ayni serve` / `ayni worker` run

Claims: the one claim of every queue (models.queue.claim) leases a batch of due rows, so several
workers never take the same row, and a worker that dies leaves its rows to come due again when
the lease runs out. Results are written in batches, retries as `retry.DELIVERY` says. Sending
is bounded in total and per host, and a host already at its limit is left out of the next
claim, so a server that never answers ties up a few slots, never the queue. On shutdown,
what is still in flight after a grace period is cancelled and its lease released.
"""

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation import retry, vocab
from federation.keys import SigningKey
from federation.retry import Failure
from federation.sender import Sender
from models import hosts, queue
from models.actors import LocalActor
from models.base import utcnow
from models.follows import Direction, Follow
from models.queue import Activity, Delivery, DeliveryState, Host
from models.remote import RemoteActor
from models.runtime import Runtime
from outbox import jobs
from outbox.deliver import Outcome, Payload, deliver

log = logging.getLogger("ayni.outbox")

# Core executemany, not the ORM's bulk update by primary key: a third of the cost per row.
_DELIVERIES = cast(Table, Delivery.__table__)
_RECORD = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("row_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "state",
                "attempts",
                "locked_until",
                "next_attempt_at",
                "last_status",
                "last_error",
            )
        }
    )
)


def decide(
    outcome: Outcome, attempts: int, now: datetime, random_unit: Callable[[], float] = random.random
) -> tuple[DeliveryState, datetime]:
    """A delivery's state after its `attempts`-th try, and when it is next due:

    2xx                         sent
    404, 410                    gone (410 on a follower's inbox also ends the follow)
    refused by our own guard    rejected
    anything else               as retry.DELIVERY says: pending until the next try (401,
                                408, 429, 5xx, no answer; Retry-After honoured), rejected
                                at once (other 4xx), failed after the last try
    """
    status = outcome.status
    if status is not None and not outcome.refused:
        if 200 <= status < 300:
            return DeliveryState.SENT, now
        if status in (404, 410):
            return DeliveryState.GONE, now
    failure = Failure(
        status, retry.parse_retry_after(outcome.retry_after, now), final=outcome.refused
    )
    delay = retry.DELIVERY(attempts, failure, random_unit)
    if delay is not None:
        return DeliveryState.PENDING, now + delay
    return (DeliveryState.REJECTED if failure.permanent else DeliveryState.FAILED), now


def _record_sent(ids: list[int], status: int | None, now: datetime) -> Update:
    """The common result, written for a whole batch at once: sent, with this status."""
    return (
        update(_DELIVERIES)
        .where(_DELIVERIES.c.id.in_(ids))
        .values(
            state=DeliveryState.SENT,
            attempts=_DELIVERIES.c.attempts + 1,
            locked_until=None,
            next_attempt_at=now,
            last_status=status,
            last_error=None,
        )
    )


# A delivery attempt's outcome, as `ayni_deliveries_total{outcome}` counts it: the row's state
# after it, a pending row being one to retry.
OUTCOMES = {
    DeliveryState.SENT: "sent",
    DeliveryState.PENDING: "retry",
    DeliveryState.GONE: "gone",
    DeliveryState.REJECTED: "rejected",
    DeliveryState.FAILED: "failed",
}


@dataclass(frozen=True)
class Limits:
    total: int = 128  # sends at once
    per_host: int = 4
    # Rows held at once, sending or waiting for a slot. run() claims again once half of them
    # are done, so each claim, record and fan-out check (about a millisecond each) is shared by
    # about a hundred deliveries. At most 3 x total: a row behind others that all wait out the
    # 30 s deadline starts within 90 s, inside its lease.
    window: int = 384
    lease: timedelta = timedelta(minutes=2)  # > the client's 30 s deadline, with room
    idle_poll: float = 1.0  # also how often a busy worker looks for new fan-out jobs
    grace: float = 10.0


@dataclass(frozen=True)
class Claimed:
    id: int
    activity_id: int
    inbox_uri: str
    host: str
    attempts: int


@dataclass
class DeliveryWorker:
    runtime: Runtime
    now: Callable[[], datetime] = utcnow
    limits: Limits = field(default_factory=Limits)
    random_unit: Callable[[], float] = random.random
    # What POSTs: run()'s Sender; when None, run_once() opens one for its pass (tests, the CLI).
    # Either goes through the runtime's connector: the network, or in tests in-process apps.
    sender: Sender | None = None
    _payloads: dict[int, tuple[Payload, SigningKey]] = field(default_factory=dict)
    _busy: Counter[str] = field(default_factory=Counter)
    _tasks: dict[asyncio.Task[None], Claimed] = field(default_factory=dict)
    _results: list[tuple[Claimed, Outcome]] = field(default_factory=list)
    _room: asyncio.Event = field(default_factory=asyncio.Event)

    async def fan_out_due(self) -> int:
        made = 0
        for activity_id in await jobs.claim(self.runtime.sessions, self.now()):
            started = time.perf_counter()
            try:
                made += await jobs.expand(
                    self.runtime.sessions,
                    activity_id,
                    own_host=self.runtime.settings.host,
                    fetch=self.runtime.fetch,
                    now=self.now(),
                    random_unit=self.random_unit,
                )
                self.runtime.metrics.fanned_out(time.perf_counter() - started)
            except Exception as e:  # one broad except per job: counted and recorded on the row
                log.exception("fan-out of activity %s failed", activity_id)
                await jobs.fail(
                    self.runtime.sessions,
                    activity_id,
                    f"{type(e).__name__}: {e}",
                    now=self.now(),
                    random_unit=self.random_unit,
                )
        return made

    async def claim(self, limit: int) -> list[Claimed]:
        saturated = [host for host, n in self._busy.items() if n >= self.limits.per_host]
        where = [Delivery.state == DeliveryState.PENDING]
        if saturated:
            where.append(Delivery.host.not_in(saturated))
        # Never hold more of a host's rows than it has free slots: rows queued behind a slow
        # host could outlive their lease and be sent twice by another worker.
        taken = Counter(self._busy)

        def keep(row: queue.Leased) -> bool:
            if taken[row.host] >= self.limits.per_host:
                return False
            taken[row.host] += 1
            return True

        async with self.runtime.sessions() as session, session.begin():
            rows = await queue.claim(
                session,
                Delivery,
                now=self.now(),
                lease=self.limits.lease,
                limit=limit,
                where=where,
                order_by=[Delivery.next_attempt_at],
                keep=keep,
                columns=[
                    Delivery.activity_id,
                    Delivery.inbox_uri,
                    Delivery.host,
                    Delivery.attempts,
                ],
            )
        # By position, not by name: a claim is hundreds of rows.
        return [
            Claimed(row_id, activity_id, inbox, host, attempts)
            for row_id, activity_id, inbox, host, attempts, _ in rows
        ]

    async def _prepare(self, activity_ids: set[int]) -> None:
        """Serialise, digest and find the signing key once per activity."""
        missing = activity_ids - self._payloads.keys()
        if not missing:
            return
        if len(self._payloads) > 1000:
            self._payloads.clear()
        async with self.runtime.sessions() as session:
            rows = await session.execute(
                select(Activity.id, Activity.document, LocalActor)
                .join(LocalActor, LocalActor.id == Activity.actor_id)
                .where(Activity.id.in_(missing))
            )
            for activity_id, document, actor in rows:
                signer = self.runtime.signer(actor, speaker=vocab.id_of(document.get("actor")))
                self._payloads[activity_id] = (Payload.of(document), signer.key)

    async def _send(self, item: Claimed, total: asyncio.Semaphore) -> None:
        async with total:  # a host's own limit was kept by claim(): it never takes more
            payload, key = self._payloads[item.activity_id]
            try:
                assert self.sender is not None, "run() and run_once() give the worker a Sender"
                outcome = await deliver(
                    self.sender, item.inbox_uri, payload, key, self.runtime.schemes
                )
            except Exception as e:  # one broad except per job: a bug must not lose the row
                log.exception("delivery %s to %s failed", item.id, item.inbox_uri)
                outcome = Outcome(None, error=f"{type(e).__name__}: {e}")
        self._results.append((item, outcome))

    def start(self, claimed: list[Claimed], total: asyncio.Semaphore) -> None:
        for item in claimed:
            if item.activity_id not in self._payloads:  # its activity was deleted meanwhile
                self._results.append((item, Outcome(None, error="activity deleted", refused=True)))
                continue
            self._busy[item.host] += 1
            task = asyncio.create_task(self._send(item, total))
            self._tasks[task] = item
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        item = self._tasks.pop(task)
        if len(self._tasks) <= self.limits.window // 2:
            self._room.set()  # run() may claim a batch again
        self._busy[item.host] -= 1
        if self._busy[item.host] <= 0:
            del self._busy[item.host]

    async def record(self) -> int:
        """Write the results gathered so far, in one transaction."""
        results, self._results = self._results, []
        if not results:
            return 0
        now = self.now()
        changes, failures, alive, gone_inboxes = [], {}, set(), []
        sent: dict[int | None, list[int]] = {}  # by status: one UPDATE for all, not one per row
        for item, outcome in results:
            attempts = item.attempts + 1
            state, due = decide(outcome, attempts, now, self.random_unit)
            self.runtime.metrics.delivered(OUTCOMES[state])
            if state is DeliveryState.SENT and outcome.error is None:
                sent.setdefault(outcome.status, []).append(item.id)
            else:
                if state is not DeliveryState.SENT:
                    log.warning(
                        "delivery to %s failed: host=%s status=%s reason=%s attempt=%d next=%s",
                        item.inbox_uri,
                        item.host,
                        outcome.status if outcome.status is not None else "-",
                        outcome.error or "-",
                        attempts,
                        state,
                    )
                changes.append(
                    {
                        "row_id": item.id,
                        "state": state,
                        "attempts": attempts,
                        "locked_until": None,
                        "next_attempt_at": due,
                        "last_status": outcome.status,
                        "last_error": outcome.error,
                    }
                )
            if outcome.status is not None and outcome.status < 500:
                alive.add(item.host)
            elif not outcome.refused:
                failures[item.host] = now
            if outcome.status == 410:
                gone_inboxes.append(item.inbox_uri)
        async with self.runtime.sessions() as session, session.begin():
            for status, ids in sent.items():
                await session.execute(_record_sent(ids, status, now))
            if changes:
                await session.execute(_RECORD, changes)
            if alive:
                await session.execute(
                    update(Host)
                    .where(Host.host.in_(alive), Host.consecutive_failures > 0)
                    .values(
                        consecutive_failures=0,
                        first_failure_at=None,
                        unavailable_since=None,
                        last_success_at=now,
                    )
                )
            await hosts.record_failures(session, failures, now)
            if gone_inboxes:
                await remove_gone_followers(session, gone_inboxes)
        return len(results)

    async def release(self, items: list[Claimed]) -> None:
        if not items:
            return
        async with self.runtime.sessions() as session, session.begin():
            await queue.release(session, Delivery, [i.id for i in items], self.now())

    async def deliver_due(self, limit: int = 500) -> int:
        """Claim up to `limit` due rows, send them all, record the results."""
        claimed = await self.claim(limit)
        if not claimed:
            return 0
        await self._prepare({c.activity_id for c in claimed})
        self.start(claimed, asyncio.Semaphore(self.limits.total))
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        return await self.record()

    async def run_once(self) -> int:
        """One pass, for tests and the CLI: returns how many rows were made or attempted."""
        made = await self.fan_out_due()
        if self.sender is not None:
            return made + await self.deliver_due()
        async with sender(self.runtime) as self.sender:  # for this pass only
            try:
                return made + await self.deliver_due()
            finally:
                self.sender = None

    async def run(self, stop: asyncio.Event) -> None:
        total = asyncio.Semaphore(self.limits.total)
        loop = asyncio.get_running_loop()
        fanned_out = -self.limits.idle_poll
        try:
            while not stop.is_set():
                worked = 0
                if not self._tasks or loop.time() - fanned_out >= self.limits.idle_poll:
                    worked += await self.fan_out_due()
                    fanned_out = loop.time()
                room = self.limits.window - len(self._tasks)
                if room > 0:
                    claimed = await self.claim(room)
                    if claimed:
                        await self._prepare({c.activity_id for c in claimed})
                        self.start(claimed, total)
                        worked += len(claimed)
                worked += await self.record()
                self.runtime.heartbeats.beat("outbox")
                if self._tasks:  # until half the window is free (_finished): a claim worth its cost
                    self._room.clear()
                    await queue.wait_at_most(self._room, 0.05)
                elif not worked:
                    await queue.wait_at_most(stop, self.limits.idle_poll)
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """Let in-flight sends finish for a grace period; release the leases of the rest."""
        unfinished = await queue.stop_tasks(self._tasks, self.limits.grace)
        done = {item.id for item, _ in self._results}
        await self.record()
        await self.release([i for i in unfinished if i.id not in done])


async def remove_gone_followers(session: AsyncSession, inbox_uris: list[str]) -> None:
    """A 410 from an actor's own inbox: that actor is gone, and so are its follows of us."""
    gone = select(RemoteActor.id).where(RemoteActor.inbox_uri.in_(inbox_uris))
    await session.execute(
        delete(Follow).where(
            Follow.direction == Direction.INBOUND, Follow.remote_actor_id.in_(gone)
        )
    )


def sender(runtime: Runtime, **options: Any) -> Sender:
    settings = runtime.settings
    options.setdefault("connector", runtime.connector)
    return Sender(runtime.user_agent, allow_private=settings.allow_private_addresses, **options)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    """The worker loop of `ayni serve` and `ayni worker`, until `stop` is set."""
    async with sender(runtime) as posts:
        await DeliveryWorker(runtime, sender=posts).run(stop)
