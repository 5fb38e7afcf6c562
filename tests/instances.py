"""Running Ayni instances inside the test process.

Each instance is a real app with its own database; their outgoing clients reach each other
through `Loopback`, an httpx transport that routes by host to the in-process apps (real signed
HTTP, no sockets). The SSRF guard still checks every URL, so the instances allow 127.0.0.1.
"""

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from ayni.app import create_app
from ayni.runtime import Runtime
from ayni.settings import Settings
from inbox import worker as inbox_worker
from models import actors, db
from models.actors import Role
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
            raise httpx.ConnectError(f"nothing serves {request.url.netloc.decode()}", request=request)
        return await transport.handle_async_request(request)


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
    base_url: str, database_url: str, network: Loopback | None = None, *, settings: Settings | None = None
) -> AsyncIterator[Instance]:
    """`settings`, when given, replaces `settings_for(base_url, database_url)` entirely."""
    network = network or Loopback()
    settings = settings or settings_for(base_url, database_url)
    app = create_app(settings, mounts={"all://127.0.0.1": network, "all://localhost": network})
    network.add(settings.host, app)
    await seed(app.state.runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as http,
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
