"""What the processes log, and how: one line per event, with its time in UTC, as text for people
or as JSON for a log collector (`AYNI_LOG_FORMAT`), from `AYNI_LOG_LEVEL` up.

    logs.configure("json", "info")    # once, by the CLI, before any command runs

Every HTTP request has an id (`RequestIds`): the one a trusted proxy sent in `X-Request-Id`
when it is sane, else a new one. It is echoed in the response's `X-Request-Id` and added to every
log line written while the request runs (uvicorn's access line included), so an admin can find
everything one failing request did. The access log's privacy rules (`ayni.access_log`) apply to
both formats: they change the record before it is formatted.
"""

import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from federation import addresses
from models.settings import Network

HEADER = "x-request-id"
# What we accept from a proxy: nginx's $request_id, UUIDs, most tracing ids. Anything else
# (long, or with spaces or quotes that would garble a text line) is replaced.
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class RequestIds:
    """Gives each HTTP request its id, as the outermost middleware: it must see the connection's
    own address, before the proxy headers are believed."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = self._given(scope)
        value = given if given is not None else uuid.uuid4().hex
        token = request_id.set(value)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)

    def _given(self, scope: Scope) -> str | None:
        client = scope.get("client")
        address = addresses.parse_address(client[0]) if client else None
        if address is None or not any(address in net for net in self.trusted_proxies):
            return None
        for name, value in scope["headers"]:
            if name == HEADER.encode():
                text = value.decode("latin-1")
                return text if SANE_ID.fullmatch(text) else None
        return None


def middleware(trusted_proxies: tuple[Network, ...]) -> Middleware:
    return Middleware(RequestIds, trusted_proxies=trusted_proxies)


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class Text(logging.Formatter):
    """`2025-03-01T10:00:00.123+00:00 INFO ayni.inbox [3f2a…] message`"""

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        line = f"{_time(record)} {record.levelname} {record.name}"
        line += f" [{rid}] " if rid else " "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


# uvicorn's access line: client, method, path, HTTP version, status.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class Json(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request id during a request,
    the access log's fields apart, and a traceback (as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if (
            record.name == "uvicorn.access"
            and isinstance(record.args, tuple)
            and len(record.args) == len(_ACCESS_FIELDS)
        ):
            entry.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class WithRequestId(logging.Filter):
    """Adds the id of the request being served (None outside one) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, to stderr: `configure` replaces it, and leaves anyone else's alone."""


def configure(log_format: str, level: str) -> None:
    """One handler on the root logger, to stderr; uvicorn's loggers propagate to it (`ayni
    serve` gives uvicorn no logging config of its own). When something else already handles
    the root logger (a test runner, a program calling `ayni.cli.main`), it keeps it, as
    `logging.basicConfig` would."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, Handler)]
    if len(ours) < len(root.handlers):
        return
    handler = Handler(sys.stderr)
    handler.setFormatter(Json() if log_format == "json" else Text())
    handler.addFilter(WithRequestId())
    for old in ours:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
