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
  the socket opened to a checked address; plain http only to allowed private addresses;
- TLS verifies the certificate for the host name (SNI), whatever address we connected to;
- redirects are not followed: a 3xx is the answer, and delivery's policy decides;
- connecting (lookup included) has 5 s and the whole exchange 30 s;
- an answer's head is capped at 64 KB and at most 64 KB of its body is read;
- failures are typed: Refused (the guard, a bad URL) or Unavailable (the network, a
  malformed answer, a deadline), never a raw OSError.

Idle connections are kept per origin (a few per host, a bounded number in all, for a few
seconds), so a host receiving many deliveries pays for one handshake.
"""

import asyncio
import ssl
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Self

import httpx

from federation.addresses import Guard, IPNetwork, Resolver, check_url, resolve_host
from federation.errors import FetchError, Refused, Unavailable

CONNECT_TIMEOUT = 5.0
DEADLINE = 30.0
MAX_HEAD = 64 * 1024
MAX_DRAIN = 64 * 1024
KEEPALIVE_EXPIRY = 4.0  # below the 5 s idle timeout of uvicorn and others

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NO_BODY = frozenset({204, 304})


@dataclass(frozen=True)
class Target:
    """An http(s) URL taken apart once: where to connect, what to put on the request line."""

    url: str  # as httpx normalises it: what an RFC 9421 signature covers
    scheme: str
    host: str  # ASCII (IDNA), no brackets: what the guard resolves and TLS checks
    port: int
    authority: str  # the Host header
    path: str  # the request target, query included

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.authority}"

    @staticmethod
    def of(url: str) -> "Target":
        """Refused unless an absolute http(s) URL whose parts are safe on a request line."""
        return _parse(url)


@lru_cache(maxsize=4096)
def _parse(url: str) -> Target:
    parsed = check_url(url)  # the client's own rules: the same URLs pass
    host = parsed.raw_host.decode("ascii")
    authority = parsed.netloc.decode("ascii")
    path = parsed.raw_path.decode("ascii")
    if not path.startswith("/") or any(c <= " " or c >= "\x7f" for c in authority + path):
        raise Refused("URL has characters that cannot go on a request line", url=url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Target(str(parsed), parsed.scheme, host, port, authority, path)


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None = None


class _Stale(Exception):
    """A kept connection the server had closed before it read our request."""


class _Malformed(Exception):
    pass


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.transport.abort()  # no FIN handshake to wait on: a black hole never answers


@dataclass
class _Framing:
    """How the answer's body ends, and whether the connection can take another request."""

    length: int | None  # None: chunked
    reusable: bool


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
    ) -> None:
        self._guard = Guard(allow_private, resolve)
        self._tls = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._tls.set_alpn_protocols(["http/1.1"])
        self._user_agent = user_agent
        self._connect_timeout = connect_timeout
        self._deadline = deadline
        self._idle_per_origin = idle_per_origin
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._idle: OrderedDict[tuple[str, str, int], list[_Connection]] = OrderedDict()
        self._idle_count = 0
        self._swept = time.monotonic()
        self.connections_opened = 0  # for tests and the benchmark

    async def post(self, target: Target, body: bytes, headers: Sequence[tuple[str, str]]) -> Answer:
        """POST `body` with `headers` (Host, User-Agent and Content-Length are added); any
        HTTP status is an Answer, only the guard (Refused) or the network (Unavailable) raise."""
        head = self._head(target, len(body), headers)
        key = (target.scheme, target.host, target.port)
        deadline = asyncio.get_running_loop().time() + self._deadline
        try:
            async with asyncio.timeout_at(deadline):
                connection, answer, framing = await self._exchange(target, key, head, body)
        except TimeoutError as e:
            raise Unavailable(
                f"no complete answer within {self._deadline:g} s", url=target.url
            ) from e
        except FetchError as e:
            if e.url is None:  # raised by the guard, which sees hosts, not URLs
                e.url = target.url
            raise
        await self._finish(key, connection, framing, deadline)
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
        self, target: Target, key: tuple[str, str, int], head: bytes, body: bytes
    ) -> tuple[_Connection, Answer, _Framing]:
        connection = self._take(key)
        if connection is not None:
            try:
                return await self._request(target, connection, head, body, kept=True)
            except _Stale:
                connection.close()
        connection = await self._connect(target)
        return await self._request(target, connection, head, body, kept=False)

    async def _connect(self, target: Target) -> _Connection:
        host, port = target.host, target.port
        tls = self._tls if target.scheme == "https" else None
        try:
            async with asyncio.timeout(self._connect_timeout):
                try:
                    addresses = await self._guard.check(host, port, plain_http=tls is None)
                except OSError as e:
                    raise Unavailable(f"cannot resolve {host}: {e}", url=target.url) from e
                failure: OSError | None = None
                for address in addresses:
                    try:
                        reader, writer = await asyncio.open_connection(
                            str(address),
                            port,
                            ssl=tls,
                            server_hostname=host if tls else None,
                            limit=MAX_HEAD,
                        )
                    except OSError as e:  # refused, unreachable, a certificate that is not valid
                        failure = e
                        continue
                    self.connections_opened += 1
                    return _Connection(reader, writer)
                raise Unavailable(f"cannot connect to {host}: {failure}", url=target.url)
        except TimeoutError as e:
            raise Unavailable(
                f"no connection to {host} within {self._connect_timeout:g} s", url=target.url
            ) from e

    async def _request(
        self, target: Target, connection: _Connection, head: bytes, body: bytes, *, kept: bool
    ) -> tuple[_Connection, Answer, _Framing]:
        """Send; read the answer's head. On a kept connection, a close before any byte of an
        answer means the server dropped it while idle (_Stale): the caller opens another."""
        try:
            connection.writer.write(head + body)
            await connection.writer.drain()
            while True:
                raw = await connection.reader.readuntil(b"\r\n\r\n")
                kept = False  # the server has answered: from here on, nothing is stale
                status, version, fields = _parse_head(raw)
                if status >= 200:
                    break
                if status == 101:
                    raise _Malformed("101 Switching Protocols to a POST that asked for none")
        except asyncio.IncompleteReadError as e:
            connection.close()
            if kept and not e.partial:
                raise _Stale() from e
            raise Unavailable("connection closed before a complete answer", url=target.url) from e
        except ConnectionError as e:
            connection.close()
            if kept:
                raise _Stale() from e
            raise Unavailable(f"{type(e).__name__}: {e}", url=target.url) from e
        except asyncio.LimitOverrunError as e:
            connection.close()
            raise Unavailable(f"answer head over {MAX_HEAD} bytes", url=target.url) from e
        except _Malformed as e:
            connection.close()
            raise Unavailable(f"malformed answer: {e}", url=target.url) from e
        except OSError as e:
            connection.close()
            raise Unavailable(f"{type(e).__name__}: {e}", url=target.url) from e
        except BaseException:  # cancelled (the deadline): this connection is in an unknown state
            connection.close()
            raise
        try:
            framing = _framing(status, version, fields)
        except _Malformed as e:
            connection.close()
            raise Unavailable(f"malformed answer: {e}", url=target.url) from e
        return connection, Answer(status, fields.get("retry-after")), framing

    async def _finish(
        self, key: tuple[str, str, int], connection: _Connection, framing: _Framing, deadline: float
    ) -> None:
        """Read the body away (at most MAX_DRAIN) and keep the connection, or close it."""
        if not framing.reusable:
            connection.close()
            return
        reader = connection.reader
        try:
            async with asyncio.timeout_at(deadline):
                if framing.length is not None:
                    if framing.length:
                        await reader.readexactly(framing.length)
                else:
                    await _drain_chunked(reader)
        except (
            TimeoutError,
            OSError,
            ValueError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            _Malformed,
        ):
            connection.close()  # the answer stands; only the connection is lost
            return
        except BaseException:
            connection.close()
            raise
        self._keep(key, connection)

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
        connection.idle_since = now
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


