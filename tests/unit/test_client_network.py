"""federation.client over real sockets: the SSRF guard, DNS rebinding, caps and deadlines.

Tiny raw HTTP servers listen on loopback. The client reaches them only because each test puts
their address in `allow_private`; with it empty the guard refuses the same URLs, and the
servers count connections to prove nothing got through. A counting network backend sits
under the guard to see which address each socket really went to and how much was read.
"""

import asyncio
import datetime
import gzip
import json
import socket
import ssl
import struct
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager
from ipaddress import ip_address
from typing import Any, Self

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from federation.addresses import IPAddress, Resolver, parse_networks
from federation.client import Client
from federation.errors import Refused, TooLarge, Unavailable

AS2 = "application/activity+json"
LOOPBACK = parse_networks("127.0.0.1")
MB = 1024 * 1024

Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]


class Server:
    """A loopback HTTP/1.1 server made of raw bytes, so it can misbehave on purpose."""

    def __init__(
        self, respond: Respond, host: str = "127.0.0.1", port: int = 0, tls: Any = None
    ) -> None:
        self.respond, self.host, self.port, self.tls = respond, host, port, tls
        self.connections = 0
        self.requests: list[bytes] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http{'s' if self.tls else ''}://{host or self.host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:  # keep-alive: one request after another on this connection
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                for line in head.lower().split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                await self.respond(reader, writer, head)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def online(
    respond: Respond, user_agent: str = "Ayni/test", **options: Any
) -> AsyncIterator[tuple[Server, Client]]:
    """A loopback server and a client allowed to reach loopback."""
    async with (
        Server(respond) as server,
        Client(user_agent, allow_private=LOOPBACK, **options) as client,
    ):
        yield server, client


def head(status: int = 200, /, **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(body: bytes = b"{}", status: int = 200, /, **headers: str) -> Respond:
    async def respond(r: asyncio.StreamReader, w: asyncio.StreamWriter, request: bytes) -> None:
        w.write(head(status, content_length=str(len(body)), **headers) + body)
        await w.drain()

    return respond


def document_at(path: str, **headers: str) -> Respond:
    """Answers with an AS2 document whose id is the URL it was asked for."""

    async def respond(r: asyncio.StreamReader, w: asyncio.StreamWriter, request: bytes) -> None:
        host = next(
            line.split(b":", 1)[1].strip().decode()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"host:")
        )
        scheme = "https" if w.get_extra_info("ssl_object") else "http"
        body = json.dumps({"id": f"{scheme}://{host}{path}", "type": "Note"}).encode()
        w.write(head(content_type=AS2, content_length=str(len(body)), **headers) + body)
        await w.drain()

    return respond


class CountingStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, backend: "CountingBackend") -> None:
        self.inner, self.backend = inner, backend

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self.inner.read(max_bytes, self.backend.read_timeout or timeout)
        self.backend.received += len(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.backend.tls_names.append(server_hostname)
        return CountingStream(
            await self.inner.start_tls(ssl_context, server_hostname, timeout), self.backend
        )

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class CountingBackend(httpcore.AsyncNetworkBackend):
    """The real network, recording where each socket goes and how many bytes come back."""

    def __init__(
        self, refuse: bool = False, hang: bool = False, read_timeout: float | None = None
    ) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.refuse, self.hang, self.read_timeout = refuse, hang, read_timeout
        self.hosts: list[str] = []
        self.tls_names: list[str | None] = []
        self.received = 0

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        if self.hang:
            await asyncio.sleep(3600)
        if self.refuse:  # stands in for a public host we cannot reach from the test machine
            raise httpcore.ConnectError("unreachable in tests")
        stream = await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return CountingStream(stream, self)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def resolver(*answers: list[str]) -> tuple[Resolver, list[str]]:
    """A resolver giving each answer in turn (the last one forever), and the names it was asked."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ip_address(a) for a in answers[min(len(asked), len(answers)) - 1]]

    return resolve, asked


@pytest.fixture
async def backend() -> AsyncIterator[CountingBackend]:
    yield CountingBackend()


# --- the guard is what refuses loopback -----------------------------------------------------


async def test_loopback_is_refused_by_the_guard_and_reached_only_when_allowed(
    backend: CountingBackend,
) -> None:
    async with Server(document_at("/notes/1")) as server:
        async with Client("Ayni/test", network_backend=backend) as strict:
            with pytest.raises(Refused, match="loopback") as caught:
                await strict.fetch(server.url("/notes/1"))
        assert caught.value.url == server.url("/notes/1")
        assert (server.connections, backend.hosts) == (0, [])

        async with Client("Ayni/test", allow_private=LOOPBACK, network_backend=backend) as lax:
            got = await lax.fetch(server.url("/notes/1"))
        assert got["id"] == server.url("/notes/1")
        assert server.connections == 1


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.1"],
        ["169.254.169.254"],
        ["::ffff:127.0.0.1"],
        ["64:ff9b::a00:1"],
        ["2002:7f00:1::"],
        ["::1"],
        ["100.64.0.1"],
        ["fd00::1"],
        ["fe80::1"],
        ["224.0.0.1"],
        ["0.0.0.0"],
        ["93.184.215.14", "192.168.1.1"],  # one bad address spoils the name
        ["2606:2800:220:1::1", "::1"],
    ],
)
async def test_a_name_resolving_to_a_forbidden_address_is_never_connected(
    backend: CountingBackend, addresses: list[str]
) -> None:
    resolve, _ = resolver(addresses)
    async with Client("Ayni/test", resolve=resolve, network_backend=backend) as client:
        for call in (
            client.fetch("https://evil.example/actor"),
            client.get_json("https://evil.example/.well-known/webfinger"),
        ):
            with pytest.raises(Refused, match="is never fetched"):
                await call
    assert backend.hosts == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/",
        "https://[64:ff9b::a00:1]/",
        "https://[2002:7f00:1::]/",
        "https://[::1]:8443/",
        "http://0x7f000001/",  # 127.0.0.1 spelt in hex: resolved, then refused
        "http://2130706433/",  # and as one decimal number
    ],
)
async def test_forbidden_literal_addresses_are_never_connected(
    backend: CountingBackend, url: str
) -> None:
    async with Client("Ayni/test", network_backend=backend) as client:
        with pytest.raises(Refused) as caught:
            await client.fetch(url)
    assert caught.value.url is not None
    assert backend.hosts == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:text/plain,hi", "ftp://example.com/"])
async def test_other_schemes_are_refused_before_any_lookup(
    backend: CountingBackend, url: str
) -> None:
    resolve, asked = resolver(["93.184.215.14"])
    async with Client("Ayni/test", resolve=resolve, network_backend=backend) as client:
        with pytest.raises(Refused, match="never fetched"):
            await client.fetch(url)
    assert (asked, backend.hosts) == ([], [])


async def test_plain_http_is_refused_to_public_addresses(backend: CountingBackend) -> None:
    resolve, _ = resolver(["93.184.215.14"])
    async with Client("Ayni/test", resolve=resolve, network_backend=backend) as client:
        with pytest.raises(Refused, match="plain http"):
            await client.fetch("http://remote.example/actor")
    assert backend.hosts == []


# --- no DNS rebinding: the socket goes to the address that was checked --------------------------


async def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    backend: CountingBackend,
) -> None:
    resolve, asked = resolver(["127.0.0.1"])
    async with Server(document_at("/notes/1")) as server:
        url = server.url("/notes/1", host="remote.test")
        async with Client(
            "Ayni/test", allow_private=LOOPBACK, resolve=resolve, network_backend=backend
        ) as client:
            got = await client.fetch(url)

    assert got["id"] == url
    assert server.connections == 1
    assert f"host: remote.test:{server.port}".encode() in server.requests[0].lower()
    assert backend.hosts == ["127.0.0.1"]  # an address, never the name looked up again
    assert asked == ["remote.test"]


async def test_a_second_answer_from_the_resolver_is_never_used_for_a_checked_connection(
    backend: CountingBackend,
) -> None:
    # Given an allowed server on 127.0.0.2 and a forbidden one on 127.0.0.1, same port,
    # and a name that resolves to the allowed one first, then to the forbidden one,
    resolve, asked = resolver(["127.0.0.2"], ["127.0.0.1"])
    networks = parse_networks("127.0.0.2")
    async with (
        Server(document_at("/a"), host="127.0.0.2") as allowed,
        Server(document_at("/a"), port=allowed.port) as forbidden,
    ):
        url = allowed.url("/a", host="rebind.test")
        async with Client(
            "Ayni/test", allow_private=networks, resolve=resolve, network_backend=backend
        ) as client:
            # when it is fetched twice on the shared client,
            await client.fetch(url)
            await client.fetch(url)
        # then both requests went down the one checked connection,
        assert (allowed.connections, len(allowed.requests), asked) == (1, 2, ["rebind.test"])
        # and a new connection looks the name up again and refuses the new answer.
        async with Client(
            "Ayni/test", allow_private=networks, resolve=resolve, network_backend=backend
        ) as fresh:
            with pytest.raises(Refused, match="loopback"):
                await fresh.fetch(url)
        assert forbidden.connections == 0
    assert backend.hosts == ["127.0.0.2"]


async def test_a_public_answer_then_a_private_one_connects_only_to_the_public_address() -> None:
    backend = CountingBackend(refuse=True)
    resolve, asked = resolver(["93.184.215.14"], ["127.0.0.1"])
    async with Client("Ayni/test", resolve=resolve, network_backend=backend) as client:
        with pytest.raises(Unavailable):
            await client.fetch("https://rebind.example/actor")
    assert backend.hosts == ["93.184.215.14"]
    assert asked == ["rebind.example"]


async def test_every_checked_address_is_tried_in_turn() -> None:
    backend = CountingBackend(refuse=True)
    resolve, _ = resolver(["93.184.215.14", "2606:2800:220:1::1"])
    async with Client("Ayni/test", resolve=resolve, network_backend=backend) as client:
        with pytest.raises(Unavailable) as caught:
            await client.fetch("https://remote.example/actor")
    assert caught.value.url == "https://remote.example/actor"
    assert backend.hosts == ["93.184.215.14", "2606:2800:220:1::1"]


# --- redirects re-check every hop -------------------------------------------------------------


async def test_a_redirect_from_an_allowed_host_to_a_private_one_is_refused(
    backend: CountingBackend,
) -> None:
    async with (
        Server(document_at("/x")) as private,
        Server(answer(b"", 302, location=private.url("/x")), host="127.0.0.2") as good,
        Client(
            "Ayni/test", allow_private=parse_networks("127.0.0.2"), network_backend=backend
        ) as client,
    ):
        with pytest.raises(Refused, match="loopback") as caught:
            await client.fetch(good.url("/start"))
    assert good.connections == 1
    assert private.connections == 0
    assert caught.value.url == private.url("/x")
    assert backend.hosts == ["127.0.0.2"]


async def test_a_redirect_loop_between_real_servers_is_refused(backend: CountingBackend) -> None:
    async with online(answer(b"", 302, location="/b"), network_backend=backend) as (server, client):
        server.respond = answer(b"", 302, location=server.url("/a"))
        with pytest.raises(Refused, match="loop"):
            await client.fetch(server.url("/a"))
    assert len(server.requests) == 1


# --- caps and deadlines -----------------------------------------------------------------------


async def test_a_declared_5_mb_body_is_refused_without_reading_it(
    backend: CountingBackend,
) -> None:
    body = b"x" * (5 * MB)
    async with online(answer(body, content_type=AS2), network_backend=backend) as (server, client):
        with pytest.raises(TooLarge) as caught:
            await client.fetch(server.url("/big"))
    assert caught.value.status == 200
    assert backend.received < 1 * MB


async def test_an_undeclared_5_mb_body_is_aborted_at_the_cap(backend: CountingBackend) -> None:
    async def stream_5_mb(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: bytes) -> None:
        w.write(head(content_type=AS2, connection="close"))
        for _piece in range(80):
            w.write(b" " * (64 * 1024))
            await w.drain()
        w.close()

    started = time.monotonic()
    async with online(stream_5_mb, network_backend=backend) as (server, client):
        with pytest.raises(TooLarge):
            await client.fetch(server.url("/big"))
    assert backend.received < 1 * MB + 256 * 1024  # the cap and a read or two, not 5 MB
    assert time.monotonic() - started < 5


async def test_an_endless_chunked_body_is_aborted(backend: CountingBackend) -> None:
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: bytes) -> None:
        w.write(head(content_type=AS2, transfer_encoding="chunked"))
        while True:
            w.write(b"4000\r\n" + b"[" * 0x4000 + b"\r\n")
            await w.drain()

    started = time.monotonic()
    async with (
        Server(endless) as server,
        Client(
            "Ayni/test", allow_private=LOOPBACK, network_backend=backend, max_body=64 * 1024
        ) as client,
    ):
        with pytest.raises(TooLarge):
            await client.get_json(server.url("/endless"))
    assert backend.received < 256 * 1024
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("method", ["fetch", "get_json"])
async def test_a_server_that_never_answers_is_abandoned_at_the_deadline(method: str) -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: bytes) -> None:
        await asyncio.sleep(3600)

    started = time.monotonic()
    async with online(silent, deadline=0.5) as (server, client):
        with pytest.raises(Unavailable) as caught:
            await getattr(client, method)(server.url("/actor"))
    assert 0.4 < time.monotonic() - started < 2
    assert caught.value.url == server.url("/actor")


async def test_a_body_trickling_forever_is_abandoned_at_the_overall_deadline() -> None:
    # Each byte arrives well within any per-read timeout; only the overall deadline stops it.
    async def trickle(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: bytes) -> None:
        w.write(head(content_type=AS2, content_length="1000"))
        for _byte in range(1000):
            w.write(b" ")
            await w.drain()
            await asyncio.sleep(0.02)

    started = time.monotonic()
    async with online(trickle, deadline=0.6) as (server, client):
        with pytest.raises(Unavailable, match="0.6 s"):
            await client.fetch(server.url("/slow"))
    assert 0.5 < time.monotonic() - started < 2


async def test_a_connection_that_hangs_is_abandoned_at_the_connect_timeout() -> None:
    resolve, _ = resolver(["93.184.215.14"])
    backend = CountingBackend(hang=True)
    started = time.monotonic()
    async with Client(
        "Ayni/test", resolve=resolve, network_backend=backend, connect_timeout=0.3, deadline=10
    ) as client:
        with pytest.raises(Unavailable, match="ConnectTimeout"):
            await client.fetch("https://blackhole.example/actor")
    assert time.monotonic() - started < 2


async def test_a_resolver_that_hangs_is_abandoned_at_the_connect_timeout() -> None:
    async def hang(host: str, port: int) -> list[IPAddress]:
        await asyncio.sleep(3600)
        return []

    started = time.monotonic()
    async with Client("Ayni/test", resolve=hang, connect_timeout=0.3, deadline=10) as client:
        with pytest.raises(Unavailable):
            await client.fetch("https://slow-dns.example/actor")
    assert time.monotonic() - started < 2


async def test_a_name_that_does_not_resolve_is_unavailable() -> None:
    async def nxdomain(host: str, port: int) -> list[IPAddress]:
        raise OSError(-2, "Name or service not known")

    async with Client("Ayni/test", resolve=nxdomain) as client:
        with pytest.raises(Unavailable, match="cannot resolve") as caught:
            await client.fetch("https://nowhere.example/actor")
    assert caught.value.url == "https://nowhere.example/actor"


# --- gzip -------------------------------------------------------------------------------------


async def test_a_gzip_body_is_decoded(backend: CountingBackend) -> None:
    async with Server(answer(b"")) as server:
        url = server.url("/notes/1")
        packed = gzip.compress(json.dumps({"id": url, "content": "z" * 5000}).encode())
        server.respond = answer(packed, content_type=AS2, content_encoding="gzip")
        async with Client("Ayni/test", allow_private=LOOPBACK, network_backend=backend) as client:
            got = await client.fetch(url)
    assert got["content"] == "z" * 5000
    assert b"accept-encoding: gzip" in server.requests[0].lower()


async def test_a_gzip_bomb_is_stopped_at_the_cap_while_inflating(backend: CountingBackend) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = packer.compress(b"0" * (50 * MB)) + packer.flush()  # about 50 kB on the wire
    async with online(
        answer(bomb, content_type=AS2, content_encoding="gzip"), network_backend=backend
    ) as (server, client):
        tracemalloc.start()
        try:
            with pytest.raises(TooLarge):
                await client.fetch(server.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # Inflating a whole 64 kB read at once would hold about 64 MB; the cap keeps it near 1 MB.
    assert peak < 8 * MB


@pytest.mark.parametrize(
    ("encoding", "body"),
    # mtime=0: the same bytes, and so the same test id, in every process (xdist compares them)
    [
        ("gzip", b"not gzip at all"),
        ("gzip", gzip.compress(b'{"id": "x"}', mtime=0)[:-12]),
        ("br", b"{}"),
    ],
    ids=["not-gzip", "truncated-gzip", "brotli"],
)
async def test_bad_or_unknown_encodings_are_refused(encoding: str, body: bytes) -> None:
    async with online(answer(body, content_type=AS2, content_encoding=encoding)) as (
        server,
        client,
    ):
        with pytest.raises(Refused, match="gzip|Content-Encoding"):
            await client.fetch(server.url("/x"))


class Knock(httpx.Auth):
    """Signs one way, and on a 401 knocks again the other way, as the real signer does."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Signature"] = "cavage"
        response = yield request
        if response.status_code == 401:
            request.headers["Signature"] = "rfc9421"
            yield request


