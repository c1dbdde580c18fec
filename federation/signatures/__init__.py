"""The front door for both HTTP signature schemes, draft-cavage (`cavage`) and RFC 9421 (`rfc9421`): which one a
request uses, its key id, verify and sign; `common` holds what the two share."""

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from federation.signatures.cavage import CavageSignature, parse_signature_header, sign_request, verify_request
from federation.signatures.common import SignatureError, get_header
from federation.signatures.rfc9421 import rfc9421_key_id, sign_request_rfc9421, verify_request_rfc9421


class SignatureScheme(enum.Enum):
    CAVAGE = "draft-cavage-12"
    RFC9421 = "rfc9421"


def scheme_of(headers: Mapping[str, str]) -> SignatureScheme | None:
    """RFC 9421 when Signature-Input is present (checked first, as Mastodon does), cavage when Signature has keyId."""
    if get_header(headers, "Signature-Input") is not None:
        return SignatureScheme.RFC9421
    signature = get_header(headers, "Signature")
    if signature is not None and "keyid=" in signature.lower():
        return SignatureScheme.CAVAGE
    return None


@dataclass(frozen=True)
class ReceivedSignature:
    """A request's signature read once: its scheme, key id and (draft-cavage) parsed Signature header."""

    scheme: SignatureScheme
    key_id: str
    cavage: CavageSignature | None = None  # None for RFC 9421, whose library parses its own fields


def read(headers: Mapping[str, str]) -> ReceivedSignature:
    """The request's signature, parsed once for both the key look-up and `verify`; SignatureError if it is
    missing or malformed."""
    scheme = scheme_of(headers)
    if scheme is SignatureScheme.RFC9421:
        return ReceivedSignature(scheme, rfc9421_key_id(headers))
    signature = get_header(headers, "Signature")
    if scheme is None:
        raise SignatureError("Signature header has no keyId, and there is no Signature-Input header"
                             if signature is not None else "the request is not signed")
    cavage = parse_signature_header(signature)
    return ReceivedSignature(scheme, cavage.key_id, cavage)


def other_scheme(scheme: SignatureScheme) -> SignatureScheme:
    """The scheme to knock with next after a 400/401 (double-knocking)."""
    return SignatureScheme.CAVAGE if scheme is SignatureScheme.RFC9421 else SignatureScheme.RFC9421


def verify(
    headers: Mapping[str, str],
    *,
    method: str,
    url: str,
    path_with_query: str,
    body: bytes | None,
    public_pem: str,
    now: datetime,
    signature: ReceivedSignature | None = None,
) -> SignatureScheme:
    """Verify whichever scheme signed the request, as received; return it or raise SignatureError(reason).

    `url` (scheme://received-host/path?query) serves RFC 9421, `path_with_query` serves draft-cavage.
    `signature`: what `read(headers)` returned, when the caller has it already (else it is read here).
    """
    signature = signature or read(headers)
    if signature.scheme is SignatureScheme.RFC9421:
        verify_request_rfc9421(method=method, url=url, headers=headers, body=body, public_pem=public_pem, now=now)
    else:
        verify_request(
            signature.cavage,
            method=method,
            path_with_query=path_with_query,
            headers=headers,
            body=body,
            public_pem=public_pem,
            now=now,
            require_digest=method.upper() == "POST",
        )
    return signature.scheme


def sign(
    scheme: SignatureScheme,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    key_id: str,
    private_pem: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to send, signed with `scheme`."""
    signer = sign_request_rfc9421 if scheme is SignatureScheme.RFC9421 else sign_request
    return signer(method, url, headers, body, key_id=key_id, private_pem=private_pem, now=now)
