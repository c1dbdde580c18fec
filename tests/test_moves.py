"""Moves between a real node and a loopback peer: when an actor our hub follows moves (a signed `Move`), the hub
follows the new account, once it names the old one in its alsoKnownAs, and unfollows the old one; the old one's
needs leave with it and the new one's arrive by its backfill. A Move to an account that does not name the old one
is refused with the reason, and changes nothing."""

import pytest

from backfill_peer import Peer
from node.commons.backfill import Limits
from node.store import proposals
from nodes import eventually, following_state, preston_hub, remote_actor, running_node, settled_rows


@pytest.fixture
async def world(tmp_path):
    """Our node, whose hub follows `old` on the peer and has its two needs; `new` claims to be `old` moved,
    `impostor` does not."""
    peer = Peer()
    old, new = peer.add("old"), peer.add("new")
    peer.add("impostor")
    async with peer.serving(), running_node(tmp_path / "ours", [preston_hub()]) as ours:
        ours.runtime.backfill.limits = Limits(pause_seconds=0)
        old.items["needs"] = [peer.proposal("old", number) for number in (1, 2)]
        new.items["offers"] = [peer.proposal("new", number, "offer") for number in (1, 2, 3)]
        new.also_known_as.append(peer.iri("old"))
        await ours.publisher.follow("preston", await remote_actor(ours, peer.iri("old")))
        await eventually(lambda: _kept(ours, peer.iri("old"), 2), message="the old account's needs are backfilled")
        yield peer, ours


async def _kept(node, author: str, count: int) -> bool:
    return len(await proposals.peer_proposals_of(node.db, author)) == count


def move(peer: Peer, to: str, number: int) -> dict:
    return {"id": f"{peer.iri('old')}/moves/{number}", "type": "Move", "actor": peer.iri("old"),
            "object": peer.iri("old"), "target": peer.iri(to)}


async def test_a_move_is_followed_to_the_new_account(world):
    peer, ours = world
    old, new = peer.iri("old"), peer.iri("new")
    assert await peer.send("old", f"{ours.base_url}/inbox", move(peer, "new", 1)) == 202

    await eventually(lambda: _state(ours, new, "accepted"), message="the hub follows the new account")
    assert await following_state(ours, "preston", old) is None
    await eventually(lambda: _kept(ours, new, 3), message="the new account's offers come by its backfill")
    assert await proposals.peer_proposals_of(ours.db, old) == []  # they came only through the old account
    sent = [(path, activity["type"]) for path, activity in peer.received]
    assert ("/users/new/inbox", "Follow") in sent and ("/users/old/inbox", "Undo") in sent
    undo = next(activity for path, activity in peer.received if activity["type"] == "Undo")
    assert undo["object"]["type"] == "Follow" and undo["object"]["object"] == old
    assert [tuple(row) for row in await ours.db.fetch_all("SELECT actor_iri, target_iri FROM moves")] == [(old, new)]


async def test_a_move_to_an_account_that_does_not_name_the_old_one_is_refused(world):
    peer, ours = world
    old, impostor = peer.iri("old"), peer.iri("impostor")
    activity = move(peer, "impostor", 2)
    assert await peer.send("old", f"{ours.base_url}/inbox", activity) == 202

    [(state, error)] = await settled_rows(ours.db, "inbox", "state, last_error", "activity_id = ?", (activity["id"],))
    assert state == "failed"
    assert error == f"the Move's target {impostor} does not name {old} in its alsoKnownAs, so it is not followed"
    assert await following_state(ours, "preston", old) == "accepted"
    assert await following_state(ours, "preston", impostor) is None
    assert len(await proposals.peer_proposals_of(ours.db, old)) == 2
    assert not [activity for path, activity in peer.received if path == "/users/impostor/inbox"]


async def _state(node, iri: str, state: str) -> bool:
    return await following_state(node, "preston", iri) == state
