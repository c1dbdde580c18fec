"""Tests for federation.signatures.rfc9421: RFC 9421 signatures with Content-Digest, in Mastodon's and Fedify's
profile."""

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from federation.keys import generate_key_pair
from federation.signatures.rfc9421 import (
    rfc9421_key_id,
    sign_request_rfc9421,
    verify_request_rfc9421,
)
from federation.signatures import SignatureError

# A test-only RSA key made once with `openssl genpkey`; never used outside these tests.
KAT_PRIVATE_PEM = """\
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDV/kJBv3ypue+4
D5nhaLmlScKSGT/TdZzmrfCkCRxSKXApzLgnA7rM0cMnZ7ofKJ3CQYKu6XllJjU3
mw8xjlyJvKrxDqqswOPQJFXN9Bkl7C+WmUDQOE6ow/+ACHvdGShlwW5RsPml2ZWZ
JDL5Ks78FNxMWmcE5DUB2KtJ7w/+G+hu1FvmP5+Oq6oRyXEgvdIali+cam5KbLdS
8efWGbEfY0pDuiaRou1ORRhLMMehN8GzBsyMVGkCB4BMTIQlpQOSancmlJxb6uet
/cq6NyW8DodeToqeOSNsICT1rPX5nv0lHrfgF+AfaX9tUTcRZ1RxXuMcxEVqvPJ+
iR5K95rHAgMBAAECggEAMRbkqCR/Oog236hkinr1q18iTVWReLbQSXK5c0fLwWVU
H6Kg1AJdBcNQ22dGIQO2POu+SNWyTWvYZWsiryGTRN2M8UOGD58oI4VSUa6fXj2y
JP//CEUCdmCP6hUIJQ4yYDVhU0gf3NXvJXRSZSpW1SkL6FAMteiL6GKF2K4Ioyfk
ZWZ+zuEcZ035gpid4uAXnHzMbLQwwQGzWL2vj8kQHo/0zKhzgpsrPRaWJCMPOjXH
DGGm5K72zJIh/X8pgbUWxiiBoXXN6hY/1tBLFMfJnwm0r/FAi9O3Z/4HCteCMpYm
QOsJC+GhFQTcyqKmjfx/6W5SffQUa0wfNgjR0xDK8QKBgQDqmUv3EOGb+S6OLGW/
7OFcJ2xPIDZP1Wnm7b8SDfBGU1ktSNGDSdyp9jPbI4ulUVIc+NbAi1RxI/PmFUG1
eVur9RsqZ+DjX3QYJle+n+2AzrfD5yHv/EG+bQ/71Nt2gznoQtAMGojfQyI6d3VG
0t9XQ+fTQpwNbO8P1Xi0mUjrAwKBgQDpg7+yj2rU0Vpbmvl/N4FrnvhGj1UppCMP
JzudzXbColp/HpQKHKXYIYMrd6gS3PDCJirzaN+fq4V6ARPiGq+08O4J/tbhEnYq
NAneG84vFCykCaaVtdEPc8h9KfhWl+8qOBKhb+Vac30U0EVJsurJniciK3B6wIct
Gr40KOcD7QKBgE0NPnMOW1tUM2NE18J6teYDmMJATTZZXOgZDBmM9G7Ur0R9Vzrs
xooYMB34hcQtem/Dlx00Ze6nJVNbhfJpwp8u6NY7uhRT5JiN92HHu0UEID06q93b
l2hI/+fxmIdLQHi1gQmIqY3Syeo0FBPH7M0Ho5uyk/ig37/umC+Q7O8rAoGAckEW
UIW/nbV5YoznOomr9z5m+A81ehRnWwi1MLbRPtY1NTF++ZuewatUBLadM+2Kl1QZ
e9N6ZyODQXi5g83O3tdrgNSByso/qtKfaV9teLeESBa4vVOioM7j7+nTKntYd+3L
n9WiAKm1L7Pf0vmJy3BocV2TwVvmR/lnyxmgPtkCgYAlMaRwBDGn0f9KPYYsXiR9
WwjO0FUdqAFXUjurXgF50XKDbb2M8rCHfld/yD9R5397BiNCZnEKdnhkS6Kf4FM/
tnesZGE5rMtt2MrjS+Sx3i8HVL6SSH1/ryOrZMF0FLC3YOZfFsIMpqrUIvclpzMq
s6T4dl1Ec4IVsY395Xyhaw==
-----END PRIVATE KEY-----
"""
KAT_PUBLIC_PEM = """\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1f5CQb98qbnvuA+Z4Wi5
pUnCkhk/03Wc5q3wpAkcUilwKcy4JwO6zNHDJ2e6HyidwkGCrul5ZSY1N5sPMY5c
ibyq8Q6qrMDj0CRVzfQZJewvlplA0DhOqMP/gAh73RkoZcFuUbD5pdmVmSQy+SrO
/BTcTFpnBOQ1AdirSe8P/hvobtRb5j+fjquqEclxIL3SGpYvnGpuSmy3UvHn1hmx
H2NKQ7omkaLtTkUYSzDHoTfBswbMjFRpAgeATEyEJaUDkmp3JpScW+rnrf3Kujcl
vA6HXk6KnjkjbCAk9az1+Z79JR634BfgH2l/bVE3EWdUcV7jHMRFarzyfokeSvea
xwIDAQAB
-----END PUBLIC KEY-----
"""

