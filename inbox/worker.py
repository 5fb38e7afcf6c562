"""The inbox worker: claim due `incoming` rows, dispatch each to its handler, record the outcome.

    processed = await run_once(runtime)      tests drive it step by step
    await run(runtime, stop)                 `ayni serve` and `ayni worker` loop until `stop` is set

Rows are claimed under a lease by the one claim of every queue (models.queue.claim), so several
workers share one PostgreSQL database; on SQLite one in-process worker runs. A handler's own
"no" (Ignored) and documents that cannot be had (404, 410, refused, malformed) end as
`ignored` with the reason; anything else is retried as `retry.INBOX` says, then `failed`.

Jobs run concurrently, as deliveries do (outbox/worker.py): `Limits.total` at once, at most
`per_host` per actor's host and one per actor, in the order received, so an Undo never overtakes
its Follow. A host at its limit, or an actor with a job running, is left out of the next claim;
one slow server holds a few slots, never the queue. The server waited on may not be the
actor's (an Announce points anywhere): `Runtime.fetch` bounds fetches per fetched host and
backs off a host that stops answering (federation/breaker.py), so its activities fail fast
and are retried later, each attempt counted.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from federation import retry, vocab
from federation.errors import Gone, InvalidDocument, NotFound, Refused
from federation.retry import Failure
from inbox.handlers import Context, Ignored, dispatch
from models import queue
from models.base import utcnow
from models.hosts import mark_host_alive
from models.queue import Incoming, IncomingState
from models.runtime import Runtime

log = logging.getLogger("ayni.inbox")

LEASE = timedelta(minutes=5)
IDLE_WAIT = 1.0
PERMANENT = (Ignored, InvalidDocument, NotFound, Gone, Refused)


@dataclass(frozen=True)
class Limits:
    total: int = 16  # jobs at once
    per_host: int = 4  # jobs at once whose actor is on one host (and one per actor)
    # Rows held at once, running or waiting for a slot; run() claims again when half are done.
    # At most 2 x total, and no job runs past `deadline`: a row starts within one deadline of
    # its claim and ends within another, 4 minutes in all, inside its 5-minute lease.
    window: int = 32
    deadline: float = 120.0  # a job's fetches (30 s each at most) and its writes
    lease: timedelta = LEASE
    idle_poll: float = IDLE_WAIT
    grace: float = 10.0


@dataclass(frozen=True)
class Job:
    id: int
    document: dict[str, Any]
    recipient_id: int | None
    attempts: int
    actor_uri: str = ""

    @property
    def host(self) -> str:
        return vocab.host_of(self.actor_uri) or ""


async def process(runtime: Runtime, job: Job, deadline: float = Limits.deadline) -> str:
    attempts = job.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "locked_until": None, "last_error": None}
    budget = asyncio.timeout(deadline)
    try:
        async with budget:
            await dispatch(Context(runtime, job.recipient_id), job.document)
        values["state"] = IncomingState.DONE
    except PERMANENT as error:
        values["state"] = IncomingState.IGNORED
        values["last_error"] = _reason(error)
    except Exception as error:  # noqa: BLE001  the one broad except: whatever went wrong is kept on the row
        expired = isinstance(error, TimeoutError) and budget.expired()
        values["last_error"] = f"not done within {deadline:g} s" if expired else _reason(error)
        delay = retry.INBOX(attempts, Failure())
        if delay is None:
            values["state"] = IncomingState.FAILED
            log.warning("inbox: activity %s failed for good: %s", job.id, values["last_error"])
        else:
            values["next_attempt_at"] = utcnow() + delay
            log.info("inbox: activity %s will be retried: %s", job.id, values["last_error"])
    async with runtime.sessions() as session, session.begin():
        await session.execute(update(Incoming).where(Incoming.id == job.id).values(**values))
    return str(values.get("state", IncomingState.PENDING))


def _reason(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, Ignored):
        return text
    return f"{type(error).__name__}: {text}"[:2000]


@dataclass
class InboxWorker:
    runtime: Runtime
    limits: Limits = field(default_factory=Limits)
    now: Callable[[], datetime] = utcnow
    _busy: Counter[str] = field(default_factory=Counter)  # jobs held per actor host
    _actors: set[str] = field(default_factory=set)  # actors with a job held
    _tasks: dict[asyncio.Task[None], Job] = field(default_factory=dict)
    _room: asyncio.Event = field(default_factory=asyncio.Event)

    async def claim(self, limit: int = Limits.window) -> list[Job]:
        """Up to `limit` due rows, leased; none of an actor or a host already at its limit."""
        now = self.now()
        where = [Incoming.state == IncomingState.PENDING]
        if self._actors:
            where.append(Incoming.actor_uri.not_in(sorted(self._actors)))
        for host in (h for h, n in self._busy.items() if n >= self.limits.per_host):
            for scheme in ("https", "http"):
                where.append(~Incoming.actor_uri.startswith(f"{scheme}://{host}/", autoescape=True))
        # The filters above work on how actor URIs are spelled; this is the rule itself.
        actors, taken = set(self._actors), Counter(self._busy)

        def keep(row: queue.Leased) -> bool:
            host = vocab.host_of(row.actor_uri) or ""
            if row.actor_uri in actors or taken[host] >= self.limits.per_host:
                return False
            actors.add(row.actor_uri)
            taken[host] += 1
            return True

        async with self.runtime.sessions() as session, session.begin():
            rows = await queue.claim(
                session,
                Incoming,
                now=now,
                lease=self.limits.lease,
                limit=limit,
                where=where,
                order_by=[Incoming.next_attempt_at],
                keep=keep,
                columns=[
                    Incoming.document,
                    Incoming.recipient_id,
                    Incoming.attempts,
                    Incoming.actor_uri,
                ],
            )
            jobs = [
                Job(row.id, row.document, row.recipient_id, row.attempts, row.actor_uri)
                for row in rows
            ]
            # A server that sends us something is up again: deliveries to it resume now.
            for host in {job.host for job in jobs} - {""}:
                await mark_host_alive(session, host, now)
        return jobs

    def start(self, jobs: list[Job], total: asyncio.Semaphore) -> None:
        for job in jobs:
            self._busy[job.host] += 1
            self._actors.add(job.actor_uri)
            task = asyncio.create_task(self._process(job, total))
            self._tasks[task] = job
            task.add_done_callback(self._finished)

    async def _process(self, job: Job, total: asyncio.Semaphore) -> None:
        async with total:
            try:
                await process(self.runtime, job, self.limits.deadline)
            except Exception as error:  # noqa: BLE001  the outcome was not written: the lease runs out, then a retry
                log.warning("inbox: activity %s not recorded: %s", job.id, error)

    def _finished(self, task: asyncio.Task[None]) -> None:
        job = self._tasks.pop(task)
        self._actors.discard(job.actor_uri)
        self._busy[job.host] -= 1
        if self._busy[job.host] <= 0:
            del self._busy[job.host]
        if len(self._tasks) <= self.limits.window // 2:
            self._room.set()  # run() may claim again

    async def run_once(self) -> int:
        """Claim and process until nothing due is left to claim; how many were processed.
        An actor's rows come one per claim, so this may take several."""
        total = asyncio.Semaphore(self.limits.total)
        processed = 0
        while jobs := await self.claim(self.limits.window):
            self.start(jobs, total)
            await asyncio.wait(list(self._tasks))
            processed += len(jobs)
        return processed

    async def run(self, stop: asyncio.Event) -> None:
        total = asyncio.Semaphore(self.limits.total)
        try:
            while not stop.is_set():
                room = self.limits.window - len(self._tasks)
                claimed: list[Job] = []
                if room > 0:
                    try:
                        claimed = await self.claim(room)
                        self.runtime.heartbeats.beat("inbox")
                    except Exception as error:  # noqa: BLE001  the database went away: wait, then try again
                        log.warning("inbox worker: %s", error)
                    self.start(claimed, total)
                if self._tasks:  # until a job ends with half the window free, or the next poll
                    self._room.clear()
                    await queue.wait_at_most(self._room, self.limits.idle_poll)
                elif not claimed:
                    await queue.wait_at_most(stop, self.limits.idle_poll)
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """Let running jobs finish for a grace period; give back the leases of the rest."""
        unfinished = await queue.stop_tasks(self._tasks, self.limits.grace)
        if unfinished:
            async with self.runtime.sessions() as session, session.begin():
                await queue.release(session, Incoming, [job.id for job in unfinished], self.now())


async def run_once(runtime: Runtime) -> int:
    """Process every due row, as many at once as the limits allow; how many were processed."""
    return await InboxWorker(runtime).run_once()


async def run(runtime: Runtime, stop: asyncio.Event, limits: Limits | None = None) -> None:
    await InboxWorker(runtime, limits or Limits()).run(stop)