def _parse_head(raw: bytes) -> tuple[int, bytes, dict[str, str]]:
    """(status, version, the headers we use, lowercased); _Malformed when not HTTP/1.x."""
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise _Malformed(f"status line {lines[0][:80]!r}")
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 599:
        raise _Malformed(f"status {code[:10]!r}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or not _TOKEN.issuperset(name):
            raise _Malformed(f"header line {line[:80]!r}")  # obs-fold, a bare word, a space
        key = name.decode("ascii").lower()
        if key in ("content-length", "transfer-encoding", "connection", "retry-after"):
            text = value.strip(b" \t").decode("latin-1")
            fields[key] = f"{fields[key]}, {text}" if key in fields else text
    return int(code), parts[0], fields


def _framing(status: int, version: bytes, fields: dict[str, str]) -> _Framing:
    tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
    reusable = version == b"HTTP/1.1" and "close" not in tokens
    if status in _NO_BODY:
        return _Framing(0, reusable)
    if "transfer-encoding" in fields:
        codings = [t.strip().lower() for t in fields["transfer-encoding"].split(",")]
        # With a Content-Length too, someone is smuggling: answer taken, connection dropped.
        chunked = codings[-1] == "chunked" and "content-length" not in fields
        return _Framing(None, reusable and chunked)
    if "content-length" in fields:
        values = {v.strip() for v in fields["content-length"].split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise _Malformed(f"Content-Length {fields['content-length'][:40]!r}")
        length = int(values.pop())
        return _Framing(length, reusable and length <= MAX_DRAIN)
    return _Framing(0, False)  # the body runs until the server closes: we do not wait for it


async def _drain_chunked(reader: asyncio.StreamReader) -> None:
    received = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        if (
            not size_text
            or len(size_text) > 8
            or not all(c in b"0123456789abcdefABCDEF" for c in size_text)
        ):
            raise _Malformed("chunk size")
        size = int(size_text, 16)
        received += size
        if received > MAX_DRAIN:
            raise _Malformed("body over the drain cap")
        if size == 0:
            break
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise _Malformed("chunk not followed by CRLF")
    for _ in range(100):  # trailers, then the blank line
        if await reader.readuntil(b"\r\n") == b"\r\n":
            return
    raise _Malformed("too many trailers")
