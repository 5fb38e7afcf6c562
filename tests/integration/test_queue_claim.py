"""The one claim every queue takes its rows with (models.queue.claim), on both databases."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import actors, db
from models.queue import Activity, FanoutState, Incoming, IncomingState, Leased, claim, release

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
LEASE = timedelta(minutes=5)
PENDING = Incoming.state == IncomingState.PENDING


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.create_engine(database_url)
    yield db.sessionmaker(engine)
    await engine.dispose()


async def add_incoming(
    sessions: async_sessionmaker[AsyncSession],
    count: int,
    *,
    due: datetime = NOW - timedelta(minutes=1),
    actor: str = "https://a.example/users/ann",
    state: str = IncomingState.PENDING,
) -> list[int]:
    async with sessions() as session, session.begin():
        first = await session.scalar(select(Incoming.id).order_by(Incoming.id.desc()).limit(1)) or 0
        ids = list(range(first + 1, first + 1 + count))
        await session.execute(
            insert(Incoming),
            [
                {
                    "id": n,
                    "activity_uri": f"https://a.example/activities/{n}",
                    "activity_type": "Like",
                    "actor_uri": actor,
                    "document": {},
                    "state": state,
                    "next_attempt_at": due,
                }
                for n in ids
            ],
        )
    return ids


async def take(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime = NOW,
    limit: int = 100,
    **options: Any,
) -> list[int]:
    options.setdefault("where", [PENDING])
    async with sessions() as session, session.begin():
        rows = await claim(
            session,
            Incoming,
            now=now,
            lease=LEASE,
            limit=limit,
            order_by=[Incoming.next_attempt_at],
            **options,
        )
    return [row.id for row in rows]


async def test_a_leased_row_is_not_claimed_again_until_its_lease_runs_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_incoming(sessions, 3)
    assert await take(sessions) == ids
    assert await take(sessions) == []
    assert await take(sessions, NOW + LEASE - timedelta(seconds=1)) == []
    assert await take(sessions, NOW + LEASE) == ids, "a crashed worker's rows come due again"


async def test_rows_not_due_or_filtered_out_are_not_claimed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    due = await add_incoming(sessions, 2)
    await add_incoming(sessions, 2, due=NOW + timedelta(seconds=1))
    await add_incoming(sessions, 2, state=IncomingState.DONE)
    bob = await add_incoming(sessions, 1, actor="https://b.example/users/bob")
    assert (
        await take(sessions, where=[PENDING, Incoming.actor_uri.startswith("https://b.example/")])
        == bob
    )
    assert await take(sessions) == due


async def test_the_limit_holds_and_the_longest_waiting_come_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    late = await add_incoming(sessions, 3, due=NOW - timedelta(seconds=1))
    early = await add_incoming(sessions, 3, due=NOW - timedelta(hours=1))
    assert await take(sessions, limit=4) == [*early, late[0]]
    assert await take(sessions, limit=4) == late[1:]


async def test_rows_turned_away_go_back_due_now_behind_those_waiting(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_incoming(sessions, 4, due=NOW - timedelta(hours=1))
    other = await add_incoming(sessions, 1, due=NOW - timedelta(minutes=1))

    def first_two(row: Leased) -> bool:
        return row.id in ids[:2]

    assert await take(sessions, limit=4, keep=first_two) == ids[:2]
    # Not leased: claimable at once, but after the row that was due before them
    assert await take(sessions, limit=1) == other
    assert await take(sessions) == ids[2:]


async def test_a_released_row_is_due_again_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_incoming(sessions, 2)
    assert await take(sessions) == ids
    async with sessions() as session, session.begin():
        await release(session, Incoming, ids[:1], NOW)
    assert await take(sessions) == ids[:1]


async def test_a_queue_without_a_lease_column_is_leased_on_its_next_attempt_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Fan-out jobs: `activities` has no `locked_until`
    async with sessions() as session, session.begin():
        group = await actors.create_group(session, "food", "Food")
        job = Activity(
            uri="https://ayni.example/activities/1",
            type="Create",
            actor_id=group.id,
            document={},
            visibility="public",
            audience={},
            next_attempt_at=NOW - timedelta(minutes=1),
        )
        session.add(job)

    async def take_jobs(now: datetime) -> list[int]:
        async with sessions() as session, session.begin():
            rows = await claim(
                session,
                Activity,
                now=now,
                lease=LEASE,
                limit=10,
                where=[Activity.fanout_state == FanoutState.PENDING],
            )
        return [row.id for row in rows]

    assert await take_jobs(NOW) == [job.id]
    assert await take_jobs(NOW) == []
    assert await take_jobs(NOW + LEASE) == [job.id]


@pytest.mark.parametrize("database_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_claim_skips_rows_another_open_claim_holds_without_waiting(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_incoming(sessions, 6)
    async with sessions() as first, first.begin():
        held = await claim(first, Incoming, now=NOW, lease=LEASE, limit=3, where=[PENDING])
        # The first claim's transaction is still open: its rows are locked, not yet leased
        assert await asyncio.wait_for(take(sessions), 5) == ids[3:]
    assert [row.id for row in held] == ids[:3]
    assert await take(sessions) == []


@pytest.mark.parametrize("database_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrent_claimers_never_get_the_same_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_incoming(sessions, 300)

    async def claimer() -> list[int]:
        mine: list[int] = []
        while batch := await take(sessions, limit=7):
            mine += batch
        return mine

    taken = await asyncio.gather(*(claimer() for _ in range(6)))
    every = [row_id for batch in taken for row_id in batch]
    assert sorted(every) == ids, "each row claimed exactly once"
    assert sum(1 for batch in taken if batch) > 1, "the claimers ran side by side"
