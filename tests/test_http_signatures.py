"""Tests for federation.signatures, the front door: telling the two schemes apart, and verifying and signing with
either."""

from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from federation.signatures import (
    SignatureScheme,
    other_scheme,
    read,
    scheme_of,
    sign,
    verify,
)
from federation.keys import generate_key_pair
from federation.signatures import SignatureError

NOW = datetime(2025, 6, 3, 10, 0, 0, tzinfo=UTC)
KEY_ID = "https://coop.example/actors/preston-food-coop#main-key"
URL = "https://mastodon.example/users/alice/inbox?via=coop"
PATH = "/users/alice/inbox?via=coop"
BODY = b'{"type":"Accept","actor":"https://coop.example/actors/preston-food-coop"}'


@pytest.fixture(scope="module")
def pair():
    return generate_key_pair()


@pytest.fixture(scope="module")
def stranger():
    return generate_key_pair()


def signed(pair, scheme, method="POST", body: bytes | None = BODY, url=URL):
    headers = {"Content-Type": "application/activity+json"} if body is not None else {"Accept": "application/activity+json"}
    return sign(scheme, method, url, headers, body, key_id=KEY_ID, private_pem=pair.private_pem, now=NOW)


def check(headers, public_pem, *, method="POST", body: bytes | None = BODY, url=URL, path=PATH, now=NOW):
    return verify(headers, method=method, url=url, path_with_query=path, body=body, public_pem=public_pem, now=now)


@pytest.mark.parametrize("scheme", list(SignatureScheme))
@pytest.mark.parametrize("method, body", [("POST", BODY), ("GET", None)])
def test_round_trip_in_both_schemes(pair, scheme, method, body):
    headers = signed(pair, scheme, method, body)
    assert scheme_of(headers) is scheme
    assert read(headers).key_id == KEY_ID
    assert check(headers, pair.public_pem, method=method, body=body) is scheme


def test_sign_uses_the_scheme_asked_for(pair):
    cavage = signed(pair, SignatureScheme.CAVAGE)
    rfc9421 = signed(pair, SignatureScheme.RFC9421)
    assert "keyId=" in cavage["Signature"] and "Digest" in cavage and "Signature-Input" not in cavage
    assert "Signature-Input" in rfc9421 and "Content-Digest" in rfc9421 and "Digest" not in rfc9421


def test_scheme_of_recognises_each_scheme_case_insensitively():
    assert scheme_of({}) is None
    assert scheme_of({"signature": 'keyId="k",signature="AAEC"'}) is SignatureScheme.CAVAGE
    assert scheme_of({"SIGNATURE": 'KEYID="k",signature="AAEC"'}) is SignatureScheme.CAVAGE
    assert scheme_of({"signature-input": 'sig1=("@method")', "signature": "sig1=:AAEC:"}) is SignatureScheme.RFC9421
    assert scheme_of(CIMultiDictProxy(CIMultiDict({"Signature": 'keyId="k"'}))) is SignatureScheme.CAVAGE


def test_signature_input_wins_when_both_kinds_of_header_are_present():
    headers = {"Signature-Input": 'sig1=("@method");keyid="a"', "Signature": 'keyId="b",signature="AAEC"'}
    assert scheme_of(headers) is SignatureScheme.RFC9421
    assert read(headers).key_id == "a"


def test_signature_without_key_id_is_no_scheme():
    assert scheme_of({"Signature": "sig1=:AAEC:"}) is None


def test_unsigned_request_is_an_error(pair):
    with pytest.raises(SignatureError, match="^the request is not signed$"):
        check({"Host": "mastodon.example"}, pair.public_pem)
    with pytest.raises(SignatureError, match="^the request is not signed$"):
        read({})


def test_signature_header_without_key_id_or_input_is_an_error(pair):
    with pytest.raises(SignatureError, match="Signature header has no keyId, and there is no Signature-Input header"):
        check({"Signature": "sig1=:AAEC:"}, pair.public_pem)


def test_other_scheme_swaps_the_two():
    assert other_scheme(SignatureScheme.CAVAGE) is SignatureScheme.RFC9421
    assert other_scheme(SignatureScheme.RFC9421) is SignatureScheme.CAVAGE


@pytest.mark.parametrize("scheme", list(SignatureScheme))
def test_failures_come_through_as_signature_errors(pair, stranger, scheme):
    headers = signed(pair, scheme)
    with pytest.raises(SignatureError, match="does not match"):
        check(headers, stranger.public_pem)
    with pytest.raises(SignatureError, match="does not match the body"):
        check(headers, pair.public_pem, body=BODY + b" ")
    with pytest.raises(SignatureError, match="old"):
        check(headers, pair.public_pem, now=NOW + timedelta(hours=2))


def test_cavage_is_checked_against_the_path_and_rfc9421_against_the_url(pair):
    cavage = signed(pair, SignatureScheme.CAVAGE)
    rfc9421 = signed(pair, SignatureScheme.RFC9421)
    check(cavage, pair.public_pem, url="https://ignored.example/")
    check(rfc9421, pair.public_pem, path="/ignored")
    with pytest.raises(SignatureError, match="does not match"):
        check(cavage, pair.public_pem, path="/users/bob/inbox")
    with pytest.raises(SignatureError, match="does not match"):
        check(rfc9421, pair.public_pem, url="https://mastodon.example/users/bob/inbox")


def test_cavage_post_needs_a_signed_digest_even_with_an_empty_body(pair):
    headers = sign(
        SignatureScheme.CAVAGE, "GET", URL, {}, None, key_id=KEY_ID, private_pem=pair.private_pem, now=NOW
    )
    check(headers, pair.public_pem, method="GET", body=b"")
    with pytest.raises(SignatureError, match="Digest is not among the signed headers"):
        check(headers, pair.public_pem, method="POST", body=b"")
