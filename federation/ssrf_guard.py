"""The SSRF guard of every outbound request: which IP addresses the node may connect to, checked on URLs, at
resolution and at connect time."""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressLookup = Callable[[str, int], Awaitable[Iterable[str]]]
AddrInfo = tuple  # (family, type, proto, canonname, sockaddr), as aiohappyeyeballs passes it

NON_PUBLIC_IPV4 = tuple(
    (ipaddress.IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
        ("10.0.0.0/8", "private (10.0.0.0/8)"),
        ("100.64.0.0/10", "shared address space for carrier-grade NAT (100.64.0.0/10)"),
        ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
        ("169.254.0.0/16", "link-local, where cloud metadata services live (169.254.0.0/16)"),
        ("172.16.0.0/12", "private (172.16.0.0/12)"),
        ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast (192.88.99.0/24)"),
        ("192.168.0.0/16", "private (192.168.0.0/16)"),
        ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
    )
)

# Checked in order; only 2000::/3 is global unicast, so anything outside it is refused after these.
NON_PUBLIC_IPV6 = tuple(
    (ipaddress.IPv6Network(network), reason)
    for network, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "a deprecated IPv4-compatible address"),
        ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
        ("100::/64", "discard-only (100::/64)"),
        ("fc00::/7", "unique local (fc00::/7)"),
        ("fe80::/10", "link-local (fe80::/10)"),
        ("fec0::/10", "deprecated site-local (fec0::/10)"),
        ("ff00::/8", "multicast (ff00::/8)"),
        ("2001::/32", "a Teredo tunnel address (2001::/32)"),
        ("2001:db8::/32", "documentation (2001:db8::/32)"),
        ("2001::/23", "IETF protocol assignments (2001::/23)"),
        ("3fff::/20", "documentation (3fff::/20)"),
    )
)
GLOBAL_UNICAST_IPV6 = ipaddress.IPv6Network("2000::/3")
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


class ForbiddenAddress(Exception):
    """An outbound request would reach an address the node must not contact; `reason` says which and why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_address(text: str) -> IPAddress | None:
    """The IP address written in text (IPv6 may be bracketed or carry a %zone), or None if it is not one."""
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def why_not_public(ip: IPAddress) -> str | None:
    """Why connecting to ip is refused in production, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _why_not_public_ipv4(ip)
    return _why_not_public_ipv6(ip)


def is_public_address(ip: IPAddress) -> bool:
    return why_not_public(ip) is None


