"""The delivery sender against real loopback servers: the client's guard, caps and typed errors,
and connections kept per host."""

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from federation.addresses import IPAddress
from federation.errors import Refused, Unavailable
from federation.sender import _PLAIN, Sender, Target, _parse_any, _parse_plain

LOOPBACK = (ip_network("127.0.0.1/32"),)
ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Server:
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    def url(self, path: str = "/inbox") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def read_request(reader: asyncio.StreamReader, server: Server) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    body = await reader.readexactly(length)
    server.requests.append(head + body)
    return head


def answering(*answers: bytes, close: bool = False) -> Handler:
    """Answers each request on a connection with the next answer (the last one repeats)."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        n = 0
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await read_request(reader, server)
                writer.write(answers[min(n, len(answers) - 1)])
                await writer.drain()
                n += 1
                if close:
                    break
        writer.close()

    return handle


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    server = Server()
    handlers: set[asyncio.Task[None]] = set()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer, server)
        finally:
            handlers.discard(task)

    listener = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for task in list(handlers):
            task.cancel()


@contextlib.asynccontextmanager
async def sender(**options: object) -> AsyncIterator[Sender]:
    options.setdefault("allow_private", LOOPBACK)
    async with Sender("Ayni/test (+http://127.0.0.1)", **options) as s:  # type: ignore[arg-type]
        yield s


async def post(s: Sender, url: str) -> int:
    answer = await s.post(
        Target.of(url), b'{"type":"Create"}', [("Content-Type", "application/activity+json")]
    )
    return answer.status


@pytest.mark.parametrize(
    "url",
    [
        "https://mastodon.example/inbox",
        "http://127.0.0.1:8101/users/ana/inbox?page=1",
        "https://xn--bcher-kva.example/inbox",
    ],
)
def test_a_plain_inbox_url_is_taken_apart_as_httpx_would(url: str) -> None:
    assert _parse_plain(url) == _parse_any(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://Mastodon.example/inbox",  # httpx lower-cases the host
        "http://h.example:80/inbox",  # and drops a default port
        "https://h.example/a/../inbox",  # and removes dot segments
        "https://h.example/%7einbox",
        "http://256.1.1.1/inbox",  # refused by httpx, not a name
        "http://1.2.3/inbox",
        "http://h.example:99999/inbox",
        "http://h.example",
        "https://bücher.example/inbox",
    ],
)
def test_urls_httpx_would_change_or_refuse_are_left_to_it(url: str) -> None:
    assert _parse_plain(url) is None


@given(st.from_regex(_PLAIN, fullmatch=True))
def test_whatever_the_plain_parse_takes_httpx_parses_the_same(url: str) -> None:
    plain = _parse_plain(url)
    if plain is not None:
        assert plain == _parse_any(url)


async def test_loopback_is_refused_unless_the_operator_allowed_it() -> None:
    async with serving(answering(ACCEPTED)) as server:
        async with sender(allow_private=()) as strict:
            with pytest.raises(Refused, match="loopback") as refused:
                await post(strict, server.url())
            assert refused.value.url == server.url()
        async with sender() as allowed:
            assert await post(allowed, server.url()) == 202
        assert server.connections == 1


@pytest.mark.parametrize(
    ("addresses", "why"),
    [
        (["10.0.0.7"], "private"),
        (["169.254.169.254"], "link-local"),
        (["::ffff:127.0.0.1"], "IPv4-mapped"),
        (["127.0.0.1", "10.0.0.7"], "private"),  # every address is checked, not just the first
    ],
)
async def test_names_resolving_to_private_addresses_are_refused(
    addresses: list[str], why: str
) -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ip_address(a) for a in addresses]

    async with sender(resolve=resolve) as s:
        with pytest.raises(Refused, match=why):
            await post(s, "http://inbox.test/inbox")


async def test_plain_http_to_a_public_host_is_refused() -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ip_address("93.184.215.14")]

    async with sender(resolve=resolve) as s:
        with pytest.raises(Refused, match="plain http"):
            await post(s, "http://public.example/inbox")


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/inbox", "/inbox", "http:///inbox", "file:///etc/passwd"]
)
async def test_urls_that_are_not_http_are_refused(url: str) -> None:
    async with sender() as s:
        with pytest.raises(Refused):
            await post(s, url)


async def test_the_socket_goes_to_the_checked_address_and_the_name_is_resolved_once() -> None:
    # A rebinding resolver: the first answer passes the guard, any later one would not.
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ip_address("127.0.0.1" if len(lookups) == 1 else "10.0.0.7")]

    async with serving(answering(ACCEPTED)) as server, sender(resolve=resolve) as s:
        assert await post(s, f"http://inbox.test:{server.port}/inbox") == 202
        assert await post(s, f"http://inbox.test:{server.port}/inbox") == 202  # kept connection
    assert lookups == ["inbox.test"]
    assert server.requests[0].startswith(b"POST /inbox HTTP/1.1\r\nHost: inbox.test:")


@pytest.mark.parametrize(("checked_for", "lookups_made"), [(30.0, 1), (0.0, 3)])
async def test_new_connections_to_a_host_reuse_its_checked_addresses_for_a_while(
    checked_for: float, lookups_made: int
) -> None:
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ip_address("127.0.0.1")]

    closing = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    async with (
        serving(answering(closing, close=True)) as server,
        sender(resolve=resolve, checked_for=checked_for) as s,
    ):
        url = f"http://inbox.test:{server.port}/inbox"
        assert [await post(s, url) for _ in range(3)] == [202, 202, 202]
        assert server.connections == 3
    assert lookups == ["inbox.test"] * lookups_made


async def test_a_refused_host_is_checked_again_on_the_next_delivery() -> None:
    answers = iter(["10.0.0.7", "127.0.0.1"])

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ip_address(next(answers))]

    async with serving(answering(ACCEPTED)) as server, sender(resolve=resolve) as s:
        url = f"http://inbox.test:{server.port}/inbox"
        with pytest.raises(Refused, match="private"):
            await post(s, url)
        assert await post(s, url) == 202


async def test_the_request_carries_our_user_agent_headers_and_body() -> None:
    async with serving(answering(ACCEPTED)) as server, sender() as s:
        await post(s, server.url("/users/ana/inbox?x=1"))
    request = server.requests[0]
    assert request.startswith(b"POST /users/ana/inbox?x=1 HTTP/1.1\r\n")
    assert b"\r\nUser-Agent: Ayni/test (+http://127.0.0.1)\r\n" in request
    assert b"\r\nContent-Length: 17\r\n" in request
    assert request.endswith(b'\r\n\r\n{"type":"Create"}')


async def test_a_header_value_with_a_line_break_is_never_sent() -> None:
    async with serving(answering(ACCEPTED)) as server, sender() as s:
        with pytest.raises(Refused):
            await s.post(Target.of(server.url()), b"{}", [("Signature", "x\r\nX-Injected: 1")])
    assert server.connections == 0


async def test_a_host_receiving_many_deliveries_gets_one_connection() -> None:
    async with serving(answering(ACCEPTED)) as server, sender() as s:
        for _ in range(5):
            assert await post(s, server.url()) == 202
        assert server.connections == 1 and s.connections_opened == 1


async def test_concurrent_deliveries_to_one_host_keep_at_most_the_idle_limit() -> None:
    async with serving(answering(ACCEPTED)) as server, sender(idle_per_origin=2) as s:
        assert await asyncio.gather(*(post(s, server.url()) for _ in range(6))) == [202] * 6
        opened = s.connections_opened
        assert opened == 6
        assert await asyncio.gather(*(post(s, server.url()) for _ in range(2))) == [202] * 2
        assert s.connections_opened == opened  # the two kept connections served them


async def test_a_connection_we_close_is_reset_so_no_time_wait_socket_is_left() -> None:
    seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(ACCEPTED)
        await writer.drain()
        try:
            seen.set_result("FIN" if await reader.read(1) == b"" else "data")
        except ConnectionResetError:
            seen.set_result("RST")

    async with serving(handle) as server:
        async with sender() as s:
            assert await post(s, server.url()) == 202
        assert await asyncio.wait_for(seen, 5) == "RST"


async def test_connection_close_from_the_server_is_honoured() -> None:
    closing = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    async with serving(answering(closing, close=True)) as server, sender() as s:
        assert await post(s, server.url()) == 202
        assert await post(s, server.url()) == 202
        assert server.connections == 2


async def test_an_http_1_0_answer_is_not_kept() -> None:
    async with (
        serving(answering(b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n")) as server,
        sender() as s,
    ):
        assert await post(s, server.url()) == 202
        assert await post(s, server.url()) == 202
        assert server.connections == 2


@pytest.mark.parametrize("idle", [0.05, 0])  # the server's FIN seen while idle, or only on use
async def test_a_kept_connection_the_server_dropped_is_replaced_without_an_error(
    idle: float,
) -> None:
    async with serving(answering(ACCEPTED, close=True)) as server, sender() as s:
        assert await post(s, server.url()) == 202
        await asyncio.sleep(idle)
        assert await post(s, server.url()) == 202
        assert server.connections == 2


async def test_bodies_are_read_away_so_the_connection_serves_again() -> None:
    chunked = (
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    )
    with_length = b'HTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\n{"ok":true}'
    async with serving(answering(chunked, with_length, ACCEPTED)) as server, sender() as s:
        assert [await post(s, server.url()) for _ in range(3)] == [400, 201, 202]
        assert server.connections == 1


async def test_an_answer_arriving_in_pieces_is_read_whole_and_the_connection_serves_again() -> None:
    chunked = (
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )

    async def in_pieces(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await read_request(reader, server)
                for at in range(0, len(chunked), 7):  # splits the head, sizes and CRLFs
                    writer.write(chunked[at : at + 7])
                    await writer.drain()
                    await asyncio.sleep(0.002)

    async with serving(in_pieces) as server, sender() as s:
        assert [await post(s, server.url()) for _ in range(2)] == [202, 202]
        assert server.connections == 1


async def test_bytes_after_the_answer_mean_the_connection_is_not_reused() -> None:
    # A server out of step (or smuggling a second answer) must not answer our next request.
    extra = ACCEPTED + b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
    async with serving(answering(extra, ACCEPTED)) as server, sender() as s:
        assert await post(s, server.url()) == 202
        assert await post(s, server.url()) == 202
        assert server.connections == 2


async def test_a_connection_the_server_writes_to_while_idle_is_not_reused() -> None:
    async def then_talk(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_request(reader, server)
            writer.write(ACCEPTED)
            await asyncio.sleep(0.02)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            while True:
                await read_request(reader, server)
                writer.write(ACCEPTED)

    async with serving(then_talk) as server, sender() as s:
        assert await post(s, server.url()) == 202
        await asyncio.sleep(0.1)
        assert await post(s, server.url()) == 202
        assert server.connections == 2


async def test_a_large_answer_is_not_read_the_status_stands_and_the_connection_goes() -> None:
    megabyte = b"HTTP/1.1 202 Accepted\r\nContent-Length: 1048576\r\n\r\n" + b"x" * 1024 * 1024
    async with serving(answering(megabyte, ACCEPTED)) as server, sender() as s:
        started = time.monotonic()
        assert await post(s, server.url()) == 202
        assert time.monotonic() - started < 1
        assert await post(s, server.url()) == 202
        assert server.connections == 2


async def test_a_body_that_never_comes_leaves_the_status_standing_and_the_connection_goes() -> None:
    async def head_only(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_request(reader, server)
            writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\nabc")
            await asyncio.Event().wait()

    async with serving(head_only) as server, sender(deadline=0.3) as s:
        started = time.monotonic()
        assert await post(s, server.url()) == 500
        assert 0.25 < time.monotonic() - started < 1
        assert s.connections_opened == 1
        assert await post(s, server.url()) == 500
        assert s.connections_opened == 2  # the first connection was not kept


@pytest.mark.parametrize("status", [202, 400, 401, 404, 410, 429, 500, 503])
async def test_any_status_is_an_answer_with_its_retry_after(status: int) -> None:
    busy = f"HTTP/1.1 {status} X\r\nRetry-After: 120\r\nContent-Length: 1\r\n\r\nx".encode()
    async with serving(answering(busy)) as server, sender() as s:
        answer = await s.post(Target.of(server.url()), b"{}", [])
    assert (answer.status, answer.retry_after) == (status, "120")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_answers_not_followed(status: int) -> None:
    # Back to the same server: a redirect followed would be a second request there.
    moved = f"HTTP/1.1 {status} Moved\r\nLocation: /inbox2\r\nContent-Length: 0\r\n\r\n".encode()
    async with serving(answering(moved)) as server, sender() as s:
        assert await post(s, server.url()) == status
        assert len(server.requests) == 1


async def test_a_black_hole_is_unavailable_at_the_deadline() -> None:
    async def never(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        await asyncio.Event().wait()

    async with serving(never) as server, sender(deadline=0.3) as s:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="within 0.3 s"):
            await post(s, server.url())
        assert time.monotonic() - started < 1


async def test_a_server_trickling_its_answer_is_cut_at_the_deadline() -> None:
    async def trickle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        for byte in ACCEPTED:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    async with serving(trickle) as server, sender(deadline=0.3) as s:
        with pytest.raises(Unavailable, match="within 0.3 s"):
            await post(s, server.url())


async def test_a_closed_port_is_unavailable_not_an_os_error() -> None:
    async with serving(answering(ACCEPTED)) as server:
        url = server.url()
    async with sender() as s:
        with pytest.raises(Unavailable, match="cannot connect") as caught:
            await post(s, url)
    assert caught.value.url == url


def first_answer_then(later: bytes) -> Handler:
    """ACCEPTED for a connection's first request; `later` for its second, then it closes."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_request(reader, server)
            writer.write(ACCEPTED)
            await writer.drain()
            await read_request(reader, server)
            writer.write(later)
            await writer.drain()
        writer.close()

    return handle


