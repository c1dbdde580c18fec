"""Authorized fetch: ActivityPub JSON only for signed requests from allowed servers; pages and Turtle stay open."""

from dataclasses import replace
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web

from federation import keys, policy, signatures
from federation.signatures import SignatureScheme
from node.store import actors
from node.web.app import create_app
from node.store.database import Database
from nodes import bound_socket, create_node, preston_hub, running_node

ACCEPT = "application/activity+json"


@pytest.fixture
async def secure_node(tmp_path):
    """A node in authorized-fetch mode, served on loopback."""
    sock = bound_socket()
    domain = f"127.0.0.1:{sock.getsockname()[1]}"
    config = replace(await create_node(tmp_path / "secure", domain, profiles=[preston_hub()]), authorized_fetch=True)
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    yield config, f"http://{domain}"
    await runner.cleanup()


@pytest.fixture
async def peer(tmp_path):
    """Another node whose instance actor signs the fetches."""
    async with running_node(tmp_path / "peer", [preston_hub(username="kirklees", name="Kirklees")]) as node:
        db = await Database.open(node.config.database_path)
        key_pem = await keys.private_key_pem(db, actors.INSTANCE_USERNAME)
        await db.close()
        yield node, f"{node.base_url}/actor#main-key", key_pem


async def signed_get(url, key_id, pem, scheme=SignatureScheme.CAVAGE):
    headers = signatures.sign(scheme, "GET", url, {"Accept": ACCEPT}, None, key_id=key_id,
                              private_pem=pem, now=datetime.now(timezone.utc))
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.read()


async def plain_get(url, accept=ACCEPT):
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Accept": accept}) as response:
            return response.status, response.headers.get("Vary", "")


async def test_unsigned_activitypub_fetches_are_refused(secure_node):
    _, base = secure_node
    status, vary = await plain_get(f"{base}/actors/preston")
    assert status == 401 and "Signature" in vary
    assert (await plain_get(f"{base}/actors/preston", "application/ld+json"))[0] == 401


async def test_pages_turtle_discovery_and_instance_actor_stay_open(secure_node):
    config, base = secure_node
    assert (await plain_get(f"{base}/actors/preston", "text/html"))[0] == 200
    assert (await plain_get(f"{base}/actors/preston", "text/turtle"))[0] == 200
    assert (await plain_get(f"{base}/actor"))[0] == 200
    assert (await plain_get(f"{base}/.well-known/webfinger?resource=acct:preston@{config.domain}"))[0] == 200
    assert (await plain_get(f"{base}/nodeinfo/2.1"))[0] == 200


@pytest.mark.parametrize("scheme", list(SignatureScheme))
async def test_signed_fetch_from_a_peer_is_served(secure_node, peer, scheme):
    _, base = secure_node
    _, key_id, pem = peer
    status, body = await signed_get(f"{base}/actors/preston", key_id, pem, scheme)
    assert status == 200 and b'"type":"Group"' in body


async def test_a_blocked_peer_is_refused_even_when_signed(secure_node, peer):
    config, base = secure_node
    peer_node, key_id, pem = peer
    db = await Database.open(config.database_path)
    await policy.add(db, peer_node.domain.split(":")[0], "block", "test", 0)
    await db.close()
    import asyncio
    await asyncio.sleep(1.2)  # the running node reloads its policy within a second
    status, _ = await signed_get(f"{base}/actors/preston", key_id, pem)
    assert status == 403


async def test_a_forged_signature_is_refused(secure_node, peer):
    _, base = secure_node
    _, key_id, _ = peer
    from federation.keys import generate_key_pair
    status, body = await signed_get(f"{base}/actors/preston", key_id, generate_key_pair().private_pem)
    assert status == 401 and b"signature" in body.lower()
