"""The application factory: `create_app(settings)` builds one instance; nothing exists before it."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ayni import (
    __version__,
    access_log,
    actor_documents,
    inbox_route,
    logs,
    metrics_route,
    taxonomy_route,
    wellknown,
)
from ayni.web import pages, security
from ayni.web import routes as web_routes
from ayni.web.logins import LoginAttempts
from ayni.workers import queue_workers
from federation.sender import Connector, network
from models import db
from models.runtime import Runtime
from models.settings import Settings

log = logging.getLogger("ayni")


async def healthz(request: Request) -> Response:
    """200 when the database answers, its schema is the one this code needs, and every queue
    worker of this process finished a round lately (`models.heartbeats`); 503 otherwise."""
    runtime: Runtime = request.app.state.runtime
    try:
        revision = await db.current_revision(runtime.engine)
    except Exception as e:  # noqa: BLE001  any database failure means "not healthy", with the reason
        log.warning("health check failed: %s", e)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    state = db.schema_state(revision)
    late = runtime.heartbeats.late()
    healthy = state == "current" and not late
    body = {
        "status": "ok" if healthy else "error",
        "database": "ok",
        "schema": {"state": state, "revision": revision, "needs": db.revisions()[-1]},
        # Seconds since each worker's last round, and those past heartbeats.LATE_AFTER.
        "workers": {"last_round": runtime.heartbeats.ages(), "late": late},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


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
        running = queue_workers(settings) if workers else {}
        runtime.heartbeats.expect(running)
        tasks = [asyncio.create_task(run(runtime, stop)) for run in running.values()]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.close()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            *metrics_route.routes,
            *wellknown.routes,
            *inbox_route.routes,
            *actor_documents.routes,
            *taxonomy_route.routes,
            *web_routes.routes,
        ],
        middleware=[
            logs.middleware(settings.trusted_proxies),  # first: it sees the connection's address
            metrics_route.middleware,
            *security.middleware(settings),
        ],
        exception_handlers=pages.exception_handlers,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.login_attempts = LoginAttempts()
    return app
