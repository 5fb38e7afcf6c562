"""Which IP addresses Ayni may connect to: the pure half of the SSRF guard.

A remote server names a URL; we resolve it and connect only if every address is ordinary
public unicast. Anything that reaches this machine, the local network, the cloud metadata
service, or an IPv4 address smuggled inside an IPv6 one (mapped, NAT64, 6to4, Teredo) is
refused. The one exemption is the operator's AYNI_ALLOW_PRIVATE_ADDRESSES (tests, LANs).

`Guard.check` resolves a host once through an injected resolver and returns the addresses
that passed. `GuardedBackend` is the only door to the network: httpcore asks it for a TCP
connection to a host, and it connects to one of those checked addresses, never to a second
lookup of the name (no DNS rebinding). `GuardedTransport` checks URLs handed to in-process
transports (ASGI apps, mocks) that open no sockets.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import httpcore
import httpx

from federation.errors import Refused, Unavailable

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

# (network, why) from the IANA special-purpose registries. Order matters only for the message.
_FORBIDDEN: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ip_network(network), why)
    for network, why in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # includes 255.255.255.255, broadcast
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001::/23", "IETF protocol assignment"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
# Everything routable on the IPv6 internet today is in 2000::/3; the rest is reserved.
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """'127.0.0.1, 10.0.0.0/8, ::1' -> networks; a bare address is a one-address network."""
    networks: list[IPNetwork] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError as e:
            raise ValueError(f"not an IP address or network: {entry!r}") from e
    return tuple(networks)


def parse_address(text: str) -> IPAddress | None:
    """An IP literal as found in a URL host (brackets allowed), or None for a name."""
    try:
        return ip_address(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def forbidden_because(address: IPAddress, allow_private: Iterable[IPNetwork] = ()) -> str | None:
    """Why we must not connect to `address` ('loopback', 'private'…), or None if we may."""
    if _within(address, allow_private):
        return None
    if isinstance(address, IPv6Address) and address.scope_id:
        return "scoped"  # a zone index (fe80::1%eth0) names a local interface
    for network, why in _FORBIDDEN:
        if address.version == network.version and address in network:
            return why
    if isinstance(address, IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "reserved"
    if not address.is_global:
        # The standard library's view of the registries may know ranges newer than ours.
        return "not global"
    return None


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host`, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class Guard:
    """Resolves a host once and refuses it unless every address may be reached."""

    def __init__(self, allow_private: Sequence[IPNetwork], resolve: Resolver) -> None:
        self.allow_private = tuple(allow_private)
        self._resolve = resolve

    async def check(self, host: str, port: int, *, plain_http: bool) -> list[IPAddress]:
        literal = parse_address(host)
        addresses = [literal] if literal is not None else list(await self._resolve(host, port))
        if not addresses:
            raise Unavailable(f"{host} has no address")
        for address in addresses:
            why = forbidden_because(address, self.allow_private)
            if why is not None:
                named = f"{host} resolves to {address}" if literal is None else f"{address}"
                raise Refused(f"{named}, which is {why}, is never fetched")
        if plain_http and not all(_within(address, self.allow_private) for address in addresses):
            raise Refused(f"plain http:// to {host} is refused; only https reaches public hosts")
        return addresses


def check_url(url: str | httpx.URL, base: httpx.URL | None = None) -> httpx.URL:
    """`url` (resolved against `base`) without its fragment, if it is http(s) with a host."""
    try:
        parsed = base.join(url) if base is not None else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        raise Refused(f"not a valid URL: {e}", url=str(url)) from e
    if parsed.scheme not in ("http", "https"):
        raise Refused(f"{parsed.scheme or 'relative'} URLs are never fetched", url=str(url))
    if not parsed.host:
        raise Refused("URL has no host", url=str(url))
    return parsed.copy_with(fragment=None) if parsed.fragment else parsed


def _within(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the guard has just checked."""

    def __init__(
        self, guard: Guard, *, plain_http: bool, inner: httpcore.AsyncNetworkBackend
    ) -> None:
        self._guard = guard
        self._plain_http = plain_http
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        # The connect timeout covers the lookup too: a resolver can hang as long as a socket.
        try:
            async with asyncio.timeout(timeout):
                try:
                    addresses = await self._guard.check(host, port, plain_http=self._plain_http)
                except OSError as e:
                    raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e
                failure = httpcore.ConnectError(f"cannot connect to {host}")
                for address in addresses:
                    try:
                        return await self._inner.connect_tcp(
                            str(address), port, timeout, local_address, socket_options
                        )
                    except httpcore.ConnectError as e:
                        failure = e
                raise failure
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(f"no connection to {host} within {timeout} s") from e

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Applies the guard to an injected transport (ASGI apps, mocks) that opens no sockets."""

    def __init__(self, guard: Guard, inner: httpx.AsyncBaseTransport) -> None:
        self._guard = guard
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        await self._guard.check(url.host, port, plain_http=url.scheme == "http")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
