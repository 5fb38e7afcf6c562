"""Ayni's GET road to other servers (documents, JSON, signed fetches): an HTTP client that
cannot be turned against us. Deliveries, the only POSTs, take the other road: federation.sender.

    client = Client("Ayni/0.1 (+https://ayni.example)", allow_private=parse_networks(setting))
    actor = await client.fetch("https://remote.example/users/alice", auth=instance_signer)
    await client.aclose()

Every connection goes through the SSRF guard (federation.addresses): the host is resolved
once and the socket goes to an address that was checked, so DNS rebinding cannot slip past;
TLS still verifies the certificate for the host name (httpcore gives start_tls the origin's
host as SNI, whatever address connect_tcp was given). Redirects are followed here, hop by hop,
each checked again. Bodies are read as a stream under a byte cap, and each exchange, redirects
included, runs under one deadline, so a server trickling a byte a second cannot hold a worker
(fetch() may make two exchanges: see there).

Idle connections are kept 4 s, under the 5 s after which uvicorn and others close theirs. A
request that finds its kept connection closed or reset before any byte of an answer (the
server's idle close crossed it on the wire) goes again once, on another connection, within
the same deadline; a timeout or a partial answer never does.

Errors, all FetchError subclasses carrying `url` (and `status` when the server answered):
    Refused       scheme, private address, plain http to a public host, more than 3
                  redirects, a loop, wrong Content-Type or encoding, not a JSON object,
                  an `id` on another origin or not stable
    TooLarge      body over the cap (a Refused)
    Unavailable   timeouts, DNS and connection failures, 5xx, 408, 429
    NotFound      404
    Gone          410
    FetchError    any other status that is not 2xx
"""

import asyncio
import ssl
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any, Self

import httpcore
import httpx

from federation.addresses import (
    Guard,
    GuardedBackend,
    GuardedTransport,
    IPNetwork,
    Resolver,
    check_url,
    resolve_host,
)
from federation.errors import (
    FetchError,
    Gone,
    InvalidDocument,
    NotFound,
    Refused,
    TooLarge,
    Unavailable,
)
from federation.jsonbody import parse_activity
from federation.sender import KEEPALIVE_EXPIRY
from federation.vocab import ACTIVITY_JSON, AS_CONTEXT, LD_JSON

AS2_ACCEPT = f"{ACTIVITY_JSON}, {LD_JSON}"
JRD_ACCEPT = "application/jrd+json, application/json"

MAX_BODY = 1024 * 1024
CONNECT_TIMEOUT = 5.0
DEADLINE = 30.0
MAX_REDIRECTS = 3

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class _Reply:
    url: httpx.URL
    status: int
    headers: httpx.Headers
    body: bytes


