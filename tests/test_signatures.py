"""Tests for federation.signatures.cavage: draft-cavage-12 signing and verification as Mastodon and its peers do it (the
known answer, what we sign, query strings, what other servers send, header containers). The refusals, each
with its reason, and the parsing of the Signature header are in tests/test_signature_failures.py."""

import base64
from datetime import datetime, timedelta, timezone

import pytest
from cavage_requests import (ACTIVITY_JSON, INBOX_PATH, KAT_BODY, KAT_DIGEST, KAT_HEADERS, KAT_KEY_ID, KAT_NOW,
                             KAT_PRIVATE_PEM, KAT_PUBLIC_PEM, KAT_SIGNATURE, KAT_SIGNING_STRING, KAT_URL, check,
                             foreign_signature, post_headers, signed_get, signed_post)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from multidict import CIMultiDict, CIMultiDictProxy

from federation.signatures import SignatureError
from federation.signatures.cavage import parse_signature_header, sign_request
from federation.signatures.common import digest_header, get_header
from vocab.as2 import host_of


# ---------------------------------------------------------------- known answer


def test_known_answer_request_verifies():
    check(KAT_HEADERS)


def test_known_answer_signature_is_what_sign_request_produces():
    headers = signed_post()
    assert headers["Digest"] == KAT_DIGEST
    assert headers["Signature"] == KAT_HEADERS["Signature"]