# Known answer: the Content-Digest and the signature were computed once, independently of this code, with
# `openssl dgst -sha256 [-binary | -sign]` over the body and over the hand-written signature base below.
KAT_BODY = (
    b'{"@context":"https://www.w3.org/ns/activitystreams","id":"https://mastodon.example/users/alice#follows/1",'
    b'"type":"Follow","actor":"https://mastodon.example/users/alice",'
    b'"object":"https://coop.example/actors/preston-food-coop"}'
)
KAT_URL = "https://coop.example/actors/preston-food-coop/inbox"
KAT_KEY_ID = "https://mastodon.example/users/alice#main-key"
KAT_NOW = datetime(2025, 6, 3, 10, 0, 0, tzinfo=UTC)
KAT_CONTENT_DIGEST = "sha-256=:7zypDEV/Zt4CFuvTGwA899VZh9xAjgQS8X8EkxMq9Rw=:"
KAT_SIGNATURE_PARAMS = (
    '("@method" "@target-uri" "@authority" "content-digest");created=1748944800;'
    f'keyid="{KAT_KEY_ID}";alg="rsa-v1_5-sha256"'
)
KAT_SIGNATURE_BASE = (
    '"@method": POST\n'
    f'"@target-uri": {KAT_URL}\n'
    '"@authority": coop.example\n'
    f'"content-digest": {KAT_CONTENT_DIGEST}\n'
    f'"@signature-params": {KAT_SIGNATURE_PARAMS}'
)
KAT_SIGNATURE = "cCIx+ZpL552+Z6WDUpWvyeK7MyparLqn7whh6Y7DlngW7quVZ2bvq1k+Oc8MenLXzJSDSj0nCY7z6RP1Tg91v73IAFB0t2wjIj7sPtUCkoropp52xAC/BqqvugHwAwFdx/xqP9KYweHf3yEQ1WZTLHUrFGKBsPFQjVq9YGF/yGKmvfFedgrUsn7jfD1szrk1wSbsa6yuOESitfEs0llf3bmxO0WEkJ0M3XvePv/OuTzBAezhxxA4u/yIiTjdiFYStKTh/fs0uVvrxnsKMG7N8WpLOo9nTgjTPChZlJ0jMhY5n62elSS7vL3Nv+WJafycFP+qQzHk5eiYYyMxe8BvlA=="
KAT_HEADERS = {
    "Host": "coop.example",
    "Content-Type": "application/activity+json",
    "Content-Digest": KAT_CONTENT_DIGEST,
    "Signature-Input": f"sig1={KAT_SIGNATURE_PARAMS}",
    "Signature": f"sig1=:{KAT_SIGNATURE}:",
}


