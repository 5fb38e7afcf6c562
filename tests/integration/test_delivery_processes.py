"""Workers as real processes, receivers as real uvicorn servers on loopback ports.

A worker killed mid-delivery loses nothing; two workers sharing PostgreSQL never double-send.
"""

import asyncio
import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import uvicorn
from sqlalchemy import func, select

from models.base import utcnow
from models.queue import Delivery
from outbox.worker import DeliveryWorker
from tests.integration.delivery_setup import BASE_URL, Sender, start_sender
from tests.receiver import Receiver


def listening_sockets(count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1024)
        sockets.append(s)
    return sockets


@contextlib.asynccontextmanager
async def serve(receiver: Receiver, ports: int) -> AsyncIterator[list[str]]:
    sockets = listening_sockets(ports)
    server = uvicorn.Server(uvicorn.Config(receiver, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        server.should_exit = server.force_exit = True
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, 3)
        for s in sockets:
            s.close()


def start_worker(database_url: str, lease: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.delivery_worker", BASE_URL, database_url, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def count_state(sender: Sender, state: str) -> int:
    async with sender.runtime.sessions() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state == state)
            )
            or 0
        )


async def followers_on(sender: Sender, hosts: list[str], total: int) -> None:
    for n in range(total):
        await sender.add_follower(hosts[n % len(hosts)], f"user{n}", shared=False)


async def test_a_worker_killed_mid_delivery_loses_nothing(database_url: str) -> None:
    async with start_sender(database_url) as sender, serve(sender.receiver, 2) as hosts:
        for host in hosts:
            sender.receiver.fault(host, black_hole=True)
        await followers_on(sender, hosts, 8)  # four per host: all held at once
        await sender.publish_note()
        await sender.worker.fan_out_due()
        worker = start_worker(database_url, lease=5.0)
        try:
            assert worker.stdout is not None
            line = await asyncio.to_thread(worker.stdout.readline)
            while not line.startswith("claimed"):
                assert line, "the worker process ended before it claimed anything"
                line = await asyncio.to_thread(worker.stdout.readline)

            async def sending() -> bool:
                return sender.receiver.attempts >= 2

            await wait_for(sending)
            worker.send_signal(signal.SIGKILL)  # mid-delivery, holding every lease
        finally:
            worker.kill()
            worker.communicate(timeout=5)  # reaps it and closes its pipe
        assert sender.receiver.count() == 0
        assert await count_state(sender, "pending") == 8
        for host in hosts:
            sender.receiver.faults[host].black_hole = False
        # Before the lease runs out nobody may take the rows; after it, another worker does.
        assert await DeliveryWorker(sender.runtime).run_once() == 0
        later = DeliveryWorker(sender.runtime, now=lambda: utcnow() + timedelta(seconds=6))
        await later.run_once()
        received = collections.Counter((r.host, r.path) for r in sender.receiver.received)
        assert len(received) == 8 and set(received.values()) == {1}
        assert await count_state(sender, "sent") == 8


@pytest.mark.parametrize("database_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_two_postgres_workers_deliver_500_rows_exactly_once(database_url: str) -> None:
    async with start_sender(database_url) as sender, serve(sender.receiver, 10) as hosts:
        await followers_on(sender, hosts, 500)
        await sender.publish_note()
        workers = [start_worker(database_url, lease=60.0) for _ in range(2)]
        try:
            # Both workers are up before there is anything to claim, so both take part.
            for worker in workers:
                assert worker.stdout is not None
                assert (await asyncio.to_thread(worker.stdout.readline)).strip() == "ready"
            await sender.worker.fan_out_due()

            async def drained() -> bool:
                return await count_state(sender, "sent") == 500

            await wait_for(drained, timeout=60)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            outputs = [worker.communicate(timeout=10)[0] for worker in workers]
        received = collections.Counter((r.host, r.path) for r in sender.receiver.received)
        assert sum(received.values()) == 500
        assert set(received.values()) == {1}, "some inbox got the activity twice"
        assert all("claimed" in out for out in outputs), "both workers took part"
        assert sender.receiver.refused == []
