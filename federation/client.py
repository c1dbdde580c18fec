"""All outbound HTTP of the node: guarded, signed, size- and time-limited GETs, WebFinger and inbox POSTs."""

import asyncio
import json
import os
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.helpers import parse_mimetype
from multidict import CIMultiDictProxy
from yarl import URL

from federation.fetch_errors import (
    ERROR_BODY_BYTES,
    FetchError,
    Unreachable,
    describe_body,
    describe_size,
    status_error,
    unreachable,
)
from federation.signatures import SignatureScheme, sign
from federation.signatures.cavage import signing_input
from federation.signing_process import SigningProcess
from federation.ssrf_guard import ForbiddenAddress, check_url, guarded_connector

AS2_PROFILE = "https://www.w3.org/ns/activitystreams"
AS2_ACCEPT = f'application/activity+json, application/ld+json; profile="{AS2_PROFILE}"'
AS2_CONTENT_TYPE = "application/activity+json"
JRD_ACCEPT = "application/jrd+json, application/json"
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CONNECTION_LIMIT = 64
CONNECTIONS_PER_HOST = 4
READ_CHUNK_BYTES = 65536
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError, ForbiddenAddress)
# POSTs in flight from which the signing child process is worth starting (a fan-out, not a reply to one peer)
SIGNING_PROCESS_FROM_POSTS = 4


@dataclass(frozen=True)
class Signer:
    """Whose key signs a request: the keyId to announce and the PEM private key."""

    key_id: str
    private_pem: str


@dataclass(frozen=True)
class PostResult:
    """What became of one POST: the HTTP status (None when no answer came), Retry-After and an error text."""

    status: int | None
    retry_after: float | None
    error: str | None
    scheme: SignatureScheme

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class _Response:
    url: str
    status: int
    headers: CIMultiDictProxy
    body: bytes


def same_origin(first: str, second: str) -> bool:
    """True when both URLs have the same scheme, host and port (FEP-fe34 origin)."""
    return _origin(first) is not None and _origin(first) == _origin(second)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return None
    if not parsed.absolute or not parsed.raw_host:
        return None
    return parsed.scheme.lower(), parsed.raw_host.lower(), parsed.port


def outgoing_ssl_context() -> ssl.SSLContext:
    """Trust the system store and, in addition, the CA file named by SSL_CERT_FILE (which OpenSSL would
    otherwise use *instead* of the system file)."""
    context = ssl.create_default_context()
    defaults = ssl.get_default_verify_paths()
    if defaults.openssl_cafile and os.path.isfile(defaults.openssl_cafile):
        context.load_verify_locations(cafile=defaults.openssl_cafile)
    if defaults.openssl_capath and os.path.isdir(defaults.openssl_capath):
        context.load_verify_locations(capath=defaults.openssl_capath)
    extra = os.environ.get("SSL_CERT_FILE")
    if extra:
        try:
            context.load_verify_locations(cafile=extra)
        except (OSError, ssl.SSLError) as error:
            raise ValueError(f"SSL_CERT_FILE names {extra}, which is not a readable PEM CA bundle: {error}") from None
    return context