def test_known_answer_signature_covers_exactly_the_hand_written_string():
    key = serialization.load_pem_public_key(KAT_PUBLIC_PEM.encode())
    key.verify(base64.b64decode(KAT_SIGNATURE), KAT_SIGNING_STRING.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_known_answer_fails_one_second_past_the_window():
    check(KAT_HEADERS, now=KAT_NOW + timedelta(minutes=65))
    with pytest.raises(SignatureError, match="Date is 65 minutes old"):
        check(KAT_HEADERS, now=KAT_NOW + timedelta(minutes=65, seconds=1))


# ---------------------------------------------------------------- digest and headers we produce


def test_digest_header_of_the_empty_body():
    assert digest_header(b"") == "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_digest_header_of_the_known_body():
    assert digest_header(KAT_BODY) == KAT_DIGEST


def test_post_signs_what_mastodon_signs():
    headers = signed_post()
    signature = parse_signature_header(headers["Signature"])
    assert signature.algorithm == "rsa-sha256"
    assert signature.key_id == KAT_KEY_ID
    assert signature.headers == ("(request-target)", "host", "date", "digest", "content-type")
    assert headers["Host"] == "coop.example"
    assert headers["Date"] == "Tue, 03 Jun 2025 10:00:00 GMT"
    assert headers["Content-Type"] == ACTIVITY_JSON


def test_get_signs_what_mastodon_signs():
    headers = signed_get()
    signature = parse_signature_header(headers["Signature"])
    assert signature.headers == ("(request-target)", "host", "date", "accept")
    assert "Digest" not in headers
    check(headers, method="GET", body=None)


def test_post_round_trip():
    check(signed_post())


def test_post_with_an_empty_body_still_carries_a_digest():
    headers = signed_post(body=b"")
    assert headers["Digest"] == digest_header(b"")
    check(headers, body=b"")


def test_only_present_headers_are_signed():
    headers = sign_request("GET", KAT_URL, {}, None, key_id=KAT_KEY_ID, private_pem=KAT_PRIVATE_PEM, now=KAT_NOW)
    assert parse_signature_header(headers["Signature"]).headers == ("(request-target)", "host", "date")
    check(headers, method="GET", body=None)


def test_given_host_date_and_signature_are_replaced_whatever_their_case():
    headers = signed_post(host="evil.example", DATE="yesterday", signature="forged")
    assert headers["Host"] == "coop.example"
    assert headers["Date"] == "Tue, 03 Jun 2025 10:00:00 GMT"
    assert not {"host", "DATE", "signature"} & set(headers)
    check(headers)


def test_lowercase_content_type_from_the_caller_is_signed():
    headers = sign_request(
        "POST", KAT_URL, {"content-type": ACTIVITY_JSON}, KAT_BODY,
        key_id=KAT_KEY_ID, private_pem=KAT_PRIVATE_PEM, now=KAT_NOW,
    )
    assert "content-type" in parse_signature_header(headers["Signature"]).headers
    check(headers)


def test_date_is_imf_fixdate_in_gmt_whatever_the_timezone_given():
    paris = timezone(timedelta(hours=2))
    headers = signed_post(now=datetime(2025, 6, 3, 12, 0, 0, 999, tzinfo=paris))
    assert headers["Date"] == "Tue, 03 Jun 2025 10:00:00 GMT"


@pytest.mark.parametrize(
    "url, host",
    [
        ("https://coop.example/inbox", "coop.example"),
        ("https://coop.example:443/inbox", "coop.example"),
        ("http://coop.example:80/inbox", "coop.example"),
        ("https://coop.example:8443/inbox", "coop.example:8443"),
        ("http://localhost:8080/inbox", "localhost:8080"),
        ("http://coop.example:443/inbox", "coop.example:443"),
        ("https://Coop.Example/inbox", "coop.example"),
        ("https://user:secret@coop.example/inbox", "coop.example"),
        ("http://[::1]:8080/inbox", "[::1]:8080"),
        ("https://[2001:db8::1]/inbox", "[2001:db8::1]"),
    ],
)
def test_host_is_as_in_the_url_with_a_port_only_when_not_default(url, host):
    assert host_of(url) == host
    assert signed_get(url)["Host"] == host


# ---------------------------------------------------------------- query strings


def test_request_target_carries_the_query_exactly_as_sent():
    url = "https://coop.example/actors/preston-food-coop/outbox?page=true&min_id=%2Fx"
    headers = signed_get(url)
    check(headers, method="GET", path="/actors/preston-food-coop/outbox?page=true&min_id=%2Fx", body=None)
    with pytest.raises(SignatureError, match="does not match"):
        check(headers, method="GET", path="/actors/preston-food-coop/outbox?page=true&min_id=/x", body=None)


def test_signature_without_the_query_is_accepted_like_older_mastodon_sent_it():
    headers = foreign_signature(
        ["(request-target)", "host", "date", "accept"],
        {**post_headers(), "Accept": ACTIVITY_JSON},
        method="GET",
        path="/actors/preston-food-coop/outbox",
    )
    check(headers, method="GET", path="/actors/preston-food-coop/outbox?page=true", body=None)


def test_signature_for_another_query_is_rejected():
    headers = signed_get(KAT_URL + "?page=1")
    with pytest.raises(SignatureError, match="does not match"):
        check(headers, method="GET", path=INBOX_PATH + "?page=2", body=None)


def test_signature_with_a_query_does_not_cover_the_bare_path():
    headers = signed_get(KAT_URL + "?page=1")
    with pytest.raises(SignatureError, match="does not match"):
        check(headers, method="GET", path=INBOX_PATH, body=None)


# ---------------------------------------------------------------- what other servers send


def test_mastodon_post_with_collection_synchronization():
    headers = {
        **post_headers(),
        "Collection-Synchronization": 'collectionId="https://mastodon.example/users/alice/followers", digest="abc"',
    }
    signed = ["(request-target)", "host", "date", "digest", "content-type", "collection-synchronization"]
    check(foreign_signature(signed, headers))


def test_mastodon_instance_actor_get():
    headers = {**post_headers(), "Accept": "application/activity+json, application/ld+json"}
    del headers["Digest"], headers["Content-Type"]
    signed = foreign_signature(
        ["(request-target)", "host", "date", "accept"], headers,
        method="GET", path="/actors/preston-food-coop", key_id="https://mastodon.example/actor#main-key",
    )
    check(signed, method="GET", path="/actors/preston-food-coop", body=None)


def test_gotosocial_post_with_hs2019_and_a_key_id_without_fragment():
    signed = foreign_signature(
        ["(request-target)", "host", "date", "digest"], post_headers(),
        algorithm="hs2019", key_id="https://gts.example/users/u/main-key",
    )
    assert parse_signature_header(signed["Signature"]).key_id == "https://gts.example/users/u/main-key"
    check(signed)


def test_gotosocial_get_with_hs2019():
    headers = {"Host": "coop.example", "Date": "Tue, 03 Jun 2025 10:00:00 GMT"}
    signed = foreign_signature(["(request-target)", "host", "date"], headers, method="GET", algorithm="hs2019")
    check(signed, method="GET", body=None)


def test_misskey_post_with_date_before_host():
    check(foreign_signature(["(request-target)", "date", "host", "digest"], post_headers()))


def test_akkoma_post_with_content_length_in_alphabetical_order():
    headers = {**post_headers(), "Content-Length": str(len(KAT_BODY))}
    check(foreign_signature(["(request-target)", "content-length", "date", "digest", "host"], headers))


def test_hs2019_with_created_and_expires_and_no_date_header():
    headers = post_headers()
    del headers["Date"]
    created = int(KAT_NOW.timestamp())
    signed = foreign_signature(
        ["(request-target)", "(created)", "(expires)", "host", "digest"], headers,
        algorithm="hs2019", created=created, expires=created + 300,
    )
    check(signed, now=KAT_NOW + timedelta(minutes=64))
    with pytest.raises(SignatureError, match=r"Signature expired 62 minutes ago \(at most 60 minutes of clock skew allowed\)"):
        check(signed, now=KAT_NOW + timedelta(minutes=67))


def test_unsigned_created_and_expires_cannot_refresh_an_old_date():
    signed = foreign_signature(["(request-target)", "host", "date", "digest"], post_headers(), algorithm="hs2019")
    later = int((KAT_NOW + timedelta(hours=13)).timestamp())
    replayed = {**signed, "Signature": f"created={later},expires={later + 3600}," + signed["Signature"]}
    assert parse_signature_header(replayed["Signature"]).created == later
    with pytest.raises(SignatureError, match="Date is 13 hours old"):
        check(replayed, now=KAT_NOW + timedelta(hours=13))


def test_absent_algorithm_is_taken_as_hs2019():
    signed = foreign_signature(["(request-target)", "host", "date", "digest"], post_headers(), algorithm=None)
    assert parse_signature_header(signed["Signature"]).algorithm is None
    check(signed)


def test_expires_cannot_stretch_the_window_beyond_twelve_hours():
    created = int(KAT_NOW.timestamp())
    signed = foreign_signature(
        ["(request-target)", "(created)", "(expires)", "host", "digest"], post_headers(),
        algorithm="hs2019", created=created, expires=created + 86400,
    )
    check(signed, now=KAT_NOW + timedelta(hours=13))
    with pytest.raises(SignatureError, match="expired"):
        check(signed, now=KAT_NOW + timedelta(hours=13, seconds=1))


# ---------------------------------------------------------------- header names and containers


def test_header_names_are_case_insensitive_in_a_plain_dict():
    lower = {name.lower(): value for name, value in KAT_HEADERS.items()}
    upper = {name.upper(): value for name, value in KAT_HEADERS.items()}
    check(lower)
    check(upper)


def test_aiohttp_style_headers_are_accepted():
    check(CIMultiDictProxy(CIMultiDict(KAT_HEADERS)))


def test_signed_header_names_are_lowercased():
    upper_signed = KAT_HEADERS["Signature"].replace(
        '"(request-target) host date digest content-type"', '"(Request-Target) Host Date Digest Content-Type"'
    )
    check({**KAT_HEADERS, "Signature": upper_signed})


def test_repeated_header_fields_are_joined_with_comma_space():
    headers = CIMultiDict(post_headers())
    headers.add("X-Tag", "one")
    headers.add("X-Tag", "two")
    signed = foreign_signature(["(request-target)", "host", "date", "digest", "x-tag"], {**headers, "X-Tag": "one, two"})
    del signed["X-Tag"]
    received = CIMultiDict(signed)
    received.add("X-Tag", "one")
    received.add("X-Tag", "two")
    check(CIMultiDictProxy(received))


def test_get_header_is_case_insensitive_and_strips():
    assert get_header({"content-TYPE": " text/plain "}, "Content-Type") == "text/plain"
    assert get_header({}, "Host") is None