async def test_a_second_knock_does_not_read_a_huge_first_answer(backend: CountingBackend) -> None:
    async def picky(r: asyncio.StreamReader, w: asyncio.StreamWriter, request: bytes) -> None:
        if b"signature: rfc9421" in request.lower():
            await document_at("/actor")(r, w, request)
            return
        w.write(head(401, connection="close"))
        for _piece in range(80):  # 5 MB of "unauthorized"
            w.write(b"u" * (64 * 1024))
            await w.drain()
        w.close()

    async with online(picky, network_backend=backend, max_body=64 * 1024) as (server, client):
        got = await client.fetch(server.url("/actor"), auth=Knock())
    assert got["id"] == server.url("/actor")
    assert len(server.requests) == 2
    assert backend.received < 512 * 1024


async def test_proxies_from_the_environment_are_never_used(
    monkeypatch: pytest.MonkeyPatch, backend: CountingBackend
) -> None:
    async with Server(answer(b"", 502)) as proxy:
        for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(variable, proxy.url())
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        resolve, _ = resolver(["127.0.0.1"])
        async with online(document_at("/a"), resolve=resolve, network_backend=backend) as (
            server,
            client,
        ):
            got = await client.fetch(server.url("/a", host="remote.test"))
    assert got["id"] == server.url("/a", host="remote.test")
    assert (proxy.connections, server.connections) == (0, 1)