class FederationClient:
    """One aiohttp session for every outbound request; use `async with` or start()/close()."""

    def __init__(self, *, user_agent: str, allow_private: bool, allow_http: bool, connect_timeout: float = 5.0,
                 total_timeout: float = 30.0, max_body_bytes: int = 1_048_576, signing_process: bool = False):
        """`signing_process`: sign inbox POSTs (draft-cavage) in a child process while several are in flight, so
        that a serving node's fan-outs use a second core."""
        self.user_agent = user_agent
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_body_bytes = max_body_bytes
        self._session: aiohttp.ClientSession | None = None
        self._signing = SigningProcess() if signing_process else None
        self._posts_in_flight = 0

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = guarded_connector(
            allow_private=self.allow_private, ssl=outgoing_ssl_context(),
            limit=CONNECTION_LIMIT, limit_per_host=CONNECTIONS_PER_HOST,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.user_agent},
            timeout=aiohttp.ClientTimeout(
                total=self.total_timeout, connect=self.connect_timeout, sock_connect=self.connect_timeout),
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        if self._signing is not None:
            await self._signing.close()
            self._signing = SigningProcess()  # for a start() again

    async def __aenter__(self) -> "FederationClient":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    # ------------------------------------------------------------ GET

    async def fetch_json(self, url: str, *, signer: Signer | None,
                         scheme: SignatureScheme = SignatureScheme.CAVAGE) -> dict:
        """The AS2 document at url (signed GET when signer is given); FetchError on any failure."""
        response = await self._get(url, accept=AS2_ACCEPT, signer=signer, scheme=scheme)
        _require_as2_content_type(response)
        document = _json_object(response)
        _require_same_origin_id(document, response.url)
        return document

    async def webfinger(self, handle: str) -> str:
        """The actor IRI that WebFinger gives for `@user@host` or `user@host`."""
        user, host = _split_handle(handle)
        document = await self._webfinger_document(user, host)
        return _actor_link(document, handle)

    async def _webfinger_document(self, user: str, host: str) -> dict:
        try:
            return await self._webfinger_at("https", user, host)
        except Unreachable:
            if not self.allow_http:
                raise
        return await self._webfinger_at("http", user, host)  # --dev peers often serve plain http

    async def _webfinger_at(self, url_scheme: str, user: str, host: str) -> dict:
        url = str(URL.build(scheme=url_scheme, authority=host, path="/.well-known/webfinger",
                            query={"resource": f"acct:{user}@{host}"}))
        response = await self._get(url, accept=JRD_ACCEPT, signer=None, scheme=SignatureScheme.CAVAGE)
        return _json_object(response)

    async def _get(self, url: str, *, accept: str, signer: Signer | None, scheme: SignatureScheme) -> _Response:
        """GET with redirects followed by hand (each hop checked and signed afresh); 200 required."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            response = await self._get_once(current, accept=accept, signer=signer, scheme=scheme)
            if response.status not in REDIRECT_STATUSES:
                if response.status != 200:
                    raise status_error("GET", current, response.status, response.body)
                return response
            current = _redirect_target(current, response)
        raise FetchError(f"GET {url}: more than {MAX_REDIRECTS} redirects")

    async def _get_once(self, url: str, *, accept: str, signer: Signer | None,
                        scheme: SignatureScheme) -> _Response:
        headers = {"Accept": accept}
        try:
            check_url(url, allow_private=self.allow_private, allow_http=self.allow_http)
            if signer is not None:
                headers = _signed(scheme, "GET", url, headers, None, signer)
            async with self._require_session().get(URL(url, encoded=True), headers=headers,
                                                   allow_redirects=False) as response:
                if response.status == 200:
                    body = await self._read_capped(response, url)
                else:
                    body = await _read_prefix(response, ERROR_BODY_BYTES)
                return _Response(url=url, status=response.status, headers=response.headers, body=body)
        except NETWORK_ERRORS as error:
            raise unreachable("GET", url, error, self.total_timeout) from error

    async def _read_capped(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        limit = self.max_body_bytes
        declared = response.content_length
        if declared is not None and declared > limit:
            raise FetchError(f"GET {url}: response larger than {describe_size(limit)} ({declared} bytes declared)")
        body = bytearray()
        async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
            body += chunk
            if len(body) > limit:
                raise FetchError(f"GET {url}: response larger than {describe_size(limit)}")
        return bytes(body)

    # ------------------------------------------------------------ POST

    async def post(self, url: str, body: bytes, *, signer: Signer, scheme: SignatureScheme) -> PostResult:
        """POST an activity, signed now; never raises for network or HTTP failures."""
        headers = {"Content-Type": AS2_CONTENT_TYPE}
        self._posts_in_flight += 1
        try:
            check_url(url, allow_private=self.allow_private, allow_http=self.allow_http)
            headers = await self._signed_post_headers(scheme, url, headers, body, signer)
            # encoded=True: send the URL exactly as signed, without yarl re-quoting it
            async with self._require_session().post(URL(url, encoded=True), data=body, headers=headers,
                                                    allow_redirects=False) as response:
                return await _post_result(response, scheme)
        except NETWORK_ERRORS as error:
            reason = unreachable("POST", url, error, self.total_timeout).reason
            return PostResult(status=None, retry_after=None, error=reason, scheme=scheme)
        finally:
            self._posts_in_flight -= 1

    async def _signed_post_headers(self, scheme: SignatureScheme, url: str, headers: dict[str, str], body: bytes,
                                   signer: Signer) -> dict[str, str]:
        """The POST's headers, signed now: by the signing process during a fan-out, else here."""
        signing = self._signing
        if scheme is not SignatureScheme.CAVAGE or signing is None \
                or (not signing.running and self._posts_in_flight < SIGNING_PROCESS_FROM_POSTS):
            return _signed(scheme, "POST", url, headers, body, signer)
        prepared = signing_input("POST", url, headers, body, now=datetime.now(timezone.utc))
        return prepared.signed(signer.key_id, await signing.sign(signer.private_pem, prepared.data))

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FederationClient is not started: use `async with` or await start() first")
        return self._session


