"""Running Ayni instances inside the test process.

Each instance is a real app with its own database; their outgoing clients reach each other
through `Loopback`, an httpx transport that routes by host to the in-process apps (real signed
HTTP, no sockets), and their delivery Senders through `InProcess`, a connector that hands the
request's bytes to the same transport. The SSRF guard still checks every URL and connection,
so the instances allow 127.0.0.1.
"""

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import h11
import httpx
from starlette.applications import Starlette

from ayni.app import create_app
from federation.sender import Target
from inbox import worker as inbox_worker
from models import actors, db
from models.actors import Role
from models.runtime import Runtime
from models.settings import Settings
from outbox.worker import DeliveryWorker

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


class Loopback(httpx.AsyncBaseTransport):
    """Routes each request to the app serving its host; unknown hosts get a connection error."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}

    def add(self, host: str, app: Starlette) -> None:
        self.apps[host] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.netloc.decode())
        if transport is None:
            raise httpx.ConnectError(
                f"nothing serves {request.url.netloc.decode()}", request=request
            )
        return await transport.handle_async_request(request)


class InProcess:
    """A Sender's Connector to an httpx transport (a Loopback, a Receiver): what the Sender
    writes is read as an HTTP/1.1 request (by h11, not by our code), handed to the transport,
    and its answer written back as bytes, so the Sender reads and keeps connections as on a
    socket. A transport that cannot connect (httpx.ConnectError) resets the connection."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def __call__(
        self, target: Target, address: str, protocol: asyncio.Protocol, tls: ssl.SSLContext | None
    ) -> None:
        protocol.connection_made(_Wire(self.transport, target, protocol))


class _Wire(asyncio.Transport):
    """One connection's bytes: requests in through write(), answers out to the protocol."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, target: Target, protocol: asyncio.Protocol
    ) -> None:
        super().__init__()
        self._transport, self._target, self._protocol = transport, target, protocol
        self._server = h11.Connection(h11.SERVER)
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._server.receive_data(bytes(data))
        request, body = None, b""
        while (event := self._server.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                self._task = asyncio.create_task(self._answer(request, body))

    async def _answer(self, request: h11.Request, body: bytes) -> None:
        headers = [(name.decode(), value.decode()) for name, value in request.headers]
        host = dict(headers)["host"]
        url = f"{self._target.scheme}://{host}{request.target.decode()}"
        try:
            response = await self._transport.handle_async_request(
                httpx.Request(request.method.decode(), url, headers=headers, content=body)
            )
            content = await response.aread()  # the Sender asks for no Content-Encoding
        except Exception as e:  # noqa: BLE001  a host that is down, or an app that failed: a reset
            self._lose(ConnectionResetError(f"{type(e).__name__}: {e}"))
            return
        headers = [
            (k, v)
            for k, v in response.headers.raw
            if k.lower() not in (b"content-length", b"transfer-encoding")
        ]
        if response.status_code not in (204, 304):
            headers.append((b"content-length", str(len(content)).encode()))
        wire = (
            self._server.send(h11.Response(status_code=response.status_code, headers=headers))
            or b""
        )
        if response.status_code not in (204, 304):
            wire += self._server.send(h11.Data(data=content)) or b""
        wire += self._server.send(h11.EndOfMessage()) or b""
        if self._closing:
            return
        self._protocol.data_received(wire)
        if self._server.our_state is h11.MUST_CLOSE:
            self._lose(None)
        else:
            self._server.start_next_cycle()

    def _lose(self, error: Exception | None) -> None:
        if not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_soon(self._protocol.connection_lost, error)

    def is_closing(self) -> bool:
        return self._closing

    def abort(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._lose(None)

    def close(self) -> None:
        self.abort()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default  # no socket


@dataclass
class Instance:
    settings: Settings
    app: Starlette
    http: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


async def seed(runtime: Runtime) -> None:
    await db.upgrade(runtime.engine)
    async with runtime.sessions() as session, session.begin():
        await actors.create_instance(session, runtime.settings.base_url, runtime.settings.host)
        group = await actors.create_group(session, "food", "Food Share", "Food for everyone.")
        ana = await actors.create_member(session, "ana", None, "Ana")
        await actors.join_group(session, group, ana, Role.ADMIN)


def settings_for(base_url: str, database_url: str, **overrides: Any) -> Settings:
    """What every test instance runs with, plus `overrides` (e.g. `authorized_fetch=True`)."""
    defaults: dict[str, Any] = {"secret_key": "test-secret", "allow_private_addresses": LOOPBACK}
    return Settings(base_url=base_url, database_url=database_url, **{**defaults, **overrides})


@contextlib.asynccontextmanager
async def start_instance(
    base_url: str,
    database_url: str,
    network: Loopback | None = None,
    *,
    settings: Settings | None = None,
) -> AsyncIterator[Instance]:
    """`settings`, when given, replaces `settings_for(base_url, database_url)` entirely."""
    network = network or Loopback()
    settings = settings or settings_for(base_url, database_url)
    app = create_app(
        settings,
        mounts={"all://127.0.0.1": network, "all://localhost": network},
        connector=InProcess(network),
    )
    network.add(settings.host, app)
    await seed(app.state.runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=settings.base_url
        ) as http,
    ):
        yield Instance(settings, app, http)


async def settle(*instances: Instance, rounds: int = 8) -> int:
    """Run every instance's queues until nothing moves (deliveries out, inboxes in); returns how
    many rounds moved something. Still moving after `rounds` is a storm, and fails the test."""
    for round_ in range(rounds):
        moved = 0
        for instance in instances:
            moved += await DeliveryWorker(instance.runtime).run_once()
            moved += await inbox_worker.run_once(instance.runtime)
        if not moved:
            return round_
    raise AssertionError(f"the queues still move after {rounds} rounds: a storm")
