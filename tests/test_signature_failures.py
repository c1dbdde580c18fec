"""Tests for federation.signatures.cavage: every way a draft-cavage signature is refused, each with its reason, and the
parsing of the Signature header (also under generated input)."""

import base64
from datetime import timedelta

import pytest
from cavage_requests import (KAT_BODY, KAT_DIGEST, KAT_HEADERS, KAT_NOW, KAT_SIGNATURE, check, foreign_signature,
                             post_headers, signed_post)
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.keys import generate_key_pair
from federation.signatures import SignatureError
from federation.signatures.cavage import CavageSignature, parse_signature_header
from federation.signatures.common import digest_header


@pytest.fixture(scope="module")
def stranger_public_pem() -> str:
    return generate_key_pair().public_pem


# ---------------------------------------------------------------- failures, each with its reason


def test_tampered_body_is_rejected():
    with pytest.raises(SignatureError, match="Digest does not match the body"):
        check(KAT_HEADERS, body=KAT_BODY.replace(b"Follow", b"Block"))


def test_digest_header_that_does_not_match_the_body_is_rejected():
    with pytest.raises(SignatureError, match="Digest does not match the body"):
        check({**KAT_HEADERS, "Digest": digest_header(b"other bytes")})


def test_body_and_digest_both_replaced_break_the_signature():
    other = b'{"type":"Delete"}'
    with pytest.raises(SignatureError, match="does not match"):
        check({**KAT_HEADERS, "Digest": digest_header(other)}, body=other)


def test_several_digests_are_accepted_when_sha256_matches():
    digest = "SHA-512=" + base64.b64encode(b"x" * 64).decode() + ", " + KAT_DIGEST
    signed = foreign_signature(["(request-target)", "host", "date", "digest"], {**post_headers(), "Digest": digest})
    check(signed)


def test_lowercase_digest_algorithm_is_accepted():
    digest = KAT_DIGEST.replace("SHA-256=", "sha-256=")
    check(foreign_signature(["(request-target)", "host", "date", "digest"], {**post_headers(), "Digest": digest}))


def test_digest_without_sha256_is_rejected():
    digest = "SHA-512=" + base64.b64encode(b"x" * 64).decode()
    signed = foreign_signature(["(request-target)", "host", "date", "digest"], {**post_headers(), "Digest": digest})
    with pytest.raises(SignatureError, match=r"Digest has no SHA-256 value \(offered: sha-512\)"):
        check(signed)


def test_signed_digest_missing_from_the_request_is_rejected():
    headers = dict(KAT_HEADERS)
    del headers["Digest"]
    with pytest.raises(SignatureError, match="Digest header is missing"):
        check(headers)


def test_post_without_a_signed_digest_is_rejected():
    signed = foreign_signature(["(request-target)", "host", "date", "content-type"], post_headers())
    with pytest.raises(SignatureError, match="Digest is not among the signed headers"):
        check(signed)


def test_post_with_an_unsigned_digest_header_is_rejected():
    signed = foreign_signature(["(request-target)", "host", "date"], post_headers())
    assert "Digest" in signed
    with pytest.raises(SignatureError, match="Digest is not among the signed headers"):
        check(signed)


def test_any_request_with_a_body_needs_a_signed_digest():
    signed = foreign_signature(["(request-target)", "host", "date"], post_headers(), method="PUT")
    with pytest.raises(SignatureError, match="Digest is not among the signed headers"):
        check(signed, method="PUT", require_digest=False)


def test_get_without_body_needs_no_digest():
    signed = foreign_signature(["(request-target)", "host", "date"], post_headers(), method="GET")
    check(signed, method="GET", body=None)
    check(signed, method="GET", body=b"", require_digest=False)


@pytest.mark.parametrize(
    "signed, reason",
    [
        (["host", "date", "digest"], r"\(request-target\) is not among the signed headers"),
        (["(request-target)", "date", "digest"], "Host is not among the signed headers"),
        (["(request-target)", "host", "digest"], r"neither Date nor \(created\) is among the signed headers"),
    ],
)
def test_required_signed_headers(signed, reason):
    with pytest.raises(SignatureError, match=reason):
        check(foreign_signature(signed, post_headers()))