class Client:
    """The shared outgoing HTTP client; the app's lifespan creates one and closes it."""

    def __init__(
        self,
        user_agent: str,
        *,
        allow_private: Sequence[IPNetwork] = (),
        resolve: Resolver = resolve_host,
        transport: httpx.AsyncBaseTransport | None = None,
        mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
        max_body: int = MAX_BODY,
        connect_timeout: float = CONNECT_TIMEOUT,
        deadline: float = DEADLINE,
        max_redirects: int = MAX_REDIRECTS,
        max_connections: int = 100,
        max_keepalive_connections: int = 50,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        """`transport` replaces the network for every host and `mounts` for some (tests route
        hosts to in-process apps); the guard still checks every URL they are given."""
        guard = Guard(allow_private, resolve)
        inner = network_backend or httpcore.AnyIOBackend()
        tls = httpx.create_ssl_context(verify=verify, trust_env=False)

        def network(plain_http: bool) -> httpx.AsyncBaseTransport:
            if transport is not None:
                return GuardedTransport(guard, transport)
            # httpx has no public way to give its transport a network backend, so swap the pool.
            guarded = httpx.AsyncHTTPTransport(verify=tls, trust_env=False)
            guarded._pool = httpcore.AsyncConnectionPool(
                ssl_context=tls,
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=keepalive_expiry,
                network_backend=_Watching(
                    GuardedBackend(guard, plain_http=plain_http, inner=inner)
                ),
            )
            return guarded

        routes: dict[str, httpx.AsyncBaseTransport] = {"https://": network(plain_http=False)}
        routes.update(
            {key: GuardedTransport(guard, mount) for key, mount in (mounts or {}).items()}
        )
        self._max_body = max_body
        self._deadline = deadline
        self._max_redirects = max_redirects
        self._http = httpx.AsyncClient(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip"},
            # Per operation; the deadline around each whole exchange is what really bounds it.
            timeout=httpx.Timeout(deadline, connect=connect_timeout),
            # Whatever no mount claims (plain http, say) takes the strictest road.
            transport=network(plain_http=True),
            mounts=routes,
            follow_redirects=False,
            trust_env=False,  # an HTTP_PROXY in the environment would bypass the guard
            # Remote servers must not be able to plant state that we send to each other.
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        )

    async def fetch(self, url: str, auth: httpx.Auth | None = None) -> dict[str, Any]:
        """An ActivityStreams document whose `id` is where it lives (authorized fetch: pass
        the instance actor's signer as `auth`). A document served away from its id, on the
        same origin, is fetched again at its id: two exchanges, each under the deadline."""
        document, final = await self._fetch_once(url, auth)
        id_url = _id_url(document, final)
        if _origin(id_url) != _origin(final):
            raise Refused(f"document id {document['id']} is on another origin", url=str(final))
        if _without_fragment(id_url) == _without_fragment(final):
            return document
        # Same origin, another address (a profile URL, say): only the id itself is authoritative.
        again, final = await self._fetch_once(document["id"], auth)
        if again.get("id") != document["id"] or _id_url(again, final) != id_url:
            raise Refused(f"document id {document['id']} is not stable", url=str(final))
        if _without_fragment(id_url) != _without_fragment(final):
            raise Refused(
                f"document id {document['id']} does not resolve to itself", url=str(final)
            )
        return again

    async def get_json(self, url: str, accept: str = JRD_ACCEPT) -> dict[str, Any]:
        """A JSON object (WebFinger, NodeInfo), unsigned; any JSON media type is accepted."""
        reply = await self._exchange(url, headers={"Accept": accept})
        _raise_for_status(reply)
        media_type, _ = _media_type(reply.headers.get("content-type"))
        if not (media_type == "application/json" or media_type.endswith("+json")):
            raise Refused(f"Content-Type {media_type} is not JSON", url=str(reply.url), status=200)
        return _json_object(reply)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _fetch_once(
        self, url: str, auth: httpx.Auth | None
    ) -> tuple[dict[str, Any], httpx.URL]:
        reply = await self._exchange(url, headers={"Accept": AS2_ACCEPT}, auth=auth)
        _raise_for_status(reply)
        content_type = reply.headers.get("content-type")
        if not _is_activity_streams(content_type):
            raise Refused(
                f"Content-Type {content_type!r} is not ActivityStreams",
                url=str(reply.url),
                status=200,
            )
        return _json_object(reply), reply.url

    async def _exchange(
        self, url: str, *, headers: dict[str, str], auth: httpx.Auth | None = None
    ) -> _Reply:
        """GET `url`, following redirects, under the deadline."""
        try:
            async with asyncio.timeout(self._deadline):
                return await self._follow(url, headers, auth)
        except TimeoutError as e:
            raise Unavailable(f"no complete answer within {self._deadline:g} s", url=url) from e

    async def _follow(self, url: str, headers: dict[str, str], auth: httpx.Auth | None) -> _Reply:
        target = check_url(url)
        seen = {target}
        for hop in range(self._max_redirects + 1):
            with _mapped_errors(target):
                request = self._http.build_request("GET", target, headers=headers)
                response = await self._send(request, auth)
                try:
                    location = response.headers.get("location")
                    if response.status_code not in _REDIRECTS or location is None:
                        body = await self._read(response)
                        return _Reply(response.url, response.status_code, response.headers, body)
                finally:
                    await response.aclose()
                status = response.status_code
                target = check_url(location, base=target)
            if hop == self._max_redirects:
                raise Refused(f"more than {self._max_redirects} redirects", url=url, status=status)
            if target in seen:
                raise Refused(f"redirect loop back to {target}", url=url, status=status)
            seen.add(target)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, request: httpx.Request, auth: httpx.Auth | None) -> httpx.Response:
        """One hop, signed by `auth`, whose flow may knock twice (cavage, then RFC 9421).

        httpx would read the first answer whole, with no cap, before knocking again; driving
        the flow here keeps every body under the cap. Flows see status and headers only.
        """
        if auth is None:
            return await self._transmit(request)
        flow = auth.async_auth_flow(request)
        request = await flow.__anext__()
        while True:
            response = await self._transmit(request)
            try:
                request = await flow.asend(response)
            except StopAsyncIteration:
                return response
            except BaseException:
                await response.aclose()
                raise
            await self._drain(response)
            await response.aclose()

    async def _transmit(self, request: httpx.Request) -> httpx.Response:
        """Send one GET and await its head. One whose kept connection turns out closed before
        any byte of the answer goes again, once: nothing was heard, and a GET changes nothing.
        A timeout or a partial answer is a server that did not answer: never sent again."""
        try:
            return await self._http.send(request, stream=True)
        except httpx.TransportError as e:
            if not isinstance(e.__cause__, _Stale):
                raise
        # The pool closed the stale connection; it connects anew unless another is ready.
        return await self._http.send(request, stream=True)

    async def _read(self, response: httpx.Response) -> bytes:
        """The decoded body, aborting (TooLarge) as soon as either side passes the cap."""
        url, status, limit = str(response.url), response.status_code, self._max_body
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"body of {declared} bytes is over {limit}", url=url, status=status)
        if response.is_stream_consumed:  # built whole in memory by a mock transport
            if len(response.content) > limit:
                raise TooLarge(f"body is over {limit} bytes", url=url, status=status)
            return response.content
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip"):
            raise Refused(f"unsupported Content-Encoding {encoding!r}", url=url, status=status)
        # httpx would inflate without bound (a 1 MB gzip bomb is 1 GB); inflate here, capped.
        inflater = None if encoding == "identity" else zlib.decompressobj(16 + zlib.MAX_WBITS)
        body = bytearray()
        received = 0
        try:
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if inflater is not None:
                    chunk = inflater.decompress(chunk, limit - len(body) + 1)
                body += chunk
                if received > limit or len(body) > limit:
                    raise TooLarge(f"body is over {limit} bytes", url=url, status=status)
            if inflater is not None:
                body += inflater.flush()
                if not inflater.eof or len(body) > limit:
                    raise Refused("truncated or oversized gzip body", url=url, status=status)
        except zlib.error as e:
            raise Refused(f"bad gzip body: {e}", url=url, status=status) from e
        return bytes(body)

    async def _drain(self, response: httpx.Response) -> None:
        # Reading a small answer to the end lets the connection go back to the pool.
        received = 0
        if response.is_stream_consumed:
            return
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > self._max_body:
                return  # closing it unread is cheaper than reading on


