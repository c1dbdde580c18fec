"""Two real nodes on loopback sockets federating over real HTTP (interop.md F1-F10): follow with the Accept
round trip, a note created, updated and deleted, a profile Update, an Undo, and a locked account's approval.
One scenario runs the same story over HTTPS with a throw-away CA trusted through SSL_CERT_FILE."""

import dataclasses
import json

import aiohttp
import pytest

from nodes import (eventually, follow, follower_state, following_state, make_certificates, preston_hub, preston_larder,
                   received_object, remote_actor, running_node, second_connection_publisher, settled_rows)

from node.store import actors, follows

AS2_ACCEPT = "application/activity+json"


def coop_node_profiles(base_url: str):
    return [preston_larder()]


def hub_node_profiles(base_url: str):
    return [preston_hub(), preston_larder(username="kirklees_bakers", name="Kirklees Bakers",
                                          manually_approves_followers=True)]


@pytest.fixture
async def two_nodes(tmp_path):
    """A: a co-op's node; B: a city hub's node that also hosts a locked co-op."""
    async with running_node(tmp_path / "a", coop_node_profiles) as a, \
            running_node(tmp_path / "b", hub_node_profiles) as b:
        yield a, b


async def fetch_as2(url: str, *, ssl=None) -> tuple[int, dict]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl) if ssl else None) as session:
        async with session.get(url, headers={"Accept": AS2_ACCEPT}) as response:
            return response.status, json.loads(await response.read())


async def followed_and_accepted(a, b, follower_username="the_preston_larder", followed_username="preston"):
    target = await follow(a, follower_username, b, followed_username)
    follower_iri = a.actor_iri(follower_username)
    await eventually(lambda: follower_state(b, followed_username, follower_iri),
                     message="B stores the follower")
    await eventually(lambda: _is(following_state(a, follower_username, target.iri), "accepted"),
                     message="A sees the Accept")
    return target


async def activity_of(node, kind: str, object_iri: str) -> str:
    """The id of the (only) activity of this kind the node published about an object."""
    rows = await node.db.fetch_all("SELECT activity_id FROM outbox WHERE type = ? AND object_iri = ?",
                                   (kind, object_iri))
    assert len(rows) == 1, rows
    return rows[0][0]


async def _is(awaitable, expected) -> bool:
    return await awaitable == expected


async def test_follow_is_accepted_both_ways_and_listed_in_the_collections(two_nodes):
    a, b = two_nodes
    hub = await followed_and_accepted(a, b)
    follower_iri = a.actor_iri("the_preston_larder")

    assert await follower_state(b, "preston", follower_iri) == "accepted"
    row = await follows.follower(b.db, "preston", follower_iri)
    assert row["follow_id"] == (await follows.following_entry(a.db, "the_preston_larder", hub.iri))["follow_id"]
    # B learnt A's actor (and its shared inbox) when it verified the Follow's signature.
    learnt = await b.db.fetch_one("SELECT inbox, shared_inbox FROM remote_actors WHERE iri = ?", (follower_iri,))
    assert tuple(learnt) == (f"{follower_iri}/inbox", f"{a.base_url}/inbox")
    # The Follow and the Accept were both delivered (2xx), not merely queued.
    assert await settled_rows(a.db, "deliveries", "inbox_url, state", "TRUE") == [(f"{hub.iri}/inbox", "sent")]
    assert await settled_rows(b.db, "deliveries", "inbox_url, state", "TRUE") == [(f"{follower_iri}/inbox", "sent")]

    # The public collections count the relationship on both sides.
    status, followers = await fetch_as2(f"{hub.iri}/followers")
    assert status == 200 and followers["totalItems"] == 1
    status, following = await fetch_as2(f"{follower_iri}/following")
    assert status == 200 and following["totalItems"] == 1


async def test_note_created_updated_and_deleted_reaches_the_follower(two_nodes):
    a, b = two_nodes
    await followed_and_accepted(a, b)

    note_iri = await b.publisher.create_note("preston", "Preston's co-ops meet on Thursday at the market hall.")
    create_id = await activity_of(b, "Create", note_iri)
    status, served = await fetch_as2(note_iri)
    assert status == 200 and served["type"] == "Note"

    stored = await eventually(lambda: received_object(a, note_iri), message="A stores B's note")
    assert stored["username"] is None and stored["deleted_at"] is None and stored["kind"] == "note"
    document = json.loads(stored["json"])
    assert document["attributedTo"] == b.actor_iri("preston")
    assert "market hall" in document["content"]
    assert document["content"] == served["content"]
    received = await settled_rows(a.db, "inbox", "recipient, state", "activity_id = ?", (create_id,))
    assert received == [(None, "done")]  # arrived at A's shared inbox and was handled

    await b.publisher.update_note(note_iri, "Preston's co-ops meet on Friday at the market hall.")

    async def updated():
        row = await received_object(a, note_iri)
        return row if "Friday" in json.loads(row["json"])["content"] else None

    row = await eventually(updated, message="A's copy of the note is updated")
    assert row["deleted_at"] is None

    await b.publisher.delete_note(note_iri)

    async def tombstoned():
        row = await received_object(a, note_iri)
        return row["deleted_at"] is not None

    await eventually(tombstoned, message="A's copy of the note is tombstoned")
    assert await a.db.scalar("SELECT COUNT(*) FROM objects WHERE username IS NULL") == 1
    assert {state for state, in await settled_rows(b.db, "deliveries", "state", "TRUE")} == {"sent"}