@dataclass
class LibraryRequest:
    method: str
    url: str
    headers: dict


@pytest.fixture(scope="module")
def stranger_public_pem() -> str:
    return generate_key_pair().public_pem


def check(headers, *, method="POST", url=KAT_URL, body=KAT_BODY, public_pem=KAT_PUBLIC_PEM, now=KAT_NOW):
    verify_request_rfc9421(method=method, url=url, headers=headers, body=body, public_pem=public_pem, now=now)


def signed(method="POST", url=KAT_URL, body: bytes | None = KAT_BODY, now=KAT_NOW) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"} if body is not None else {"Accept": "application/activity+json"}
    return sign_request_rfc9421(method, url, headers, body, key_id=KAT_KEY_ID, private_pem=KAT_PRIVATE_PEM, now=now)


def library_signed(
    components, *, method="POST", url=KAT_URL, headers=None, body: bytes | None = KAT_BODY, created=KAT_NOW, label="sig1"
) -> dict[str, str]:
    """Sign with the library directly, covering exactly `components` (as another server might)."""
    request = LibraryRequest(method, url, dict(headers or {"Host": "coop.example"}))
    if body is not None:
        request.headers["Content-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    keys = MappingKeyResolver(public_keys={}, private_keys={KAT_KEY_ID: KAT_PRIVATE_PEM.encode()})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.RSA_V1_5_SHA256, key_resolver=keys)
    signer.sign(
        request, key_id=KAT_KEY_ID, created=created, label=label, covered_component_ids=components,
        use_existing_digest=body is not None,
    )
    return request.headers


# ---------------------------------------------------------------- known answer


def test_known_answer_request_verifies():
    check(KAT_HEADERS)


def test_known_answer_signature_is_what_sign_request_produces():
    headers = signed()
    assert headers["Content-Digest"] == KAT_CONTENT_DIGEST
    assert headers["Signature-Input"] == KAT_HEADERS["Signature-Input"]
    assert headers["Signature"] == KAT_HEADERS["Signature"]


def test_known_answer_signature_covers_exactly_the_hand_written_base():
    key = serialization.load_pem_public_key(KAT_PUBLIC_PEM.encode())
    key.verify(base64.b64decode(KAT_SIGNATURE), KAT_SIGNATURE_BASE.encode(), padding.PKCS1v15(), hashes.SHA256())


# ---------------------------------------------------------------- round trips and what we send


def test_post_round_trip():
    check(signed())


def test_get_round_trip_without_content_digest():
    headers = signed("GET", body=None)
    assert "Content-Digest" not in headers
    assert headers["Signature-Input"].startswith('sig1=("@method" "@target-uri" "@authority");created=1748944800;')
    check(headers, method="GET", body=None)


def test_get_with_a_query_round_trip():
    url = KAT_URL.replace("/inbox", "/outbox?page=true")
    check(signed("GET", url=url, body=None), method="GET", url=url, body=None)


def test_signing_replaces_old_signature_headers_and_keeps_the_others():
    headers = sign_request_rfc9421(
        "POST", KAT_URL, {"signature": "old", "SIGNATURE-INPUT": "old", "Content-Type": "application/activity+json"},
        KAT_BODY, key_id=KAT_KEY_ID, private_pem=KAT_PRIVATE_PEM, now=KAT_NOW,
    )
    assert set(headers) == {"Content-Type", "Content-Digest", "Signature-Input", "Signature"}
    check(headers)


def test_key_id_is_read_from_signature_input():
    assert rfc9421_key_id(KAT_HEADERS) == KAT_KEY_ID
    assert rfc9421_key_id({"signature-input": KAT_HEADERS["Signature-Input"]}) == KAT_KEY_ID


# ---------------------------------------------------------------- what other servers send


def test_mastodon_style_signature_with_method_target_uri_and_content_digest():
    check(library_signed(("@method", "@target-uri", "content-digest")))


def test_fedify_style_signature_with_host_and_date_fields():
    headers = {"Host": "coop.example", "Date": "Tue, 03 Jun 2025 10:00:00 GMT", "Content-Type": "application/activity+json"}
    components = ("@method", "@target-uri", "@authority", "host", "date", "content-digest")
    check(library_signed(components, headers=headers))


def test_other_labels_are_accepted():
    check(library_signed(("@method", "@target-uri", "content-digest"), label="pyhms"))


def test_aiohttp_style_and_lowercase_headers_are_accepted():
    check(CIMultiDictProxy(CIMultiDict(KAT_HEADERS)))
    check({name.lower(): value for name, value in KAT_HEADERS.items()})


# ---------------------------------------------------------------- failures, each with its reason


def test_tampered_body_is_rejected():
    with pytest.raises(SignatureError, match="Content-Digest does not match the body"):
        check(KAT_HEADERS, body=KAT_BODY.replace(b"Follow", b"Block"))


def test_content_digest_without_sha256_is_rejected():
    sha512 = "sha-512=:" + base64.b64encode(hashlib.sha512(KAT_BODY).digest()).decode() + ":"
    headers = library_signed(("@method", "@target-uri", "content-digest"))
    headers["Content-Digest"] = sha512
    with pytest.raises(SignatureError, match=r"Content-Digest has no sha-256 value \(offered: sha-512\)"):
        check(headers)


def test_malformed_content_digest_is_rejected():
    with pytest.raises(SignatureError, match="Content-Digest is not a valid structured field dictionary"):
        check({**KAT_HEADERS, "Content-Digest": "SHA-256=abc"})


def test_missing_content_digest_header_is_rejected():
    headers = dict(KAT_HEADERS)
    del headers["Content-Digest"]
    with pytest.raises(SignatureError, match="Content-Digest header is missing"):
        check(headers)


def test_post_without_signed_content_digest_is_rejected():
    headers = library_signed(("@method", "@target-uri"), body=None)
    with pytest.raises(SignatureError, match="content-digest is not among the signed components"):
        check(headers)
    with pytest.raises(SignatureError, match="content-digest is not among the signed components"):
        check(headers, body=b"")


@pytest.mark.parametrize("missing", ["@method", "@target-uri"])
def test_method_and_target_uri_must_be_signed(missing):
    components = tuple(c for c in ("@method", "@target-uri", "@authority", "content-digest") if c != missing)
    with pytest.raises(SignatureError, match=f"{missing} is not among the signed components"):
        check(library_signed(components))


def test_created_too_old_is_rejected():
    check(KAT_HEADERS, now=KAT_NOW + timedelta(minutes=65))
    with pytest.raises(SignatureError, match=r"created is 66 minutes old \(at most 65 minutes allowed\)"):
        check(KAT_HEADERS, now=KAT_NOW + timedelta(minutes=66))


def test_created_in_the_future_is_rejected():
    check(KAT_HEADERS, now=KAT_NOW - timedelta(minutes=60))
    with pytest.raises(SignatureError, match="created is 2 hours in the future"):
        check(KAT_HEADERS, now=KAT_NOW - timedelta(hours=2))


def test_missing_created_is_rejected():
    signature_input = KAT_HEADERS["Signature-Input"].replace(";created=1748944800", "")
    with pytest.raises(SignatureError, match="no integer created parameter"):
        check({**KAT_HEADERS, "Signature-Input": signature_input})


def test_wrong_key_is_rejected(stranger_public_pem):
    with pytest.raises(SignatureError, match="RFC 9421 signature does not match: signed with another key"):
        check(KAT_HEADERS, public_pem=stranger_public_pem)


@pytest.mark.parametrize(
    "method, url",
    [
        ("PUT", KAT_URL),
        ("POST", KAT_URL.replace("preston-food-coop", "someone-else")),
        ("POST", KAT_URL.replace("coop.example", "other.example")),
        ("POST", KAT_URL.replace("https://", "http://")),
        ("POST", KAT_URL + "?x=1"),
    ],
)
def test_signature_for_another_method_path_host_scheme_or_query_is_rejected(method, url):
    with pytest.raises(SignatureError, match="does not match"):
        check(KAT_HEADERS, method=method, url=url)


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "rsa-pss-sha512", "ed25519"])
def test_other_algorithms_are_rejected(algorithm):
    signature_input = KAT_HEADERS["Signature-Input"].replace("rsa-v1_5-sha256", algorithm)
    with pytest.raises(SignatureError, match=f"Signature algorithm '{algorithm}' is not supported"):
        check({**KAT_HEADERS, "Signature-Input": signature_input})


