"""Benchmark: the inbox, end to end over real HTTP, on SQLite and PostgreSQL.

    .venv/bin/python bench/inbox.py [--postgres URL] [--count 5000] [--rate 500] [--seconds 5]

Starts one uvicorn process serving `create_app(settings)` (the inbox route with its group
commit; queue workers off, so the figures are for receiving), and a load generator in this
process sending pre-signed draft-cavage POSTs (Mastodon's shape) from 50 remote actors whose
keys the instance has cached. Prints:

  raw verify rate     signatures.verify with the key in memory, one core
  accepted/s          verified and durably stored (committed `incoming` rows), closed loop,
                      64 concurrent connections
  p50/p99 latency     open loop at a fixed offered load (--rate per second)

PostgreSQL is used when --postgres or AYNI_TEST_POSTGRES_URL is given (a fresh database is
created and dropped). Targets: >= 1,000 accepted/s; p99 <= 50 ms at 500/s.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from federation import keys
from federation.cavage import sign_cavage
from federation.keys import SigningKey, VerificationKey
from federation.signatures import verify
from models import actors, db
from models.queue import Incoming
from models.remote import RemoteActor, RemoteKey

REMOTE = "http://remote.example"
SENDERS = 50


class MemoryKeys:
    def __init__(self, known: dict[str, VerificationKey]) -> None:
        self.known = known

    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey:
        return self.known[key_id]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def activity(n: int, actor: str) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/statuses/{uuid.uuid4().hex}/activity",
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{actor}/statuses/{n}",
            "type": "Note",
            "attributedTo": actor,
            "content": "<p>" + "Can anyone lend a ladder? " * 10 + "</p>",
        },
    }


async def seed(database_url: str, base_url: str, senders: list[tuple[str, Any]]) -> None:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.sessionmaker(engine)
    async with sessions() as session, session.begin():
        await actors.create_instance(session, base_url, base_url.split("://")[1])
        await actors.create_group(session, "food", "Food Share")
        for uri, private_key in senders:
            remote = RemoteActor(uri=uri, host="remote.example", inbox_uri=f"{uri}/inbox")
            session.add(remote)
            await session.flush()
            session.add(
                RemoteKey(
                    key_uri=f"{uri}#main-key",
                    actor_id=remote.id,
                    public_key_pem=keys.public_key_to_pem(private_key.public_key()),
                )
            )
    await engine.dispose()


async def count_rows(database_url: str) -> int:
    engine = db.create_engine(database_url)
    async with db.sessionmaker(engine)() as session:
        total = await session.scalar(select(func.count()).select_from(Incoming))
    await engine.dispose()
    return int(total or 0)


def presign(
    base_url: str, senders: list[tuple[str, Any]], count: int
) -> list[tuple[bytes, dict[str, str]]]:
    inbox = f"{base_url}/inbox"
    requests = []
    for n in range(count):
        uri, private_key = senders[n % len(senders)]
        body = json.dumps(activity(n, uri)).encode()
        headers = sign_cavage("POST", inbox, SigningKey(f"{uri}#main-key", private_key), body)
        headers["Content-Type"] = "application/activity+json"
        requests.append((body, headers))
    return requests


class Connection:
    """A bare HTTP/1.1 keep-alive connection: the load generator must cost less than the server
    (httpx's pool spends more CPU per request than the inbox does)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, f"127.0.0.1:{port}")

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        lines = ["POST /inbox HTTP/1.1", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def closed_loop(
    port: int, requests: list[tuple[bytes, dict[str, str]]], concurrency: int = 64
) -> tuple[float, int]:
    statuses: list[int] = []
    queue = iter(requests)
    connections = [await Connection.open(port) for _ in range(concurrency)]

    async def lane(connection: Connection) -> None:
        for body, headers in queue:
            statuses.append(await connection.post(body, headers))

    started = time.perf_counter()
    await asyncio.gather(*(lane(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return len(requests) / elapsed, sum(1 for s in statuses if s != 202)


async def open_loop(
    port: int, requests: list[tuple[bytes, dict[str, str]]], rate: float
) -> tuple[list[float], int, float]:
    """Requests leave on a fixed schedule whatever the answers; each takes a free connection."""
    idle = [await Connection.open(port) for _ in range(256)]
    latencies: list[float] = []
    errors = 0

    async def one(body: bytes, headers: dict[str, str], due: float) -> None:
        nonlocal errors
        connection = idle.pop() if idle else await Connection.open(port)
        status = await connection.post(body, headers)
        latencies.append(
            time.perf_counter() - due
        )  # from when it should have left: no coordinated omission
        idle.append(connection)
        errors += status != 202

    tasks = []
    start = time.perf_counter()
    for n, (body, headers) in enumerate(requests):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, headers, due)))
    await asyncio.gather(*tasks)
    achieved = len(requests) / (time.perf_counter() - start)
    for connection in idle:
        connection.close()
    return latencies, errors, achieved


def raw_verify_rate(senders: list[tuple[str, Any]], seconds: float = 1.5) -> float:
    inbox = "https://ayni.example/inbox"
    uri, private_key = senders[0]
    key_id = f"{uri}#main-key"
    body = json.dumps(activity(0, uri)).encode()
    headers = sign_cavage("POST", inbox, SigningKey(key_id, private_key), body)
    lookup = MemoryKeys({key_id: VerificationKey(key_id, uri, private_key.public_key())})

    async def run() -> float:
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(100):
                await verify("POST", inbox, headers, body, lookup)
            done += 100
        return done / (time.perf_counter() - started)

    return asyncio.run(run())


def serve(database_url: str, base_url: str, port: int) -> None:
    import uvicorn

    from ayni.app import create_app
    from models.settings import Settings

    app = create_app(Settings(base_url=base_url, database_url=database_url, secret_key="bench"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def wait_up(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(200):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the server did not come up")


def run_database(
    label: str, database_url: str, senders: list[tuple[str, Any]], args: argparse.Namespace
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    asyncio.run(seed(database_url, base_url, senders))
    burst = presign(base_url, senders, args.count)
    paced = presign(base_url, senders, int(args.rate * args.seconds))
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", database_url, base_url, str(port)]
    )
    try:
        asyncio.run(wait_up(base_url))
        rate, refused = asyncio.run(closed_loop(port, burst))
        stored = asyncio.run(count_rows(database_url))
        latencies, errors, achieved = asyncio.run(open_loop(port, paced, args.rate))
    finally:
        server.terminate()
        server.wait(10)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"{label:10} accepted (verified + committed): {rate:7.0f}/s   "
        f"({stored} rows stored, {refused} not 202)"
    )
    print(
        f"{label:10} at {args.rate:.0f}/s offered ({achieved:.0f}/s achieved): "
        f"p50 {p50:5.1f} ms   p99 {p99:5.1f} ms   ({errors} not 202)"
    )
    verdict = "PASS" if rate >= 1000 and p99 <= 50 else "FAIL"
    print(f"{label:10} targets >= 1000/s and p99 <= 50 ms at 500/s: {verdict}")


async def postgres_database(admin_url: str, create: bool, name: str) -> str:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        if create:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=os.environ.get("AYNI_TEST_POSTGRES_URL"))
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    senders = [(f"{REMOTE}/users/u{n}", keys.generate_private_key()) for n in range(SENDERS)]
    print(f"raw verify (rsa-sha256, key in memory): {raw_verify_rate(senders):7.0f}/s")
    with tempfile.TemporaryDirectory() as directory:
        run_database("sqlite", f"sqlite+aiosqlite:///{directory}/bench.db", senders, args)
    if args.postgres:
        name = f"ayni_bench_{uuid.uuid4().hex[:8]}"
        url = asyncio.run(postgres_database(args.postgres, True, name))
        try:
            run_database("postgresql", url, senders, args)
        finally:
            asyncio.run(postgres_database(args.postgres, False, name))
    else:
        print("postgresql skipped: pass --postgres URL or set AYNI_TEST_POSTGRES_URL")


if __name__ == "__main__":
    main()
