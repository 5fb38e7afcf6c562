"""The periodic job that closes items past their end and publishes their Updates."""

import asyncio
import contextlib
import logging

from models.posting import expire_due
from models.runtime import Runtime

log = logging.getLogger("ayni.items")

INTERVAL = 60.0  # seconds; an item's end is a date, a minute late is on time


async def run_once(runtime: Runtime) -> int:
    async with runtime.sessions() as session, session.begin():
        return await expire_due(session, runtime.uris)


async def run(runtime: Runtime, stop: asyncio.Event, interval: float = INTERVAL) -> None:
    while not stop.is_set():
        try:
            expired = await run_once(runtime)
            if expired:
                log.info("%d items expired", expired)
        except Exception:  # one broad except per cycle: log it and try again next time
            log.exception("expiring items failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