def test_covered_header_missing_from_the_request_is_rejected():
    headers = library_signed(("@method", "@target-uri", "content-type", "content-digest"),
                             headers={"Content-Type": "application/activity+json"})
    del headers["Content-Type"]
    with pytest.raises(SignatureError, match="RFC 9421 signature is invalid: .*content-type.* not found"):
        check(headers)


def test_unencoded_url_is_reported_as_a_signature_error():
    with pytest.raises(SignatureError, match="RFC 9421 signature is invalid"):
        check(KAT_HEADERS, url="https://coop.example/actors/preston food coop/inbox")


def test_signature_that_is_not_a_byte_sequence_is_rejected():
    with pytest.raises(SignatureError, match="RFC 9421 signature is invalid"):
        check({**KAT_HEADERS, "Signature": 'sig1="text"'})


def test_signature_with_another_label_than_its_input_is_rejected():
    with pytest.raises(SignatureError, match="RFC 9421 signature is invalid"):
        check({**KAT_HEADERS, "Signature": KAT_HEADERS["Signature"].replace("sig1=", "sig2=")})


def test_invalid_public_key_is_reported():
    with pytest.raises(SignatureError, match="not a valid PEM public key"):
        check(KAT_HEADERS, public_pem="not a key")


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, "Signature-Input header is missing"),
        ({"Signature-Input": "%%%"}, "not a valid structured field dictionary"),
        ({"Signature-Input": "sig1=(\"@method\");created=1"}, "no keyid parameter"),
        ({"Signature-Input": 'sig1=(\"@method\");keyid=""'}, "no keyid parameter"),
        ({"Signature-Input": "sig1=\"@method\";keyid=\"k\""}, "not a list of covered components"),
        ({"Signature-Input": "sig1=(1 2);keyid=\"k\""}, "not a list of covered components"),
        ({"Signature-Input": 'a=("@method");keyid="k", b=("@method");keyid="j"'}, "holds 2 signatures"),
        ({"Signature-Input": "é=()"}, "not a valid structured field dictionary"),
    ],
)
def test_key_id_of_malformed_signature_input(headers, reason):
    with pytest.raises(SignatureError, match=reason):
        rfc9421_key_id(headers)


@settings(database=None, max_examples=300, deadline=None)
@given(signature_input=st.text(max_size=80), signature=st.text(max_size=40))
def test_only_signature_errors_whatever_the_headers(signature_input, signature):
    headers = {**KAT_HEADERS, "Signature-Input": signature_input, "Signature": signature}
    for attempt in (lambda: rfc9421_key_id(headers), lambda: check(headers)):
        try:
            attempt()
        except SignatureError:
            pass


@settings(database=None, max_examples=100, deadline=None)
@given(created=st.integers(min_value=-(10**20), max_value=10**20))
def test_only_signature_errors_whatever_the_created_time(created):
    headers = {**KAT_HEADERS, "Signature-Input": KAT_HEADERS["Signature-Input"].replace("1748944800", str(created))}
    try:
        check(headers)
    except SignatureError:
        pass
