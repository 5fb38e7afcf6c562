"""What the inbox route writes and reads, kept off its critical path.

`Batcher` is a group commit: each request awaits its row's durable insert, and every row that
arrived while the previous transaction was committing goes into the next one. Duplicates (the
same activity id) are dropped by the database, so a replayed POST stores nothing new.
"""

import asyncio
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import insert_for
from models.queue import Incoming

MAX_BATCH = 500


class Batcher:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, postgres: bool) -> None:
        self._sessions = sessions
        self._insert = insert_for("postgresql" if postgres else "sqlite")
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, row: dict[str, Any]) -> None:
        """Returns once the row (or an earlier one with the same activity id) is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                await self._write(row for row, _ in batch)
            except Exception as error:  # noqa: BLE001  every waiter learns that its row was not stored
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _write(self, rows: Iterable[dict[str, Any]]) -> None:
        unique = list({row["activity_uri"]: row for row in rows}.values())
        statement = self._insert(Incoming).on_conflict_do_nothing(index_elements=["activity_uri"])
        async with self._sessions() as session, session.begin():
            await session.execute(statement, unique)