async def test_profile_update_refreshes_the_followers_copy(two_nodes):
    a, b = two_nodes
    hub = await followed_and_accepted(a, b)
    cached = await a.db.fetch_one("SELECT json FROM remote_actors WHERE iri = ?", (hub.iri,))
    assert json.loads(cached[0])["name"] == "Preston Co-operative Commons"

    # The profile is edited as `coopnode profile edit` does it: from another process, on its own connection.
    async with second_connection_publisher(b.config) as publisher:
        current = await actors.require(publisher.db, "preston")
        await actors.update_profile(publisher.db, dataclasses.replace(
            current.profile, name="Preston Community Wealth Hub", summary="Renamed after the 2025 assembly."))
        update_id = await publisher.update_actor("preston")

    async def refreshed():
        row = await a.db.fetch_one("SELECT json FROM remote_actors WHERE iri = ?", (hub.iri,))
        return json.loads(row[0])["name"] == "Preston Community Wealth Hub"

    await eventually(refreshed, message="A's remote_actors row carries the new name")
    handled = await settled_rows(a.db, "inbox", "type, state", "activity_id = ?", (update_id,))
    assert handled == [("Update", "done")]


async def test_unfollow_removes_the_follower(two_nodes):
    a, b = two_nodes
    hub = await followed_and_accepted(a, b)
    follower_iri = a.actor_iri("the_preston_larder")

    await a.publisher.unfollow("the_preston_larder", hub)
    assert await following_state(a, "the_preston_larder", hub.iri) is None

    async def removed():
        return await follower_state(b, "preston", follower_iri) is None

    await eventually(removed, message="B removes the follower after the Undo")
    assert await follows.count_followers(b.db, "preston") == 0

    # B's next post goes nowhere: no delivery to A is queued.
    note_iri = await b.publisher.create_note("preston", "Only for those who still follow.")
    create_id = await activity_of(b, "Create", note_iri)
    assert await b.db.scalar("SELECT COUNT(*) FROM deliveries WHERE activity_id = ?", (create_id,)) == 0


async def test_locked_coop_keeps_the_follow_pending_until_approved(two_nodes):
    a, b = two_nodes
    locked = await follow(a, "the_preston_larder", b, "kirklees_bakers")
    follower_iri = a.actor_iri("the_preston_larder")

    await eventually(lambda: _is(follower_state(b, "kirklees_bakers", follower_iri), "pending"),
                     message="B records a pending follow request")
    # Nothing answers a request to a locked account until a person approves it.
    assert await b.db.scalar("SELECT COUNT(*) FROM deliveries") == 0
    assert await following_state(a, "the_preston_larder", locked.iri) == "requested"
    assert await follows.count_followers(b.db, "kirklees_bakers") == 0

    # The co-op's admin approves it: the follower becomes accepted and B sends the Accept.
    request = await follows.follower(b.db, "kirklees_bakers", follower_iri)
    assert await follows.set_follower_state(b.db, "kirklees_bakers", follower_iri, "accepted")
    follow_activity = {"id": request["follow_id"], "type": "Follow", "actor": follower_iri, "object": locked.iri}
    await b.publisher.accept_follow("kirklees_bakers", follow_activity, await remote_actor(b, follower_iri))

    await eventually(lambda: _is(following_state(a, "the_preston_larder", locked.iri), "accepted"),
                     message="A sees the approval")
    assert await follows.count_followers(b.db, "kirklees_bakers") == 1


async def test_https_with_a_local_ca_follow_and_post(tmp_path, monkeypatch):
    certificates = make_certificates(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))  # before the nodes build their clients
    async with running_node(tmp_path / "a", coop_node_profiles, tls=certificates) as a, \
            running_node(tmp_path / "b", hub_node_profiles, tls=certificates) as b:
        assert a.base_url.startswith("https://localhost:") and b.base_url.startswith("https://localhost:")
        hub = await followed_and_accepted(a, b)
        assert hub.shared_inbox == f"{b.base_url}/inbox"

        note_iri = await b.publisher.create_note("preston", "Over TLS: the commons meets on Thursday.")
        create_id = await activity_of(b, "Create", note_iri)
        assert note_iri.startswith("https://")
        stored = await eventually(lambda: received_object(a, note_iri), message="A stores the note over TLS")
        assert "Over TLS" in json.loads(stored["json"])["content"]

        delivered = await settled_rows(b.db, "deliveries", "inbox_url, state, last_status", "activity_id = ?",
                                       (create_id,))
        assert delivered == [(f"{a.base_url}/inbox", "sent", 202)]
        status, served = await fetch_as2(note_iri, ssl=certificates.client_context())
        assert status == 200 and served["id"] == note_iri


async def test_followers_collection_counts_a_follow_the_server_handled_itself(two_nodes):
    a, b = two_nodes
    hub_followers = f"{b.actor_iri('preston')}/followers"
    status, before = await fetch_as2(hub_followers)
    assert status == 200 and before["totalItems"] == 0  # rendered, and cached, before anyone follows

    await followed_and_accepted(a, b)
    assert await follows.count_followers(b.db, "preston") == 1

    async def counted():
        return (await fetch_as2(hub_followers))[1]["totalItems"] == 1

    await eventually(counted, timeout=1.5, message="the followers collection counts the new follower")


async def test_note_deleted_by_the_servers_publisher_is_served_as_gone(two_nodes):
    a, b = two_nodes
    note_iri = await b.publisher.create_note("preston", "A note that will be withdrawn.")
    status, served = await fetch_as2(note_iri)
    assert status == 200 and served["type"] == "Note"

    await b.publisher.delete_note(note_iri)
    assert (await b.db.fetch_one("SELECT deleted_at FROM objects WHERE iri = ?", (note_iri,)))[0] is not None

    async def gone():
        return (await fetch_as2(note_iri))[0] == 410

    await eventually(gone, timeout=1.5, message="the deleted note answers 410")