# --- the wire: User-Agent, warm connections, statuses -----------------------------------------


async def test_every_request_names_ayni_and_requests_reuse_one_connection() -> None:
    user_agent = "Ayni/0.1.0 (+https://ayni.example)"
    async with online(document_at("/note"), user_agent=user_agent) as (server, client):
        got = [
            await client.fetch(server.url("/note")),
            await client.get_json(server.url("/note")),
            await client.fetch(server.url("/note")),
        ]
    assert [g["id"] for g in got] == [server.url("/note")] * 3
    assert (server.connections, len(server.requests)) == (1, 3)
    assert all(f"user-agent: {user_agent}".lower().encode() in r.lower() for r in server.requests)


async def test_an_error_status_is_read_and_the_connection_kept() -> None:
    async with online(answer(b'{"error": "nope"}', 503, retry_after="30")) as (server, client):
        for call in (client.fetch(server.url("/note")), client.get_json(server.url("/note"))):
            with pytest.raises(Unavailable) as caught:
                await call
            assert caught.value.status == 503
    assert (server.connections, len(server.requests)) == (1, 2)


async def test_a_connection_refused_is_unavailable() -> None:
    async with Server(answer()) as server:
        port = server.port
    async with Client("Ayni/test", allow_private=LOOPBACK) as client:
        with pytest.raises(Unavailable):
            await client.fetch(f"http://127.0.0.1:{port}/gone-away")


