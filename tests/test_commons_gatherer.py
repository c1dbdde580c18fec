"""Gathering the commons: our proposals and organisations enter the indexes and the RDF store from the change feed
and the actors; an edit replaces, a withdrawal removes; a store that missed writes heals at start; a rebuild
starts from nothing and ends where it was; unfollowing prunes what came only through the unfollowed; a peer's
proposal whose end passes shows as expired and loses its matches, when the running gatherer wakes for it."""

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from backfill_peer import Peer
from node import runtime
from node.commons import embedded_store, index
from node.commons.gatherer import FEED_READER, Gatherer
from node.commons.matcher import Matcher
from node.store import proposals
from nodes import Clock, create_node, eventually, preston_hub, preston_larder

BASE = "http://127.0.0.1:8481"
MEALS = dict(title="School meals for 40 pupils", cpv="55524000", quantity="40", unit="meal", ends="2099-03-31")
CATERING = dict(title="Community catering", cpv="55520000", quantity="400", unit="meal", ends="2099-03-31")
NAMES = "SELECT ?name WHERE { ?s <https://www.w3.org/ns/activitystreams#name> ?name } ORDER BY ?name"


@pytest.fixture
async def node(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_store, "SNAPSHOT_SECONDS", 0)  # every query sees every write
    council = preston_larder(username="preston_council", name="Preston City Council", organisational_structure="",
                             identifiers={}, latitude=53.7590, longitude=-2.6990)
    config = await create_node(tmp_path / "node", "127.0.0.1:8481",
                               profiles=[preston_hub(), preston_larder(member_of=[f"{BASE}/actors/preston"]),
                                         council])
    async with runtime.opened(config) as opened:
        yield opened


async def store_names(node) -> list[str]:
    answer = await node.commons.store.query(NAMES, ["application/sparql-results+json"], max_rows=100, timeout=10)
    return [row["name"]["value"] for row in json.loads(answer.body)["results"]["bindings"]]


async def test_our_proposals_and_organisations_are_gathered_and_matched(node):
    need = await node.proposals.add("preston_council", "need", MEALS)
    offer = await node.proposals.add("the_preston_larder", "offer", CATERING)
    assert await node.commons.gatherer.catch_up() == 2
    larder = await index.organisation(node.db, f"{BASE}/actors/the_preston_larder")
    assert (larder["name"], larder["is_coop"], larder["is_local"], larder["hubs"].split()) == (
        "The Preston Larder Limited", 1, 1, [f"{BASE}/actors/preston"])
    assert (await index.organisation(node.db, f"{BASE}/actors/preston_council"))["is_coop"] == 0
    row = await index.proposal(node.db, need)
    assert (row["kind"], row["status"], row["is_local"]) == ("need", "open", 1)
    assert json.loads(row["side"])["local_authority"] == "E07000123"
    [(need_iri, offer_iri, score, words)] = await node.db.fetch_all(
        "SELECT need_iri, offer_iri, score, explanation FROM matches")
    assert (need_iri, offer_iri) == (need, offer) and 0.5 < score <= 1
    assert words.startswith("CPV 4 of 5 digits") and "same council" in words
    assert "NEED: School meals for 40 pupils" in await store_names(node)
    assert "The Preston Larder Limited" in await store_names(node)
    status = await node.commons.status()
    assert (status["needs"], status["offers"], status["matches"], status["organisations"]) == (1, 1, 1, 3)
    assert status["feed"] == {"read": 2, "last": 2}


async def test_an_edit_replaces_and_a_withdrawal_removes(node):
    need = await node.proposals.add("preston_council", "need", MEALS)
    offer = await node.proposals.add("the_preston_larder", "offer", CATERING)
    await node.commons.gatherer.catch_up()
    await node.proposals.update(need, {"title": "School meals for 60 pupils"})
    await node.commons.gatherer.catch_up()
    names = await store_names(node)
    assert "NEED: School meals for 60 pupils" in names and "NEED: School meals for 40 pupils" not in names
    await node.proposals.withdraw(offer)
    await node.commons.gatherer.catch_up()
    assert await index.proposal(node.db, offer) is None
    assert await node.db.scalar("SELECT COUNT(*) FROM matches") == 0
    assert "OFFER: Community catering" not in await store_names(node)


