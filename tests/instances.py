"""Running Ayni instances inside the test process, reachable through httpx's ASGI transport."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from ayni.app import create_app
from ayni.runtime import Runtime
from ayni.settings import Settings
from models import actors, db
from models.actors import Role


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


@contextlib.asynccontextmanager
async def start_instance(base_url: str, database_url: str) -> AsyncIterator[Instance]:
    settings = Settings(base_url=base_url, database_url=database_url, secret_key="test-secret")
    app = create_app(settings)
    await seed(app.state.runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield Instance(settings, app, http)
