"""Deliveries' own HTTP/1.1 POST: the client's guard and caps, without httpx's per-request cost.

    sender = Sender("Ayni/0.1 (+https://ayni.example)", allow_private=networks)
    target = Target.of("https://remote.example/inbox")
    answer = await sender.post(target, body, [("Content-Type", ...), ("Signature", ...)])
    await sender.aclose()

A delivery is one small POST whose answer we need only the status of, so this speaks just
enough HTTP/1.1 for that: one request, the status line and headers of the answer, and a
capped drain of its body so the connection can serve the host's next delivery. Everything
else the client guarantees holds here too (federation.client):

- every connection goes through the same `Guard`: resolved once, every address checked,
  the socket opened to a checked address; plain http only to allowed private addresses
  (a host's checked addresses serve its new connections for CHECKED_FOR seconds);
- TLS verifies the certificate for the host name (SNI), whatever address we connected to;
- redirects are not followed: a 3xx is the answer, and delivery's policy decides;
- connecting (lookup included) has 5 s and the whole exchange 30 s;
- an answer's head is capped at 64 KB and at most 64 KB of its body is read;
- failures are typed: Refused (the guard, a bad URL) or Unavailable (the network, a
  malformed answer, a deadline), never a raw OSError.

Idle connections are kept per origin (a few per host, a bounded number in all, for a few
seconds), so a host receiving many deliveries pays for one handshake.

What is underneath can be swapped, as httpx swaps transports: a `Connector` opens the byte
stream to a checked address (the network's is `loop.create_connection`); tests give one that
hands the request's bytes to in-process apps, so everything above it (the guard, signing and
the second knock, the answer's parsing, keeping connections) runs as in production.
"""

import asyncio
import contextlib
import re
import socket
import ssl
import struct
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Protocol, Self, cast

import httpx

from federation.addresses import (
    Guard,
    IPAddress,
    IPNetwork,
    Resolver,
    check_url,
    resolve_host,
)
from federation.errors import FetchError, Refused, Unavailable
from federation.http1 import Answer, AnswerReader, Malformed

CONNECT_TIMEOUT = 5.0
DEADLINE = 30.0
KEEPALIVE_EXPIRY = 4.0  # below the 5 s idle timeout of uvicorn and others
# A host's checked addresses serve its new connections this long without a second lookup and
# check: about what the system resolver caches a name for, and every address was checked.
CHECKED_FOR = 30.0

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass(frozen=True)
class Target:
    """An http(s) URL taken apart once: where to connect, what to put on the request line."""

    url: str  # as httpx normalises it: what an RFC 9421 signature covers
    scheme: str
    host: str  # ASCII (IDNA), no brackets: what the guard resolves and TLS checks
    port: int
    authority: str  # the Host header
    path: str  # the request target, query included

    @staticmethod
    def of(url: str) -> "Target":
        """Refused unless an absolute http(s) URL whose parts are safe on a request line."""
        return _parse(url)


# An absolute URL already in the form httpx gives it: lower-case scheme and host (a name whose
# last label starts with a letter, or a dotted quad), no default port, no escapes, no dot
# segments. Nearly every inbox URI is one, and for these httpx's parse (what a first delivery
# to an inbox costs most after the signature) would change nothing.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PLAIN = re.compile(
    r"(https?)://"
    rf"((?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*|(?:{_OCTET}\.){{3}}{_OCTET})"
    r"(?::([1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)"
    r"(\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?"
)
_DEFAULT_PORT = {"http": 80, "https": 443}


@lru_cache(maxsize=4096)
def _parse(url: str) -> Target:
    return _parse_plain(url) or _parse_any(url)


