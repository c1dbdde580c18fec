"""The items of a followed actor's pages, as the backfill reads them: in whichever order an outbox lists its
activities, the newest version of each need or offer wins and a withdrawn one stays withdrawn; what is no longer
open is not brought in; an activity of another actor, or an item that does not validate, is refused alone; items
past the age limit are counted as old; objects named only by IRI are fetched from the actor's own origin."""

from datetime import datetime, timedelta, timezone

import pytest

from backfill_peer import Peer
from node import runtime
from node.commons.backfill import Backfill
from node.commons.backfill_items import ItemReader
from node.store import follows, proposals
from nodes import create_node, preston_hub

YEAR = 365 * 86400
NOW = datetime.now(timezone.utc)


@pytest.fixture
async def world(tmp_path):
    peer = Peer()
    peer.add("ann")
    config = await create_node(tmp_path / "ours", "127.0.0.1:8492", profiles=[preston_hub()])
    async with peer.serving(), runtime.opened(config) as node:
        await node.client.start()
        backfill = Backfill(node.db, node.client, node.inbound, node.instance_signer)
        yield peer, node, ItemReader(node.db, node.inbound, backfill.fetch, max_age_seconds=YEAR)


def versions(peer: Peer, number: int):
    """(Create of the open version, Update to the fulfilled one a day later)."""
    first = peer.proposal("ann", number, published=NOW - timedelta(days=2))
    later = peer.proposal("ann", number, published=NOW - timedelta(days=2), updated=NOW - timedelta(days=1),
                          status="fulfilled")
    return (peer.activity("ann", "Create", first, number, published=first["published"]),
            peer.activity("ann", "Update", later, number + 100, published=later["updated"]))


async def status_of(node, iri: str) -> str | None:
    row = await proposals.get(node.db, iri)
    return None if row is None else row["status"]


async def test_the_newest_version_wins_in_either_order(world):
    peer, node, reader = world
    ann = peer.iri("ann")
    create, update = versions(peer, 1)
    # Newest first, as outboxes list them: fulfilled since, so not brought in; the older open version is not either.
    tally = await reader.read([update, create], ann, "outbox", {}, budget=10)
    assert (tally.items, tally.kept, tally.refused) == (2, 0, 0)
    assert await status_of(node, create["object"]["id"]) is None

    # Oldest first: the open version is kept, then brought up to date.
    create, update = versions(peer, 2)
    tally = await reader.read([create, update], ann, "outbox", {}, budget=10)
    assert (tally.kept, tally.refused) == (2, 0)
    assert await status_of(node, create["object"]["id"]) == "fulfilled"


async def test_a_withdrawal_stays_and_strangers_and_invalid_items_are_refused(world):
    peer, node, reader = world
    ann = peer.iri("ann")
    create, _ = versions(peer, 3)
    assert await node.inbound.keep_fetched(create["object"], ann)  # delivered to us earlier
    delete = peer.activity("ann", "Delete", {"id": create["object"]["id"], "type": "Tombstone"}, 3)
    stranger = {**peer.activity("ann", "Create", peer.proposal("ann", 4), 4), "actor": "https://else.example/u/x"}
    invalid = peer.activity("ann", "Create", {**peer.proposal("ann", 5), "publishes": "nothing"}, 5)
    tally = await reader.read([delete, create, stranger, invalid], ann, "outbox", {}, budget=10)
    assert (tally.items, tally.kept, tally.refused) == (4, 0, 2)
    assert await status_of(node, create["object"]["id"]) is None
    assert await proposals.peer_proposals_of(node.db, ann) == []


async def test_old_items_are_counted_and_the_budget_holds(world):
    peer, node, reader = world
    ann = peer.iri("ann")
    old = peer.proposal("ann", 6, published=NOW - timedelta(days=400))
    fresh = [peer.proposal("ann", number) for number in (7, 8, 9)]
    tally = await reader.read([old, *fresh], ann, "needs", {}, budget=3)
    assert (tally.items, tally.kept, tally.old) == (3, 2, 1)
    assert sorted(await proposals.peer_proposals_of(node.db, ann)) == [item["id"] for item in fresh[:2]]


async def test_an_object_named_by_iri_is_fetched_from_the_actors_origin_only(world):
    peer, node, reader = world
    ann = peer.iri("ann")
    served = peer.proposal("ann", 10)
    peer.objects[served["id"]] = served
    by_iri = peer.activity("ann", "Create", served["id"], 10)
    elsewhere = peer.activity("ann", "Create", "https://else.example/objects/1", 11)
    tally = await reader.read([by_iri, elsewhere], ann, "outbox", {}, budget=10)
    assert (tally.items, tally.kept, tally.refused) == (2, 1, 1)
    assert peer.gets("/objects/") == ["/objects/ann-need-10"]
    assert await proposals.peer_proposals_of(node.db, ann) == [served["id"]]


async def test_only_a_hubs_announces_are_followed_and_kept_through_the_hub(world):
    peer, node, reader = world
    hub = peer.iri("ann")
    peer.add("bob")
    shared = peer.proposal("bob", 20)
    peer.objects[shared["id"]] = shared
    await follows.record_following(node.db, "preston", hub, f"{hub}#follow", 0)
    await follows.set_following_state(node.db, "preston", hub, "accepted")
    announce = peer.activity("ann", "Announce", shared["id"], 20)

    tally = await reader.read([announce], hub, "outbox", {}, budget=10)  # a person's boosts are not fetched
    assert (tally.items, tally.kept) == (1, 0) and peer.gets("/objects/") == []
    tally = await reader.read([announce], hub, "outbox", {}, budget=10, hub=True)
    assert (tally.items, tally.kept) == (1, 1) and peer.gets("/objects/") == ["/objects/bob-need-20"]
    assert [tuple(path) for path in await proposals.paths_of(node.db, shared["id"])][0][0] == hub
    assert (await proposals.get(node.db, shared["id"]))["actor_iri"] == peer.iri("bob")
