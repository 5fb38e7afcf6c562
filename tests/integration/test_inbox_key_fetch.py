"""The inbox's key fetch over real sockets, through the instance's own outgoing client.

A remote server on a loopback port serves two actors and closes a connection idle for a
moment when the next request arrives there, unanswered: what we see when its idle close
crosses our request on the wire. The instance has no mounts, so the key resolver reaches it
the way it reaches any server: `Runtime.fetch`, the signed `Client.fetch`, the guarded pool.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Self

import httpx
import pytest

from ayni.app import create_app
from tests.instances import Loopback, seed, settings_for
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
IDLE_CLOSE = 0.3


class ClosingWhenIdle:
    """Serves actor documents; a connection idle over IDLE_CLOSE is closed at its next request."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        answered = None
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if answered is not None and time.monotonic() - answered > IDLE_CLOSE:
                    return  # closed (finally) without an answer
                path = head.split(b" ", 2)[1].decode()
                body = self.documents.get(path)
                status = b"200 OK" if body is not None else b"404 Not Found"
                body = body or b""
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: application/activity+json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                answered = time.monotonic()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def remote() -> AsyncIterator[ClosingWhenIdle]:
    async with ClosingWhenIdle() as server:
        yield server


async def test_a_key_fetch_on_a_connection_the_remote_closed_while_idle_is_no_false_401(
    database_url: str, remote: ClosingWhenIdle
) -> None:
    # Given two actors of one server we never heard of
    unused = Loopback()
    alice, bob = (
        MastodonPeer(f"http://127.0.0.1:{remote.port}", unused, username=name)
        for name in ("alice", "bob")
    )
    for peer in (alice, bob):
        remote.documents[f"/users/{peer.username}"] = json.dumps(peer.actor_document()).encode()
    app = create_app(settings_for(BASE, database_url))
    await seed(app.state.runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        # When alice's Follow arrives (her key fetched on a new connection, kept), and a moment
        # later bob's, whose key fetch finds that connection being closed by the server
        statuses = []
        for peer in (alice, bob):
            body, headers = peer.signed(f"{BASE}/inbox", peer.follow(f"{BASE}/actors/food"))
            statuses.append((await http.post("/inbox", content=body, headers=headers)).status_code)
            await asyncio.sleep(2 * IDLE_CLOSE)
    for peer in (alice, bob):
        await peer.aclose()
    # Then both are accepted; bob's key came over a second connection
    assert statuses == [202, 202]
    assert remote.connections == 2
