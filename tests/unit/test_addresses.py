"""federation.addresses: which addresses and URLs the outgoing client may reach."""

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.addresses import (
    Guard,
    IPAddress,
    check_url,
    forbidden_because,
    parse_address,
    parse_networks,
)
from federation.errors import Refused, Unavailable

# --- parse_networks: the AYNI_ALLOW_PRIVATE_ADDRESSES setting ------------------------------------


def test_networks_are_parsed_from_a_comma_separated_setting() -> None:
    assert parse_networks(" 127.0.0.1, 10.0.0.0/8,::1 ,, fd00::/8") == (
        ip_network("127.0.0.1/32"),
        ip_network("10.0.0.0/8"),
        ip_network("::1/128"),
        ip_network("fd00::/8"),
    )


def test_an_empty_setting_allows_nothing() -> None:
    assert parse_networks("") == ()
    assert parse_networks(" , ") == ()


def test_host_bits_in_a_network_are_tolerated() -> None:
    assert parse_networks("10.1.2.3/8") == (ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    "bad", ["localhost", "10.0.0.0/33", "300.1.1.1", "::g", "10.0.0.1 10.0.0.2"]
)
def test_a_bad_entry_is_named_in_the_error(bad: str) -> None:
    with pytest.raises(ValueError, match=bad.split()[0].replace(".", r"\.")):
        parse_networks(f"127.0.0.1, {bad}")


# --- forbidden_because ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("192.0.0.8", "IETF protocol assignment"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("64:ff9b::a00:1", "NAT64"),
        ("64:ff9b:1::1", "NAT64"),
        ("2002:7f00:1::", "6to4"),
        ("2002:808:808::1", "6to4"),
        ("2001::1", "Teredo"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("2001:2::1", "IETF protocol assignment"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("100::1", "discard-only"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "scoped"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("4000::1", "reserved"),
    ],
)
def test_non_public_addresses_are_forbidden_with_a_reason(address: str, why: str) -> None:
    assert forbidden_because(ip_address(address)) == why


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "1.1.1.1", "8.8.8.8", "151.101.1.1", "2606:4700::1111", "2a01:4f8::1"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_because(ip_address(address)) is None


def test_allow_private_exempts_exactly_its_networks() -> None:
    allowed = parse_networks("127.0.0.1, 10.1.0.0/16, fd00::/8")

    assert forbidden_because(ip_address("127.0.0.1"), allowed) is None
    assert forbidden_because(ip_address("10.1.200.3"), allowed) is None
    assert forbidden_because(ip_address("fd00::5"), allowed) is None
    assert forbidden_because(ip_address("127.0.0.2"), allowed) == "loopback"
    assert forbidden_because(ip_address("10.2.0.1"), allowed) == "private"
    assert forbidden_because(ip_address("::ffff:127.0.0.1"), allowed) == "IPv4-mapped"


ipv4 = st.integers(0, 2**32 - 1).map(IPv4Address)
ipv6 = st.integers(0, 2**128 - 1).map(IPv6Address)


@given(st.one_of(ipv4, ipv6))
def test_whatever_the_standard_library_calls_non_global_is_forbidden(address: IPAddress) -> None:
    why = forbidden_because(address)
    assert why is None or isinstance(why, str)
    if not address.is_global or address.is_multicast:
        assert why is not None


@given(ipv4)
def test_an_ipv4_address_smuggled_in_ipv6_is_forbidden(v4: IPv4Address) -> None:
    packed = int(v4)
    for smuggled in (
        IPv6Address((0xFFFF << 32) | packed),  # ::ffff:a.b.c.d
        IPv6Address((0x64FF9B << 96) | packed),  # 64:ff9b::a.b.c.d
        IPv6Address((0x2002 << 112) | (packed << 80)),  # 2002:aabb:ccdd::
        IPv6Address((0x20010000 << 96) | (packed ^ 0xFFFFFFFF)),  # Teredo, client obfuscated
        IPv6Address(packed),  # ::a.b.c.d
    ):
        assert forbidden_because(smuggled) is not None


def test_ip_literals_are_recognised_with_or_without_brackets() -> None:
    assert parse_address("[::1]") == ip_address("::1")
    assert parse_address("10.0.0.1") == ip_address("10.0.0.1")
    assert parse_address("remote.example") is None
    assert parse_address("0x7f000001") is None  # a name to the resolver, which then refuses it


# --- Guard ------------------------------------------------------------------------------------


class Resolver:
    def __init__(self, *addresses: str) -> None:
        self.addresses = [ip_address(a) for a in addresses]
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        return self.addresses


async def test_the_guard_returns_the_addresses_it_checked() -> None:
    resolve = Resolver("93.184.215.14", "2606:4700::1111")

    got = await Guard((), resolve).check("remote.example", 443, plain_http=False)

    assert got == resolve.addresses
    assert resolve.asked == [("remote.example", 443)]


async def test_the_guard_refuses_a_name_if_any_address_is_forbidden() -> None:
    with pytest.raises(Refused, match="remote.example resolves to 10.0.0.1, which is private"):
        await Guard((), Resolver("93.184.215.14", "10.0.0.1")).check(
            "remote.example", 443, plain_http=False
        )


async def test_the_guard_does_not_resolve_literals() -> None:
    resolve = Resolver("93.184.215.14")

    with pytest.raises(Refused, match="loopback"):
        await Guard((), resolve).check("::1", 443, plain_http=False)
    assert await Guard((), resolve).check("8.8.8.8", 443, plain_http=False) == [
        ip_address("8.8.8.8")
    ]
    assert resolve.asked == []


async def test_a_name_with_no_address_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        await Guard((), Resolver()).check("empty.example", 443, plain_http=False)


async def test_plain_http_reaches_only_allowed_private_networks() -> None:
    lan = parse_networks("192.168.7.0/24")

    assert await Guard(lan, Resolver("192.168.7.3")).check("peer.lan", 80, plain_http=True)
    with pytest.raises(Refused, match="plain http"):
        await Guard(lan, Resolver("93.184.215.14")).check("remote.example", 80, plain_http=True)


# --- check_url --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "data:application/activity+json,{}",
        "ftp://remote.example/",
        "gopher://remote.example/",
        "javascript:alert(1)",
        "/relative",
        "https://",
        "http://[::1",
    ],
)
def test_only_http_urls_with_a_host_pass(url: str) -> None:
    with pytest.raises(Refused) as caught:
        check_url(url)
    assert caught.value.url == url


def test_a_checked_url_loses_its_fragment_and_resolves_relative_redirects() -> None:
    assert check_url("https://remote.example/users/a#main-key") == httpx.URL(
        "https://remote.example/users/a"
    )
    base = httpx.URL("https://remote.example/a/b")
    assert check_url("../c?x=1", base=base) == httpx.URL("https://remote.example/c?x=1")
    assert check_url("//other.example/d", base=base) == httpx.URL("https://other.example/d")
