"""A delivery worker in its own process, for the crash and concurrency tests.

    python -m tests.delivery_worker BASE_URL DATABASE_URL LEASE_SECONDS

Prints "claimed N" after each claim, so a test knows when it holds leases; SIGTERM stops it
gracefully, SIGKILL is what the crash test sends.
"""

import asyncio
import ipaddress
import signal
import sys
from datetime import timedelta

from ayni import __version__, eventloop
from models.runtime import Runtime
from models.settings import Settings
from outbox.worker import DeliveryWorker, Limits, sender


class Announcing(DeliveryWorker):
    async def claim(self, limit: int):  # type: ignore[no-untyped-def]
        claimed = await super().claim(limit)
        if claimed:
            print(f"claimed {len(claimed)}", flush=True)
        return claimed


async def main(base_url: str, database_url: str, lease: float) -> None:
    settings = Settings(
        base_url=base_url,
        database_url=database_url,
        secret_key="test",
        allow_private_addresses=(ipaddress.ip_network("127.0.0.0/8"),),
    )
    runtime = Runtime.build(settings, version=__version__)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    try:
        limits = Limits(lease=timedelta(seconds=lease), idle_poll=0.1, grace=1.0)
        async with sender(runtime) as posts:  # real sockets: the production sender
            await Announcing(runtime, limits=limits, sender=posts).run(stop)
    finally:
        await runtime.close()


if __name__ == "__main__":
    eventloop.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
