"""What both signature schemes share: SignatureError, header look-up, a URL's path and query, body digests, HTTP
dates, Mastodon's time window, RSA keys and the readable durations of refusals."""

import base64
import functools
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Mastodon's time window (app/lib/signed_request.rb): a signature without `expires` is valid for
# 5 minutes after its creation, never longer than 12 hours, with 1 hour of clock skew either way.
DEFAULT_VALIDITY = timedelta(minutes=5)
EXPIRATION_WINDOW_LIMIT = timedelta(hours=12)
CLOCK_SKEW_MARGIN = timedelta(hours=1)

PKCS1V15 = padding.PKCS1v15()  # stateless parameter objects, made once
SHA256 = hashes.SHA256()


class SignatureError(Exception):
    """A request signature is missing, malformed or invalid; the message says what failed."""

    @property
    def reason(self) -> str:
        return str(self.args[0]) if self.args else "invalid signature"


# ---------------------------------------------------------------- headers


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, looked up case-insensitively; repeated fields are joined with ", " (cavage-12 §2.3)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:  # aiohttp's case-insensitive multidict: a direct look-up, not a scan
        values = getall(name, ())
        if len(values) == 1:
            return str(values[0]).strip()
        values = [str(value).strip() for value in values]
    else:
        wanted = name.lower()
        values = [str(value).strip() for key, value in headers.items() if str(key).lower() == wanted]
    return ", ".join(values) if values else None


def path_with_query_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


# ---------------------------------------------------------------- body digests


def digest_header(body: bytes) -> str:
    return "SHA-256=" + _sha256_base64(body)


def check_digest(header: str | None, body: bytes) -> None:
    """The SHA-256 member of a Digest header must match the body bytes exactly."""
    if header is None:
        raise SignatureError("Digest header is missing")
    offered = {}
    for member in header.split(","):
        algorithm, _, value = member.strip().partition("=")
        offered.setdefault(algorithm.strip().lower(), value.strip())
    if "sha-256" not in offered:
        raise SignatureError(f"Digest has no SHA-256 value (offered: {', '.join(offered) or 'nothing'})")
    if offered["sha-256"] != _sha256_base64(body):
        raise SignatureError("Digest does not match the body")


def _sha256_base64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


# ---------------------------------------------------------------- time


def http_date(moment: datetime) -> str:
    """IMF-fixdate, e.g. `Tue, 03 Jun 2025 10:00:00 GMT`; a naive datetime is taken as UTC."""
    return format_datetime(as_utc(moment).replace(microsecond=0), usegmt=True)


@functools.lru_cache(maxsize=256)
def parse_http_date(value: str) -> datetime:
    """An HTTP Date header as an aware UTC datetime; memoised, since a busy peer sends the same second many times.
    SignatureError if it is not a date (refusals are not remembered)."""
    try:
        return as_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        raise SignatureError(f"Date header is not an HTTP date: {value[:60]!r}") from None


def check_time_window(source: str, created: datetime, expires: datetime | None, now: datetime) -> None:
    """Mastodon's window: `created` at most 1 h ahead; valid until `expires` (default 5 min, cap 12 h) + 1 h."""
    now = as_utc(now)
    if created > now + CLOCK_SKEW_MARGIN:
        raise SignatureError(
            f"{source} is {describe_duration(created - now)} in the future "
            f"(at most {describe_duration(CLOCK_SKEW_MARGIN)} of clock skew allowed)"
        )
    deadline = min(created + DEFAULT_VALIDITY if expires is None else expires, created + EXPIRATION_WINDOW_LIMIT)
    if now > deadline + CLOCK_SKEW_MARGIN:
        if expires is None:
            raise SignatureError(
                f"{source} is {describe_duration(now - created)} old "
                f"(at most {describe_duration(DEFAULT_VALIDITY + CLOCK_SKEW_MARGIN)} allowed)"
            )
        raise SignatureError(
            f"Signature expired {describe_duration(now - deadline)} ago "
            f"(at most {describe_duration(CLOCK_SKEW_MARGIN)} of clock skew allowed)"
        )


def describe_duration(span: timedelta) -> str:
    seconds = int(abs(span.total_seconds()))
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} hours"
    return f"{seconds // 86400} days"


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def from_unix_time(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureError(f"Unix time {seconds} is out of range") from None


# ---------------------------------------------------------------- RSA keys


def rsa_sign(private_pem: str, data: bytes) -> bytes:
    """The PKCS#1 v1.5 SHA-256 signature of data with one of our keys."""
    return load_rsa_private_key(private_pem).sign(data, PKCS1V15, SHA256)


@functools.lru_cache(maxsize=256)
def load_rsa_private_key(private_pem: str) -> rsa.RSAPrivateKey:
    """Our own signing keys, parsed once: loading (and checking) a PEM costs far more than signing with it."""
    private_key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError("only RSA private keys can sign requests")
    return private_key


@functools.lru_cache(maxsize=1024)
def load_rsa_public_key(public_pem: str) -> rsa.RSAPublicKey:
    """A peer's public key, parsed once per PEM text (refused ones are not remembered)."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode("utf-8"))
    except (ValueError, TypeError, AttributeError):
        raise SignatureError("the signer's public key is not a valid PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the signer's public key is not an RSA key")
    return key
