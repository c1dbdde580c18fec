"""Tests for federation.ssrf_guard: the address table, URL checks, checked resolution and the guarded aiohttp client."""

import ipaddress
import socket
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver

from federation.ssrf_guard import (
    ForbiddenAddress,
    GuardedResolver,
    check_url,
    guarded_connector,
    guarded_socket_factory,
    is_public_address,
    legacy_ipv4,
    resolve_checked,
    why_not_public,
)

NOT_PUBLIC = [
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.20.1.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "127.53.0.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "192.0.0.8",
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.1",
    "198.18.0.1",
    "192.88.99.1",
    "::",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456:789a::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "::8.8.8.8",
    "64:ff9b::10.0.0.1",
    "64:ff9b::127.0.0.1",
    "64:ff9b:1::8.8.8.8",
    "2002:c0a8:0101::1",
    "2002:7f00:0001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:db8::1",
    "3fff::1",
    "100::1",
    "5f00::1",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "151.101.1.1",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "2606:4700::1111",
    "2a00:1450:4009:81f::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:0808:0808::1",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_not_public_addresses_are_refused_with_a_reason(address):
    ip = ipaddress.ip_address(address)
    assert not is_public_address(ip)
    assert why_not_public(ip)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert is_public_address(ipaddress.ip_address(address))


def test_embedded_ipv4_is_named_in_the_reason():
    assert "192.168.1.1" in why_not_public(ipaddress.ip_address("2002:c0a8:0101::1"))
    assert "10.0.0.1" in why_not_public(ipaddress.ip_address("64:ff9b::10.0.0.1"))
    assert "127.0.0.1" in why_not_public(ipaddress.ip_address("::ffff:127.0.0.1"))


# check_url ------------------------------------------------------------------------------------------------------


def refused(url: str, *, allow_private=False, allow_http=True) -> str:
    with pytest.raises(ForbiddenAddress) as caught:
        check_url(url, allow_private=allow_private, allow_http=allow_http)
    return caught.value.reason


def test_check_url_returns_scheme_host_and_port():
    assert check_url("https://Coop.Example/actor", allow_private=False, allow_http=False) == (
        "https", "coop.example", 443
    )
    assert check_url("http://coop.example:8080/", allow_private=False, allow_http=True) == (
        "http", "coop.example", 8080
    )
    assert check_url("https://bücher.example/", allow_private=False, allow_http=False)[1] == "xn--bcher-kva.example"
    assert check_url("https://[2606:4700::1111]/", allow_private=False, allow_http=False)[1] == "2606:4700::1111"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://user:secret@coop.example/", "user name or password"),
        ("https://user@coop.example/", "user name or password"),
        ("https://@coop.example/", "user name or password"),
        ("ftp://coop.example/", "only https"),
        ("file:///etc/passwd", "only https"),
        ("gopher://coop.example/", "only https"),
        ("https:///no-host", "no host"),
        ("/relative/path", "only https"),
        ("https://coop.example:0/", "port"),
        ("https://coop.example:99999/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
    ],
)
def test_check_url_refuses_malformed_urls(url, words):
    assert words in refused(url)


def test_plain_http_needs_allow_http():
    assert "--dev" in refused("http://coop.example/", allow_http=False)
    assert check_url("http://coop.example/", allow_private=False, allow_http=True)[0] == "http"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[fe80::1%25eth0]/",
        "http://[64:ff9b::a00:1]/",
    ],
)
def test_private_ip_literals_are_refused_unless_allowed(url):
    assert "only allowed with --dev" in refused(url)
    assert check_url(url, allow_private=True, allow_http=True)


@pytest.mark.parametrize(
    ("url", "means"),
    [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://017700000001/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),
        ("http://167772161/", "10.0.0.1"),
        ("http://134744072/", "8.8.8.8"),
    ],
)
def test_numeric_ipv4_forms_are_refused_naming_the_real_address(url, means):
    # yarl keeps these hosts verbatim; aiohttp rejects the all-digit ones but passes 0x7f.1 to the resolver,
    # where getaddrinfo reads it as 127.0.0.1. The guard reads them the way the C library does.
    reason = refused(url, allow_private=True)
    assert means in reason


def test_legacy_ipv4_reads_hosts_as_getaddrinfo_does():
    for host in ("0x7f.1", "2130706433", "017700000001", "127.1", "0x7f.0.0.1"):
        assert str(legacy_ipv4(host)) == socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0]
    assert legacy_ipv4("coop.example") is None
    assert legacy_ipv4("1.2.3.4.nip.io") is None


# resolve_checked ------------------------------------------------------------------------------------------------


def fake_dns(table: dict[str, list[str]]):
    async def lookup(host: str, port: int) -> list[str]:
        return table[host]

    return lookup


async def test_resolve_checked_returns_the_addresses_to_pin():
    lookup = fake_dns({"coop.example": ["8.8.8.8", "2606:4700::1111", "8.8.8.8"]})
    assert await resolve_checked("coop.example", 443, allow_private=False, resolver=lookup) == [
        "8.8.8.8", "2606:4700::1111"
    ]


async def test_one_private_address_among_public_ones_refuses_the_name():
    lookup = fake_dns({"rebind.example": ["8.8.8.8", "10.0.0.5"]})
    with pytest.raises(ForbiddenAddress, match="rebind.example resolves to 10.0.0.5"):
        await resolve_checked("rebind.example", 443, allow_private=False, resolver=lookup)
    assert await resolve_checked("rebind.example", 443, allow_private=True, resolver=lookup) == [
        "8.8.8.8", "10.0.0.5"
    ]