async def test_a_kept_connection_closed_after_part_of_a_status_line_is_not_sent_again() -> None:
    async with serving(first_answer_then(b"HTTP/1.1 202 Acc")) as server, sender() as s:
        assert await post(s, server.url()) == 202
        with pytest.raises(Unavailable):
            await post(s, server.url())
        assert (server.connections, len(server.requests)) == (1, 2)


async def test_a_kept_connection_closed_after_the_head_keeps_the_status_and_is_not_sent_again() -> (
    None
):
    cut = b'HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n{"error": '
    async with serving(first_answer_then(cut)) as server, sender() as s:
        assert [await post(s, server.url()) for _ in range(2)] == [202, 500]
        assert (server.connections, len(server.requests)) == (1, 2)


async def test_a_new_connection_closed_before_any_answer_is_not_sent_again() -> None:
    async def hang_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_request(reader, server)
        writer.close()

    async with serving(hang_up) as server, sender() as s:
        with pytest.raises(Unavailable):
            await post(s, server.url())
        assert (server.connections, len(server.requests)) == (1, 1)


async def test_a_black_hole_on_a_kept_connection_is_not_sent_again() -> None:
    async def then_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(ACCEPTED)
        await writer.drain()
        await read_request(reader, server)
        await asyncio.Event().wait()

    async with serving(then_silent) as server, sender(deadline=0.3) as s:
        assert await post(s, server.url()) == 202
        with pytest.raises(Unavailable, match="within 0.3 s"):
            await post(s, server.url())
        assert (server.connections, len(server.requests)) == (1, 2)