# ---------------------------------------------------------------- helpers


def _signed(scheme: SignatureScheme, method: str, url: str, headers: dict[str, str], body: bytes | None,
            signer: Signer) -> dict[str, str]:
    signed = sign(scheme, method, url, headers, body, key_id=signer.key_id, private_pem=signer.private_pem,
                  now=datetime.now(timezone.utc))
    return {**headers, **signed}


async def _read_prefix(response: aiohttp.ClientResponse, limit: int) -> bytes:
    prefix = bytearray()
    while len(prefix) < limit:
        chunk = await response.content.read(limit - len(prefix))
        if not chunk:
            break
        prefix += chunk
    return bytes(prefix)


def _redirect_target(url: str, response: _Response) -> str:
    location = response.headers.get("Location")
    if not location:
        raise FetchError(f"GET {url}: HTTP {response.status} redirect without a Location", status=response.status)
    try:
        return str(URL(url).join(URL(location)))
    except ValueError:
        raise FetchError(f"GET {url}: redirect to an invalid Location {location[:200]!r}") from None


async def _post_result(response: aiohttp.ClientResponse, scheme: SignatureScheme) -> PostResult:
    status = response.status
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
    error = None
    if not 200 <= status < 300:
        detail = describe_body(await _read_prefix(response, ERROR_BODY_BYTES))
        error = f"HTTP {status}" + (f": {detail}" if detail else "")
    return PostResult(status=status, retry_after=retry_after, error=error, scheme=scheme)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


def _require_as2_content_type(response: _Response) -> None:
    header = response.headers.get("Content-Type", "")
    if not is_as2_media_type(header):
        raise FetchError(
            f"GET {response.url}: content type {header or '(none)'!r} is not ActivityStreams "
            f"(expected application/activity+json or application/ld+json with the ActivityStreams profile)",
            status=response.status,
        )


def is_as2_media_type(value: object) -> bool:
    """application/activity+json, or application/ld+json with the ActivityStreams profile."""
    if not isinstance(value, str):
        return False
    mimetype = parse_mimetype(value)
    kind = f"{mimetype.type}/{mimetype.subtype}" + (f"+{mimetype.suffix}" if mimetype.suffix else "")
    if kind.lower() == "application/activity+json":
        return True
    return kind.lower() == "application/ld+json" and AS2_PROFILE in mimetype.parameters.get("profile", "").split()


def _json_object(response: _Response) -> dict:
    try:
        document = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        raise FetchError(f"GET {response.url}: the response is not valid JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"GET {response.url}: the response is JSON but not an object")
    return document


def _require_same_origin_id(document: dict, url: str) -> None:
    document_id = document.get("id")
    if not isinstance(document_id, str):
        raise FetchError(f"GET {url}: the document has no id")
    if not same_origin(document_id, url):
        raise FetchError(f"GET {url}: the document's id {document_id[:200]} is on another origin; not trusted")


def _split_handle(handle: str) -> tuple[str, str]:
    user, _, host = handle.strip().removeprefix("@").partition("@")
    if not user or not host or "@" in host or "/" in host or "/" in user or any(c.isspace() for c in handle.strip()):
        raise FetchError(f"{handle!r} is not a handle like @user@host")
    return user, host.lower()


def _actor_link(document: dict, handle: str) -> str:
    links = document.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and is_as2_media_type(link.get("type")):
            href = link.get("href")
            if isinstance(href, str) and href:
                return href
    raise FetchError(f"WebFinger for {handle}: no ActivityPub actor link (rel=self) in the answer")
