"""Tests for federation.client's inbox POSTs against loopback servers (tests/loopback.py): signed here or by the
signing process, statuses and their reasons, Retry-After, refused connections and timeouts."""

import asyncio
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from aiohttp import web
from loopback import AS2, closed_port, dev_client, serve, verify_request

from federation.client import parse_retry_after
from federation.signatures import SignatureScheme


def inbox_answering(status: int, *, text: str = "", headers: dict | None = None, received: list | None = None,
                    public_pem: str | None = None):
    async def inbox(request):
        body = await request.read()
        if received is not None:
            received.append((request.headers.copy(), body,
                             verify_request(request, public_pem, body) if public_pem else None))
        return web.Response(status=status, text=text, headers=headers or {})

    return web.post("/inbox", inbox)


async def test_a_fan_out_is_signed_by_the_signing_process_and_one_post_here(signer, key_pair):
    received = []
    async with serve(inbox_answering(202, received=received, public_pem=key_pair.public_pem)) as base:
        async with dev_client(signing_process=True) as client:
            one = await client.post(f"{base}/inbox", b'{"n": 0}', signer=signer, scheme=SignatureScheme.CAVAGE)
            assert one.ok and not client._signing.running  # a single POST is no fan-out
            results = await asyncio.gather(*(
                client.post(f"{base}/inbox", b'{"n": %d}' % number, signer=signer, scheme=SignatureScheme.CAVAGE)
                for number in range(1, 21)))
            assert all(result.ok for result in results) and client._signing.running
        assert not client._signing.running  # closed with the client
    assert len(received) == 21 and {scheme for _, _, scheme in received} == {SignatureScheme.CAVAGE}


@pytest.mark.parametrize("scheme", [SignatureScheme.CAVAGE, SignatureScheme.RFC9421])
async def test_post_202_is_signed_with_a_digest_of_the_exact_body(client, signer, key_pair, scheme):
    received = []
    body = b'{"type": "Follow", "id": "https://node.example/f/1"}'
    async with serve(inbox_answering(202, received=received, public_pem=key_pair.public_pem)) as base:
        result = await client.post(f"{base}/inbox", body, signer=signer, scheme=scheme)
    assert (result.status, result.retry_after, result.error, result.scheme) == (202, None, None, scheme)
    headers, received_body, verified_scheme = received[0]
    assert received_body == body
    assert headers["Content-Type"] == AS2
    assert verified_scheme is scheme


async def test_post_404_is_reported_with_its_status(client, signer):
    async with serve(inbox_answering(404, text="Not Found")) as base:
        result = await client.post(f"{base}/inbox", b"{}", signer=signer, scheme=SignatureScheme.CAVAGE)
    assert result.status == 404 and result.error == "HTTP 404: Not Found"


async def test_post_401_carries_the_reason_from_the_body(client, signer):
    reason = '{"error":"Verification failed for alice@node.example https://node.example/actor#main-key"}'
    async with serve(inbox_answering(401, text=reason + " " * 5000 + "tail")) as base:
        result = await client.post(f"{base}/inbox", b"{}", signer=signer, scheme=SignatureScheme.CAVAGE)
    assert result.status == 401
    assert "Verification failed for alice@node.example" in result.error
    assert "tail" not in result.error and len(result.error) < 1100


async def test_post_429_with_retry_after_seconds(client, signer):
    async with serve(inbox_answering(429, headers={"Retry-After": "120"})) as base:
        result = await client.post(f"{base}/inbox", b"{}", signer=signer, scheme=SignatureScheme.CAVAGE)
    assert result.status == 429 and result.retry_after == 120.0


async def test_post_503_with_retry_after_http_date(client, signer):
    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    async with serve(inbox_answering(503, headers={"Retry-After": format_datetime(later, usegmt=True)})) as base:
        result = await client.post(f"{base}/inbox", b"{}", signer=signer, scheme=SignatureScheme.CAVAGE)
    assert result.status == 503 and 590 <= result.retry_after <= 600


def test_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after("30", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


async def test_post_to_a_closed_port_reports_connection_refused(client, signer):
    result = await client.post(f"http://127.0.0.1:{closed_port()}/inbox", b"{}", signer=signer,
                               scheme=SignatureScheme.CAVAGE)
    assert result.status is None and "connection refused" in result.error


async def test_post_timeout_is_reported(signer):
    async def slow(request):
        await asyncio.sleep(3)
        return web.Response(status=202)

    async with serve(web.post("/inbox", slow)) as base:
        async with dev_client(total_timeout=0.3) as client:
            result = await client.post(f"{base}/inbox", b"{}", signer=signer, scheme=SignatureScheme.CAVAGE)
    assert result.status is None and "timed out" in result.error