class _Stale(httpcore.ReadError):
    """A kept connection closed or reset before any byte of its next answer."""


class _WatchedStream(httpcore.AsyncNetworkStream):
    """A connection that tells a stale close (_Stale) from any other failure: it knows
    whether an earlier answer came on it and whether the one awaited now has begun."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._kept = False  # an earlier answer was heard: this is a reused connection
        self._heard = False  # bytes came since the last request was written

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self._heard:
            self._kept, self._heard = True, False
        await self._inner.write(buffer, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = await self._inner.read(max_bytes, timeout)
        except httpcore.ReadError as e:  # a reset; timeouts are not ReadErrors
            if self._kept and not self._heard:
                raise _Stale(f"reset by the server before any answer: {e}") from e
            raise
        if data:
            self._heard = True
        elif self._kept and not self._heard:
            raise _Stale("closed by the server before any answer")
        return data

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _WatchedStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Watching(httpcore.AsyncNetworkBackend):
    """Hands httpcore watched connections (see _WatchedStream) from the guarded backend."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _WatchedStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@contextmanager
def _mapped_errors(url: httpx.URL) -> Iterator[None]:
    """Nothing from httpx, httpcore or the socket layer leaves this module untyped."""
    try:
        yield
    except FetchError as e:
        if e.url is None:  # raised by the guard, which sees hosts, not URLs
            e.url = str(url)
        raise
    except httpx.InvalidURL as e:
        raise Refused(f"not a valid URL: {e}", url=str(url)) from e
    except httpx.TimeoutException as e:
        raise Unavailable(f"timed out: {type(e).__name__}", url=str(url)) from e
    except (httpx.HTTPError, httpx.StreamError, OSError) as e:
        raise Unavailable(f"{type(e).__name__}: {e}", url=str(url)) from e


def _raise_for_status(reply: _Reply) -> None:
    url, status = str(reply.url), reply.status
    if 200 <= status < 300:
        return
    if status == 404:
        raise NotFound("not found", url=url, status=status)
    if status == 410:
        raise Gone("gone", url=url, status=status)
    if status >= 500 or status in (408, 429):
        raise Unavailable(f"server answered {status}", url=url, status=status)
    raise FetchError(f"server answered {status}", url=url, status=status)


def _media_type(header: str | None) -> tuple[str, Message]:
    """The lowercased media type and the parsed header (quoted parameters and all)."""
    message = Message()
    message["content-type"] = header or ""
    if not header or "/" not in header.split(";", 1)[0]:
        return "", message
    return message.get_content_type(), message


def _is_activity_streams(header: str | None) -> bool:
    media_type, message = _media_type(header)
    if media_type == "application/activity+json":
        return True
    profile = message.get_param("profile")
    if media_type != "application/ld+json" or not isinstance(profile, str):
        return False
    return AS_CONTEXT in profile.split()


def _json_object(reply: _Reply) -> dict[str, Any]:
    try:
        return parse_activity(reply.body)
    except InvalidDocument as e:
        raise Refused(f"not a JSON object: {e}", url=str(reply.url), status=reply.status) from e


def _id_url(document: dict[str, Any], final: httpx.URL) -> httpx.URL:
    id_ = document.get("id")
    if not isinstance(id_, str):
        raise Refused("document has no id", url=str(final))
    try:
        return httpx.URL(id_)
    except (httpx.InvalidURL, ValueError) as e:
        raise Refused(f"document id {id_!r} is not a URL", url=str(final)) from e


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _without_fragment(url: httpx.URL) -> httpx.URL:
    return url.copy_with(fragment=None) if url.fragment else url
