"""Three real nodes on loopback sockets: two follow the third, which posts once (interop.md F6, F10).
Each follower server gets one delivery at its shared inbox, however many of its actors follow, and keeps the
post exactly once."""

import json

import pytest

from nodes import (eventually, follow, following_state, preston_hub, preston_larder, received_object, running_node,
                   settled_rows)


@pytest.fixture
async def three_nodes(tmp_path):
    """A: Preston's node (hub and a co-op); B: Kirklees's hub; C: a Leeds co-op's own node."""
    a_profiles = [preston_hub(), preston_larder()]
    b_profiles = [preston_hub(username="kirklees", name="Kirklees Co-operative Network", locality="Huddersfield",
                              local_authority="E08000034")]
    c_profiles = [preston_larder(username="leeds_bread", name="Leeds Bread Co-op", locality="Leeds",
                                 identifiers={}, same_as=[])]
    async with running_node(tmp_path / "a", a_profiles) as a, running_node(tmp_path / "b", b_profiles) as b, \
            running_node(tmp_path / "c", c_profiles) as c:
        yield a, b, c


async def accepted(node, username: str, iri: str) -> bool:
    return await following_state(node, username, iri) == "accepted"


async def test_two_servers_follow_a_third_and_each_receives_its_post_once(three_nodes):
    a, b, c = three_nodes
    # Two actors on A and one on C follow Kirklees's hub on B.
    for node, username in ((a, "preston"), (a, "the_preston_larder"), (c, "leeds_bread")):
        hub = await follow(node, username, b, "kirklees")
    for node, username in ((a, "preston"), (a, "the_preston_larder"), (c, "leeds_bread")):
        await eventually(lambda: accepted(node, username, hub.iri), message=f"{username} is accepted")
    assert await b.db.scalar("SELECT COUNT(*) FROM followers WHERE username = 'kirklees' AND state = 'accepted'") == 3

    note_iri = await b.publisher.create_note("kirklees", "Kirklees adopts the Preston Model: join us on Monday.")
    create_id = await b.db.scalar("SELECT activity_id FROM outbox WHERE type = 'Create' AND object_iri = ?",
                                  (note_iri,))

    async def both_received():
        return all([await received_object(a, note_iri), await received_object(c, note_iri)])

    await eventually(both_received, message="A and C store the note")

    # One delivery per server, at its shared inbox, both sent.
    async def all_sent():
        rows = await b.db.fetch_all("SELECT inbox_url, state, attempts, last_status FROM deliveries "
                                    "WHERE activity_id = ? ORDER BY inbox_url", (create_id,))
        return rows if all(row["state"] == "sent" for row in rows) else None

    rows = await eventually(all_sent, message="B's deliveries are sent")
    assert sorted((row["inbox_url"], row["state"], row["attempts"]) for row in rows) == sorted([
        (f"{a.base_url}/inbox", "sent", 1), (f"{c.base_url}/inbox", "sent", 1)])
    assert all(200 <= row["last_status"] < 300 for row in rows)

    # Each follower server handled the activity once, through its shared inbox, and keeps one copy.
    for node in (a, c):
        received = await settled_rows(node.db, "inbox", "recipient, state", "activity_id = ?", (create_id,))
        assert received == [(None, "done")]
        copies = await node.db.fetch_all("SELECT json, deleted_at FROM objects WHERE username IS NULL")
        assert len(copies) == 1 and copies[0]["deleted_at"] is None
        assert json.loads(copies[0]["json"])["id"] == note_iri
        assert "Preston Model" in json.loads(copies[0]["json"])["content"]
    # B sent nothing else: three Accepts (one per follower, to personal inboxes) and the one Create.
    assert await b.db.scalar("SELECT COUNT(*) FROM deliveries") == 5


async def test_a_node_follows_two_others_and_keeps_both_posts_apart(three_nodes):
    a, b, c = three_nodes
    kirklees = await follow(a, "preston", b, "kirklees")
    leeds = await follow(a, "preston", c, "leeds_bread")
    await eventually(lambda: accepted(a, "preston", kirklees.iri), message="Kirklees accepts")
    await eventually(lambda: accepted(a, "preston", leeds.iri), message="Leeds accepts")

    from_b = await b.publisher.create_note("kirklees", "From Kirklees.")
    from_c = await c.publisher.create_note("leeds_bread", "From Leeds.")

    async def both():
        return all([await received_object(a, from_b), await received_object(a, from_c)])

    await eventually(both, message="A stores both notes")
    assert json.loads((await received_object(a, from_b))["json"])["attributedTo"] == kirklees.iri
    assert json.loads((await received_object(a, from_c))["json"])["attributedTo"] == leeds.iri

    # C deletes its note; B's stays.
    await c.publisher.delete_note(from_c)

    async def withdrawn():
        return (await received_object(a, from_c))["deleted_at"] is not None

    await eventually(withdrawn, message="A withdraws C's note")
    assert (await received_object(a, from_b))["deleted_at"] is None
