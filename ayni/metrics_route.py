"""`/metrics` for Prometheus, and the time each request takes, by route.

There is no `/metrics` (404) unless `AYNI_METRICS_TOKEN` is set; then it needs
`Authorization: Bearer <token>`, compared in constant time, and a missing or wrong token is also
404: nobody without the token learns whether metrics are on. The queue gauges are read from the
database at each scrape (`models.queue.depths`).
"""

import hmac
import time

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models import queue
from models.base import utcnow
from models.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A request no route matched: its path could be anything (tokens, ids), so it is never a label.
UNMATCHED = "unmatched"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    if not runtime.metrics.on or not _authorised(request, runtime.settings.metrics_token):
        return PlainTextResponse("Not Found", status_code=404)
    async with runtime.sessions() as session:
        runtime.metrics.queues(await queue.depths(session, utcnow()))
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class RequestDurations:
    """Observes each HTTP request's duration under its route's template (`/actors/{name}`),
    which Starlette's router leaves in the scope; never under the path itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime: Runtime | None = scope["app"].state.runtime if scope["type"] == "http" else None
        if runtime is None or not runtime.metrics.on:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            runtime.metrics.request(template, method, status, time.perf_counter() - started)


middleware = Middleware(RequestDurations)
routes = [Route("/metrics", metrics, methods=["GET"])]