async def test_a_resolver_answer_that_is_not_an_address_is_refused():
    with pytest.raises(ForbiddenAddress, match="not an IP address"):
        await resolve_checked("odd.example", 443, allow_private=False, resolver=fake_dns({"odd.example": ["x"]}))


async def test_no_addresses_is_an_os_error():
    with pytest.raises(OSError, match="no address"):
        await resolve_checked("empty.example", 443, allow_private=False, resolver=fake_dns({"empty.example": []}))


async def test_system_resolution_of_localhost_and_hex_literals_is_refused():
    with pytest.raises(ForbiddenAddress, match="loopback"):
        await resolve_checked("localhost", 80, allow_private=False)
    with pytest.raises(ForbiddenAddress, match="0x7f.1 resolves to 127.0.0.1"):
        await resolve_checked("0x7f.1", 80, allow_private=False)
    assert "127.0.0.1" in await resolve_checked("localhost", 80, allow_private=True)


# the guarded aiohttp client, end to end over loopback sockets --------------------------------------------------


@asynccontextmanager
async def loopback_server(routes: web.RouteTableDef):
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def fetch_text(connector: aiohttp.BaseConnector, url: str) -> str:
    async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
        return await response.text()


def secret_routes(hits: list[str]) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/")
    async def secret(request):
        hits.append(request.path)
        return web.Response(text="internal")

    return routes


def redirect_routes(location: str) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/start")
    async def start(request):
        raise web.HTTPFound(location)

    return routes


async def test_guarded_resolver_refuses_localhost_and_allow_private_reaches_it():
    hits = []
    async with loopback_server(secret_routes(hits)) as port:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private=False))
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises(ForbiddenAddress, match="localhost resolves to .*loopback"):
                await session.get(f"http://localhost:{port}/")
        assert hits == []

        connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private=True))
        assert await fetch_text(connector, f"http://localhost:{port}/") == "internal"
        assert hits == ["/"]


async def test_aiohttp_skips_the_resolver_for_ip_literals_so_the_socket_factory_guards_them():
    hits = []
    async with loopback_server(secret_routes(hits)) as port:
        # The resolver alone never sees http://127.0.0.1/: aiohttp connects to literals without resolving.
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private=False))
        assert await fetch_text(connector, f"http://127.0.0.1:{port}/") == "internal"
        assert hits == ["/"]

        async with aiohttp.ClientSession(connector=guarded_connector(allow_private=False)) as session:
            with pytest.raises(ForbiddenAddress, match="127.0.0.1 is loopback"):
                await session.get(f"http://127.0.0.1:{port}/")
            with pytest.raises(ForbiddenAddress, match="loopback"):
                await session.get(f"http://localhost:{port}/")
        assert hits == ["/"]

        assert await fetch_text(guarded_connector(allow_private=True), f"http://127.0.0.1:{port}/") == "internal"
        assert hits == ["/", "/"]


class StandInPublicHost(AbstractResolver):
    """Resolves one made-up name to loopback, where a server plays a public peer; every other name goes to `rest`."""

    def __init__(self, name: str, rest: AbstractResolver):
        self.name = name
        self.rest = rest

    async def resolve(self, host, port=0, family=socket.AF_INET):
        if host == self.name:
            return await ThreadedResolver().resolve("127.0.0.1", port, socket.AF_INET)
        return await self.rest.resolve(host, port, family)

    async def close(self):
        await self.rest.close()


def socket_factory_except(stand_in_port: int):
    """The guarded socket factory, except for the exact endpoint of the stand-in public peer."""
    guarded = guarded_socket_factory(allow_private=False)

    def open_socket(addr_info):
        family, socket_type, proto, _name, sockaddr = addr_info
        if sockaddr[:2] == ("127.0.0.1", stand_in_port):
            return socket.socket(family=family, type=socket_type, proto=proto)
        return guarded(addr_info)

    return open_socket


@pytest.mark.parametrize("target_host", ["localhost", "127.0.0.1"])
async def test_a_redirect_from_a_public_peer_to_a_private_address_is_blocked(target_host):
    hits = []
    async with loopback_server(secret_routes(hits)) as secret_port:
        location = f"http://{target_host}:{secret_port}/"
        async with loopback_server(redirect_routes(location)) as peer_port:
            start = f"http://peer.test:{peer_port}/start"

            # Control: without the guard, the redirect reaches the internal service.
            unguarded = aiohttp.TCPConnector(resolver=StandInPublicHost("peer.test", ThreadedResolver()))
            assert await fetch_text(unguarded, start) == "internal"
            assert hits == ["/"]

            guarded = aiohttp.TCPConnector(
                resolver=StandInPublicHost("peer.test", GuardedResolver(allow_private=False)),
                socket_factory=socket_factory_except(peer_port),
            )
            async with aiohttp.ClientSession(connector=guarded) as session:
                first_hop = await session.get(start, allow_redirects=False)
                first_hop.release()
                assert first_hop.status == 302  # the stand-in peer itself is reachable through the guard
                with pytest.raises(ForbiddenAddress, match="loopback"):
                    await session.get(start)
    assert hits == ["/"]
