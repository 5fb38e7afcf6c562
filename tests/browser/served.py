"""A real Ayni instance for the browser: uvicorn on a free 127.0.0.1 port, in the test's loop.

Playwright's async objects belong to the event loop that created them, so the browser, the
instance and every browser test share pytest-asyncio's session loop (each test module sets
`pytestmark = BROWSER_LOOP`). uvicorn runs as a task in that loop: while a test awaits the
browser, the server answers it. Queue workers are not started; a test runs them when the flow
needs it (`site.process_inbox()`, `site.deliver()`), so what is delivered is known exactly.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from ayni.app import create_app
from inbox import worker as inbox_worker
from models import actors, passwords
from models.runtime import Runtime
from outbox.worker import DeliveryWorker
from tests.instances import InProcess, Loopback, seed, settings_for
from tests.peers import MastodonPeer
from tests.web import PASSWORD

BROWSER_LOOP = pytest.mark.asyncio(loop_scope="session")
PEER = (
    "http://127.0.0.1:8201"  # no socket: reachable only in-process, through the instance's mounts
)


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: Ctrl-C still stops pytest, not just the server."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


@dataclass
class Site:
    base_url: str
    app: Starlette
    peer: MastodonPeer  # a Mastodon-shaped server that the instance reaches in-process
    network: Loopback  # the in-process apps it reaches: the peer, and any other served instance

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def host(self) -> str:
        return self.runtime.settings.host

    async def set_password(self, username: str, password: str = PASSWORD) -> None:
        async with self.runtime.sessions() as session, session.begin():
            member = await actors.find_actor(session, username)
            assert member is not None, username
            member.password_hash = passwords.hash_password(password)

    async def process_inbox(self) -> int:
        return await inbox_worker.run_once(self.runtime)

    async def deliver(self) -> int:
        return await DeliveryWorker(self.runtime).run_once()


def _free_socket() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    return listener


@contextlib.asynccontextmanager
async def served(database: Path, network: Loopback, peer: MastodonPeer) -> AsyncIterator[Site]:
    """A seeded instance (group `food`, its admin `ana`) on the SQLite file `database`, reachable by
    the other apps on `network` in-process, and reaching them through it.

    The port is bound before the settings are made, so the base URL is known and nothing else
    can take the port in between."""
    listener = _free_socket()
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = settings_for(base_url, f"sqlite+aiosqlite:///{database}")
    app = create_app(settings, mounts={"all://127.0.0.1": network}, connector=InProcess(network))
    network.add(settings.host, app)
    await seed(app.state.runtime)

    server = QuietServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if serving.done():
                    serving.result()  # raises why it stopped
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.02)
        yield Site(base_url, app, peer, network)
    finally:
        server.should_exit = True
        await serving
        listener.close()


@contextlib.asynccontextmanager
async def network_with_peer() -> AsyncIterator[tuple[Loopback, MastodonPeer]]:
    network = Loopback()
    peer = MastodonPeer(PEER, network)
    network.add(peer.host, peer.app)
    try:
        yield network, peer
    finally:
        await peer.aclose()
