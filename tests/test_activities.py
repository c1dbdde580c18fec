"""What inbound activities mean: follows answered, answers matched, posts kept per origin, deletions, blocks."""

import json

import pytest

from federation.client import Signer
from federation.inbox import InvalidActivity
from node.store import actors, follows, objects
from node.services.inbound import InboundHandler
from node.config import NodeConfig
from node.store.database import Database
from node.services.publisher import Publisher
from node.urls import Urls
from nodes import constant_signer, preston_hub, preston_larder
from test_publish import add_remote, remote

T0 = 1_700_000_000
BASE = "https://coop.example"
HUB = f"{BASE}/actors/preston"
ANN = "https://social.example/users/ann"


@pytest.fixture
async def handler(tmp_path):
    db = await Database.open(tmp_path / "db.sqlite3")
    await actors.create(db, preston_hub())
    await actors.create(db, preston_larder(manually_approves_followers=True))
    await add_remote(db, remote("ann"))
    urls = Urls(BASE)
    publisher = Publisher(db, urls, NodeConfig(data_dir=tmp_path, domain="coop.example"), clock=lambda: T0)
    yield InboundHandler(db, client=None, publisher=publisher, urls=urls,
                         instance_signer=constant_signer(Signer("k", "pem")), clock=lambda: T0)
    await db.close()


async def queued_types(db):
    return [json.loads(row[0])["type"] for row in await db.fetch_all(
        "SELECT p.body FROM deliveries d JOIN delivery_payloads p USING (activity_id) ORDER BY d.id")]


def follow(target=HUB, number=1):
    return {"id": f"https://social.example/f/{number}", "type": "Follow", "actor": ANN, "object": target}


async def test_follow_is_accepted_at_once(handler):
    await handler(follow(), "preston")
    row = await follows.follower(handler.db, "preston", ANN)
    assert (row["state"], row["follow_id"]) == ("accepted", "https://social.example/f/1")
    assert await queued_types(handler.db) == ["Accept"]


async def test_follow_of_a_locked_actor_waits_for_approval(handler):
    await handler(follow(f"{BASE}/actors/the_preston_larder"), None)
    assert (await follows.follower(handler.db, "the_preston_larder", ANN))["state"] == "pending"
    assert await queued_types(handler.db) == []


async def test_follow_of_someone_not_here_is_invalid(handler):
    with pytest.raises(InvalidActivity, match="not an actor on this node"):
        await handler(follow(f"{BASE}/actors/nobody"), None)


@pytest.mark.parametrize("inner", [follow(), "https://social.example/f/1"])
async def test_undo_follow_embedded_or_by_id(handler, inner):
    await handler(follow(), None)
    await handler({"id": "https://social.example/u/1", "type": "Undo", "actor": ANN, "object": inner}, None)
    assert await follows.follower(handler.db, "preston", ANN) is None


async def test_accept_and_reject_of_our_follow(handler):
    await follows.record_following(handler.db, "preston", ANN, f"{BASE}/activities/f1", T0)
    await handler({"id": "https://social.example/a/1", "type": "Accept", "actor": ANN,
                   "object": f"{BASE}/activities/f1"}, None)
    assert (await follows.following_entry(handler.db, "preston", ANN))["state"] == "accepted"
    await handler({"id": "https://social.example/r/1", "type": "Reject", "actor": ANN,
                   "object": {"type": "Follow", "actor": HUB, "object": ANN}}, None)
    assert (await follows.following_entry(handler.db, "preston", ANN))["state"] == "rejected"


async def test_accept_of_a_follow_we_never_sent_is_invalid(handler):
    with pytest.raises(InvalidActivity):
        await handler({"id": "https://social.example/a/2", "type": "Accept", "actor": ANN,
                       "object": f"{BASE}/activities/unknown"}, None)


def create(kind="Create", content="<p>Hello</p>", object_id="https://social.example/n/1", attributed=ANN):
    return {"id": f"https://social.example/{kind.lower()}/{content[-6:]}", "type": kind, "actor": ANN,
            "object": {"id": object_id, "type": "Note", "attributedTo": attributed, "content": content}}


async def test_posts_are_kept_updated_and_withdrawn(handler):
    await handler(create(), None)
    row = await objects.get(handler.db, "https://social.example/n/1")
    assert row["username"] is None and row["kind"] == "note"
    await handler(create("Update", "<p>Edited</p>"), None)
    assert json.loads((await objects.get(handler.db, "https://social.example/n/1"))["json"])["content"] == "<p>Edited</p>"
    await handler({"id": "https://social.example/d/1", "type": "Delete", "actor": ANN,
                   "object": {"id": "https://social.example/n/1", "type": "Tombstone"}}, None)
    assert (await objects.get(handler.db, "https://social.example/n/1"))["deleted_at"] == T0


async def test_posts_from_another_origin_are_refused(handler):
    with pytest.raises(InvalidActivity):
        await handler(create(object_id="https://elsewhere.example/n/1"), None)
    with pytest.raises(InvalidActivity):
        await handler(create(attributed="https://elsewhere.example/users/x"), None)
    assert await handler.db.scalar("SELECT COUNT(*) FROM objects") == 0


async def test_deleting_an_account_forgets_it(handler):
    await handler(follow(), None)
    await handler(create(), None)
    await handler({"id": "https://social.example/d/2", "type": "Delete", "actor": ANN, "object": ANN}, None)
    assert await follows.follower(handler.db, "preston", ANN) is None
    assert (await objects.get(handler.db, "https://social.example/n/1"))["deleted_at"] == T0
    assert await handler.db.scalar("SELECT gone_at FROM remote_actors WHERE iri = ?", (ANN,)) == T0


async def test_announce_is_kept_by_reference(handler):
    await handler({"id": "https://social.example/b/1", "type": "Announce", "actor": ANN,
                   "object": {"id": "https://elsewhere.example/n/9", "type": "Note", "content": "forged?"}}, None)
    stored = json.loads((await objects.get(handler.db, "https://social.example/b/1"))["json"])
    assert stored["object"] == "https://elsewhere.example/n/9"


async def test_block_stops_delivery_and_undo_block_lifts_it(handler):
    await handler(follow(), None)
    block = {"id": "https://social.example/k/1", "type": "Block", "actor": ANN, "object": HUB}
    await handler(block, None)
    assert await follows.follower(handler.db, "preston", ANN) is None
    assert await handler.db.scalar("SELECT COUNT(*) FROM blocked_by") == 1
    await handler({"id": "https://social.example/u/9", "type": "Undo", "actor": ANN, "object": block}, None)
    assert await handler.db.scalar("SELECT COUNT(*) FROM blocked_by") == 0


async def test_a_move_of_another_actor_or_to_nowhere_is_refused(handler):
    # A valid Move is followed to the new account, once it names the old one: tests/test_moves.py, with a real peer.
    for number, moved, target in ((1, "https://social.example/users/bob", "https://x.example/u"), (2, ANN, None)):
        with pytest.raises(InvalidActivity, match="a Move must move its own actor to a target"):
            await handler({"id": f"https://social.example/m/{number}", "type": "Move", "actor": ANN,
                           "object": moved, "target": target}, None)
    assert await handler.db.scalar("SELECT COUNT(*) FROM moves") == 0


async def test_unknown_types_are_ignored(handler):
    await handler({"id": "https://social.example/l/1", "type": "Like", "actor": ANN, "object": HUB}, None)
    assert await handler.db.scalar("SELECT COUNT(*) FROM objects") == 0
