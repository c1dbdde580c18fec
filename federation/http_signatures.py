"""One front door for both signature schemes: which one a request uses, its key id, verify and sign."""

import enum
from collections.abc import Mapping
from datetime import datetime

from federation.rfc9421 import (
    rfc9421_key_id,
    sign_request_rfc9421,
    verify_request_rfc9421,
)
from federation.signatures import (
    SignatureError,
    get_header,
    parse_signature_header,
    sign_request,
    verify_request,
)


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


def other_scheme(scheme: SignatureScheme) -> SignatureScheme:
    """The scheme to knock with next after a 400/401 (double-knocking)."""
    return SignatureScheme.CAVAGE if scheme is SignatureScheme.RFC9421 else SignatureScheme.RFC9421


def key_id_of(headers: Mapping[str, str]) -> str:
    scheme = _required_scheme(headers)
    if scheme is SignatureScheme.RFC9421:
        return rfc9421_key_id(headers)
    return parse_signature_header(get_header(headers, "Signature")).key_id


def verify(
    headers: Mapping[str, str],
    *,
    method: str,
    url: str,
    path_with_query: str,
    body: bytes | None,
    public_pem: str,
    now: datetime,
) -> SignatureScheme:
    """Verify whichever scheme signed the request, as received; return it or raise SignatureError(reason).

    `url` (scheme://received-host/path?query) serves RFC 9421, `path_with_query` serves draft-cavage.
    """
    scheme = _required_scheme(headers)
    if scheme is SignatureScheme.RFC9421:
        verify_request_rfc9421(method=method, url=url, headers=headers, body=body, public_pem=public_pem, now=now)
    else:
        verify_request(
            parse_signature_header(get_header(headers, "Signature")),
            method=method,
            path_with_query=path_with_query,
            headers=headers,
            body=body,
            public_pem=public_pem,
            now=now,
            require_digest=method.upper() == "POST",
        )
    return scheme


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


def _required_scheme(headers: Mapping[str, str]) -> SignatureScheme:
    scheme = scheme_of(headers)
    if scheme is None and get_header(headers, "Signature") is not None:
        raise SignatureError("Signature header has no keyId, and there is no Signature-Input header")
    if scheme is None:
        raise SignatureError("the request is not signed")
    return scheme