async def test_a_profile_edit_reaches_the_commons(node):
    from dataclasses import replace

    from node.store import actors

    await node.commons.gatherer.catch_up()
    larder = await actors.require(node.db, "the_preston_larder")
    await actors.update_profile(node.db, replace(larder.profile, name="The Preston Larder Co-op"))
    await node.commons.gatherer.catch_up()
    assert (await index.organisation(node.db, f"{BASE}/actors/the_preston_larder"))["name"] == \
        "The Preston Larder Co-op"
    assert "The Preston Larder Co-op" in await store_names(node)


async def test_a_store_that_missed_writes_heals(node):
    first = await node.proposals.add("preston_council", "need", MEALS)
    await node.commons.gatherer.catch_up()
    second = await node.proposals.add("the_preston_larder", "offer", CATERING)
    await node.commons.gatherer.catch_up()
    # as if the node was killed after SQLite had the second change but before the store did:
    await node.commons.store.replace_graphs({second: ""}, applied_change=1)
    await node.commons.gatherer.heal()
    assert await proposals.position(node.db, FEED_READER) == 1
    await node.commons.gatherer.catch_up()
    assert "OFFER: Community catering" in await store_names(node)
    # a store emptied (or new beside an old database) is filled again from the start of the feed:
    await node.commons.store.clear()
    await node.commons.gatherer.heal()
    await node.commons.gatherer.catch_up()
    names = await store_names(node)
    assert "OFFER: Community catering" in names and "NEED: School meals for 40 pupils" in names
    assert await index.proposal(node.db, first) is not None


async def test_a_rebuild_ends_where_the_commons_was(node):
    await node.proposals.add("preston_council", "need", MEALS)
    await node.proposals.add("the_preston_larder", "offer", CATERING)
    await node.commons.gatherer.catch_up()
    before = await node.commons.status()
    assert await node.commons.gatherer.rebuild() == 2
    assert await node.commons.status() == before


# ---------------------------------------------------------------- expiry

STATUS = "SELECT ?status WHERE { GRAPH ?g { ?s <https://w3id.org/coop-commons/ns#status> ?status } } ORDER BY ?status"


def bakers() -> Peer:
    """A peer on kirklees.example whose documents the tests store as if fetched (never served)."""
    peer = Peer(base_url="https://kirklees.example")
    peer.add("bakers")
    return peer


async def store_statuses(node) -> list[str]:
    answer = await node.commons.store.query(STATUS, ["application/sparql-results+json"], max_rows=100, timeout=10)
    return [row["status"]["value"] for row in json.loads(answer.body)["results"]["bindings"]]


async def test_a_peers_offer_whose_end_passes_shows_expired_and_loses_its_matches(node):
    peer = bakers()
    soon = (datetime.now(timezone.utc) + timedelta(days=4)).date().isoformat()
    await node.proposals.add("preston_council", "need", {**MEALS, "ends": soon})  # windows alike: they match
    offer = peer.proposal("bakers", 1, "offer", days_left=2, cpv="55520000", quantity="400", unit="meal",
                          action="deliverService")
    assert await node.inbound.keep_fetched(offer, peer.iri("bakers"))
    clock = Clock(time.time())
    gatherer = Gatherer(node.db, node.commons.store, node.urls, node.cpv, Matcher(node.db, clock=clock), clock=clock)
    await gatherer.catch_up()
    assert await node.db.scalar("SELECT COUNT(*) FROM matches WHERE offer_iri = ?", (offer["id"],)) == 1
    assert await gatherer.expire_due() == 0

    clock.now += 3 * 86400  # its end has passed, and the peer said nothing
    assert await gatherer.expire_due() == 1
    await gatherer.catch_up()  # and whatever ranking waits
    assert (await index.proposal(node.db, offer["id"]))["status"] == "expired"
    assert await node.db.scalar("SELECT COUNT(*) FROM matches") == 0
    assert await store_statuses(node) == ["expired", "open"]
    assert await gatherer.expire_due() == 0  # once


async def test_the_running_gatherer_expires_a_proposal_when_its_end_passes(node):
    peer = bakers()
    ends = datetime.now(timezone.utc) + timedelta(seconds=2)
    offer = peer.proposal("bakers", 2, "offer", ends=ends.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert await node.inbound.keep_fetched(offer, peer.iri("bakers"))
    running = asyncio.ensure_future(node.commons.gatherer.run())
    try:
        await eventually(lambda: _status(node, offer["id"], "open"), message="the offer is gathered, open")
        await eventually(lambda: _status(node, offer["id"], "expired"), timeout=10,
                         message="the gatherer wakes when its end passes")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def _status(node, iri: str, status: str) -> bool:
    row = await index.proposal(node.db, iri)
    return row is not None and row["status"] == status