def test_default_signed_headers_are_date_only_and_rejected():
    signature = KAT_HEADERS["Signature"].replace(',headers="(request-target) host date digest content-type"', "")
    assert parse_signature_header(signature).headers == ("date",)
    with pytest.raises(SignatureError, match=r"\(request-target\) is not among the signed headers"):
        check({**KAT_HEADERS, "Signature": signature})


def test_expired_date_is_rejected_with_its_age():
    with pytest.raises(SignatureError, match=r"Date is 13 hours old \(at most 65 minutes allowed\)"):
        check(KAT_HEADERS, now=KAT_NOW + timedelta(hours=13))


def test_future_date_is_rejected():
    check(KAT_HEADERS, now=KAT_NOW - timedelta(minutes=60))
    with pytest.raises(SignatureError, match="Date is 61 minutes in the future"):
        check(KAT_HEADERS, now=KAT_NOW - timedelta(minutes=61))


def test_queued_retry_with_the_old_signature_is_rejected_after_an_hour():
    with pytest.raises(SignatureError, match="Date is 90 minutes old"):
        check(signed_post(), now=KAT_NOW + timedelta(minutes=90))


def test_created_with_rsa_sha256_is_rejected():
    created = int(KAT_NOW.timestamp())
    signed = foreign_signature(["(request-target)", "(created)", "host", "digest"], post_headers(), created=created)
    with pytest.raises(SignatureError, match=r"\(created\) is signed but is only allowed with algorithm hs2019"):
        check(signed)


def test_signed_created_without_its_parameter_is_rejected():
    signed = foreign_signature(
        ["(request-target)", "(created)", "host", "digest"], post_headers(), algorithm="hs2019", created=1
    )
    signed["Signature"] = signed["Signature"].replace("created=1,", "")
    with pytest.raises(SignatureError, match=r"has no created parameter"):
        check(signed)


def test_wrong_key_is_rejected(stranger_public_pem):
    with pytest.raises(SignatureError, match="Signature does not match: signed with another key"):
        check(KAT_HEADERS, public_pem=stranger_public_pem)


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "rsa-sha512", "ed25519", "rsa-sha1", "ecdsa-sha256"])
def test_unknown_algorithms_are_rejected(algorithm):
    signature = KAT_HEADERS["Signature"].replace('algorithm="rsa-sha256"', f'algorithm="{algorithm}"')
    with pytest.raises(SignatureError, match=f"Signature algorithm '{algorithm}' is not supported"):
        check({**KAT_HEADERS, "Signature": signature})


def test_signature_for_another_path_is_rejected():
    with pytest.raises(SignatureError, match="does not match"):
        check(KAT_HEADERS, path="/actors/someone-else/inbox")


def test_signature_for_another_host_is_rejected():
    with pytest.raises(SignatureError, match="does not match"):
        check({**KAT_HEADERS, "Host": "other.example"})


def test_signature_with_a_port_does_not_match_a_host_without_it():
    headers = signed_post("https://coop.example:8443/actors/preston-food-coop/inbox")
    with pytest.raises(SignatureError, match="does not match"):
        check({**headers, "Host": "coop.example"})


def test_signature_for_another_method_is_rejected():
    with pytest.raises(SignatureError, match="does not match"):
        check(KAT_HEADERS, method="PUT")


def test_changed_signed_header_is_rejected():
    with pytest.raises(SignatureError, match="does not match"):
        check({**KAT_HEADERS, "Content-Type": "application/json"})


def test_signed_header_absent_from_the_request_is_rejected():
    headers = dict(KAT_HEADERS)
    del headers["Content-Type"]
    with pytest.raises(SignatureError, match="signed header 'content-type' is missing from the request"):
        check(headers)


def test_missing_date_header_is_rejected():
    headers = dict(KAT_HEADERS)
    del headers["Date"]
    with pytest.raises(SignatureError, match="Date header is missing"):
        check(headers)


def test_unreadable_date_header_is_rejected():
    with pytest.raises(SignatureError, match="Date header is not an HTTP date"):
        check({**KAT_HEADERS, "Date": "last Tuesday"})