def _parse_plain(url: str) -> Target | None:
    """The Target of a URL that matches _PLAIN, or None: httpx has to look at it."""
    match = _PLAIN.fullmatch(url)
    if match is None:
        return None
    scheme, host, port_text, path, query = match.groups()
    port = int(port_text) if port_text else _DEFAULT_PORT[scheme]
    segments = path.split("/")
    if port > 65535 or (port_text and port == _DEFAULT_PORT[scheme]):
        return None
    if "." in segments or ".." in segments:
        return None
    authority = f"{host}:{port_text}" if port_text else host
    return Target(url, scheme, host, port, authority, path + (query or ""))


def _parse_any(url: str) -> Target:
    parsed = check_url(url)  # the client's own rules: the same URLs pass
    host = parsed.raw_host.decode("ascii")
    authority = parsed.netloc.decode("ascii")
    path = parsed.raw_path.decode("ascii")
    if not path.startswith("/") or any(c <= " " or c >= "\x7f" for c in authority + path):
        raise Refused("URL has characters that cannot go on a request line", url=url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Target(str(parsed), parsed.scheme, host, port, authority, path)


class _Stale(Exception):
    """A kept connection the server had closed before it read our request."""


class _Closed(Exception):
    """The connection ended (closed or reset) before a complete answer head."""

    def __init__(self, reason: str, *, heard: bool) -> None:
        super().__init__(reason)
        self.heard = heard  # some byte of an answer had arrived: not merely a stale connection


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, read straight from the transport's callbacks: streams would
    wake the waiting task once per layer and per read, this resolves a future once for the
    head and once for the body (usually from the same packet, so one wakeup in all).

    The answer is read by an AnswerReader, with its caps (MAX_HEAD for the head, MAX_DRAIN of
    the body); more, or anything the server sends out of turn, and the connection is not used
    again."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reader = AnswerReader()
        self._heard = False
        self._head: asyncio.Future[Answer] | None = None
        self._drained: asyncio.Future[bool] | None = None  # True: read away, can serve again

    def request(self, data: bytes) -> "asyncio.Future[Answer]":
        """Write a request; the future is its answer's head. `drained()` follows its body."""
        self._reader = AnswerReader()
        self._heard = False
        self._head = self._loop.create_future()
        self._drained = self._loop.create_future()
        if self.closed or self.transport is None or self.transport.is_closing():
            self._head.set_exception(_Closed("connection closed", heard=False))
        else:
            self.transport.write(data)
        return self._head

    def drained(self) -> "asyncio.Future[bool]":
        assert self._drained is not None
        return self._drained

    def idle(self, now: float) -> None:
        self._head = self._drained = None
        self.idle_since = now

    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        """Reset, not FIN: nothing of ours is left to send, a black hole would never answer the
        FIN, and a sender to thousands of hosts should not keep a TIME_WAIT socket per host."""
        self.closed = True
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None and not self.transport.is_closing():
                with contextlib.suppress(OSError):  # already reset by the peer
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            self.transport.abort()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        head, drained, reader = self._head, self._drained, self._reader
        if head is None or drained is None or drained.done():
            self.close()  # nothing asked: a server talking out of turn is not reused
            return
        self._heard = True
        try:
            reader.feed(data)
        except Malformed as e:
            self._end(e)
            return
        if reader.answer is not None and not head.done():
            head.set_result(reader.answer)
        if reader.reusable is not None:
            drained.set_result(reader.reusable)
            if not reader.reusable:
                self.close()

    def eof_received(self) -> None:
        self._end(_Closed("connection closed before a complete answer", heard=self._heard))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = (
            f"{type(exc).__name__}: {exc}" if exc else "connection closed before a complete answer"
        )
        self._end(_Closed(reason, heard=self._heard))

    def _end(self, error: Exception) -> None:
        """No more of this answer: fail whichever part has not come; never reuse."""
        self.close()
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(False)


class Connector(Protocol):
    """Opens a byte stream for `target` to `address` (one the guard checked) and attaches
    `protocol` to it, calling its `connection_made`; OSError when it cannot."""

    async def __call__(
        self, target: Target, address: str, protocol: asyncio.Protocol, tls: ssl.SSLContext | None
    ) -> None: ...


async def network(
    target: Target, address: str, protocol: asyncio.Protocol, tls: ssl.SSLContext | None
) -> None:
    """The Connector of production: a TCP connection, with TLS checked against the host name."""
    await asyncio.get_running_loop().create_connection(
        lambda: protocol,
        address,
        target.port,
        ssl=tls,
        server_hostname=target.host if tls else None,
    )


class Sender:
    """The delivery worker's POSTs; one per worker, closed when it stops."""

    def __init__(
        self,
        user_agent: str,
        *,
        allow_private: Sequence[IPNetwork] = (),
        resolve: Resolver = resolve_host,
        verify: ssl.SSLContext | bool = True,
        connect_timeout: float = CONNECT_TIMEOUT,
        deadline: float = DEADLINE,
        idle_per_origin: int = 4,
        max_idle: int = 256,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        checked_for: float = CHECKED_FOR,
        connector: Connector = network,
    ) -> None:
        self._connector = connector
        self._guard = Guard(allow_private, resolve)
        self._verify = verify
        self._tls: ssl.SSLContext | None = None  # made for the first https connection
        self._user_agent = user_agent
        self._connect_timeout = connect_timeout
        self._deadline = deadline
        self._idle_per_origin = idle_per_origin
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._idle: OrderedDict[tuple[str, str, int], list[_Connection]] = OrderedDict()
        self._idle_count = 0
        self._swept = time.monotonic()
        self._checked_for = checked_for
        self._checked: dict[tuple[str, int, bool], tuple[float, list[IPAddress]]] = {}
        self.connections_opened = 0  # for tests and the benchmark

    async def post(self, target: Target, body: bytes, headers: Sequence[tuple[str, str]]) -> Answer:
        """POST `body` with `headers` (Host, User-Agent and Content-Length are added); any
        HTTP status is an Answer, only the guard (Refused) or the network (Unavailable) raise."""
        data = self._head(target, len(body), headers) + body
        key = (target.scheme, target.host, target.port)
        deadline = asyncio.get_running_loop().time() + self._deadline
        try:
            async with asyncio.timeout_at(deadline):
                connection, answer = await self._exchange(target, key, data)
        except TimeoutError as e:
            raise Unavailable(
                f"no complete answer within {self._deadline:g} s", url=target.url
            ) from e
        except FetchError as e:
            if e.url is None:  # raised by the guard, which sees hosts, not URLs
                e.url = target.url
            raise
        if await self._drained(connection, deadline):
            self._keep(key, connection)
        return answer

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        self._idle_count = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _head(self, target: Target, length: int, headers: Sequence[tuple[str, str]]) -> bytes:
        lines = [
            f"POST {target.path} HTTP/1.1",
            f"Host: {target.authority}",
            f"User-Agent: {self._user_agent}",
            f"Content-Length: {length}",
        ]
        for name, value in headers:
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise Refused(f"header {name!r} cannot be sent", url=target.url)
            lines.append(f"{name}: {value}")
        lines.append("\r\n")
        try:
            return "\r\n".join(lines).encode("latin-1")
        except UnicodeEncodeError as e:
            raise Refused(f"a header cannot be sent: {e}", url=target.url) from e

    async def _exchange(
        self, target: Target, key: tuple[str, str, int], data: bytes
    ) -> tuple[_Connection, Answer]:
        connection = self._take(key)
        if connection is not None:
            try:
                return connection, await self._request(target, connection, data, kept=True)
            except _Stale:
                pass
        connection = await self._connect(target)
        return connection, await self._request(target, connection, data, kept=False)

    async def _connect(self, target: Target) -> _Connection:
        host, port = target.host, target.port
        tls = self._tls_context() if target.scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                try:
                    addresses = await self._check(host, port, plain_http=tls is None)
                except OSError as e:
                    raise Unavailable(f"cannot resolve {host}: {e}", url=target.url) from e
                failure: OSError | None = None
                for address in addresses:
                    connection = _Connection(loop)
                    try:
                        await self._connector(target, str(address), connection, tls)
                    except OSError as e:  # refused, unreachable, a certificate that is not valid
                        failure = e
                        continue
                    self.connections_opened += 1
                    return connection
                raise Unavailable(f"cannot connect to {host}: {failure}", url=target.url)
        except TimeoutError as e:
            raise Unavailable(
                f"no connection to {host} within {self._connect_timeout:g} s", url=target.url
            ) from e

    def _tls_context(self) -> ssl.SSLContext:
        # Loading the trust store takes milliseconds: a worker's pass that sends only to
        # in-process hosts (tests) never pays it.
        if self._tls is None:
            self._tls = httpx.create_ssl_context(verify=self._verify, trust_env=False)
            self._tls.set_alpn_protocols(["http/1.1"])
        return self._tls

    async def _check(self, host: str, port: int, *, plain_http: bool) -> list[IPAddress]:
        """The guard's addresses for a host, remembered for a while (a refusal or a failed
        lookup is not remembered)."""
        key, now = (host, port, plain_http), time.monotonic()
        checked = self._checked.get(key)
        if checked is not None and now - checked[0] < self._checked_for:
            return checked[1]
        addresses = await self._guard.check(host, port, plain_http=plain_http)
        if len(self._checked) >= 4096:  # bounded: forget them all rather than track ages
            self._checked.clear()
        self._checked[key] = (now, addresses)
        return addresses

    async def _request(
        self, target: Target, connection: _Connection, data: bytes, *, kept: bool
    ) -> Answer:
        """Send; wait for the answer's head. On a kept connection, a close before any byte of
        an answer means the server dropped it while idle (_Stale): the caller opens another."""
        try:
            return await connection.request(data)
        except _Closed as e:
            connection.close()
            if kept and not e.heard:
                raise _Stale() from e
            raise Unavailable(str(e), url=target.url) from e
        except Malformed as e:
            connection.close()
            raise Unavailable(f"malformed answer: {e}", url=target.url) from e
        except BaseException:  # cancelled (the deadline): this connection is in an unknown state
            connection.close()
            raise

    async def _drained(self, connection: _Connection, deadline: float) -> bool:
        """Whether the answer's body was read away in time, so the connection can serve again.
        The answer stands either way."""
        drained = connection.drained()
        if not drained.done():  # a body that did not come with the head
            try:
                async with asyncio.timeout_at(deadline):
                    await drained
            except TimeoutError:
                connection.close()
                return False
            except BaseException:
                connection.close()
                raise
        return drained.result()

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        connections = self._idle.get(key)
        now = time.monotonic()
        while connections:
            connection = connections.pop()
            self._idle_count -= 1
            if now - connection.idle_since < self._expiry and connection.usable():
                if not connections:
                    del self._idle[key]
                return connection
            connection.close()
        self._idle.pop(key, None)
        return None

    def _keep(self, key: tuple[str, str, int], connection: _Connection) -> None:
        now = time.monotonic()
        connection.idle(now)
        connections = self._idle.setdefault(key, [])
        self._idle.move_to_end(key)
        if len(connections) >= self._idle_per_origin:
            connection.close()
            return
        connections.append(connection)
        self._idle_count += 1
        while self._idle_count > self._max_idle:  # the origin idle the longest gives one up
            oldest_key, oldest = next(iter(self._idle.items()))
            oldest.pop(0).close()
            self._idle_count -= 1
            if not oldest:
                del self._idle[oldest_key]
        if now - self._swept > self._expiry:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Close what has idled too long, so hosts we never send to again hold no sockets."""
        self._swept = now
        for key in list(self._idle):
            connections = self._idle[key]
            fresh = [c for c in connections if now - c.idle_since < self._expiry]
            for connection in connections:
                if now - connection.idle_since >= self._expiry:
                    connection.close()
            self._idle_count -= len(connections) - len(fresh)
            if fresh:
                self._idle[key] = fresh
            else:
                del self._idle[key]