# --- kept connections: a server's idle close crossing our next request ------------------------


def closing_when_idle(idle: float, answer_with: Respond, *, reset: bool = False) -> Respond:
    """Answers with `answer_with`, except on a connection idle for more than `idle` seconds:
    the next request there is read and the socket closed unanswered (with a reset when
    `reset`). That is what the client sees when the server's idle close and its request cross
    on the wire: the close arrives after the request left, too late to pick another connection.
    """
    answered: dict[asyncio.StreamWriter, float] = {}

    async def respond(r: asyncio.StreamReader, w: asyncio.StreamWriter, request: bytes) -> None:
        last = answered.get(w)
        if last is not None and time.monotonic() - last > idle:
            if reset:
                w.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            w.close()
            return
        await answer_with(r, w, request)
        answered[w] = time.monotonic()

    return respond


def first_answer_then(later: Respond) -> Respond:
    """A normal document for the first request of a connection, then `later` for the others."""
    first = document_at("/note")
    served: set[asyncio.StreamWriter] = set()

    async def respond(r: asyncio.StreamReader, w: asyncio.StreamWriter, request: bytes) -> None:
        if w in served:
            await later(r, w, request)
        else:
            served.add(w)
            await first(r, w, request)

    return respond


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_a_get_on_a_kept_connection_the_server_closed_while_idle_goes_again_on_a_new_one(
    reset: bool,
) -> None:
    # The server closes connections idle for 1 s; we fetch twice, 2 s apart.
    async with online(closing_when_idle(1.0, document_at("/note"), reset=reset)) as (
        server,
        client,
    ):
        first = await client.fetch(server.url("/note"))
        await asyncio.sleep(2.0)
        second = await client.fetch(server.url("/note"))
    assert first["id"] == second["id"] == server.url("/note")
    assert server.connections == 2
    assert len(server.requests) == 3  # the one that found the connection closing, and again


