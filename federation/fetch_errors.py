"""Why an outbound request failed, in words a person can act on: FetchError and Unreachable, and the descriptions
of HTTP statuses, network errors and sizes they carry."""

import asyncio
import errno

import aiohttp

from federation.ssrf_guard import ForbiddenAddress

ERROR_BODY_BYTES = 1024


class FetchError(Exception):
    """A fetch failed; `reason` says why in words a person can act on."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status

    @property
    def gone(self) -> bool:
        return self.status == 410


class Unreachable(FetchError):
    """The server could not be reached at all (DNS, connection, TLS, timeout): no HTTP answer."""


def describe_size(byte_count: int) -> str:
    if byte_count % 1_048_576 == 0:
        return f"{byte_count // 1_048_576} MB"
    if byte_count % 1024 == 0:
        return f"{byte_count // 1024} kB"
    return f"{byte_count} bytes"


def describe_body(body: bytes) -> str:
    return " ".join(body.decode("utf-8", "replace").split())[:ERROR_BODY_BYTES]


def status_error(method: str, url: str, status: int, body: bytes) -> FetchError:
    what = "gone (410): the resource was deleted" if status == 410 else f"HTTP {status}"
    detail = describe_body(body)
    return FetchError(f"{method} {url}: {what}" + (f": {detail}" if detail else ""), status=status)


def _forbidden_in(error: BaseException) -> ForbiddenAddress | None:
    """The ForbiddenAddress behind an error, however aiohttp wrapped it."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ForbiddenAddress):
            return error
        seen.add(id(error))
        nested = next((arg for arg in getattr(error, "args", ()) if isinstance(arg, ForbiddenAddress)), None)
        error = nested or error.__cause__ or error.__context__ or getattr(error, "os_error", None)
    return None


def unreachable(method: str, url: str, error: BaseException, total_timeout: float) -> FetchError:
    forbidden = _forbidden_in(error)
    if forbidden is not None:
        return FetchError(f"{method} {url}: {forbidden.reason}")
    return Unreachable(f"{method} {url}: {_network_reason(error, total_timeout)}")


def _network_reason(error: BaseException, total_timeout: float) -> str:
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "timed out while connecting"
    if isinstance(error, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return f"no complete answer within {total_timeout:g} seconds (timed out)"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return (f"the TLS certificate is not trusted ({error.certificate_error}); "
                "for a private CA, point SSL_CERT_FILE at its PEM file")
    if isinstance(error, aiohttp.ClientSSLError):
        return f"TLS handshake failed ({getattr(error, 'os_error', error)})"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "the host name does not resolve"
    if isinstance(error, aiohttp.ClientConnectorError):
        if error.os_error.errno == errno.ECONNREFUSED or isinstance(error.os_error, ConnectionRefusedError):
            return "connection refused (is the server running on that port?)"
        return f"cannot connect ({error.os_error.strerror or error.os_error})"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "the response body was cut off or malformed"
    if isinstance(error, aiohttp.InvalidURL):
        return "not a valid URL"
    return f"{type(error).__name__}: {error}"