def test_invalid_public_key_is_reported():
    with pytest.raises(SignatureError, match="not a valid PEM public key"):
        check(KAT_HEADERS, public_pem="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


def test_signature_of_the_wrong_length_is_rejected():
    signature = KAT_HEADERS["Signature"].replace(KAT_SIGNATURE, base64.b64encode(b"short").decode())
    with pytest.raises(SignatureError, match="does not match"):
        check({**KAT_HEADERS, "Signature": signature})


# ---------------------------------------------------------------- parsing the Signature header


def test_parse_reads_every_parameter():
    parsed = parse_signature_header(
        'keyId="https://a.example/u#k", algorithm="HS2019", created=1402170695, expires=1402170995, '
        'headers="(request-target) (created) host", signature="AAEC"'
    )
    assert parsed == CavageSignature(
        key_id="https://a.example/u#k",
        algorithm="hs2019",
        headers=("(request-target)", "(created)", "host"),
        signature=b"\x00\x01\x02",
        created=1402170695,
        expires=1402170995,
    )


def test_parse_accepts_escapes_and_a_trailing_comma():
    parsed = parse_signature_header(r'keyId="a\"b",signature="AAEC",')
    assert parsed.key_id == 'a"b'
    assert parsed.headers == ("date",)
    assert parsed.algorithm is None


def test_parse_accepts_quoted_created():
    assert parse_signature_header('keyId="k",created="12",signature="AAEC"').created == 12


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("garbage", "malformed"),
        ('keyId="k" signature="AAEC"', "malformed"),
        ('keyId="k",signature="AAEC', "malformed"),
        ('keyId="k",,signature="AAEC"', "malformed"),
        ('="k",signature="AAEC"', "malformed"),
        ('keyId="k"', "no signature value"),
        ('keyId="k",signature=""', "no signature value"),
        ('signature="AAEC"', "no keyId"),
        ('keyId="",signature="AAEC"', "no keyId"),
        ('keyId="k",signature="not base64!"', "not valid base64"),
        ('keyId="k",signature="AAE"', "not valid base64"),
        ('keyId="k",keyId="j",signature="AAEC"', "repeats the parameter keyId"),
        ('keyId="k",created=soon,signature="AAEC"', "created is not a Unix time"),
        ('keyId="k",expires=-5,signature="AAEC"', "expires is not a Unix time"),
    ],
)
def test_parse_rejects_malformed_headers_with_a_reason(value, reason):
    with pytest.raises(SignatureError, match=reason):
        parse_signature_header(value)


@pytest.mark.parametrize("value", [None, b'keyId="k",signature="AAEC"', 42])
def test_parse_rejects_non_text(value):
    with pytest.raises(SignatureError, match="not text"):
        parse_signature_header(value)


PARAMETER_PIECES = st.sampled_from(
    ['keyId="k"', "keyId=", 'signature="AAEC"', 'signature="', "created=", "expires=1", "created=9999999999999",
     'headers="(request-target) host"', 'algorithm="hs2019"', ",", " ", '"', "\\", "=", "\n", "\x00", "é", "\ud800"]
)


@settings(database=None, max_examples=400, deadline=None)
@given(st.text())
def test_parse_raises_only_signature_error_on_any_text(value):
    try:
        assert isinstance(parse_signature_header(value), CavageSignature)
    except SignatureError as error:
        assert error.reason


@settings(database=None, max_examples=400, deadline=None)
@given(st.lists(st.one_of(PARAMETER_PIECES, st.text(max_size=5)), max_size=12))
def test_parse_raises_only_signature_error_on_signature_like_text(pieces):
    try:
        parse_signature_header("".join(pieces))
    except SignatureError:
        pass


@settings(database=None, max_examples=200, deadline=None)
@given(date=st.text(max_size=40), created=st.integers(min_value=0, max_value=10**12))
def test_verify_raises_only_signature_error_on_odd_dates_and_times(date, created):
    for headers in (
        {**KAT_HEADERS, "Date": date},
        {**KAT_HEADERS, "Signature": f'keyId="k",algorithm="hs2019",created={created},'
                                     f'headers="(request-target) host (created) digest",signature="AAEC"'},
    ):
        try:
            check(headers)
        except SignatureError:
            pass