async def test_a_signed_fetch_on_a_kept_connection_the_server_closed_goes_again() -> None:
    signed: list[str] = []

    class Recording(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
            signed.append(str(request.url))
            request.headers["Signature"] = "test"
            yield request

    async with online(closing_when_idle(0.2, document_at("/note"))) as (server, client):
        await client.fetch(server.url("/note"), auth=Recording())
        await asyncio.sleep(0.4)
        got = await client.fetch(server.url("/note"), auth=Recording())
    assert got["id"] == server.url("/note")
    assert server.connections == 2
    assert all(b"signature: test" in request.lower() for request in server.requests)


async def test_a_timeout_on_a_kept_connection_is_not_tried_again() -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: bytes) -> None:
        await asyncio.sleep(3600)

    # Reads time out after 0.3 s, well before the 10 s deadline: room for a retry to show.
    backend = CountingBackend(read_timeout=0.3)
    async with online(first_answer_then(silent), network_backend=backend, deadline=10) as (
        server,
        client,
    ):
        await client.fetch(server.url("/note"))
        started = time.monotonic()
        with pytest.raises(Unavailable, match="ReadTimeout"):
            await client.fetch(server.url("/note"))
    assert time.monotonic() - started < 1
    assert (server.connections, len(server.requests)) == (1, 2)