async def test_a_resolver_that_hangs_is_bounded_by_the_connect_timeout() -> None:
    async def hang(host: str, port: int) -> list[IPAddress]:
        await asyncio.Event().wait()
        return []

    async with sender(resolve=hang, connect_timeout=0.2) as s:
        with pytest.raises(Unavailable, match="no connection"):
            await post(s, "http://inbox.test/inbox")


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2020 Accepted\r\n\r\n",
        b"HTTP/2 202\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n folded: header\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nBad Header: 1\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 1, 2\r\n\r\nx",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 202 Acc",  # then the server closes
    ],
)
async def test_malformed_answers_are_unavailable(answer: bytes) -> None:
    async with serving(answering(answer, close=True)) as server, sender() as s:
        with pytest.raises(Unavailable):
            await post(s, server.url())


async def test_an_interim_100_continue_is_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + ACCEPTED
    async with serving(answering(answer)) as server, sender() as s:
        assert await post(s, server.url()) == 202
        assert await post(s, server.url()) == 202
        assert server.connections == 1


async def test_content_length_with_chunked_is_taken_but_the_connection_is_dropped() -> None:
    smuggling = (
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    async with serving(answering(smuggling, ACCEPTED)) as server, sender() as s:
        assert await post(s, server.url()) == 202
        assert await post(s, server.url()) == 202
        assert server.connections == 2


def self_signed(name: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the server's context, a client context that trusts only this certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


@contextlib.asynccontextmanager
async def serving_tls(handler: Handler, context: ssl.SSLContext) -> AsyncIterator[Server]:
    server = Server()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        await handler(reader, writer, server)

    listener = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=context)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


async def to_loopback(host: str, port: int) -> list[IPAddress]:
    return [ip_address("127.0.0.1")]


async def test_https_checks_the_certificate_for_the_host_name_not_the_address(
    tmp_path: Path,
) -> None:
    server_tls, trusting = self_signed("inbox.test", tmp_path)
    async with serving_tls(answering(ACCEPTED), server_tls) as server:
        url = f"https://inbox.test:{server.port}/inbox"
        async with sender(resolve=to_loopback, verify=trusting) as s:
            assert await post(s, url) == 202
            assert await post(s, url) == 202
            assert server.connections == 1
        async with sender(resolve=to_loopback) as s:  # the system's roots do not know it
            with pytest.raises(Unavailable, match="certificate"):
                await post(s, url)
        async with sender(resolve=to_loopback, verify=trusting) as s:
            with pytest.raises(Unavailable, match="certificate|match"):
                await post(s, f"https://other.test:{server.port}/inbox")
