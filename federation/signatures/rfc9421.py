"""RFC 9421 HTTP Message Signatures with RFC 9530 Content-Digest, in the profile Mastodon and Fedify use."""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import http_sf  # installed with http-message-signatures, which parses its fields with it
from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)

from federation.signatures.common import (
    SignatureError,
    as_utc,
    check_time_window,
    from_unix_time,
    get_header,
    load_rsa_private_key,
    load_rsa_public_key,
)

SIGNATURE_LABEL = "sig1"
ALGORITHM = algorithms.RSA_V1_5_SHA256
SIGNED_COMPONENTS = ("@method", "@target-uri", "@authority")  # plus content-digest with a body
REQUIRED_COMPONENTS = ("@method", "@target-uri")  # what Mastodon demands; content-digest too with a body


@dataclass
class _Request:
    """The request shape the library reads: uppercase method, encoded absolute URL, headers."""

    method: str
    url: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _SignatureInput:
    components: tuple[str, ...]
    parameters: dict[str, object]


class _CallerClockVerifier(HTTPMessageVerifier):
    """The library checks `created`/`expires` against the wall clock; we check them against the caller's `now`."""

    def validate_created_and_expires(self, sig_input, max_age=None):
        return None


# ---------------------------------------------------------------- signing


def sign_request_rfc9421(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    key_id: str,
    private_pem: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to send: the given ones plus Content-Digest (with a body), Signature-Input and Signature."""
    replaced = {"signature", "signature-input", "content-digest"}
    outgoing = {name: value for name, value in headers.items() if name.lower() not in replaced}
    keys = MappingKeyResolver(public_keys={}, private_keys={key_id: load_rsa_private_key(private_pem)})
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHM, key_resolver=keys)
    try:
        signer.sign(
            _Request(method.upper(), url, outgoing),
            key_id=key_id,
            created=as_utc(now),
            label=SIGNATURE_LABEL,
            covered_component_ids=SIGNED_COMPONENTS,
            body=body,  # the library adds Content-Digest and covers it
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError) as error:
        raise SignatureError(f"cannot sign the request with RFC 9421: {error}") from error
    return outgoing


# ---------------------------------------------------------------- parsing


def rfc9421_key_id(headers: Mapping[str, str]) -> str:
    """The `keyid` parameter of the request's single RFC 9421 signature."""
    return _key_id(_signature_input(headers))


def _signature_input(headers: Mapping[str, str]) -> _SignatureInput:
    value = get_header(headers, "Signature-Input")
    if value is None:
        raise SignatureError("Signature-Input header is missing")
    dictionary = _parse_dictionary(value, "Signature-Input")
    if len(dictionary) != 1:
        raise SignatureError(f"Signature-Input holds {len(dictionary)} signatures; exactly one is supported")
    member, parameters = next(iter(dictionary.values()))
    if not isinstance(member, list) or not all(isinstance(name, str) for name, _ in member):
        raise SignatureError("Signature-Input is not a list of covered components")
    return _SignatureInput(tuple(name for name, _ in member), dict(parameters))


def _parse_dictionary(value: str, field: str) -> dict:
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="dictionary")
    except Exception as error:  # http_sf raises several types for malformed input
        raise SignatureError(f"{field} is not a valid structured field dictionary") from error
    if not isinstance(parsed, dict):
        raise SignatureError(f"{field} is not a valid structured field dictionary")
    return parsed


def _key_id(signature_input: _SignatureInput) -> str:
    key_id = signature_input.parameters.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("Signature-Input has no keyid parameter")
    return key_id


# ---------------------------------------------------------------- verification


def verify_request_rfc9421(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    public_pem: str,
    now: datetime,
) -> None:
    """Verify the request's RFC 9421 signature; SignatureError(reason) if anything is wrong.

    `url` is the absolute URL as received: scheme, the received Host header, path and query.
    """
    signature_input = _signature_input(headers)
    key_id = _key_id(signature_input)
    _check_algorithm(signature_input)
    _check_time_window(signature_input, now)
    needs_digest = bool(body) or method.upper() == "POST"
    _check_components(signature_input, needs_digest=needs_digest)
    if "content-digest" in signature_input.components:
        check_content_digest(get_header(headers, "Content-Digest"), body or b"")
    _verify_with_library(method, url, headers, body, key_id=key_id, public_pem=public_pem)


def _check_algorithm(signature_input: _SignatureInput) -> None:
    algorithm = signature_input.parameters.get("alg", ALGORITHM.algorithm_id)
    if algorithm != ALGORITHM.algorithm_id:
        raise SignatureError(f"Signature algorithm {algorithm!r} is not supported (only rsa-v1_5-sha256)")


def _check_time_window(signature_input: _SignatureInput, now: datetime) -> None:
    created = signature_input.parameters.get("created")
    expires = signature_input.parameters.get("expires")
    if type(created) is not int:
        raise SignatureError("Signature-Input has no integer created parameter")
    if expires is not None and type(expires) is not int:
        raise SignatureError("Signature-Input has a non-integer expires parameter")
    check_time_window(
        "created", from_unix_time(created), None if expires is None else from_unix_time(expires), now
    )


def _check_components(signature_input: _SignatureInput, *, needs_digest: bool) -> None:
    required = REQUIRED_COMPONENTS + (("content-digest",) if needs_digest else ())
    for component in required:
        if component not in signature_input.components:
            raise SignatureError(f"{component} is not among the signed components")


def check_content_digest(header: str | None, body: bytes) -> None:
    """The sha-256 member of a Content-Digest header must match the body bytes exactly."""
    if header is None:
        raise SignatureError("Content-Digest header is missing")
    digests = _parse_dictionary(header, "Content-Digest")
    member = digests.get("sha-256")
    if member is None:
        raise SignatureError(f"Content-Digest has no sha-256 value (offered: {', '.join(digests) or 'nothing'})")
    if not isinstance(member[0], bytes):
        raise SignatureError("Content-Digest sha-256 value is not a byte sequence")
    if not hmac.compare_digest(member[0], hashlib.sha256(body).digest()):
        raise SignatureError("Content-Digest does not match the body")


def _verify_with_library(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, *, key_id: str, public_pem: str
) -> None:
    keys = MappingKeyResolver(public_keys={key_id: load_rsa_public_key(public_pem)}, private_keys={})
    verifier = _CallerClockVerifier(signature_algorithm=ALGORITHM, key_resolver=keys)
    try:
        verifier.verify(_Request(method.upper(), url, headers), max_age=None, body=body)
    except HTTPMessageSignaturesException as error:
        if isinstance(error.__cause__, CryptographyInvalidSignature):
            raise SignatureError(
                "RFC 9421 signature does not match: signed with another key, or for another method, "
                "URL or header values"
            ) from error
        raise SignatureError(f"RFC 9421 signature is invalid: {error}") from error
    except (ValueError, TypeError) as error:
        raise SignatureError(f"RFC 9421 signature is invalid: {error}") from error
