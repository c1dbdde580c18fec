"""draft-cavage-12 HTTP Signatures with an RFC 3230 Digest, signed and verified the way Mastodon does."""

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.signatures.common import (
    PKCS1V15,
    SHA256,
    SignatureError,
    check_digest,
    check_time_window,
    digest_header,
    from_unix_time,
    get_header,
    http_date,
    load_rsa_public_key,
    parse_http_date,
    path_with_query_of,
    rsa_sign,
)
from vocab.as2 import host_of

SUPPORTED_ALGORITHMS = ("rsa-sha256", "hs2019")
REQUEST_TARGET = "(request-target)"
PSEUDO_HEADERS = frozenset({REQUEST_TARGET, "(created)", "(expires)"})  # signed, but not request headers

_ONLY_SPACE_LEFT = re.compile(r"\s*\Z")
_ESCAPED = re.compile(r"\\(.)")
# A quoted value is matched "unrolled" (runs of plain characters, then one escape pair): the same language as
# "(?:[^"\\]|\\.)*", but without one alternation per character (a 344-character signature costs 5x less).
_PARAMETER = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("[^"\\]*(?:\\.[^"\\]*)*"|[^",\s]*)\s*(?:,|$)')
_UNIX_TIME = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class CavageSignature:
    """The parameters of a draft-cavage `Signature` header."""

    key_id: str
    algorithm: str | None  # lowercased as sent; None when the sender omitted it (Mastodon then assumes hs2019)
    headers: tuple[str, ...]  # lowercased, in signing order
    signature: bytes
    created: int | None = None
    expires: int | None = None

    @property
    def effective_algorithm(self) -> str:
        return self.algorithm or "hs2019"


# ---------------------------------------------------------------- signing


@dataclass(frozen=True)
class SigningInput:
    """A request ready to be signed: its headers without Signature, the names covered, the signing string."""

    headers: dict[str, str]
    covered: list[str]
    data: bytes

    def signed(self, key_id: str, signature: bytes) -> dict[str, str]:
        """The headers to send, with the Signature header made from `signature` (of `data`)."""
        return {**self.headers, "Signature": (
            f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(self.covered)}",'
            f'signature="{base64.b64encode(signature).decode("ascii")}"')}


def signing_input(method: str, url: str, headers: dict[str, str], body: bytes | None, *,
                  now: datetime) -> SigningInput:
    """The given headers plus Host, Date and Digest (with a body), and the string a signature covers."""
    replaced = {"host", "date", "digest", "signature"}
    signed = {name: value for name, value in headers.items() if name.lower() not in replaced}
    signed["Host"] = host_of(url)
    signed["Date"] = http_date(now)
    if body is not None:
        signed["Digest"] = digest_header(body)
    covered = _headers_to_sign(signed, has_body=body is not None)
    request_target = f"{method.lower()} {path_with_query_of(url)}"
    signing_string = "\n".join(
        f"{REQUEST_TARGET}: {request_target}" if name == REQUEST_TARGET else f"{name}: {get_header(signed, name)}"
        for name in covered
    )
    return SigningInput(signed, covered, signing_string.encode("utf-8"))


def sign_request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    key_id: str,
    private_pem: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to send: the given ones plus Host, Date, Digest (with a body) and Signature."""
    prepared = signing_input(method, url, headers, body, now=now)
    return prepared.signed(key_id, rsa_sign(private_pem, prepared.data))


def _headers_to_sign(headers: Mapping[str, str], *, has_body: bool) -> list[str]:
    # Exactly what Mastodon signs: POST covers digest and content-type, GET covers accept.
    wanted = ["host", "date", "digest", "content-type"] if has_body else ["host", "date", "accept"]
    return [REQUEST_TARGET] + [name for name in wanted if get_header(headers, name) is not None]


# ---------------------------------------------------------------- parsing


def parse_signature_header(value: str) -> CavageSignature:
    """Parse `keyId="…",algorithm="…",headers="…",signature="…"`; SignatureError if malformed."""
    params = _signature_parameters(value)
    key_id = params.get("keyid", "")
    if not key_id:
        raise SignatureError("Signature header has no keyId")
    if not params.get("signature"):
        raise SignatureError("Signature header has no signature value")
    algorithm = params.get("algorithm")
    return CavageSignature(
        key_id=key_id,
        algorithm=algorithm.lower() if algorithm else None,
        headers=tuple(params.get("headers", "date").lower().split()),
        signature=_decode_signature(params["signature"]),
        created=_unix_time(params, "created"),
        expires=_unix_time(params, "expires"),
    )


def _signature_parameters(value: object) -> dict[str, str]:
    if not isinstance(value, str):
        raise SignatureError("Signature header is not text")
    if not value.strip():
        raise SignatureError("Signature header is empty")
    params: dict[str, str] = {}
    position = 0
    while True:
        match = _PARAMETER.match(value, position)
        if match is None or match.end() == position:  # a parameter needs a letter: only spaces can be left
            if _ONLY_SPACE_LEFT.match(value, position):
                break
            raise SignatureError(f"Signature header is malformed near character {position + 1}")
        name, raw = match.group(1).lower(), match.group(2)
        if name in params:
            raise SignatureError(f"Signature header repeats the parameter {match.group(1)}")
        params[name] = _unquote(raw)
        position = match.end()
    return params


def _unquote(raw: str) -> str:
    if raw.startswith('"'):
        inner = raw[1:-1]
        return _ESCAPED.sub(r"\1", inner) if "\\" in inner else inner
    return raw


def _decode_signature(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Signature value is not valid base64") from None


def _unix_time(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    if not _UNIX_TIME.fullmatch(params[name]):
        raise SignatureError(f"Signature parameter {name} is not a Unix time: {params[name][:40]!r}")
    return int(params[name])


# ---------------------------------------------------------------- verification


def verify_request(
    signature: CavageSignature,
    *,
    method: str,
    path_with_query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    public_pem: str,
    now: datetime,
    require_digest: bool,
) -> None:
    """Check a parsed signature against the request exactly as received; SignatureError(reason) if it fails.

    `require_digest` (set it for POST) demands a signed Digest even for an empty body; a non-empty body
    always needs one.
    """
    _check_algorithm(signature)
    _check_signed_headers(signature, require_digest=require_digest or bool(body))
    values = _signed_values(signature, headers)
    _check_time_window(signature, values, now)
    if "digest" in values:
        check_digest(values["digest"], body or b"")
    public_key = load_rsa_public_key(public_pem)
    for target in _request_targets(method, path_with_query):
        signing_string = _signing_string(signature, target, values)
        if _rsa_verifies(public_key, signature.signature, signing_string):
            return
    raise SignatureError(
        "Signature does not match: signed with another key, or for another method, path, host or header values"
    )


def _signed_values(signature: CavageSignature, headers: Mapping[str, str]) -> dict[str, str | None]:
    """Each signed header's value (None when absent), each looked up once; pseudo-headers are left out."""
    return {name: get_header(headers, name) for name in signature.headers if name not in PSEUDO_HEADERS}


def _check_algorithm(signature: CavageSignature) -> None:
    if signature.effective_algorithm not in SUPPORTED_ALGORITHMS:
        raise SignatureError(
            f"Signature algorithm {signature.algorithm!r} is not supported (only rsa-sha256 and hs2019)"
        )


def _check_signed_headers(signature: CavageSignature, *, require_digest: bool) -> None:
    covered = set(signature.headers)
    if REQUEST_TARGET not in covered:
        raise SignatureError("(request-target) is not among the signed headers")
    if "host" not in covered:
        raise SignatureError("Host is not among the signed headers")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("neither Date nor (created) is among the signed headers")
    if require_digest and "digest" not in covered:
        raise SignatureError("Digest is not among the signed headers (required on requests with a body)")
    for pseudo, value in (("(created)", signature.created), ("(expires)", signature.expires)):
        if pseudo in covered and signature.effective_algorithm != "hs2019":
            raise SignatureError(f"{pseudo} is signed but is only allowed with algorithm hs2019")
        if pseudo in covered and value is None:
            raise SignatureError(f"{pseudo} is signed but the Signature header has no {pseudo[1:-1]} parameter")


def _check_time_window(signature: CavageSignature, values: dict[str, str | None], now: datetime) -> None:
    source, created = _creation_time(signature, values)
    # Unlike Mastodon, an unsigned `created` or `expires` parameter is ignored: a replayer could rewrite it.
    signed_expires = signature.expires if "(expires)" in signature.headers else None
    expires = None if signed_expires is None else from_unix_time(signed_expires)
    check_time_window(source, created, expires, now)


def _creation_time(signature: CavageSignature, values: dict[str, str | None]) -> tuple[str, datetime]:
    if "(created)" in signature.headers and signature.created is not None:
        return "(created)", from_unix_time(signature.created)
    date = values.get("date")
    if date is None:
        raise SignatureError("Date header is missing")
    return "Date", parse_http_date(date)


def _request_targets(method: str, path_with_query: str) -> list[str]:
    # Mastodon tries the target with the query first, then without (older Mastodon omitted it).
    with_query = f"{method.lower()} {path_with_query}"
    path, question_mark, _ = path_with_query.partition("?")
    return [with_query, f"{method.lower()} {path}"] if question_mark else [with_query]


def _signing_string(signature: CavageSignature, request_target: str, values: dict[str, str | None]) -> bytes:
    lines = []
    for name in signature.headers:
        if name == REQUEST_TARGET:
            lines.append(f"{name}: {request_target}")
        elif name == "(created)":
            lines.append(f"{name}: {signature.created}")
        elif name == "(expires)":
            lines.append(f"{name}: {signature.expires}")
        else:
            value = values[name]
            if value is None:
                raise SignatureError(f"signed header {name!r} is missing from the request")
            lines.append(f"{name}: {value}")
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def _rsa_verifies(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data, PKCS1V15, SHA256)
    except InvalidSignature:
        return False
    return True
