"""A receiving peer: checks every delivery's signature the way Mastodon does and records it.

Mastodon requires a draft-cavage signature covering (request-target), host, date and digest
on a POST, a Digest matching the body and a Date within its window; `verify` does all of
that against the sender's public keys (`keys`, a KeyLookup). What passes is recorded in
`received`; what fails gets 401 and is recorded in `refused`.

Faults, per host (`host[:port]` as the sender addresses it):
    down        connection refused (transport only; with uvicorn, just do not run it)
    fail_first  the first N deliveries get 500 (or another status), then 202
    status      always this status (410, say), with optional Retry-After
    black_hole  accept the request and never answer
    rfc9421_only  401 to a draft-cavage signature, as a server that accepts only RFC 9421

Signed GETs of the URLs in `documents` are answered with them (in-process only). Every
signed request's method and scheme is recorded in `knocks`, refused or not.

One `Receiver` serves as an httpx transport (in-process, any number of hosts) and as an ASGI
app (for real uvicorn servers on loopback ports).
"""

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from federation.errors import SignatureError
from federation.keys import VerificationKey
from federation.signatures import verify
from federation.signing_primitives import KeyLookup


class StaticKeys:
    """The sender's keys, handed over directly: no fetches in these tests."""

    def __init__(self, keys: dict[str, VerificationKey] | None = None) -> None:
        self.keys = dict(keys or {})

    async def lookup(self, key_id: str, *, refresh: bool = False) -> VerificationKey:
        try:
            return self.keys[key_id]
        except KeyError:
            raise SignatureError(f"unknown key {key_id}") from None


@dataclass
class Fault:
    down: bool = False
    fail_first: int = 0
    fail_status: int = 500
    status: int | None = None
    retry_after: str | None = None
    black_hole: bool = False
    rfc9421_only: bool = False
    served: int = 0


@dataclass(frozen=True)
class Received:
    host: str
    path: str
    activity_id: str
    key_id: str
    at: float


@dataclass
class Receiver(httpx.AsyncBaseTransport):
    keys: KeyLookup
    faults: dict[str, Fault] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    attempts: int = 0
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    knocks: list[tuple[str, str]] = field(default_factory=list)  # (method, "cavage" | "rfc9421")

    def fault(self, host: str, **options: Any) -> Fault:
        self.faults[host] = Fault(**options)
        return self.faults[host]

    def count(self, host: str | None = None) -> int:
        return sum(1 for r in self.received if host is None or r.host == host)

    async def answer(
        self, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        host = httpx.URL(url).netloc.decode()
        self.attempts += 1
        fault = self.faults.get(host, Fault())
        if fault.black_hole:
            await asyncio.Event().wait()
        fault.served += 1
        if fault.fail_first >= fault.served:
            return fault.fail_status, {}
        try:
            key_id = await self._check("POST", url, headers, body, fault)
        except SignatureError as e:
            self.refused.append(f"{url}: {e}")
            return 401, {}
        if fault.status is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return fault.status, extra
        activity = json.loads(body)
        self.received.append(
            Received(host, httpx.URL(url).path, activity["id"], key_id, time.monotonic())
        )
        return 202, {}

    async def _check(
        self, method: str, url: str, headers: dict[str, str], body: bytes, fault: Fault
    ) -> str:
        """The key id that signed the request, or SignatureError."""
        fields = {k.lower(): v for k, v in headers.items()}
        scheme = "rfc9421" if "signature-input" in fields else "cavage"
        self.knocks.append((method, scheme))
        if fault.rfc9421_only:
            if scheme == "cavage":
                raise SignatureError("only RFC 9421 signatures are accepted here")
        elif method == "POST":
            params = fields.get("signature", "")
            covered = (
                params.split('headers="', 1)[1].split('"', 1)[0].split()
                if 'headers="' in params
                else []
            )
            if not {"(request-target)", "host", "date", "digest"} <= set(covered):
                raise SignatureError(
                    f"Mastodon requires host, date, digest to be signed; got {covered}"
                )
        return await verify(method, url, headers, body, self.keys)

    async def _document(self, request: httpx.Request) -> httpx.Response:
        fault = self.faults.get(request.url.netloc.decode(), Fault())
        try:
            await self._check("GET", str(request.url), dict(request.headers), b"", fault)
        except SignatureError as e:
            self.refused.append(f"{request.url}: {e}")
            return httpx.Response(401, request=request)
        document = self.documents.get(str(request.url))
        if document is None:
            return httpx.Response(404, request=request)
        return httpx.Response(
            200,
            json=document,
            headers={"Content-Type": "application/activity+json"},
            request=request,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode()
        if self.faults.get(host, Fault()).down:
            raise httpx.ConnectError(f"{host} is down", request=request)
        if request.method == "GET":
            return await self._document(request)
        body = await request.aread()
        status, headers = await self.answer(str(request.url), dict(request.headers), body)
        return httpx.Response(status, headers=headers, request=request)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI: the same checks behind a real server."""
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        host = headers.get("host", "")
        query = f"?{scope['query_string'].decode()}" if scope.get("query_string") else ""
        status, extra = await self.answer(f"http://{host}{scope['path']}{query}", headers, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in extra.items()],
            }
        )
        await send({"type": "http.response.body", "body": b""})