def cut_short(partial: bytes) -> Respond:
    async def respond(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: bytes) -> None:
        w.write(partial)
        await w.drain()
        w.close()

    return respond


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\n",  # the status line, then nothing
        head(content_type=AS2, content_length="100") + b'{"id": ',  # the head and some body
    ],
    ids=["status-line", "body"],
)
async def test_a_kept_connection_closed_after_part_of_an_answer_is_not_tried_again(
    partial: bytes,
) -> None:
    async with online(first_answer_then(cut_short(partial))) as (server, client):
        await client.fetch(server.url("/note"))
        with pytest.raises(Unavailable):
            await client.fetch(server.url("/note"))
    assert (server.connections, len(server.requests)) == (1, 2)


async def test_a_new_connection_closed_before_any_answer_is_not_tried_again() -> None:
    async with online(cut_short(b"")) as (server, client):
        with pytest.raises(Unavailable):
            await client.fetch(server.url("/note"))
    assert (server.connections, len(server.requests)) == (1, 1)


async def test_idle_connections_are_dropped_before_the_common_5_s_server_timeout() -> None:
    async with online(document_at("/note")) as (server, client):
        await client.fetch(server.url("/note"))
        await asyncio.sleep(4.1)
        await client.fetch(server.url("/note"))
    assert server.connections == 2


# --- TLS: we connect to an address but verify the certificate for the name ---------------------


def tls_contexts(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(*write_pair(pem, key))
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


def write_pair(pem: bytes, key: ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    import tempfile

    directory = tempfile.mkdtemp()
    cert_path, key_path = f"{directory}/cert.pem", f"{directory}/key.pem"
    with open(cert_path, "wb") as f:
        f.write(pem)
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


async def test_tls_verifies_the_host_name_while_connecting_to_the_checked_address(
    backend: CountingBackend,
) -> None:
    server_tls, client_tls = tls_contexts("remote.test")
    seen_names: list[str | None] = []

    def remember_name(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        seen_names.append(name)

    server_tls.sni_callback = remember_name
    resolve, _ = resolver(["127.0.0.1"])
    async with Server(document_at("/users/alice"), tls=server_tls) as server:
        url = server.url("/users/alice", host="remote.test")
        async with Client(
            "Ayni/test",
            allow_private=LOOPBACK,
            resolve=resolve,
            network_backend=backend,
            verify=client_tls,
        ) as client:
            got = await client.fetch(url)
    assert got["id"] == url
    assert backend.hosts == ["127.0.0.1"]
    assert backend.tls_names == ["remote.test"]
    assert seen_names == ["remote.test"]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_over_tls_a_get_on_a_kept_connection_the_server_closed_goes_again(
    reset: bool,
) -> None:
    server_tls, client_tls = tls_contexts("remote.test")
    resolve, _ = resolver(["127.0.0.1"])
    respond = closing_when_idle(0.2, document_at("/note"), reset=reset)
    async with (
        Server(respond, tls=server_tls) as server,
        Client("Ayni/test", allow_private=LOOPBACK, resolve=resolve, verify=client_tls) as client,
    ):
        url = server.url("/note", host="remote.test")
        await client.fetch(url)
        await asyncio.sleep(0.4)
        got = await client.fetch(url)
    assert got["id"] == url
    assert server.connections == 2


async def test_tls_with_a_certificate_for_another_name_is_unavailable() -> None:
    server_tls, client_tls = tls_contexts("someone-else.test")
    resolve, _ = resolver(["127.0.0.1"])
    async with (
        Server(document_at("/users/alice"), tls=server_tls) as server,
        Client("Ayni/test", allow_private=LOOPBACK, resolve=resolve, verify=client_tls) as client,
    ):
        with pytest.raises(Unavailable, match="certificate|CERTIFICATE|hostname"):
            await client.fetch(server.url("/users/alice", host="remote.test"))
