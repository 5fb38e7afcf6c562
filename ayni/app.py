"""The application factory: `create_app(settings)` builds one instance; nothing exists before it."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

import httpx
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ayni import __version__, access_log, actor_documents, inbox_route, wellknown
from ayni.web import pages, security
from ayni.web import routes as web_routes
from ayni.web.logins import LoginAttempts
from federation.sender import Connector, network
from inbox import worker as inbox_worker
from models.runtime import Runtime
from models.settings import Settings
from outbox import expiry
from outbox import mail as mail_worker
from outbox import push as push_worker
from outbox import worker as outbox_worker

log = logging.getLogger("ayni")


async def healthz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001  any database failure means "not healthy", with the reason
        log.warning("health check failed: %s", e)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def create_app(
    settings: Settings,
    mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    workers: bool = False,
    connector: Connector = network,
) -> Starlette:
    """`mounts` (fetches) and `connector` (deliveries) route other hosts to in-process apps:
    tests federate several instances. `workers` runs the queue workers inside the app
    (`ayni serve`); tests drive `run_once()`."""
    runtime = Runtime.build(settings, mounts, connector, version=__version__)
    access_log.install(settings.log_ips)  # no client address, no meeting-point link

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = (
            [
                asyncio.create_task(inbox_worker.run(runtime, stop)),
                asyncio.create_task(outbox_worker.run(runtime, stop)),
                asyncio.create_task(expiry.run(runtime, stop)),
                asyncio.create_task(mail_worker.run(runtime, stop)),
                asyncio.create_task(push_worker.run(runtime, stop)),
            ]
            if workers
            else []
        )
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.close()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            *wellknown.routes,
            *inbox_route.routes,
            *actor_documents.routes,
            *web_routes.routes,
        ],
        middleware=security.middleware(settings),
        exception_handlers=pages.exception_handlers,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.login_attempts = LoginAttempts()
    return app