def _why_not_public_ipv4(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in NON_PUBLIC_IPV4:
        if ip in network:
            return reason
    if not ip.is_global:
        return "not globally reachable"
    return None


def _why_not_public_ipv6(ip: ipaddress.IPv6Address) -> str | None:
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        kind, ipv4 = embedded
        reason = _why_not_public_ipv4(ipv4)
        if reason is not None:
            return f"{kind} {ipv4}, which is {reason}"
        if kind != "6to4":
            return None  # the packets go to the public IPv4 address
    for network, reason in NON_PUBLIC_IPV6:
        if ip in network:
            return reason
    if ip not in GLOBAL_UNICAST_IPV6:
        return "outside IPv6 global unicast (2000::/3)"
    if not ip.is_global:
        return "not globally reachable"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """(kind, IPv4) for the forms that lead to an IPv4 address: mapped, NAT64 well-known prefix, 6to4."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip in NAT64_WELL_KNOWN:
        return "NAT64 for", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None


def refuse_unless_public(host: str, address: str) -> None:
    """Raise ForbiddenAddress unless address (what host resolved to) is public."""
    ip = parse_address(address)
    if ip is None:
        raise ForbiddenAddress(f"{host} resolved to {address!r}, which is not an IP address")
    reason = why_not_public(ip)
    if reason is not None:
        shown = address if host == address else f"{host} resolves to {address}, which"
        raise ForbiddenAddress(f"{shown} is {reason}; peers on such addresses are only allowed with --dev")


async def system_addresses(host: str, port: int) -> list[str]:
    """Every address the event loop's getaddrinfo gives for host, as aiohttp's ThreadedResolver would ask."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [sockaddr[0] for _family, _type, _proto, _name, sockaddr in infos]


async def resolve_checked(
    host: str, port: int, *, allow_private: bool, resolver: AddressLookup | None = None
) -> list[str]:
    """host's addresses, all of them public unless allow_private: connect only to these (pin them)."""
    lookup = resolver or system_addresses
    addresses = list(dict.fromkeys(await lookup(host, port)))
    if not addresses:
        raise OSError(f"{host} resolved to no address")
    if not allow_private:
        for address in addresses:
            refuse_unless_public(host, address)
    return addresses


def check_url(url: str, *, allow_private: bool, allow_http: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL the node may request; ForbiddenAddress says what is wrong otherwise."""
    try:
        parsed = URL(url)
    except ValueError as error:
        raise ForbiddenAddress(f"{url!r} is not a valid URL: {error}") from error
    scheme = _checked_scheme(parsed, allow_http)
    if parsed.user is not None or parsed.password is not None or "@" in urlsplit(url).netloc:
        raise ForbiddenAddress(f"{url!r} carries a user name or password; federation URLs never do")
    host = parsed.raw_host
    if not host:
        raise ForbiddenAddress(f"{url!r} has no host")
    port = parsed.port
    if port is None or not 1 <= port <= 65535:
        raise ForbiddenAddress(f"{url!r} has no usable port")
    _check_literal_host(host, allow_private)
    return scheme, host, port


def _checked_scheme(parsed: URL, allow_http: bool) -> str:
    allowed = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in allowed:
        hint = "" if allow_http or parsed.scheme != "http" else " (plain http is only allowed with --dev)"
        raise ForbiddenAddress(f"{str(parsed)!r}: only {' or '.join(allowed)} URLs can be fetched{hint}")
    return parsed.scheme


def _check_literal_host(host: str, allow_private: bool) -> None:
    """Refuse IP-literal hosts that are not public, and numeric IPv4 forms that hide which address they mean."""
    if ":" in host:
        ip = parse_address(host)
        if ip is None:
            raise ForbiddenAddress(f"{host!r} is not a valid IPv6 address")
    else:
        ip = legacy_ipv4(host)
        if ip is None:
            return  # a name: checked when it is resolved
        if str(ip) != host:
            raise ForbiddenAddress(
                f"{host!r} is a numeric IPv4 form that the C library reads as {ip}; write addresses as a.b.c.d"
            )
    if not allow_private:
        refuse_unless_public(host, str(ip))


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address getaddrinfo would connect to for host, including BSD forms like 0x7f.1 or 2130706433."""
    candidate = host.removesuffix(".")
    if not candidate or not all(char.isascii() and (char.isalnum() or char == ".") for char in candidate):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(candidate))
    except OSError:
        return None


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses a name as soon as any of its addresses is not public.

    aiohttp does not call the resolver for IP-literal URLs (http://127.0.0.1/), so pair it with
    guarded_socket_factory, as guarded_connector does, to cover those and redirects to them.
    """

    def __init__(self, *, allow_private: bool, resolver: AbstractResolver | None = None):
        self.allow_private = allow_private
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner().resolve(host, port, family)
        if not self.allow_private:
            for result in results:
                refuse_unless_public(host, result["host"])
        return results

    async def close(self) -> None:
        if self._resolver is not None:
            await self._resolver.close()

    def _inner(self) -> AbstractResolver:
        if self._resolver is None:
            self._resolver = DefaultResolver()
        return self._resolver


def guarded_socket_factory(*, allow_private: bool) -> Callable[[AddrInfo], socket.socket]:
    """A TCPConnector socket_factory that refuses to open a socket to a non-public address."""

    def open_socket(addr_info: AddrInfo) -> socket.socket:
        family, socket_type, proto, _name, sockaddr = addr_info
        if not allow_private:
            refuse_unless_public(sockaddr[0], sockaddr[0])
        return socket.socket(family=family, type=socket_type, proto=proto)

    return open_socket


def guarded_connector(*, allow_private: bool, **connector_options) -> aiohttp.TCPConnector:
    """A TCPConnector that checks names when resolving and every address when connecting (literals too)."""
    return aiohttp.TCPConnector(
        resolver=GuardedResolver(allow_private=allow_private),
        socket_factory=guarded_socket_factory(allow_private=allow_private),
        **connector_options,
    )
