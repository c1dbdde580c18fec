"""The profiles of the authors of kept needs and offers that the node lacks are fetched, signed, so that the
commons has their organisation; one that fails is asked again only after a backoff, and the other authors of its
server wait with it."""

import time

import pytest
from aiohttp import web

from backfill_peer import Peer
from federation import remote_actors
from node import runtime
from node.commons import index
from node.commons.member_profiles import RETRY_SECONDS, MemberProfiles
from nodes import Clock, create_node, preston_hub


async def unavailable(request):
    return web.Response(status=503, text="down for maintenance")


@pytest.fixture
async def world(tmp_path):
    """Our node keeping a need of `bakers` and of `down1` and `down2` (whose profiles answer 503), none of whose
    profiles it has."""
    peer = Peer(extra_routes=[web.get("/users/down1", unavailable), web.get("/users/down2", unavailable)])
    peer.add("bakers")
    config = await create_node(tmp_path / "ours", "127.0.0.1:8491", profiles=[preston_hub()])
    async with peer.serving(), runtime.opened(config) as node:
        await node.client.start()
        for name in ("bakers", "down1", "down2"):
            document = {**peer.proposal("bakers", 1), "id": f"{peer.base_url}/objects/{name}-need",
                        "attributedTo": peer.iri(name)}
            assert await node.inbound.keep_fetched(document, peer.iri(name))
        yield peer, node


async def test_lacking_profiles_are_fetched_and_failures_wait_with_their_server(world):
    peer, node = world
    clock = Clock(time.time())
    profiles = MemberProfiles(node.db, node.client, node.instance_signer, clock=clock)
    assert await profiles.missing() == [peer.iri(name) for name in ("bakers", "down1", "down2")]

    assert await profiles.fetch_missing() == 1
    assert (await remote_actors.get(node.db, peer.iri("bakers"))).preferred_username == "bakers"
    assert peer.gets("/users/") == ["/users/bakers", "/users/down1"]  # down2 waits with its server
    failures = await profiles.failures()
    assert [(row["actor_iri"], row["attempts"]) for row in failures] == [(peer.iri("down1"), 1), (peer.iri("down2"), 1)]
    assert "HTTP 503" in failures[0]["last_error"] and failures[1]["last_error"] == failures[0]["last_error"]
    assert await profiles.next_due() == int(clock.now) + RETRY_SECONDS

    # Nothing is due before the backoff ends; then both are asked again, and wait twice as long after a failure.
    assert await profiles.missing() == [] and await profiles.fetch_missing() == 0
    assert peer.gets("/users/") == ["/users/bakers", "/users/down1"]
    clock.now += RETRY_SECONDS + 1
    assert await profiles.fetch_missing() == 0
    assert peer.gets("/users/")[2:] == ["/users/down1"]
    assert await profiles.next_due() == int(clock.now) + 2 * RETRY_SECONDS

    # The commons has the organisation whose profile came.
    await node.commons.gatherer.catch_up()
    assert (await index.organisation(node.db, peer.iri("bakers")))["name"] == "Bakers Co-op"
    assert await index.organisation(node.db, peer.iri("down1")) is None
